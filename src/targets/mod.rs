//! Places: where a login is installed, inspected and removed. One module per kind of
//! place ([`local`]: this machine; [`ssh`] hosts; [`docker`] containers), each owning
//! its command-line flags, its connection context and its [`Target`] implementation,
//! and saying what it is through [`TargetKind`]; one [`Target`] trait that `ops` is
//! written against, so `ops` never names a transport. The transports are written once
//! each: the remote-script protocol ([`script`]) for every kind that runs a shell, the
//! Docker archive API, and `auth::local` for this machine. Adding a kind: its module
//! (a [`TargetKind`] with its args/context pair, and a [`Target`]), and one line in
//! the `target_kinds!` list.

mod docker;
mod error;
mod fleet;
mod inspect;
mod install;
mod lease;
mod local;
mod process;
mod remove;
mod script;
mod ssh;

use std::sync::Arc;

use futures_util::future::BoxFuture;

pub(crate) use crate::auth::expect::{Expect, Fingerprint};
pub(crate) use crate::auth::home::HomeSource;
pub(crate) use error::{ErrorClass, NowHolds, TargetError};
pub(crate) use inspect::{InspectReport, InspectRequest};
pub(crate) use install::{InstallReport, InstallRequest, Outcome, Previous};
pub(crate) use lease::{Lease, Signal as LeaseSignal, COMMAND_LINE as LEASE_COMMAND_LINE};
pub(crate) use local::{
    current_login as this_machines_login, current_login_as_read as this_machines_login_as_read,
};
pub(crate) use process::{Event, Process, Spawn, Tty};
pub(crate) use remove::{RemoveOutcome, RemoveReport, RemoveRequest};
pub(crate) use script::HomeFrom as ScriptHome;
pub(crate) use ssh::{
    destination as ssh_destination, ForwardError, ForwardReport, ForwardUi, HostLogin,
    SshConnectArgs,
};

use crate::auth::store::CredentialStore;
pub(crate) use crate::auth::store::Forced;
use crate::error::AppError;
use crate::prompt::Prompter;

/// What one kind of place is, for the code that does not know kinds: its name, its
/// command-line flags and the context they give every connection of a run, and how one
/// place of it is named, shown, parsed, found and reached. Each kind's module
/// implements it on a marker type; `target_kinds!` lists the kinds and writes every
/// dispatch.
pub(crate) trait TargetKind {
    /// `--json`'s `kind`, and the prefix of the kind's addresses (`ssh:DEST`).
    const NAME: &'static str;
    /// How the usage error for "no targets" shows naming one (`--ssh user@host`).
    const EXAMPLE: &'static str;
    /// What follows `NAME:` in an address, in usage hints (`DEST`); empty for a kind
    /// whose one place is named by `NAME` alone (`local`).
    const ADDRESS: &'static str;
    /// Whether its places are reached over a connection, so that the flags that say how
    /// (`-j`, `--codex-home`, `--target-timeout`) apply to them.
    const REMOTE: bool = true;
    /// One place as the user named it.
    type Spec: Clone + std::fmt::Debug + Send + Sync + 'static;
    /// The kind's flags, flattened into every command that takes targets.
    type Args: clap::Args + clap::FromArgMatches + Clone + std::fmt::Debug + Default + Send + Sync;
    /// What every connection of the kind in one run shares, made from the flags.
    type Context: Clone + Default + Send + Sync + 'static;

