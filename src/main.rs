//! Entry point: run with the process's arguments and exit with the documented code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(codex_auth::run(std::env::args_os()))
}
