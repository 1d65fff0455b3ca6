//! `codex-auth completions SHELL` and `codex-auth man`: generated from the clap
//! definition itself, so they cannot drift from the flags.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::error::{exit, AppError};

pub(crate) fn completions(args: CompletionsArgs) -> Result<u8, AppError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "codex-auth", &mut out);
    crate::report::print_stdout(&String::from_utf8_lossy(&out));
    Ok(exit::OK)
}

pub(crate) fn man() -> Result<u8, AppError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| AppError::failed(format!("cannot render the man page: {e}"), None))?;
    crate::report::print_stdout(&String::from_utf8_lossy(&out));
    Ok(exit::OK)
}
