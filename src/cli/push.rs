//! `push`'s arguments, and the checked [`PushOptions`] they make.

use std::path::PathBuf;

use clap::Args;

use super::{lock_wait, not_with, one_stdin_reader, Given, LoginFlowArgs, OutputArgs, TargetArgs};
use crate::error::AppError;
use crate::ops::push::PushOptions;
use crate::ops::source::Source;
use crate::targets::{Kind, TargetSpec, ThisMachine};

#[derive(Args, Debug)]
pub(crate) struct PushArgs {
    #[command(flatten)]
    pub scope: TargetArgs,
    /// Push this auth.json, a saved login (saved:NAME), or the login a place holds
    /// (ssh:DEST, docker:CONTAINER, local), instead of this machine's.
    ///
    /// A place is read as `status` reads it: its Codex home, where its Codex keeps
    /// the login (a target whose Codex keeps it in its OS keyring cannot be read over a
    /// connection). A path with a colon is written ./name:x. The login is checked before
    /// any target is connected; a bad one is exit 2.
    /// Example: --from ssh:oldbox
    #[arg(long, value_name = "FILE|PLACE|saved:NAME", conflicts_with_all = ["api_key_stdin", "access_token_stdin", "login"])]
    pub from: Option<String>,
    /// With --from PLACE: take the login off the source once the destination verified
    /// it (one destination).
    ///
    /// The session moves instead of being copied, so the two places never share it.
    /// Both are read first; the destination is written only if it still holds what was
    /// read there, and the source's login is removed only if it still holds what was
    /// handed over (compare-and-swap, under Codex's locks). When a Codex at either
    /// refreshed in between, both are read again and the move repeated (three times at
    /// most). The source's auth.json.bak stays.
    /// Example: --from docker:app-v1 --docker app-v2 --move
    #[arg(long = "move", requires = "from")]
    pub move_: bool,
    /// Install into this machine's Codex home too (file or keyring, as its config.toml
    /// says).
    ///
    /// Alone, it brings a login here (with --from). A login of another account here
    /// is replaced only with --force.
    #[arg(long)]
    pub local: bool,
    /// A fresh, separate login for each target, installed directly (never stored here).
    ///
    /// Each target gets a ChatGPT session of its own, so no refresh anywhere signs
    /// another out. Browser sign-ins take turns (Codex's callback port is fixed); with
    /// --device-auth every target shows its code at once.
    #[arg(long, conflicts_with_all = ["api_key_stdin", "access_token_stdin"])]
    pub login: bool,
    #[command(flatten)]
    pub flow: LoginFlowArgs,
    /// Read an API key from stdin and push an API-key login.
    ///
    /// As `codex login --with-api-key` takes it: one key, from a pipe (never typed at
    /// a terminal, where it would echo). An API key may be on any number of targets.
    /// Example: printenv OPENAI_API_KEY | codex-auth push --ssh devbox --api-key-stdin
    #[arg(long, conflicts_with = "access_token_stdin")]
    pub api_key_stdin: bool,
    /// Read a Business/Enterprise access token from stdin and push it (as `codex login
    /// --with-access-token` stores it).
    #[arg(long)]
    pub access_token_stdin: bool,
    /// Allow one ChatGPT login on several targets (they will share one session).
    ///
    /// Without it, such a push is refused (exit 2): the first refresh at any of them
    /// signs the others out, and a logout or new login at any revokes it for all.
    #[arg(long)]
    pub share: bool,
    /// Install a copy that can use the ChatGPT session but never rotate or revoke it:
    /// its refresh token is withheld (the empty string), and so is the API key Codex got
    /// at sign-in.
    ///
    /// Codex there works until the copy's access token expires (about 10 days after
    /// the last refresh); `codex-auth sync` keeps it fresh from here. Such copies cannot
    /// break the session anywhere, so several places need no --share. Only a ChatGPT
    /// login has a refresh token to withhold.
    /// Example: codex-auth push --ssh ci-1 --ssh ci-2 --access-only
    #[arg(long, conflicts_with_all = ["api_key_stdin", "access_token_stdin", "login", "share"])]
    pub access_only: bool,
    /// Push even where Codex would not read the file, and replace another account's
    /// login here.
    ///
    /// A target whose config.toml selects the keyring (or auto, with a keyring Codex
    /// there can reach) or ephemeral store is skipped without it. With --local, a login
    /// of another account here is replaced (a file login kept as auth.json.bak).
    #[arg(long)]
    pub force: bool,
    /// Install only where the place still holds this login (its fingerprint, as
    /// `status --json` shows it), or `none`: only where it holds no login.
    ///
    /// Compare-and-swap, for scripts: checked at each place under Codex's locks (a
    /// container written through the Docker API has none), right before the write. A
    /// place that holds something else fails as `changed` and is not written; read it
    /// again (`codex-auth status`) and decide. --move checks both of its places this way
    /// by itself.
    /// Example: --if-holds none
    #[arg(long, value_name = "FINGERPRINT|none")]
    pub if_holds: Option<String>,
    /// Connect and report what would happen; write nothing.
    ///
    /// The same run as a real one, stopping before the first write: each target is
    /// reached, its Codex home found and read, and its outcome said (would install,
    /// unchanged, skipped). No sign-in happens with --login.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `--from` as given: a place (`KIND:ADDRESS`, like `ssh:DEST` or `docker:NAME`, or
/// `local`) or a file path.
pub(crate) fn parse_from(raw: &str) -> Result<Source, AppError> {
    if let Some(name) = raw.strip_prefix("saved:") {
        crate::saved::check_name(name).map_err(|e| {
            AppError::usage(
                format!("--from {raw}: {e}"),
                Some("`codex-auth status --saved` lists the saved logins"),
            )
        })?;
        return Ok(Source::Saved(name.to_string()));
    }
    if let Some(spec) = TargetSpec::parse_address(raw)? {
        return Ok(Source::Place(spec));
    }
    if let Some((kind, _)) = raw.split_once(':') {
        // `KIND:REST` names a place; a path with a colon is written ./a:b (and a
        // one-letter kind is a Windows drive).
        let word = kind.len() > 1 && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if word {
            return Err(AppError::usage(
                format!("unknown place kind {kind:?} in --from {raw}"),
                Some(&format!(
                    "--from takes {}, saved:NAME, or a file (a path with a colon: ./name:x)",
                    crate::targets::kind_addresses().join(", ")
                )),
            ));
        }
    }
    Ok(Source::File(PathBuf::from(raw)))
}

/// `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

impl PushArgs {
    /// The checked options of this push; nothing read, nothing connected.
    pub(crate) fn options(&self, given: &Given) -> Result<PushOptions, AppError> {
        let source = if let Some(f) = &self.from {
            parse_from(f)?
        } else if self.api_key_stdin {
            Source::ApiKeyStdin
        } else if self.access_token_stdin {
            Source::AccessTokenStdin
        } else if self.login {
            Source::FreshLogin(self.flow.flow(given)?)
        } else {
            Source::this_machine()
        };
        let mut readers: Vec<String> = source
            .stdin_reader()
            .map(str::to_string)
            .into_iter()
            .collect();
        readers.extend(self.scope.kinds.stdin_readers());
        one_stdin_reader(&readers)?;
        let places = self
            .scope
            .selection(self.local.then_some(ThisMachine::Last))?;
        if !places.names_targets() && !self.local {
            return Err(AppError::usage(
                "no targets: name at least one",
                Some(&format!(
                    "codex-auth push {}",
                    crate::targets::kind_examples().join(", or ")
                )),
            ));
        }
        if self.login && self.local {
            return Err(not_with(
                "--local",
                "push --login (a fresh sign-in per target)",
                "sign in here with `codex-auth login`",
            ));
        }
        if self.access_only && self.move_ {
            return Err(not_with(
                "--access-only",
                "push --move (the whole session moves)",
                "drop --move to leave the session here and put an access-only copy there",
            ));
        }
        if self.share && (self.login || self.move_) {
            return Err(not_with(
                "--share",
                if self.login {
                    "push --login (every target gets a session of its own)"
                } else {
                    "push --move (the session moves, it is not shared)"
                },
                "drop --share",
            ));
        }
        if !self.login {
            given.refuse(
                &super::SIGN_IN,
                "a push without --login",
                "add --login for a fresh sign-in per target, or drop the flag",
            )?;
        }
        let source_kind: Option<Kind> = match &source {
            Source::Place(p) => Some(p.kind()),
            _ => None,
        };
        self.scope.refuse_target_flags_alone(
            given,
            source_kind,
            "a push to this machine only (--local)",
        )?;
        if let Source::Place(place) = &source {
            let here = self.local && !place.kind().remote();
            let named = places
                .kinds
                .named()?
                .iter()
                .any(|t| t.display() == place.display());
            if here || named {
                return Err(AppError::usage(
                    format!("{} is both the source and a destination", place.display()),
                    Some(
                        "name the place to copy from with --from, and other places as destinations",
                    ),
                ));
            }
        }
        let expect = match &self.if_holds {
            None => None,
            Some(raw) => Some(raw.parse().map_err(|()| {
                AppError::usage(
                    format!("bad --if-holds {raw:?}"),
                    Some("give a fingerprint as `codex-auth status --json` shows it (64 hex digits), or none"),
                )
            })?),
        };
        if self.move_ {
            if expect.is_some() {
                return Err(not_with(
                    "--if-holds",
                    "push --move (it reads both places and checks them itself)",
                    "drop --if-holds",
                ));
            }
            if !matches!(source, Source::Place(_)) {
                return Err(AppError::usage(
                    format!(
                        "--move takes a login off a place: it needs --from {}",
                        or_list(&crate::targets::kind_addresses())
                    ),
                    Some("to copy a file, drop --move"),
                ));
            }
            // (Lists, inventories and filters are counted when they are read.)
            let n = places.kinds.named()?.len() + usize::from(self.local);
            if n > 1 {
                return Err(AppError::usage(
                    format!("--move takes a session to one destination, and {n} are named"),
                    Some("move to one place; give the others logins of their own (push --login)"),
                ));
            }
        }
        Ok(PushOptions {
            places,
            source,
            codex_home: self.scope.codex_home.clone(),
            force: self.force,
            dry_run: self.dry_run,
            share: self.share,
            access_only: self.access_only,
            move_source: self.move_,
            expect,
            jobs: self.scope.jobs(),
            codex_version: self.output.codex_version(),
            lock_wait: lock_wait()?,
            target_timeout: self.scope.target_timeout(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err, parsed};
    use super::super::Command;
    use super::*;

    pub(crate) fn push(args: &[&str]) -> Result<PushOptions, String> {
        let mut argv = vec!["push"];
        argv.extend_from_slice(args);
        let p = parsed(&argv)?;
        match p.command {
            Command::Push(a) => a.options(&p.given).map_err(|e| e.message),
            _ => unreachable!("parsed as push"),
        }
    }

    #[test]
    fn push_needs_a_target_and_valid_destinations() {
        assert_eq!(err(push(&[])), "no targets: name at least one");
        assert!(err(push(&["--ssh", "h:0"])).contains("bad port"));
        assert_eq!(
            err(push(&["--ssh", "a", "--ssh", "a"])),
            "target a is named twice"
        );
        assert_eq!(
            err(push(&["--ssh", "a", "-o", "Bogus"])),
            "bad -o option \"Bogus\""
        );
        assert_eq!(
            err(push(&["--docker", "a b"])),
            "bad container name \"a b\""
        );
        let p = push(&["--ssh", "a", "--ssh", "u@b:2222", "-o", "Port=1"]).unwrap();
        assert_eq!(p.places.kinds.named().unwrap().len(), 2);
        assert!(matches!(p.source, Source::Place(TargetSpec::Local(_))));
        assert_eq!(p.jobs, 32);
    }

    #[test]
    fn from_and_api_key_stdin_conflict() {
        assert_eq!(
            err(push(&["--ssh", "a", "--from", "x", "--api-key-stdin"])),
            "an argument cannot be used with one or more of the other specified arguments"
        );
        assert_eq!(
            err(push(&["--ssh", "@-", "--api-key-stdin"])),
            "--ssh @- and --api-key-stdin both read stdin"
        );
    }

    #[test]
    fn flags_that_do_not_apply_are_refused() {
        assert_eq!(
            err(push(&["--ssh", "a", "--device-auth"])),
            "--device-auth does not apply to a push without --login"
        );
        assert_eq!(
            err(push(&["--ssh", "a", "--issuer", "https://x"])),
            "--issuer does not apply to a push without --login"
        );
        assert!(push(&["--ssh", "a", "--login", "--device-auth"]).is_ok());
        assert_eq!(
            err(push(&["--ssh", "a", "--docker-user", "app"])),
            "--docker-user only applies to --docker targets"
        );
    }

    #[test]
    fn browser_flags_are_refused_with_device_codes() {
        for args in [
            &["--device-auth", "--timeout", "5"][..],
            &["--device-auth", "--no-browser"][..],
        ] {
            let mut push_args = vec!["--ssh", "a", "--login"];
            push_args.extend_from_slice(args);
            let e = err(push(&push_args));
            assert!(e.ends_with("does not apply to --device-auth (no browser is started, and the issuer's code expiry bounds the wait)"), "{e}");
        }
    }

    #[test]
    fn share_is_refused_where_no_session_is_shared() {
        assert_eq!(
            err(push(&["--ssh", "a", "--ssh", "b", "--login", "--share"])),
            "--share does not apply to push --login (every target gets a session of its own)"
        );
        assert_eq!(
            err(push(&[
                "--ssh", "a", "--from", "docker:c", "--move", "--share"
            ])),
            "--share does not apply to push --move (the session moves, it is not shared)"
        );
        assert!(push(&["--ssh", "a", "--ssh", "b", "--share"]).is_ok());
    }

    #[test]
    fn target_flags_are_refused_when_only_this_machine_is_named() {
        for flag in [
            &["--codex-home", "/x"][..],
            &["-j", "4"][..],
            &["--jobs", "4"][..],
            &["--target-timeout", "9"][..],
            &["-F", "cfg"][..],
            &["-i", "key"][..],
        ] {
            let name = if flag[0] == "--jobs" { "-j" } else { flag[0] };
            let mut args = vec!["--local"];
            args.extend_from_slice(flag);
            assert_eq!(
                err(push(&args)),
                format!("{name} does not apply to a push to this machine only (--local)")
            );
        }
        // An ssh source still connects with -F.
        assert!(push(&["--local", "--from", "ssh:h", "-F", "cfg"]).is_ok());
        assert!(push(&["--docker-filter", "name=x", "--docker-user", "app"]).is_ok());
    }

    #[test]
    fn if_holds_takes_a_fingerprint_or_none() {
        let fp = crate::targets::Fingerprint::of(b"x");
        assert!(push(&["--ssh", "a", "--if-holds", "none"]).is_ok());
        assert!(push(&["--ssh", "a", "--if-holds", fp.as_str()]).is_ok());
        assert_eq!(
            err(push(&["--ssh", "a", "--if-holds", "12ab"])),
            "bad --if-holds \"12ab\""
        );
        assert_eq!(
            err(push(&["--ssh", "a", "--from", "docker:c", "--move", "--if-holds", "none"])),
            "--if-holds does not apply to push --move (it reads both places and checks them itself)"
        );
    }

    #[test]
    fn a_move_needs_a_place_and_one_destination() {
        let here = TargetSpec::this_machine().address();
        assert_eq!(
            err(push(&["--ssh", "a", "--from", "f.json", "--move"])),
            "--move takes a login off a place: it needs --from ssh:DEST, docker:CONTAINER or local"
        );
        assert_eq!(
            err(push(&[
                "--ssh", "a", "--ssh", "b", "--from", &here, "--move"
            ])),
            "--move takes a session to one destination, and 2 are named"
        );
        assert_eq!(
            err(push(&["--ssh", "a", "--from", "ssh:a"])),
            "a is both the source and a destination"
        );
        assert_eq!(
            err(push(&["--local", "--from", &here])),
            format!("{here} is both the source and a destination")
        );
        assert_eq!(
            err(push(&["--ssh", "a", "--from", "k8s:pod"])),
            "unknown place kind \"k8s\" in --from k8s:pod"
        );
        assert!(matches!(
            push(&["--ssh", "a", "--from", "./x:y"]).map(|p| p.source),
            Ok(Source::File(_))
        ));
    }
}
