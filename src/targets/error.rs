//! How one target failed: a stable class (the `error.class` of `--json`, documented in
//! docs/json.md), a one-line message and a hint. Control flow matches on the class, never on
//! its spelling.

use crate::ssh::SshError;

/// Defines [`ErrorClass`] and its list of every variant from one list, so the two
/// cannot drift apart.
macro_rules! error_classes {
    ($($variant:ident),* $(,)?) => {
        /// Every way a target can fail, serialized as users and scripts see it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
        #[serde(rename_all = "kebab-case")]
        pub(crate) enum ErrorClass {
            $($variant),*
        }

        impl ErrorClass {
            /// Every class, for the docs check.
            #[cfg(test)]
            pub(crate) const ALL: &'static [ErrorClass] = &[$(ErrorClass::$variant),*];
        }
    };
}

error_classes!(
    Dns,
    Refused,
    Timeout,
    Unreachable,
    HostKeyUnknown,
    HostKeyChanged,
    HostKeyRevoked,
    HostCertificateInvalid,
    Auth,
    Disconnected,
    Protocol,
    Config,
    ForwardingRefused,
    RemotePortClosed,
    NoCodex,
    PortBusy,
    NoHome,
    PermissionDenied,
    DiskFull,
    ReadOnly,
    Torn,
    NotAFile,
    UnsafeHome,
    Busy,
    ForcedLogin,
    ForcedWorkspace,
    Changed,
    Verify,
    Io,
    Remote,
    DockerUnreachable,
    NoContainer,
    NoUser,
    NoShell,
    ContainerGone,
    NotRunning,
    Tmpfs,
    DockerApi,
    Login,
    Untrusted,
    Keyring,
    Internal,
);

impl ErrorClass {
    /// The class as `--json` spells it.
    #[cfg(test)]
    pub(crate) fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// What to do about a failure of this class, when the class alone says it.
    pub(crate) fn default_hint(self) -> Option<&'static str> {
        Some(match self {
            ErrorClass::DiskFull => {
                "free space on the target and run again; the old login is untouched"
            }
            ErrorClass::ReadOnly => {
                "the file system is read-only; pass --codex-home on a writable path"
            }
            ErrorClass::PermissionDenied => {
                "the login user cannot write there; check ownership of the directory or pass --codex-home"
            }
            ErrorClass::NoHome => "pass --codex-home PATH",
            ErrorClass::Torn => "the transfer was cut short; run again",
            ErrorClass::NotAFile => "move the directory out of the way",
            ErrorClass::UnsafeHome => {
                "make it the login user's alone (chown it to them; chmod go-w it and the directories above it), or pass --codex-home on a private path"
            }
            ErrorClass::Busy => {
                "a Codex there is committing a refresh, or another push is writing; run again"
            }
            ErrorClass::ForcedLogin | ErrorClass::ForcedWorkspace => {
                "Codex there would refuse this login: push one the setting allows, or change the setting"
            }
            ErrorClass::Changed => {
                "something else wrote there since it was read (a Codex there refreshing?); run again"
            }
            _ => return None,
        })
    }
}

/// What a place holds instead of what a compare-and-swap precondition expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NowHolds {
    /// A login, where none was expected.
    Something,
    /// No login, where one was expected.
    Nothing,
    /// Another login than the one expected.
    Another,
}

