//! `logout`'s arguments, and the checked [`LogoutOptions`] they make.

use clap::Args;

use super::{issuer, lock_wait, one_stdin_reader, Given, OutputArgs, TargetArgs};
use crate::error::AppError;
use crate::login::{DEFAULT_CLIENT_ID, DEFAULT_ISSUER};
use crate::ops::logout::LogoutOptions;
use crate::targets::ThisMachine;

#[derive(Args, Debug)]
pub(crate) struct LogoutArgs {
    #[command(flatten)]
    pub scope: TargetArgs,
    /// This machine too, besides the targets named (alone, a logout is this machine's).
    #[arg(long)]
    pub local: bool,
    /// Also revoke each ChatGPT session removed, at its issuer: every place holding it
    /// is signed out.
    ///
    /// Once per session, at the issuer this machine trusts (--issuer, else OpenAI's),
    /// as `codex logout` does; a login naming another issuer is reported, not revoked.
    /// Before it, every other place known to hold the session (this run's, this
    /// machine, the ledger's) is named. API keys and access tokens are removed, never
    /// revoked. A failed revocation is exit 1. Only with --revoke does the removed login
    /// travel back here; otherwise only its fingerprint does.
    #[arg(long)]
    pub revoke: bool,
    /// Keep auth.json.bak (removed with the login by default).
    #[arg(long)]
    pub keep_backup: bool,
    /// Connect and report what would be removed (and revoked); change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// The issuer --revoke trusts with refresh tokens.
    #[arg(long, value_name = "URL", env = "CODEX_AUTH_ISSUER", default_value = DEFAULT_ISSUER, value_parser = super::OrDefault(DEFAULT_ISSUER))]
    pub issuer: String,
    /// The OAuth client id for --revoke when a login does not name its own.
    #[arg(long, value_name = "ID", env = "CODEX_AUTH_CLIENT_ID", default_value = DEFAULT_CLIENT_ID, value_parser = super::OrDefault(DEFAULT_CLIENT_ID))]
    pub client_id: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl LogoutArgs {
    pub(crate) fn options(&self, given: &Given) -> Result<LogoutOptions, AppError> {
        one_stdin_reader(&self.scope.kinds.stdin_readers())?;
        let named = self.scope.kinds.naming_flag().is_some();
        let places = self
            .scope
            .selection((self.local || !named).then_some(ThisMachine::First))?;
        self.scope
            .refuse_target_flags_alone(given, None, "a logout of this machine only")?;
        if !self.revoke {
            given.refuse(
                &["issuer", "client_id"],
                "a logout without --revoke",
                "add --revoke to end the session at the issuer, or drop the flag",
            )?;
        }
        let revoke = if self.revoke {
            Some(issuer(&self.issuer, &self.client_id)?)
        } else {
            None
        };
        Ok(LogoutOptions {
            places,
            codex_home: self.scope.codex_home.clone(),
            keep_backup: self.keep_backup,
            dry_run: self.dry_run,
            revoke,
            jobs: self.scope.jobs(),
            codex_version: self.output.codex_version(),
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

    fn logout(args: &[&str]) -> Result<LogoutOptions, String> {
        let mut argv = vec!["logout"];
        argv.extend_from_slice(args);
        let p = parsed(&argv)?;
        match p.command {
            Command::Logout(l) => l.options(&p.given).map_err(|e| e.message),
            _ => unreachable!("parsed as logout"),
        }
    }

    #[test]
    fn this_machine_alone_by_default_and_its_flags_checked() {
        let o = logout(&[]).unwrap();
        assert_eq!(o.places.this_machine, Some(ThisMachine::First));
        let o = logout(&["--ssh", "a"]).unwrap();
        assert_eq!(o.places.this_machine, None);
        assert_eq!(
            err(logout(&["-F", "cfg"])),
            "-F does not apply to a logout of this machine only"
        );
        assert_eq!(
            err(logout(&["--ssh", "a", "--issuer", "https://i"])),
            "--issuer does not apply to a logout without --revoke"
        );
        let o = logout(&["--ssh", "a", "--revoke"]).unwrap();
        assert_eq!(o.revoke.unwrap().base, DEFAULT_ISSUER);
    }
}
