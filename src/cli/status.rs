//! `status`'s arguments, and the checked [`StatusOptions`] they make.

use clap::Args;

use super::{not_with, Given, OutputArgs, TargetArgs};
use crate::error::AppError;
use crate::ops::status::StatusOptions;
use crate::targets::ThisMachine;

#[derive(Args, Debug)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub scope: TargetArgs,
    /// Also every place the ledger remembers, marking those that no longer hold what it
    /// recorded.
    ///
    /// The ledger (in the state directory: $XDG_STATE_HOME/codex-auth/ledger.json,
    /// no secrets) remembers where push, move, logout and status saw or left each
    /// session. Those places are read in the same run; one that holds another login, or
    /// none, gets a LEDGER note.
    #[arg(long)]
    pub known: bool,
    /// Drop PLACE from the ledger (as status names it: local, an ssh destination,
    /// docker:NAME) and exit.
    ///
    /// Nothing is read or connected; it takes no other flag.
    /// Example: --forget docker:old-app
    #[arg(long, value_name = "PLACE", conflicts_with = "known")]
    pub forget: Option<String>,
    /// List the saved logins (`codex-auth save NAME`) instead: per name the kind,
    /// account, plan, access-token expiry and the places the ledger says hold it.
    ///
    /// Nothing is connected; it takes no place.
    #[arg(long, conflicts_with_all = ["known", "forget"])]
    pub saved: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What `status` is asked.
pub(crate) enum StatusAsk {
    Read(Box<StatusOptions>),
    /// Drop one place from the ledger.
    Forget(String),
    /// List the saved logins.
    Saved,
}

impl StatusArgs {
    /// The places to read (this machine first; the ledger's join them with `--known`),
    /// or the place to forget, which takes no other flag.
    pub(crate) fn options(&self, given: &Given) -> Result<StatusAsk, AppError> {
        if let Some(place) = &self.forget {
            if let Some(flag) = given.first_except(&["forget"]) {
                return Err(not_with(
                    &flag,
                    "status --forget (it only drops a place from the ledger)",
                    "run --forget on its own",
                ));
            }
            return Ok(StatusAsk::Forget(place.clone()));
        }
        if self.saved {
            if let Some(flag) = given.first_except(&["saved", "json", "quiet", "verbose"]) {
                return Err(not_with(
                    &flag,
                    "status --saved (it lists this machine's saved logins)",
                    "run --saved on its own",
                ));
            }
            return Ok(StatusAsk::Saved);
        }
        let places = self.scope.selection(Some(ThisMachine::First))?;
        if !self.known {
            self.scope
                .refuse_target_flags_alone(given, None, "a status of this machine only")?;
        }
        Ok(StatusAsk::Read(Box::new(StatusOptions {
            places,
            known: self.known,
            codex_home: self.scope.codex_home.clone(),
            jobs: self.scope.jobs(),
            codex_version: self.output.codex_version(),
            target_timeout: self.scope.target_timeout(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err, parsed};
    use super::super::Command;
    use super::*;

    fn status(args: &[&str]) -> Result<StatusAsk, String> {
        let mut argv = vec!["status"];
        argv.extend_from_slice(args);
        let p = parsed(&argv)?;
        match p.command {
            Command::Status(s) => s.options(&p.given).map_err(|e| e.message),
            _ => unreachable!("parsed as status"),
        }
    }

    #[test]
    fn forget_takes_no_other_flag() {
        let here = crate::targets::TargetSpec::this_machine().address();
        for (flag, args) in [
            ("--ssh", &["--ssh", "a"][..]),
            ("--json", &["--json"][..]),
            ("-j", &["-j", "2"][..]),
            ("-v", &["-v"][..]),
        ] {
            let mut argv = vec!["--forget", here.as_str()];
            argv.extend_from_slice(args);
            assert_eq!(
                err(status(&argv)),
                format!("{flag} does not apply to status --forget (it only drops a place from the ledger)")
            );
        }
        assert!(matches!(
            status(&["--forget", &here]),
            Ok(StatusAsk::Forget(p)) if p == here
        ));
    }

    #[test]
    fn target_flags_need_a_target_or_the_ledger() {
        assert_eq!(
            err(status(&["-j", "4"])),
            "-j does not apply to a status of this machine only"
        );
        assert!(status(&["--ssh", "a", "-j", "4"]).is_ok());
        assert!(status(&["--known", "-j", "4"]).is_ok());
    }
}
