//! The arguments of `save`, `switch` and `forget` (several accounts on this machine).

use clap::Args;

use super::OutputArgs;
use crate::login::{DEFAULT_CLIENT_ID, DEFAULT_ISSUER};

#[derive(Args, Debug)]
pub(crate) struct SaveArgs {
    /// The name to keep this machine's current login under (letters, digits, `.`, `_`,
    /// `-`, `@`).
    pub name: String,
    /// Replace what NAME holds even when it is another sign-in.
    ///
    /// Without it, a name holding another account's or another sign-in's login is left
    /// as it is (exit 1); a name holding an older copy of the same sign-in is always
    /// brought up to date, and a newer one is kept.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub(crate) struct SwitchArgs {
    /// The saved login to make this machine's login.
    pub name: String,
    /// Wait up to SECS for Codex processes using this Codex home to end, instead of
    /// refusing at once.
    ///
    /// A switch under a running Codex would be overwritten by its next refresh.
    /// Example: --wait 300
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub wait: Option<u64>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub(crate) struct ForgetArgs {
    /// The saved login to drop.
    pub name: String,
    /// Also end its ChatGPT session at the issuer: every place holding a copy is
    /// signed out.
    #[arg(long)]
    pub revoke: bool,
    /// The issuer --revoke trusts with the refresh token.
    #[arg(long, value_name = "URL", env = "CODEX_AUTH_ISSUER", default_value = DEFAULT_ISSUER, value_parser = super::OrDefault(DEFAULT_ISSUER))]
    pub issuer: String,
    /// The OAuth client id for --revoke.
    #[arg(long, value_name = "ID", env = "CODEX_AUTH_CLIENT_ID", default_value = DEFAULT_CLIENT_ID, value_parser = super::OrDefault(DEFAULT_CLIENT_ID))]
    pub client_id: String,
    #[command(flatten)]
    pub output: OutputArgs,
}
