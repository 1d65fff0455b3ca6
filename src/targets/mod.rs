//! Targets: the places a login is installed. One module per kind ([`ssh`] hosts,
//! [`docker`] containers), each owning its command-line flags, its connection context and
//! its [`Target`] implementation, and saying what it is through [`TargetKind`]; one
//! [`Target`] trait that `ops` is written against, so `ops` never names a transport; and
//! the remote-script protocol ([`script`]) every shell-capable kind speaks. Adding a
//! kind: its module (a [`TargetKind`] with its args/context pair, and a [`Target`]),
//! and one line in the `target_kinds!` list.

mod docker;
mod docker_over_ssh;
mod error;
mod expect;
mod fleet;
mod inspect;
mod install;
mod remove;
mod script;
mod ssh;

use std::sync::Arc;

use futures_util::future::BoxFuture;

pub(crate) use error::{ErrorClass, TargetError};
pub(crate) use expect::{Expect, Fingerprint};
pub(crate) use inspect::{InspectReport, InspectRequest};
pub(crate) use install::{InstallReport, InstallRequest, Outcome, Previous};
pub(crate) use remove::{RemoveOutcome, RemoveReport, RemoveRequest};
pub(crate) use script::{forward_device_invocation, Script, CODEX_NOT_FOUND};
pub(crate) use ssh::{
    destination as ssh_destination, over_session as ssh_over_session, SshConnectArgs,
};

use crate::auth::store::CredentialStore;
pub(crate) use crate::auth::store::Forced;
use crate::error::AppError;
use crate::prompt::Prompter;

/// What one kind of target is, for the code that does not know kinds: its name, its
/// command-line flags and the context they give every connection of a run, and how one
/// target of it is named, shown, parsed and reached. Each kind's module implements it
/// on a marker type; `target_kinds!` lists the kinds and writes every dispatch.
pub(crate) trait TargetKind {
    /// `--json`'s `kind`, and the prefix of the kind's addresses (`ssh:DEST`).
    const NAME: &'static str;
    /// How the usage error for "no targets" shows naming one (`--ssh user@host`).
    const EXAMPLE: &'static str;
    /// What follows `NAME:` in an address, in usage hints (`DEST`).
    const ADDRESS: &'static str;
    /// One target as the user named it.
    type Spec: Clone + std::fmt::Debug + Send + Sync + 'static;
    /// The kind's flags, flattened into every command that takes targets.
    type Args: clap::Args + clap::FromArgMatches + Clone + std::fmt::Debug + Default;
    /// What every connection of the kind in one run shares, made from the flags.
    type Context: Clone + Default + Send + Sync + 'static;

