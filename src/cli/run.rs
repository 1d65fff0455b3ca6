//! `run`'s arguments, and the checked [`RunOptions`] they make (but the place, which is
//! read when the run starts).

use clap::Args;

use super::{lock_wait, Given, OutputArgs, TargetArgs};
use crate::error::AppError;
use crate::ops::run::RunOptions;
use crate::targets::TargetSpec;

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub scope: TargetArgs,
    /// Lend this login instead of this machine's: a saved login (saved:NAME), an
    /// auth.json, or the login a place holds (ssh:DEST, docker:CONTAINER).
    ///
    /// Example: --from saved:work
    #[arg(long, value_name = "saved:NAME|FILE|PLACE")]
    pub from: Option<String>,
    /// Lend the whole login, refresh token included, and write back what the command
    /// leaves.
    ///
    /// By default the command gets an access-only copy (no refresh token): it can use
    /// the session until the access token expires and can never rotate or revoke it.
    /// With --full, a login the command refreshed is written back to its source (this
    /// machine's login or a saved one; only the same sign-in, only a newer copy, only if
    /// the source still holds what was lent). A connection lost after the command
    /// refreshed loses that refresh with the lease: sign in again then.
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The command and its arguments (everything after the first word that is not a
    /// flag of run's, or after --).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

impl RunArgs {
    /// The checked options, the place still to be resolved (`place` is this machine).
    pub(crate) fn options(&self, given: &Given) -> Result<RunOptions, AppError> {
        if self.output.json {
            return Err(AppError::usage(
                "run has no --json: its stdout is the command's",
                Some("drop --json"),
            ));
        }
        super::one_stdin_reader(&self.scope.kinds.stdin_readers())?;
        let named = self.scope.kinds.named()?;
        if named.len() > 1 {
            return Err(AppError::usage(
                format!("run takes one place, and {} are named", named.len()),
                Some("run the command once per place"),
            ));
        }
        let _ = self.scope.selection(None)?;
        let source = match &self.from {
            Some(raw) => super::push::parse_from(raw)?,
            None => crate::ops::source::Source::this_machine(),
        };
        if self.scope.kinds.naming_flag().is_none() {
            let from = match &source {
                crate::ops::source::Source::Place(p) => Some(p.kind()),
                _ => None,
            };
            self.scope
                .refuse_target_flags_alone(given, from, "a run on this machine")?;
        }
        Ok(RunOptions {
            place: TargetSpec::this_machine(),
            source,
            full: self.full,
            codex_home: self.scope.codex_home.clone(),
            command: self.command.clone(),
            target_timeout: std::time::Duration::from_secs(self.scope.target_timeout),
            lock_wait: lock_wait()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<RunOptions, String> {
        let mut argv = vec!["codex-auth", "run"];
        argv.extend_from_slice(args);
        let parsed = crate::cli::parse(argv).map_err(|e| e.to_string())?;
        match parsed.command {
            crate::cli::Command::Run(a) => a.options(&parsed.given).map_err(|e| e.message),
            _ => Err("not run".into()),
        }
    }

    #[test]
    fn the_command_is_everything_after_runs_own_flags() {
        let o = run(&["--ssh", "box", "codex", "exec", "--model", "x"]).unwrap();
        assert_eq!(o.command, ["codex", "exec", "--model", "x"]);
        let o = run(&["--full", "--", "--weird", "-v"]).unwrap();
        assert_eq!(o.command, ["--weird", "-v"]);
        assert!(o.full);
        assert!(run(&["--ssh", "box"]).is_err());
        assert!(run(&["--ssh", "a", "--ssh", "b", "true"])
            .unwrap_err()
            .contains("one place"));
        assert!(run(&["--json", "true"]).unwrap_err().contains("--json"));
        assert!(run(&["--from", "saved:../x", "true"]).is_err());
        assert!(matches!(
            run(&["--from", "saved:work", "true"]).unwrap().source,
            crate::ops::source::Source::Saved(_)
        ));
    }
}
