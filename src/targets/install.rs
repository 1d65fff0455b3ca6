//! The install step on a shell-capable target: the request (header and payload on
//! stdin) for `sh/install.sh`, its report, and the check of what it read back after
//! writing (content hash, length, mode, owner).

use super::script::{Invocation, Report, Script};
use super::{ErrorClass, HomeFrom, HomeSource, Target, TargetError};
use crate::auth::store::CredentialStore;
use crate::auth::verdict::CodexSeen;
use crate::auth::{AuthFile, AuthSummary};

pub(crate) struct InstallRequest<'a> {
    pub auth: &'a AuthFile,
    /// `--codex-home`, verbatim (a leading `~/` is the target user's home).
    pub codex_home: Option<&'a str>,
    pub force: bool,
    pub dry_run: bool,
    /// Report which Codex version judged (`-v`, `--json`): one more process there.
    pub codex_version: bool,
    /// How long to wait for each of Codex's locks there before giving up (`busy`).
    pub lock_wait: std::time::Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Outcome {
    Installed,
    Unchanged,
    WouldInstall,
    /// The credential store there is keyring/auto: Codex would not use the file.
    Skipped,
}

impl Outcome {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Outcome::Installed => "installed",
            Outcome::Unchanged => "unchanged",
            Outcome::WouldInstall => "would install",
            Outcome::Skipped => "skipped",
        }
    }
}

/// What was at the path before an install.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Previous {
    #[default]
    None,
    /// The same bytes.
    Same,
    /// Another file (kept as auth.json.bak).
    Different,
    Symlink,
    Dir,
    Other,
}