/// A failure at one target, with a stable class for `--json` and a hint for people.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct TargetError {
    pub class: ErrorClass,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl TargetError {
    pub(crate) fn new(class: ErrorClass, message: impl Into<String>, hint: Option<&str>) -> Self {
        TargetError {
            class,
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }

    /// The place no longer holds what a precondition expected: nothing was written.
    pub(crate) fn changed(path: &str, now: NowHolds) -> Self {
        let holds = match now {
            NowHolds::Something => "a login is there now",
            NowHolds::Nothing => "there is no login there any more",
            NowHolds::Another => "it holds another login now",
        };
        TargetError::new(
            ErrorClass::Changed,
            format!("{path} is not what this run read ({holds}); nothing was written"),
            ErrorClass::Changed.default_hint(),
        )
    }

    /// A target stopped at its deadline (`--target-timeout`), `after` it started, in
    /// `stage`; `consequence` says what that leaves there.
    pub(crate) fn timed_out(stage: &str, after: std::time::Duration, consequence: &str) -> Self {
        TargetError::new(
            ErrorClass::Timeout,
            format!(
                "no result within {} s, while {stage}: {consequence}",
                after.as_secs()
            ),
            Some("the target is slow or stuck (a login shell waiting for input, a full disk, a hung mount); check it by hand, or raise --target-timeout"),
        )
    }

    /// A script run that could not start (its request goes on stdin once it runs):
    /// a lost connection or engine then says that nothing was changed.
    pub(crate) fn not_started(mut self, what: &str) -> Self {
        if matches!(
            self.class,
            ErrorClass::Disconnected | ErrorClass::DockerUnreachable
        ) {
            self.message.push_str(&format!(
                ", while starting the {what}: nothing was changed there"
            ));
        }
        self
    }

    /// A worker that stopped without a result (a bug, or cancellation).
    pub(crate) fn worker_lost() -> Self {
        TargetError::new(
            ErrorClass::Internal,
            "the worker for this target stopped",
            None,
        )
    }

    /// The message with its hint, as one line for tables.
    pub(crate) fn line(&self) -> String {
        match &self.hint {
            Some(h) => format!("{} (hint: {h})", self.message),
            None => self.message.clone(),
        }
    }
}

impl From<SshError> for TargetError {
    fn from(e: SshError) -> Self {
        let class = match &e {
            SshError::Config(_) | SshError::Unsupported { .. } => ErrorClass::Config,
            SshError::Resolve { .. } => ErrorClass::Dns,
            SshError::Refused { .. } => ErrorClass::Refused,
            SshError::Timeout { .. } => ErrorClass::Timeout,
            SshError::Unreachable { .. }
            | SshError::JumpFailed { .. }
            | SshError::ProxyCommand { .. } => ErrorClass::Unreachable,
            SshError::HostKeyUnknown { .. } => ErrorClass::HostKeyUnknown,
            SshError::HostKeyChanged { .. } => ErrorClass::HostKeyChanged,
            SshError::HostKeyRevoked { .. } => ErrorClass::HostKeyRevoked,
            SshError::HostCertificateInvalid { .. } => ErrorClass::HostCertificateInvalid,
            SshError::Auth { .. } => ErrorClass::Auth,
            SshError::Disconnected { .. } => ErrorClass::Disconnected,
            SshError::Protocol { .. } => ErrorClass::Protocol,
            SshError::ForwardingRefused { .. } => ErrorClass::ForwardingRefused,
            SshError::RemotePortClosed { .. } => ErrorClass::RemotePortClosed,
        };
        TargetError {
            class,
            message: e.to_string(),
            hint: e.hint(),
        }
    }
}

impl From<crate::login::LoginError> for TargetError {
    fn from(e: crate::login::LoginError) -> Self {
        TargetError {
            class: ErrorClass::Login,
            message: e.to_string(),
            hint: e.hint().map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented list of error classes (docs/json.md) is the enum, no more and no
    /// less.
    #[test]
    fn the_docs_list_every_error_class() {
        let readme = include_str!("../../docs/json.md");
        let start = readme
            .find("<!-- error-classes -->")
            .expect("docs/json.md marks its class list with <!-- error-classes -->");
        let end = start
            + readme[start..]
                .find("<!-- /error-classes -->")
                .expect("end marker");
        // The first cell of each row: | `class` | meaning |
        let mut listed: Vec<String> = readme[start..end]
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_string)
            .collect();
        listed.sort();
        let mut classes: Vec<String> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        classes.sort();
        assert_eq!(listed, classes);
    }
}
