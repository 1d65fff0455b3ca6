//! Entry point: parse, run, print the error once, exit with its documented code.

use std::process::ExitCode;

fn main() -> ExitCode {
    match codex_auth::run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("codex-auth: {e}");
            ExitCode::from(e.code)
        }
    }
}