    /// The places the flags name themselves, checked, with nothing read (lists and
    /// inventories are read by [`TargetKind::find`]).
    fn named(args: &Self::Args) -> Result<Vec<Self::Spec>, AppError>;
    /// The flag that reads stdin, if one does (`--ssh @-`): a command line has one reader.
    fn stdin_reader(_args: &Self::Args) -> Option<String> {
        None
    }
    /// The run's context, from the flags (checked, not connected).
    fn context(args: &Self::Args) -> Result<Self::Context, AppError>;
    /// The first flag given that names targets (`--ssh`, `--docker-filter`, ...).
    fn naming_flag(args: &Self::Args) -> Option<&'static str>;
    /// The first flag given that only says how to reach targets (`-F`, `--docker-user`).
    fn option_flag(args: &Self::Args) -> Option<&'static str>;
    /// Every place the flags name, in the order given, with what must be read for that
    /// read now: `@FILE` lists, inventories, the engine's containers. Each problem is a
    /// usage error.
    fn find<'a>(
        args: &'a Self::Args,
        _context: &'a Self::Context,
        _ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Vec<Self::Spec>, AppError>> {
        Box::pin(async move { Self::named(args) })
    }
    /// The place as the user named it.
    fn label(spec: &Self::Spec) -> String;
    /// The place as tables, progress and the ledger name it: `KIND:LABEL` unless the
    /// label stands alone.
    fn display(spec: &Self::Spec) -> String {
        format!("{}:{}", Self::NAME, Self::label(spec))
    }
    /// Its address after `NAME:`, enough to reach it again (empty for a kind with one
    /// place).
    fn address(spec: &Self::Spec) -> String;
    /// The address after `NAME:` read back (a usage error when it cannot be).
    fn parse(rest: &str) -> Result<Self::Spec, AppError>;
    /// The key for this target alone, as a path.
    fn identity(_spec: &Self::Spec) -> Option<String> {
        None
    }
    /// What the ledger remembers beside the address: the name the place was shown by,
    /// and its own key.
    fn remembered(_spec: &mut Self::Spec, _place: &str, _identity: Option<&str>) {}
    /// Connect: the one place a spec meets its kind's transport.
    fn connect<'a>(
        spec: &'a Self::Spec,
        ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Box<dyn Target>, TargetError>>;
}

