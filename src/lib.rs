//! codex-auth: get a working Codex CLI login onto machines without a browser.
//! [`run`] parses the arguments and dispatches to the command; the layers below are
//! `commands` → `ops` → `targets` → `ssh`/`docker`, with `auth`, `login` and `report`
//! beside them (see the README's layout section).

mod auth;
mod browser;
mod cli;
mod commands;
mod docker;
mod encoding;
mod error;
mod ledger;
mod login;
mod ops;
mod prompt;
mod report;
mod secret;
mod ssh;
mod targets;
#[cfg(test)]
mod test_inputs;
mod timestamp;

use std::ffi::OsString;

use clap::Parser;

use cli::{Cli, Command};

/// Run codex-auth with `args` (the program name first) and return its exit code; every
/// error has been printed, once, by then.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return report::print_clap(&e),
    };
    let result = match cli.command {
        Command::Push(args) => commands::push::run(args),
        Command::Status(args) => commands::status::run(args),
        Command::Logout(args) => commands::logout::run(args),
        Command::Login(args) => commands::login::run(args),
        Command::Completions(args) => commands::completions::completions(args),
        Command::Man(args) => commands::completions::man(args),
    };
    result.unwrap_or_else(|e| {
        report::print_error(&e);
        e.code
    })
}
