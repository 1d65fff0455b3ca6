//! The protocol of `sh/lease.sh`, the keeper of a lease: its request (the login follows
//! it as whole lines), and its two reports read as they arrive, since the keeper runs
//! for as long as the command does: the first says where the lease is, the second (after
//! the client's `end`, or its EOF) whether the lease was removed, and with `full` the
//! login the command left when it changed.

use super::{reply, request, HomeFrom, Invocation, RunOutput, Script};
use crate::secret::SecretBytes;
use crate::targets::{ErrorClass, TargetError};

/// The keeper's invocation: `login` is sent as whole lines (a final line break added
/// when it has none, which JSON does not mind), with its sha256 as sent.
pub(crate) fn lease_invocation(
    home_from: &HomeFrom,
    codex_home: Option<&str>,
    login: &[u8],
    full: bool,
    find_codex: bool,
) -> Result<(Invocation, String), TargetError> {
    let mut payload = login.to_vec();
    if payload.last() != Some(&b'\n') {
        payload.push(b'\n');
    }
    let payload = SecretBytes::new(payload);
    let sum = crate::targets::Fingerprint::of(payload.expose())
        .as_str()
        .to_string();
    let (home_from_passwd, passwd_user) = match home_from {
        HomeFrom::Environment => (false, String::new()),
        HomeFrom::Passwd(user) => (true, user.clone()),
    };
    let request = request::Lease {
        whom: request::Whom {
            codex_home: codex_home.unwrap_or("").to_string(),
            passwd_user,
            home_from_passwd,
        },
        lines: payload.expose().iter().filter(|b| **b == b'\n').count(),
        sum: sum.clone(),
        full,
        file_config: "cli_auth_credentials_store = \"file\"".into(),
        find_codex,
    };
    Ok((
        Invocation::new(Script::Lease, &request, payload.expose())?,
        sum,
    ))
}

/// How a lease ended, as its keeper said.
pub(crate) struct LeaseEnd {
    pub removed: bool,
    /// With `full`: the login the command left there, when it changed.
    pub changed: Option<SecretBytes>,
}

/// The keeper's output, read as it comes.
pub(crate) struct LeaseReader {
    invocation: Invocation,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Where the second report starts (after the first `end`).
    second: Option<usize>,
}

impl LeaseReader {
    pub(crate) fn new(invocation: Invocation) -> LeaseReader {
        LeaseReader {
            invocation,
            stdout: Vec::new(),
            stderr: Vec::new(),
            second: None,
        }
    }

    pub(crate) fn stdout(&mut self, data: &[u8]) {
        if self.stdout.len() < 1 << 20 {
            self.stdout.extend_from_slice(data);
        }
    }

    pub(crate) fn stderr(&mut self, data: &[u8]) {
        if self.stderr.len() < 64 << 10 {
            self.stderr.extend_from_slice(data);
        }
    }

    fn end_line(&self) -> Vec<u8> {
        format!("{} end=1\n", self.invocation.nonce).into_bytes()
    }

    /// The first report, once it is whole: the lease's path and the directory of the
    /// codex there (when asked and found), or why there is none.
    pub(crate) fn started(&mut self) -> Option<Result<(String, Option<String>), TargetError>> {
        let end = self.end_line();
        let at = find(&self.stdout, &end)? + end.len();
        self.second = Some(at);
        let report = self.invocation.parse(RunOutput {
            stdout: self.stdout[..at].to_vec(),
            stderr: self.stderr.clone(),
            exit_status: None,
            delivered: true,
            lost: None,
        });
        Some((|| {
            let end: reply::End = report.read()?;
            let located: reply::Located = report.read()?;
            if let Some(failure) = report.failure(&end, &located) {
                return Err(failure);
            }
            let own: reply::Lease = report.read()?;
            let codex_dir = own
                .codex_dir
                .filter(|d| d.starts_with('/') && !d.contains(':'));
            let lease = own.lease.filter(|l| l.starts_with('/')).ok_or_else(|| {
                TargetError::new(
                    ErrorClass::Protocol,
                    "the lease script did not say where the lease is",
                    None,
                )
            })?;
            Ok((lease, codex_dir))
        })())
    }

    /// The report so far, when the keeper ended before its first report: why.
    pub(crate) fn unfinished(&self, exit_status: Option<u32>) -> TargetError {
        let report = self.invocation.parse(RunOutput {
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            exit_status,
            delivered: true,
            lost: None,
        });
        report.unfinished("lease", "the place needs a POSIX sh with mktemp")
    }

    /// The second report, once it is whole (and the login behind it, if any).
    pub(crate) fn ended(&self) -> Option<Result<LeaseEnd, TargetError>> {
        let rest = &self.stdout[self.second?..];
        let end = self.end_line();
        find(rest, &end)?;
        let report = self.invocation.parse(RunOutput {
            stdout: rest.to_vec(),
            stderr: Vec::new(),
            exit_status: None,
            delivered: true,
            lost: None,
        });
        let own: reply::Lease = match report.read() {
            Ok(own) => own,
            Err(e) => return Some(Err(e)),
        };
        let changed = if own.changed {
            match report.body(own.auth_len) {
                Ok(Some(b)) => Some(SecretBytes::new(b)),
                // (the login behind the report has not all come yet)
                Ok(None) | Err(_) => return None,
            }
        } else {
            None
        };
        Some(Ok(LeaseEnd {
            removed: own.removed,
            changed,
        }))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