/// The kinds of place, each `Variant(field: marker)`: the variant of [`Kind`] and
/// [`TargetSpec`], the field of [`KindArgs`] and [`KindContexts`] that hold its flags
/// and context, and the marker type that implements [`TargetKind`]. Everything that
/// dispatches on kinds is written here, once, from this list.
macro_rules! target_kinds {
    ($($variant:ident($field:ident: $kind:ty)),* $(,)?) => {
        /// The kinds of place, as `--json` names them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Kind {
            $($variant,)*
        }

        impl Kind {
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => <$kind as TargetKind>::NAME,)*
                }
            }

            /// Whether its places are reached over a connection.
            pub(crate) fn remote(self) -> bool {
                match self {
                    $(Kind::$variant => <$kind as TargetKind>::REMOTE,)*
                }
            }
        }

        /// One place as the user named it.
        #[derive(Clone, Debug)]
        pub(crate) enum TargetSpec {
            $($variant(<$kind as TargetKind>::Spec),)*
        }

        impl TargetSpec {
            pub(crate) fn kind(&self) -> Kind {
                match self {
                    $(TargetSpec::$variant(_) => Kind::$variant,)*
                }
            }

            /// The place as the user named it.
            pub(crate) fn label(&self) -> String {
                match self {
                    $(TargetSpec::$variant(s) => <$kind as TargetKind>::label(s),)*
                }
            }

            /// The place as tables, progress and the ledger name it.
            pub(crate) fn display(&self) -> String {
                match self {
                    $(TargetSpec::$variant(s) => <$kind as TargetKind>::display(s),)*
                }
            }

            /// How to reach it again (the ledger keeps this): `ssh:DEST`, `docker:NAME`,
            /// `local`.
            pub(crate) fn address(&self) -> String {
                match self {
                    $(TargetSpec::$variant(s) => {
                        let name = <$kind as TargetKind>::NAME;
                        if <$kind as TargetKind>::ADDRESS.is_empty() {
                            name.to_string()
                        } else {
                            format!("{name}:{}", <$kind as TargetKind>::address(s))
                        }
                    })*
                }
            }

            /// The key for this target alone (an inventory's), as a path.
            pub(crate) fn identity(&self) -> Option<String> {
                match self {
                    $(TargetSpec::$variant(s) => <$kind as TargetKind>::identity(s),)*
                }
            }

            /// A place as `--from` and the ledger write it, `KIND:ADDRESS` (or `KIND`
            /// alone for a kind with one place): `Ok(None)` when it names no kind, a
            /// usage error when ADDRESS is bad.
            pub(crate) fn parse_address(address: &str) -> Result<Option<TargetSpec>, AppError> {
                let (kind, rest) = match address.split_once(':') {
                    Some((kind, rest)) => (kind, Some(rest)),
                    None => (address, None),
                };
                $(
                    if kind == <$kind as TargetKind>::NAME {
                        let alone = <$kind as TargetKind>::ADDRESS.is_empty();
                        return match (rest, alone) {
                            (Some(rest), _) => <$kind as TargetKind>::parse(rest)
                                .map(|s| Some(TargetSpec::$variant(s))),
                            (None, true) => <$kind as TargetKind>::parse("")
                                .map(|s| Some(TargetSpec::$variant(s))),
                            (None, false) => Ok(None),
                        };
                    }
                )*
                Ok(None)
            }

            /// As the ledger remembers it: its address, the name it was shown by and its
            /// own key (`None`: not a place's address, or one that no longer parses).
            pub(crate) fn remembered(address: &str, place: &str, identity: Option<&str>) -> Option<TargetSpec> {
                let mut spec = TargetSpec::parse_address(address).ok().flatten()?;
                match &mut spec {
                    $(TargetSpec::$variant(s) => <$kind as TargetKind>::remembered(s, place, identity),)*
                }
                Some(spec)
            }

            /// Connect to the place.
            pub(crate) async fn connect(
                &self,
                ctx: &ConnectContext,
            ) -> Result<Box<dyn Target>, TargetError> {
                match self {
                    $(TargetSpec::$variant(s) => <$kind as TargetKind>::connect(s, ctx).await,)*
                }
            }
        }

        /// Every kind's flags, as each command that takes targets flattens them.
        #[derive(clap::Args, Debug, Clone, Default)]
        pub(crate) struct KindArgs {
            $(
                #[command(flatten)]
                pub $field: <$kind as TargetKind>::Args,
            )*
        }

        /// Every kind's context for one run, made from [`KindArgs`].
        #[derive(Clone, Default)]
        pub(crate) struct KindContexts {
            $(pub $field: <$kind as TargetKind>::Context,)*
        }

        impl KindArgs {
            /// Check every place the flags name themselves, reading nothing.
            pub(crate) fn check(&self) -> Result<(), AppError> {
                self.named().map(|_| ())
            }

            /// The places the flags name themselves (not those of lists), kind by kind.
            pub(crate) fn named(&self) -> Result<Vec<TargetSpec>, AppError> {
                let mut specs = Vec::new();
                $(
                    specs.extend(
                        <$kind as TargetKind>::named(&self.$field)?
                            .into_iter()
                            .map(TargetSpec::$variant),
                    );
                )*
                Ok(specs)
            }

            /// The flags that read stdin.
            pub(crate) fn stdin_readers(&self) -> Vec<String> {
                let mut readers = Vec::new();
                $(readers.extend(<$kind as TargetKind>::stdin_reader(&self.$field));)*
                readers
            }

            pub(crate) fn contexts(&self) -> Result<KindContexts, AppError> {
                Ok(KindContexts {
                    $($field: <$kind as TargetKind>::context(&self.$field)?,)*
                })
            }

            /// The first flag given that names targets, of any kind.
            pub(crate) fn naming_flag(&self) -> Option<&'static str> {
                None$(.or_else(|| <$kind as TargetKind>::naming_flag(&self.$field)))*
            }

            /// The first flag given that says how to reach targets, of any kind but
            /// `except` (a source of that kind still uses them).
            pub(crate) fn option_flag(&self, except: Option<Kind>) -> Option<&'static str> {
                None$(.or_else(|| {
                    (except != Some(Kind::$variant))
                        .then(|| <$kind as TargetKind>::option_flag(&self.$field))
                        .flatten()
                }))*
            }

            /// Every place named, kind by kind, in the order of the kinds: lists,
            /// inventories and engines read now.
            async fn find(&self, ctx: &ConnectContext) -> Result<Vec<TargetSpec>, AppError> {
                let mut specs = Vec::new();
                $(
                    specs.extend(
                        <$kind as TargetKind>::find(&self.$field, &ctx.kinds.$field, ctx)
                            .await?
                            .into_iter()
                            .map(TargetSpec::$variant),
                    );
                )*
                Ok(specs)
            }
        }

        /// How "no targets" errors show naming one of each kind.
        pub(crate) fn kind_examples() -> Vec<&'static str> {
            vec![$(<$kind as TargetKind>::EXAMPLE),*]
        }

        /// The flags that name the kinds reached over a connection (`--ssh`, `--docker`).
        pub(crate) fn remote_kind_flags() -> Vec<&'static str> {
            let mut flags = Vec::new();
            $(
                if <$kind as TargetKind>::REMOTE {
                    flags.extend(<$kind as TargetKind>::EXAMPLE.split(' ').next());
                }
            )*
            flags
        }

        /// The kinds' address forms, for usage hints: `ssh:DEST`, `docker:CONTAINER`,
        /// `local`.
        pub(crate) fn kind_addresses() -> Vec<String> {
            vec![$(
                match <$kind as TargetKind>::ADDRESS {
                    "" => <$kind as TargetKind>::NAME.to_string(),
                    rest => format!("{}:{rest}", <$kind as TargetKind>::NAME),
                }
            ),*]
        }
    };
}