impl Previous {
    fn from_word(word: &str) -> Previous {
        match word {
            "same" => Previous::Same,
            "different" => Previous::Different,
            "symlink" => Previous::Symlink,
            _ => Previous::None,
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct InstallReport {
    pub outcome: Outcome,
    pub path: String,
    pub home_from: HomeSource,
    pub user: String,
    pub credential_store: CredentialStore,
    pub previous: Previous,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir_mode: Option<String>,
    /// Whether the content read back matched (sha256, or length where no hash tool exists).
    pub verified: bool,
    /// What `codex login status` says there (its line); None when there is no codex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codex_status: Option<String>,
    /// Which Codex said it, and its verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codex: Option<CodexSeen>,
    /// Things worth knowing that are not failures (tmpfs, direct write, fixed modes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The login installed here, when it was made for this target (`push --login`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<AuthSummary>,
}

fn invocation(req: &InstallRequest<'_>, home: &HomeFrom) -> Result<Invocation, TargetError> {
    let bytes = req.auth.bytes().expose();
    let (passwd_home, passwd_user) = match home {
        HomeFrom::Environment => ("0", ""),
        HomeFrom::Passwd(user) => ("1", user.as_str()),
    };
    let sum = req.auth.sha256_hex();
    let len = bytes.len().to_string();
    let lock_wait = req.lock_wait.as_secs().max(1).to_string();
    let header = [
        req.codex_home.unwrap_or(""),
        if req.force { "1" } else { "0" },
        if req.dry_run { "1" } else { "0" },
        &sum,
        &len,
        passwd_home,
        passwd_user,
        req.auth.mode.login_method().unwrap_or("-"),
        req.auth.workspace.as_deref().unwrap_or(""),
        if req.codex_version { "1" } else { "0" },
        &lock_wait,
    ];
    let payload: &[u8] = if req.dry_run { b"" } else { bytes };
    Invocation::new(Script::Install, &header, payload)
}

pub(crate) async fn run<T: Target + ?Sized>(
    target: &T,
    req: &InstallRequest<'_>,
) -> Result<InstallReport, TargetError> {
    let invocation = invocation(req, &target.home_from())?;
    // The request goes on stdin once the command runs: a run that could not start
    // sent nothing.
    let out = target
        .run(&invocation)
        .await
        .map_err(|e| e.not_started("install"))?;
    let report = invocation.parse(out);
    if let Some((class, detail)) = report.error() {
        if class == "write" {
            return Err(write_failure(detail));
        }
        return Err(report.failure().unwrap_or_else(TargetError::worker_lost));
    }
    if let Some(lost) = report.lost.clone() {
        return Err(lost_while_installing(lost, &report));
    }
    if !report.finished && report.get("dir").is_some() {
        // It started, and stopped before its end with the target still there (killed).
        let stopped = report.unfinished(
            "install",
            "something on the target stopped it; run again, or `codex-auth status`",
        );
        return Err(lost_while_installing(stopped, &report));
    }
    let outcome = match report.get("outcome") {
        Some("installed") => Outcome::Installed,
        Some("unchanged") => Outcome::Unchanged,
        Some("would-install") => Outcome::WouldInstall,
        Some("skipped") => Outcome::Skipped,
        Some(other) => {
            return Err(TargetError::new(
                ErrorClass::Remote,
                format!("unexpected outcome {other:?}"),
                None,
            ))
        }
        None => {
            return Err(report.unfinished(
                "install",
                "the target needs a POSIX sh with mkdir, cat, mv, chmod and ls",
            ))
        }
    };
    let location = report.location();
    let get = |k: &str| report.get(k).map(str::to_string);
    let (codex_status, codex) = report.codex().unzip();
    let mut install = InstallReport {
        outcome,
        path: location.auth_path(),
        home_from: location.home_from,
        user: location.user,
        credential_store: location.store,
        previous: Previous::from_word(report.get("existing").unwrap_or("none")),
        backup: get("backup"),
        file_mode: get("file_mode"),
        dir_mode: get("dir_mode"),
        verified: false,
        codex_status,
        codex,
        notes: report.notes(),
        login: None,
    };
    if matches!(outcome, Outcome::Installed | Outcome::Unchanged) {
        verify(&report, req, &mut install)?;
    }
    if outcome == Outcome::Skipped {
        install
            .notes
            .insert(0, skip_reason(install.credential_store));
    }
    Ok(install)
}

/// Why a target whose Codex keeps its login elsewhere was skipped.
pub(crate) fn skip_reason(store: CredentialStore) -> String {
    match store {
        CredentialStore::Ephemeral => "skipped: Codex there keeps its login in memory only (cli_auth_credentials_store = \"ephemeral\") and reads no auth.json (--force writes it anyway)",
        CredentialStore::Auto => "skipped: Codex there can reach an OS keyring (cli_auth_credentials_store = \"auto\"), and a login kept there wins over auth.json (--force writes the file anyway)",
        _ => "skipped: Codex there reads its login from the OS keyring only (cli_auth_credentials_store = \"keyring\") and would ignore auth.json (--force writes the file anyway)",
    }
    .to_string()
}

/// Check what the script read back after writing: content, modes, owner.
fn verify(
    report: &Report,
    req: &InstallRequest<'_>,
    install: &mut InstallReport,
) -> Result<(), TargetError> {
    let want_sum = req.auth.sha256_hex();
    let want_len = req.auth.bytes().len().to_string();
    let sum = report.get("sum").unwrap_or("");
    let len = report.get("len").unwrap_or("");
    if len != want_len || (!sum.is_empty() && sum != want_sum) {
        return Err(TargetError::new(
            ErrorClass::Verify,
            format!("{} does not hold what was sent after writing", install.path),
            Some("another process may be writing the file; run again"),
        ));
    }
    // A trailing '.' marks an SELinux context, which changes nothing here.
    let mode = install
        .file_mode
        .as_deref()
        .map(|m| m.trim_end_matches('.'));
    if mode != Some("-rw-------") {
        return Err(TargetError::new(
            ErrorClass::Verify,
            format!(
                "{} has mode {} instead of -rw-------",
                install.path,
                install.file_mode.as_deref().unwrap_or("?")
            ),
            Some("check the file system's permission handling (ACLs, mount options)"),
        ));
    }
    if report.get("file_uid") != report.get("uid") {
        return Err(TargetError::new(
            ErrorClass::Verify,
            format!("{} is not owned by the login user", install.path),
            None,
        ));
    }
    install.verified = true;
    Ok(())
}

/// What a lost target holds, as far as the report got: the message says it, and claims
/// nothing the report does not back.
fn lost_while_installing(mut lost: TargetError, report: &Report) -> TargetError {
    let state = match report.get("outcome") {
        Some("installed") => {
            "while verifying: the new login was written there but not read back (`codex-auth status` shows it)"
        }
        Some("unchanged") => "while verifying: the target already held this login",
        _ if !report.delivered => "while sending the login: nothing was replaced there",
        _ => {
            "while installing: the target holds its old login or the new one, whole (`codex-auth status` shows which)"
        }
    };
    lost.message = format!("{}, {state}", lost.message);
    lost
}

/// A write the script reported failed (`write DETAIL`, from install or remove): the
/// command's own message, captured into the report, says why.
pub(super) fn write_failure(detail: &str) -> TargetError {
    let (class, detail) = classify_write(&format!("cannot {detail}"));
    TargetError::new(class, detail, class.default_hint())
}

/// Name a failed write by what the command said (`cannot write X: cat: ...: No space
/// left on device`): no space, read-only, permission.
fn classify_write(what: &str) -> (ErrorClass, String) {
    let (action, reason) = what.split_once(": ").unwrap_or((what, ""));
    let lower = reason.to_ascii_lowercase();
    if lower.contains("no space") {
        (
            ErrorClass::DiskFull,
            format!("{action}: no space left on device"),
        )
    } else if lower.contains("read-only") {
        (
            ErrorClass::ReadOnly,
            format!("{action}: read-only file system"),
        )
    } else if lower.contains("permission denied") || lower.contains("operation not permitted") {
        (
            ErrorClass::PermissionDenied,
            format!("{action}: permission denied"),
        )
    } else {
        (ErrorClass::Io, what.trim().to_string())
    }
}

#[cfg(all(test, unix))]
pub(crate) mod tests {
    use super::*;
    use crate::targets::RunOutput;
    use futures_util::future::BoxFuture;

    /// The scripts run by the local `sh`, with HOME pointing at a scratch directory.
    pub(crate) struct LocalSh {
        pub home: std::path::PathBuf,
    }

    impl Target for LocalSh {
        fn run<'a>(
            &'a self,
            invocation: &'a Invocation,
        ) -> BoxFuture<'a, Result<RunOutput, TargetError>> {
            Box::pin(async move {
                use std::io::Write;
                let mut child = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(invocation.line())
                    .env_clear()
                    .env("PATH", "/usr/bin:/bin")
                    .env("HOME", &self.home)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                let _ = child.stdin.take().unwrap().write_all(invocation.stdin());
                let out = child.wait_with_output().unwrap();
                Ok(RunOutput {
                    stdout: out.stdout,
                    stderr: out.stderr,
                    exit_status: out.status.code().map(|c| c as u32),
                    delivered: true,
                    lost: None,
                })
            })
        }
    }

    pub(crate) fn local() -> (tempfile::TempDir, LocalSh) {
        let dir = tempfile::tempdir().unwrap();
        let sh = LocalSh {
            home: dir.path().to_path_buf(),
        };
        (dir, sh)
    }

    fn req(auth: &AuthFile) -> InstallRequest<'_> {
        InstallRequest {
            auth,
            codex_home: None,
            force: false,
            dry_run: false,
            codex_version: false,
            lock_wait: std::time::Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn short_payload_is_torn_and_leaves_the_old_file() {
        let (dir, sh) = local();
        let old = AuthFile::from_api_key("sk-test-old-00000000000000000").unwrap();
        run(&sh, &req(&old)).await.unwrap();
        let new = AuthFile::from_api_key("sk-test-new-00000000000000000").unwrap();
        // The connection "drops" after half the payload: the script sees EOF early.
        let mut cut = invocation(&req(&new), &HomeFrom::Environment).unwrap();
        let keep = cut.stdin().len() - new.bytes().len() / 2;
        cut.truncate_stdin(keep);
        let report = cut.parse(sh.run(&cut).await.unwrap());
        assert_eq!(report.failure().unwrap().class, ErrorClass::Torn);
        let path = dir.path().join(".codex/auth.json");
        assert_eq!(std::fs::read(&path).unwrap(), old.bytes().expose());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join(".codex"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .collect();
        assert!(leftovers.is_empty());
    }

    #[tokio::test]
    async fn directory_at_auth_path_and_unwritable_home_are_classified() {
        let (dir, sh) = local();
        let auth = AuthFile::from_api_key("sk-test-dir-00000000000000000").unwrap();
        std::fs::create_dir_all(dir.path().join(".codex/auth.json")).unwrap();
        let e = run(&sh, &req(&auth)).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::NotAFile);
        let mut r = req(&auth);
        // /proc does not let anyone create a directory, root included.
        r.codex_home = Some("/proc/codex-auth-test");
        let e = run(&sh, &r).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Io, "{e:?}");
        assert!(e
            .message
            .starts_with("cannot create /proc/codex-auth-test: mkdir"));
        assert!(e.message.contains("No such file or directory"), "{e:?}");
    }

    #[test]
    fn failed_writes_are_named_by_what_the_command_said() {
        let c = |said: &str| classify_write(&format!("cannot write x: {said}")).0;
        assert_eq!(
            c("cat: write error: No space left on device"),
            ErrorClass::DiskFull
        );
        assert_eq!(
            c("mkdir: cannot create: Read-only file system"),
            ErrorClass::ReadOnly
        );
        assert_eq!(c("sh: x: Permission denied"), ErrorClass::PermissionDenied);
        assert_eq!(c(""), ErrorClass::Io);
    }

    #[tokio::test]
    async fn loose_modes_are_tightened_on_unchanged_push() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, sh) = local();
        let auth = AuthFile::from_api_key("sk-test-modes-000000000000000").unwrap();
        let codex = dir.path().join(".codex");
        std::fs::create_dir_all(&codex).unwrap();
        std::fs::write(codex.join("auth.json"), auth.bytes().expose()).unwrap();
        std::fs::set_permissions(
            codex.join("auth.json"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        std::fs::set_permissions(&codex, std::fs::Permissions::from_mode(0o755)).unwrap();
        let rep = run(&sh, &req(&auth)).await.unwrap();
        assert_eq!(rep.outcome, Outcome::Unchanged);
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&codex.join("auth.json")), 0o600);
        assert_eq!(mode(&codex), 0o700);
    }

    #[test]
    fn dry_run_request_carries_no_payload() {
        let auth = AuthFile::from_api_key("sk-test-dryrun-0000000000000").unwrap();
        let req = InstallRequest {
            auth: &auth,
            codex_home: None,
            force: false,
            dry_run: true,
            codex_version: false,
            lock_wait: std::time::Duration::from_secs(10),
        };
        let inv = invocation(&req, &HomeFrom::Environment).unwrap();
        let text = String::from_utf8_lossy(inv.stdin()).into_owned();
        assert!(!text.contains("sk-test"));
        assert_eq!(text.lines().count(), 13);
    }

    /// A target that answers every script with the same printed text, `@N@` in it
    /// replaced by the run's nonce (so the text can forge framed report lines).
    struct Canned {
        stdout: Vec<u8>,
        lost: bool,
    }

    impl Target for Canned {
        fn run<'a>(
            &'a self,
            invocation: &'a Invocation,
        ) -> BoxFuture<'a, Result<RunOutput, TargetError>> {
            let nonce = invocation.nonce().as_bytes().to_vec();
            let mut stdout = Vec::with_capacity(self.stdout.len());
            let mut rest = &self.stdout[..];
            while let Some(i) = rest.windows(3).position(|w| w == b"@N@") {
                stdout.extend_from_slice(&rest[..i]);
                stdout.extend_from_slice(&nonce);
                rest = &rest[i + 3..];
            }
            stdout.extend_from_slice(rest);
            let lost = self
                .lost
                .then(|| TargetError::new(ErrorClass::Disconnected, "connection lost", None));
            Box::pin(async move {
                Ok(RunOutput {
                    stdout,
                    stderr: b"sh: 1: noise\n".to_vec(),
                    exit_status: Some(0),
                    delivered: true,
                    lost,
                })
            })
        }
    }

    const REPORT_WORDS: &[&str] = &[
        "@N@ ",
        "@N@ ",
        "@N@ ",
        "\n",
        "=",
        "kind=",
        "file",
        "dir",
        "symlink",
        "auth_len=",
        "5",
        "-1",
        "99999999999999999999",
        "@N@ body\n",
        "end=1",
        "codex_rc=",
        "0",
        "1",
        "none",
        "codex_line=",
        "Logged in using an API key",
        "error=",
        "detail=",
        "busy",
        "torn",
        "sum",
        "write",
        "forced-workspace",
        "outcome=",
        "installed",
        "unchanged",
        "skipped",
        "existing=",
        "different",
        "same",
        "home_from=",
        "env",
        "dir=",
        "/h/.codex",
        "uid=",
        "login=",
        "store=",
        "keyring",
        "forced_workspace=",
        ",",
        "codex_running=",
        "cleaned=",
        "lock=",
        "received=1",
        "committing=1",
        "file_mode=",
        "-rw-------",
        "file_uid=",
        "len=",
        "sum=",
        "backup=",
        "{}",
        "\u{feff}",
        "\0",
        "\u{3000}",
    ];

    fn judge_canned(stdout: Vec<u8>, lost: bool) {
        let auth = AuthFile::from_api_key("sk-test-canned-0000000000000").unwrap();
        let target = Canned { stdout, lost };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            if let Ok(rep) = run(&target, &req(&auth)).await {
                // A success needs the whole report: an outcome and the script's end.
                assert!(matches!(
                    rep.outcome,
                    Outcome::Installed
                        | Outcome::Unchanged
                        | Outcome::Skipped
                        | Outcome::WouldInstall
                ));
                assert!(!lost, "a lost target reported as done");
            }
            let inspect = crate::targets::inspect::InspectRequest {
                codex_home: None,
                codex_version: true,
            };
            let _ = crate::targets::inspect::run(&target, &inspect).await;
        });
    }

    #[test]
    fn reports_take_the_odd_inputs() {
        for (_, bytes) in crate::test_inputs::odd_inputs() {
            judge_canned(bytes.clone(), false);
            let mut framed =
                b"@N@ kind=file\n@N@ auth_len=100000000\n@N@ end=1\n@N@ body\n".to_vec();
            framed.extend_from_slice(&bytes[..bytes.len().min(1 << 20)]);
            judge_canned(framed, true);
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn reports_never_panic(
            text in crate::test_inputs::text_from(REPORT_WORDS, 120),
            lost in proptest::bool::ANY,
        ) {
            judge_canned(text.into_bytes(), lost);
        }
    }
}
