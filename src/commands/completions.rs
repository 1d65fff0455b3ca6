//! `codex-auth completions SHELL` and `codex-auth man`: generated from the clap
//! definition itself, so they cannot drift from the flags.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{exit, AppError};

const BIN: &str = "codex-auth";

pub(crate) fn completions(args: &CompletionsArgs) -> Result<u8, AppError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, BIN, &mut out);
    let mut script = String::from_utf8_lossy(&out).into_owned();
    if args.shell == clap_complete::Shell::Bash {
        // clap_complete 4.6 spells a hyphenated binary's state one way in its dispatch
        // loop (codex__auth__subcmd__push) and another in the case arms
        // (codex__subcmd__auth__subcmd__push), so nothing completes after a
        // subcommand (clap-rs/clap#6421). Spell the arms as the loop does.
        script = script.replace(&BIN.replace('-', "__subcmd__"), &BIN.replace('-', "__"));
    }
    crate::report::print_stdout(&script);
    Ok(exit::OK)
}

/// The page of codex-auth, or of one of its commands as `codex-auth-COMMAND(1)` (the
/// name the main page's COMMANDS section gives it), with every flag of that command.
pub(crate) fn man(args: &ManArgs) -> Result<u8, AppError> {
    let main = Cli::command();
    let page = match &args.command {
        None => main,
        Some(name) => main
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| AppError::usage(format!("no command {name:?}"), None))?
            .name(format!("{BIN}-{name}"))
            .bin_name(format!("{BIN} {name}")),
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .map_err(|e| AppError::failed(format!("cannot render the man page: {e}"), None))?;
    crate::report::print_stdout(&String::from_utf8_lossy(&out));
    Ok(exit::OK)
}