    /// The targets the flags name (checked, not connected).
    fn specs(args: &Self::Args, stdin: &mut Option<String>) -> Result<Vec<Self::Spec>, AppError>;
    /// The run's context, from the flags (checked, not connected).
    fn context(args: &Self::Args) -> Result<Self::Context, AppError>;
    /// The first flag given that names targets (`--ssh`, `--docker-filter`, ...).
    fn naming_flag(args: &Self::Args) -> Option<&'static str>;
    /// The first flag given that only says how to reach targets (`-F`, `--docker-user`).
    fn option_flag(args: &Self::Args) -> Option<&'static str>;
    /// Whether the context names more targets, found only when the run starts.
    fn finds_more(_context: &Self::Context) -> bool {
        false
    }
    /// Those targets, found (before the run and its progress display start).
    fn find<'a>(
        _context: &'a Self::Context,
        _ctx: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Vec<Self::Spec>, AppError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// The target as the user named it.
    fn label(spec: &Self::Spec) -> String;
    /// Its address after `NAME:`, enough to reach it again.
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

/// The kinds of target, each `Variant(field: marker)`: the variant of [`Kind`] and
/// [`TargetSpec`], the field of [`KindArgs`] and [`KindContexts`] that hold its flags
/// and context, and the marker type that implements [`TargetKind`]. Everything that
/// dispatches on kinds is written here, once, from this list.
macro_rules! target_kinds {
    ($($variant:ident($field:ident: $kind:ty)),* $(,)?) => {
        /// The kinds of target, as `--json` names them.
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
        }

        /// One target as the user named it.
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

            /// The target as the user named it.
            pub(crate) fn label(&self) -> String {
                match self {
                    $(TargetSpec::$variant(s) => <$kind as TargetKind>::label(s),)*
                }
            }

            /// How to reach it again (the ledger keeps this): `ssh:DEST`, `docker:NAME`.
            pub(crate) fn address(&self) -> String {
                match self {
                    $(TargetSpec::$variant(s) => format!(
                        "{}:{}",
                        <$kind as TargetKind>::NAME,
                        <$kind as TargetKind>::address(s)
                    ),)*
                }
            }

            /// The key for this target alone (an inventory's), as a path.
            pub(crate) fn identity(&self) -> Option<String> {
                match self {
                    $(TargetSpec::$variant(s) => <$kind as TargetKind>::identity(s),)*
                }
            }

            /// A place as `--from` and the ledger write it, `KIND:ADDRESS`: `Ok(None)`
            /// when KIND is no kind of target, a usage error when ADDRESS is bad.
            pub(crate) fn parse_address(address: &str) -> Result<Option<TargetSpec>, AppError> {
                let Some((kind, rest)) = address.split_once(':') else {
                    return Ok(None);
                };
                $(
                    if kind == <$kind as TargetKind>::NAME {
                        return <$kind as TargetKind>::parse(rest).map(|s| Some(TargetSpec::$variant(s)));
                    }
                )*
                Ok(None)
            }

            /// As the ledger remembers it: its address, the name it was shown by and its
            /// own key (`None`: not a target's address, or one that no longer parses).
            pub(crate) fn remembered(address: &str, place: &str, identity: Option<&str>) -> Option<TargetSpec> {
                let mut spec = TargetSpec::parse_address(address).ok().flatten()?;
                match &mut spec {
                    $(TargetSpec::$variant(s) => <$kind as TargetKind>::remembered(s, place, identity),)*
                }
                Some(spec)
            }

            /// Connect to the target.
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
            /// Every target named, kind by kind, in the order of the kinds.
            pub(crate) fn specs(&self, stdin: &mut Option<String>) -> Result<Vec<TargetSpec>, AppError> {
                let mut specs = Vec::new();
                $(
                    specs.extend(
                        <$kind as TargetKind>::specs(&self.$field, stdin)?
                            .into_iter()
                            .map(TargetSpec::$variant),
                    );
                )*
                Ok(specs)
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
        }

        impl KindContexts {
            /// Whether some kind names more targets, found when the run starts.
            pub(crate) fn finds_more(&self) -> bool {
                false $(|| <$kind as TargetKind>::finds_more(&self.$field))*
            }

            /// Those targets.
            pub(crate) async fn find(&self, ctx: &ConnectContext) -> Result<Vec<TargetSpec>, AppError> {
                let mut specs = Vec::new();
                $(
                    specs.extend(
                        <$kind as TargetKind>::find(&self.$field, ctx)
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

        /// The kinds' address forms, for usage hints: `ssh:DEST`, `docker:CONTAINER`.
        pub(crate) fn kind_addresses() -> Vec<String> {
            vec![$(format!("{}:{}", <$kind as TargetKind>::NAME, <$kind as TargetKind>::ADDRESS)),*]
        }
    };
}

target_kinds! {
    Ssh(ssh: ssh::SshKind),
    Docker(docker: docker::DockerKind),
}

impl TargetSpec {
    /// The label with its kind where the kind is not obvious (tables, progress): ssh
    /// destinations stand alone, everything else is `kind:label`.
    pub(crate) fn display(&self) -> String {
        match self.kind() {
            Kind::Ssh => self.label(),
            kind => format!("{}:{}", kind.as_str(), self.label()),
        }
    }
}

/// Everything a connection needs besides the spec: each kind's context, and where to
/// ask the person at the terminal.
#[derive(Clone)]
pub(crate) struct ConnectContext {
    pub kinds: KindContexts,
    pub prompter: Arc<dyn Prompter>,
}

/// Where the Codex home of a target came from: `--codex-home`, `$CODEX_HOME` there, or
/// `~/.codex` of the login user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HomeSource {
    Flag,
    Env,
    #[default]
    #[serde(other)]
    Default,
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
        assert_eq!(kind_addresses(), ["ssh:DEST", "docker:CONTAINER"]);
        let spec = TargetSpec::remembered("ssh:u@h", "build-1", Some("/k")).unwrap();
        assert_eq!(
            (spec.display(), spec.identity()),
            ("build-1".to_string(), Some("/k".to_string()))
        );
        let spec = TargetSpec::remembered("docker:c1", "docker:c1", None).unwrap();
        assert_eq!(spec.display(), "docker:c1");
    }
}
