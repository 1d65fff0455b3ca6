//! codex-auth: get a working Codex CLI login onto machines without a browser.
//! [`run`] parses the arguments and dispatches to the command; the layers below it are
//! `commands` → `cli` → `report` → `ops` → `ledger`, `journal`, `schedule`, `saved` → `targets` → `auth`, `login`,
//! `ssh`, `docker` → the shared leaves (see the README's layout section; `layering.rs`
//! holds every module to it).

mod auth;
mod browser;
mod cli;
mod commands;
mod console;
mod docker;
mod encoding;
mod error;
mod journal;
#[cfg(test)]
mod layering;
mod ledger;
mod liveness;
mod login;
mod ops;
mod prompt;
mod report;
mod saved;
mod schedule;
mod secret;
mod ssh;
mod targets;
#[cfg(test)]
mod test_inputs;
mod timestamp;

use std::ffi::OsString;

use cli::Command;

/// Run codex-auth with `args` (the program name first) and return its exit code; every
/// error has been printed, once, by then.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    secret::no_core_dumps();
    let parsed = match cli::parse(args) {
        Ok(parsed) => parsed,
        Err(e) => return report::print_clap(&e),
    };
    let given = &parsed.given;
    let result = match parsed.command {
        Command::Push(args) => commands::push::run(args, given),
        Command::Status(args) => commands::status::run(args, given),
        Command::Logout(args) => commands::logout::run(args, given),
        Command::Sync(args) => commands::sync::run(args, given),
        Command::Save(args) => commands::saved::save(args),
        Command::Switch(args) => commands::saved::switch(args),
        Command::Forget(args) => commands::saved::forget(args, given),
        Command::Run(args) => commands::run::run(args, given),
        Command::Login(args) => commands::login::run(args, given),
        Command::Completions(args) => commands::completions::completions(&args),
        Command::Man(args) => commands::completions::man(&args),
    };
    result.unwrap_or_else(|e| {
        report::print_error(&e);
        e.code
    })
}
