//! The arguments of `completions` and `man`.

use clap::Args;

#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// A command: its own page, codex-auth-COMMAND(1), with all its flags.
    #[arg(value_parser = super::CommandName)]
    pub command: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