target_kinds! {
    Ssh(ssh: ssh::SshKind),
    Docker(docker: docker::DockerKind),
    Local(local: local::LocalKind),
}

impl TargetSpec {
    /// This machine.
    pub(crate) fn this_machine() -> TargetSpec {
        TargetSpec::Local(local::ThisMachine)
    }
}

/// Where this machine stands among the places of a run, if it is one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThisMachine {
    /// Before the targets (status, logout).
    First,
    /// After them (push --local).
    Last,
}

/// The places a command names, checked but not yet read: the kinds' flags (names,
/// lists, inventories, filters) and this machine.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selection {
    pub kinds: KindArgs,
    pub this_machine: Option<ThisMachine>,
}

impl Selection {
    /// Check every place named on the command line itself, reading nothing: each
    /// parses, and none is named twice.
    pub(crate) fn check(&self) -> Result<(), AppError> {
        self.kinds.check()?;
        let mut seen = std::collections::HashSet::new();
        for t in self.kinds.named()? {
            if !seen.insert(t.display()) {
                return Err(named_twice(&t));
            }
        }
        Ok(())
    }

    /// Whether any target besides this machine is named.
    pub(crate) fn names_targets(&self) -> bool {
        self.kinds.naming_flag().is_some()
    }

    /// Every place, in the order given, with what the flags point at read now (lists,
    /// inventories, the engine's containers); a place named twice is a usage error.
    pub(crate) async fn resolve(&self, ctx: &ConnectContext) -> Result<Vec<TargetSpec>, AppError> {
        let mut specs = self.kinds.find(ctx).await?;
        let mut seen = std::collections::HashSet::new();
        for t in &specs {
            if !seen.insert(t.display()) {
                return Err(named_twice(t));
            }
        }
        let ssh: Vec<crate::ssh::Destination> = specs
            .iter()
            .filter_map(|t| match t {
                TargetSpec::Ssh(d) => Some(d.clone()),
                _ => None,
            })
            .collect();
        if !ssh.is_empty() {
            crate::ssh::preflight(&ssh, &ctx.kinds.ssh)
                .await
                .map_err(|e| AppError::usage(e.to_string(), e.hint().as_deref()))?;
        }
        match self.this_machine {
            Some(ThisMachine::First) => specs.insert(0, TargetSpec::this_machine()),
            Some(ThisMachine::Last) => specs.push(TargetSpec::this_machine()),
            None => {}
        }
        Ok(specs)
    }
}

