//! `sync`'s arguments, and the checked [`SyncOptions`] they make.

use std::time::Duration;

use clap::Args;

use super::{issuer, lock_wait, one_stdin_reader, Given, OutputArgs, TargetArgs};
use crate::error::AppError;
use crate::login::{DEFAULT_CLIENT_ID, DEFAULT_ISSUER};
use crate::ops::sync::SyncOptions;
use crate::targets::ThisMachine;

/// The default of --refresh-within: a real access token lives about 10 days and Codex
/// refreshes it itself only in its last 5 minutes. Refreshing once fewer than 3 days
/// are left renews it about once a week, and with a daily sync every copy keeps at
/// least 2 days (1 if a day's sync is missed) before Codex would ever refresh on its
/// own, which would spend the token under the others.
pub(crate) const DEFAULT_REFRESH_WITHIN: &str = "3d";

#[derive(Args, Debug)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    pub scope: TargetArgs,
    /// Refresh the session here when its access token expires within this long
    /// (90s, 30m, 12h, 3d, 1w).
    ///
    /// The default keeps every copy days away from Codex's own refresh (in the last 5
    /// minutes) with a daily sync: a real access token lives about 10 days, so it is
    /// renewed about once a week. 0s refreshes only an expired one.
    /// Example: --refresh-within 12h
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_REFRESH_WITHIN, value_parser = duration)]
    pub refresh_within: Duration,
    /// Keep going: a sync every DURATION (with up to 10% jitter), in the foreground,
    /// until SIGTERM or Ctrl-C (exit 0 then).
    ///
    /// For a container or a service. A pass that leaves a place behind is tried again
    /// sooner (after 1 minute, then 2, 4, ... up to DURATION). Each pass prints its
    /// report (with --json, one document per pass).
    /// Example: --every 1d
    #[arg(long, value_name = "DURATION", value_parser = interval, conflicts_with_all = ["dry_run", "uninstall_timer"])]
    pub every: Option<Duration>,
    /// Run this sync on a schedule on this machine (every --every, default 1d), and
    /// exit.
    ///
    /// A systemd user timer on Linux (~/.config/systemd/user/codex-auth-sync.timer,
    /// enabled with systemctl --user), a launchd agent on macOS, else the crontab line
    /// to add is printed. It runs this program by its absolute path with the flags given
    /// here (-F, --codex-home, --refresh-within, --issuer, --client-id) and this
    /// machine's CODEX_HOME; it syncs the places the ledger knows, so places are not
    /// named here. Run again to change it.
    /// Example: codex-auth sync --install-timer --every 12h
    #[arg(long, conflicts_with_all = ["uninstall_timer", "dry_run"])]
    pub install_timer: bool,
    /// Remove the schedule --install-timer made, and exit.
    #[arg(long, conflicts_with = "dry_run")]
    pub uninstall_timer: bool,
    /// Say what would be read, refreshed and written; change nothing.
    ///
    /// Every place is read as in a real run; nothing is refreshed or written, and the
    /// journal and the ledger are left as they are.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// The issuer this machine sends refresh tokens to.
    ///
    /// A login whose tokens.oauth_provenance names another issuer is not refreshed
    /// (reported): a copy from another place cannot send the token elsewhere.
    #[arg(long, value_name = "URL", env = "CODEX_AUTH_ISSUER", default_value = DEFAULT_ISSUER, value_parser = super::OrDefault(DEFAULT_ISSUER))]
    pub issuer: String,
    /// The OAuth client id for a login that does not name its own.
    #[arg(long, value_name = "ID", env = "CODEX_AUTH_CLIENT_ID", default_value = DEFAULT_CLIENT_ID, value_parser = super::OrDefault(DEFAULT_CLIENT_ID))]
    pub client_id: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A duration flag's value.
fn duration(raw: &str) -> Result<Duration, String> {
    crate::timestamp::parse_duration(raw).ok_or_else(|| {
        format!("{raw:?} is not a duration: give a number and a unit (90s, 30m, 12h, 3d, 1w)")
    })
}

/// `--every`'s value: a duration of a minute or more (a sync talks to every place).
fn interval(raw: &str) -> Result<Duration, String> {
    let d = duration(raw)?;
    if d < Duration::from_secs(60) {
        return Err(format!(
            "{raw:?} is too short: sync at most once a minute (1m)"
        ));
    }
    Ok(d)
}

impl SyncArgs {
    pub(crate) fn options(&self, given: &Given) -> Result<SyncOptions, AppError> {
        one_stdin_reader(&self.scope.kinds.stdin_readers())?;
        let named = self.scope.kinds.naming_flag().is_some();
        // With no place named, the ledger's places are the targets: the flags that say
        // how to reach them (-F, -o, --codex-home, -j) apply to them.
        let places = self.scope.selection(Some(ThisMachine::First))?;
        let _ = given;
        Ok(SyncOptions {
            places,
            named,
            codex_home: self.scope.codex_home.clone(),
            refresh_within: self.refresh_within,
            issuer: issuer(&self.issuer, &self.client_id)?,
            dry_run: self.dry_run,
            jobs: self.scope.jobs(),
            lock_wait: lock_wait()?,
            target_timeout: self.scope.target_timeout(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err, parsed};
    use super::super::Command;
    use super::*;

    fn sync(args: &[&str]) -> Result<SyncOptions, String> {
        let mut argv = vec!["sync"];
        argv.extend_from_slice(args);
        let p = parsed(&argv)?;
        match p.command {
            Command::Sync(s) => s.options(&p.given).map_err(|e| e.message),
            _ => unreachable!("parsed as sync"),
        }
    }

    #[test]
    fn durations_and_flags_that_need_places() {
        let o = sync(&[]).unwrap();
        assert_eq!(o.refresh_within, Duration::from_secs(3 * 86_400));
        assert!(!o.named);
        assert_eq!(
            sync(&["--refresh-within", "12h"]).unwrap().refresh_within,
            Duration::from_secs(12 * 3600)
        );
        assert!(sync(&["--refresh-within", "soon"]).is_err());
        assert!(sync(&["--every", "0s"]).is_err());
        assert!(sync(&["--every", "1m"]).is_ok());
        assert!(!sync(&["-j", "4"]).unwrap().named);
        assert!(sync(&["--ssh", "a", "-j", "4"]).unwrap().named);
        assert!(err(sync(&["--issuer", "http://example.com"])).contains("plain http"));
    }
}
