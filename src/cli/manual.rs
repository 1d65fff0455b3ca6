//! The arguments of `completions` and `man`.

use clap::Args;

#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// A command: its own page, codex-auth-COMMAND(1), with all its flags.
    #[arg(value_parser = super::CommandName, conflicts_with = "dir")]
    pub command: Option<String>,
    /// Write every page (codex-auth.1 and codex-auth-COMMAND.1) into DIR instead, for
    /// a man directory (`man1/`) or a package.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