fn named_twice(t: &TargetSpec) -> AppError {
    AppError::usage(
        format!("target {} is named twice", t.display()),
        Some("name each target once"),
    )
}

/// Everything a connection needs besides the spec: each kind's context, and where to
/// ask the person at the terminal.
#[derive(Clone)]
pub(crate) struct ConnectContext {
    pub kinds: KindContexts,
    pub prompter: Arc<dyn Prompter>,
}

/// Where a target's login lives and whose it is, as the target itself reported it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Location {
    /// The Codex home directory.
    pub dir: String,
    pub home_from: HomeSource,
    /// The login user's name (or uid when it has no passwd entry).
    pub user: String,
    pub store: CredentialStore,
}

impl Location {
    pub(crate) fn auth_path(&self) -> String {
        format!("{}/auth.json", self.dir.trim_end_matches('/'))
    }
}

/// What is at the auth.json path of a target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FileKind {
    #[default]
    None,
    File,
    Symlink,
    Dir,
    #[serde(other)]
    Other,
}

/// The one interface every place implements, whatever its transport: install, inspect
/// and remove a login, each with its report. `ops` is written against it alone.
pub(crate) trait Target: Send + Sync {
    /// Install a login atomically under Codex's locks (where the place has them), with
    /// the request's precondition checked there, and verify it.
    fn install<'a>(
        &'a self,
        req: &'a InstallRequest<'_>,
    ) -> BoxFuture<'a, Result<InstallReport, TargetError>>;

    /// Read what login is installed, writing nothing.
    fn inspect<'a>(
        &'a self,
        req: &'a InspectRequest<'_>,
    ) -> BoxFuture<'a, Result<InspectReport, TargetError>>;

    /// Remove the login (logout), under Codex's locks, with the request's precondition.
    fn remove<'a>(
        &'a self,
        req: &'a RemoveRequest<'_>,
    ) -> BoxFuture<'a, Result<RemoveReport, TargetError>>;

    /// Start a process there (for `run`: the keeper of a lease, the command).
    fn spawn<'a>(
        &'a self,
        spawn: &'a Spawn<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn Process>, TargetError>>;

    /// Whose home the scripts there find, and the Codex home a lease there is made
    /// beside when none is named.
    fn lease_whom(&self) -> (ScriptHome, Option<String>) {
        (ScriptHome::Environment, None)
    }

    /// End the connection politely (the drop would end it too).
    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_its_own_addresses() {
        for address in [
            "ssh:deploy@build-1:2222",
            "ssh:[::1]:22",
            "docker:web_1.app",
        ] {
            let spec = TargetSpec::parse_address(address)
                .map_err(|e| e.message)
                .unwrap()
                .unwrap();
            assert_eq!(spec.address(), address);
            assert!(address.starts_with(spec.kind().as_str()));
        }
        assert!(TargetSpec::parse_address("k8s:pod").unwrap().is_none());
        assert!(TargetSpec::parse_address("docker:-rm").is_err());
        // A kind with one place is named alone; one with an address is not (`ssh` alone
        // is a file to --from).
        let name = <local::LocalKind as TargetKind>::NAME;
        let here = TargetSpec::parse_address(name).unwrap().unwrap();
        assert_eq!(
            (here.address(), here.display(), here.kind()),
            (name.to_string(), name.to_string(), Kind::Local)
        );
        assert!(TargetSpec::parse_address(&format!("{name}:x")).is_err());
        assert!(TargetSpec::parse_address("ssh").unwrap().is_none());
        assert_eq!(kind_addresses(), ["ssh:DEST", "docker:CONTAINER", name]);
        assert_eq!(remote_kind_flags(), ["--ssh", "--docker"]);
        let spec = TargetSpec::remembered("ssh:u@h", "build-1", Some("/k")).unwrap();
        assert_eq!(
            (spec.display(), spec.identity()),
            ("build-1".to_string(), Some("/k".to_string()))
        );
        let spec = TargetSpec::remembered("docker:c1", "docker:c1", None).unwrap();
        assert_eq!(spec.display(), "docker:c1");
    }
}
