//! `login`'s arguments, and the checked [`LoginOptions`] they make.

use clap::Args;

use super::{lock_wait, not_with, Given, LoginFlowArgs, OutputArgs};
use crate::error::AppError;
use crate::ops::login::{DeviceOptions, ForwardOptions, HereOptions, LoginOptions};
use crate::targets::SshConnectArgs;

#[derive(Args, Debug)]
pub(crate) struct LoginArgs {
    #[command(flatten)]
    pub flow: LoginFlowArgs,
    /// Read an API key from stdin instead of signing in.
    ///
    /// As `codex login --with-api-key` takes it, from a pipe.
    #[arg(long, conflicts_with_all = ["device_auth", "no_browser"])]
    pub api_key_stdin: bool,
    /// Run `codex login` on this SSH host and tunnel its callback here (browser here);
    /// with --device-auth, its device-code login (no tunnel; repeatable: several hosts
    /// at once).
    ///
    /// The host's own Codex signs in, with its own PATH (nvm, ~/.local/bin, the login
    /// shell's PATH), over one connection (the same config, keys and host-key checks as
    /// push). The port its redirect names (1455 or 1457) is bound on 127.0.0.1 here; if
    /// it is taken here, that is an error at once. A host holding the same ChatGPT
    /// session as another place is named first: its new login revokes that session.
    /// Example: --forward alice@10.0.0.5:2222
    #[arg(long, value_name = "DEST", conflicts_with = "api_key_stdin")]
    pub forward: Vec<String>,
    /// With --forward: only hold the tunnel (ports 1455 and 1457); run `codex login`
    /// yourself.
    ///
    /// Until Ctrl-C (exit 0), or the connection goes (exit 1).
    #[arg(long, requires = "forward")]
    pub no_run: bool,
    #[command(flatten)]
    pub ssh: SshConnectArgs,
    /// Sign in straight into the saved login NAME, leaving this machine's current
    /// login as it is.
    ///
    /// `codex-auth switch NAME` makes it current later; `run --from saved:NAME` and
    /// `push --from saved:NAME` use it as it is. A name holding another sign-in is
    /// replaced only with --force.
    /// Example: --save work
    #[arg(long, value_name = "NAME", conflicts_with = "forward")]
    pub save: Option<String>,
    /// Replace a login of another account (with --save: of another sign-in).
    ///
    /// A file login is kept as auth.json.bak.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl LoginArgs {
    pub(crate) fn options(&self, given: &Given) -> Result<LoginOptions, AppError> {
        if self.flow.device_auth && !self.forward.is_empty() {
            given.refuse(
                &["client_id", "timeout", "no_browser", "no_run", "force"],
                "login --forward --device-auth (the hosts' own codex login signs in)",
                "drop it",
            )?;
            let mut seen = std::collections::HashSet::new();
            let mut dests = Vec::new();
            for raw in &self.forward {
                if !seen.insert(raw.clone()) {
                    return Err(AppError::usage(
                        format!("--forward {raw} is named twice"),
                        Some("name each host once"),
                    ));
                }
                dests.push(crate::targets::ssh_destination(raw)?);
            }
            // For tests against a local issuer only: Codex takes it from a hidden flag,
            // and only when it was typed.
            let issuer = if given.typed("issuer") {
                Some(super::issuer_for_a_host(&self.flow.issuer, &self.flow.client_id)?.base)
            } else {
                None
            };
            return Ok(LoginOptions::ForwardDevice(DeviceOptions {
                dests,
                ssh: self.ssh.clone().options()?,
                issuer,
            }));
        }
        if self.forward.len() > 1 {
            return Err(AppError::usage(
                format!(
                    "{} --forward hosts, and the browser login goes to one host at a time (its callback port is fixed)",
                    self.forward.len()
                ),
                Some("add --device-auth to sign in on several hosts at once"),
            ));
        }
        if let Some(raw) = self.forward.first() {
            given.refuse(
                &["client_id", "timeout", "force"],
                "login --forward (the host's own codex login signs in)",
                "drop it, or configure the issuer in the host's Codex",
            )?;
            if self.no_run && self.output.json {
                return Err(not_with(
                    "--json",
                    "login --forward --no-run (only the tunnel is held; there is nothing to report)",
                    "drop --json",
                ));
            }
            return Ok(LoginOptions::Forward(ForwardOptions {
                dest: crate::targets::ssh_destination(raw)?,
                ssh: self.ssh.clone().options()?,
                no_run: self.no_run,
                no_browser: self.flow.no_browser,
                issuer: self.flow.issuer()?,
            }));
        }
        if let Some(flag) = self.ssh.given() {
            return Err(not_with(
                flag,
                "a login on this machine",
                "ssh options go with --forward HOST (or with push --ssh)",
            ));
        }
        let flow = if self.api_key_stdin {
            given.refuse(
                &super::SIGN_IN,
                "--api-key-stdin",
                "an API key needs no sign-in; drop the sign-in flags",
            )?;
            None
        } else {
            Some(self.flow.flow(given)?)
        };
        if let Some(name) = &self.save {
            crate::saved::check_name(name).map_err(|e| {
                AppError::usage(
                    format!("--save {name}: {e}"),
                    Some("name a saved login with letters, digits, `.`, `_`, `-` or `@`"),
                )
            })?;
        }
        Ok(LoginOptions::Here(HereOptions {
            flow,
            save: self.save.clone(),
            force: self.force,
            lock_wait: lock_wait()?,
            codex_version: self.output.codex_version(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err, parsed};
    use super::super::Command;
    use super::*;

    fn login(args: &[&str]) -> Result<LoginOptions, String> {
        let mut argv = vec!["login"];
        argv.extend_from_slice(args);
        let p = parsed(&argv)?;
        match p.command {
            Command::Login(l) => l.options(&p.given).map_err(|e| e.message),
            _ => unreachable!("parsed as login"),
        }
    }

    #[test]
    fn flags_that_do_not_apply_are_refused() {
        assert_eq!(
            err(login(&["-F", "cfg"])),
            "-F does not apply to a login on this machine"
        );
        assert_eq!(
            err(login(&["--api-key-stdin", "--timeout", "5"])),
            "--timeout does not apply to --api-key-stdin"
        );
        assert_eq!(
            err(login(&["--forward", "h", "--force"])),
            "--force does not apply to login --forward (the host's own codex login signs in)"
        );
        assert!(matches!(
            login(&["--forward", "h", "-F", "cfg"]),
            Ok(LoginOptions::Forward(_))
        ));
        assert_eq!(
            err(login(&["--forward", "h", "--no-run", "--json"])),
            "--json does not apply to login --forward --no-run (only the tunnel is held; there is nothing to report)"
        );
        assert!(login(&["--timeout", "5", "--no-browser"]).is_ok());
        for args in [
            &["--device-auth", "--timeout", "5"][..],
            &["--device-auth", "--no-browser"][..],
        ] {
            let e = err(login(args));
            assert!(e.ends_with("does not apply to --device-auth (no browser is started, and the issuer's code expiry bounds the wait)"), "{e}");
        }
    }

    #[test]
    fn the_issuer_goes_to_the_hosts_codex_only_when_typed() {
        let Ok(LoginOptions::ForwardDevice(d)) =
            login(&["--forward", "a", "--forward", "b", "--device-auth"])
        else {
            panic!("a device login on two hosts")
        };
        assert_eq!((d.dests.len(), d.issuer), (2, None));
        let Ok(LoginOptions::ForwardDevice(d)) = login(&[
            "--forward",
            "a",
            "--device-auth",
            "--issuer",
            "http://127.0.0.1:9/",
        ]) else {
            panic!("a device login")
        };
        assert_eq!(d.issuer.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(
            err(login(&[
                "--forward",
                "a",
                "--forward",
                "a",
                "--device-auth"
            ])),
            "--forward a is named twice"
        );
    }
}
