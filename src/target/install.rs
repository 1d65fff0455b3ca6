//! The install step on a shell-capable target: build the request (header + payload on
//! stdin), run `install.sh`, parse its key=value report, and verify what it read back.

use std::collections::HashMap;

use super::{Target, TargetError};
use crate::auth::AuthFile;

const MAGIC: &str = "codex-auth-install-1";
const SCRIPT_SOURCE: &str = include_str!("install.sh");
/// Functions shared by the target scripts (`locate`, `codex_verdict`, ...).
pub(crate) const COMMON_SOURCE: &str = include_str!("common.sh");

/// `common.sh` and `install.sh` joined into the single line that every login shell
/// accepts in single quotes.
pub fn script() -> String {
    compact(&format!("{COMMON_SOURCE}\n{SCRIPT_SOURCE}"))
}

pub(crate) fn compact(source: &str) -> String {
    source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct InstallRequest<'a> {
    pub auth: &'a AuthFile,
    /// `--codex-home`, verbatim (a leading `~/` is the target user's home).
    pub codex_home: Option<&'a str>,
    pub force: bool,
    pub dry_run: bool,
}

/// How the script finds the home directory when no CODEX_HOME is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HomeFrom {
    /// `$HOME`, as the login session sets it (ssh).
    Environment,
    /// The /etc/passwd entry of this user (name or uid, as Docker takes it) whom the
    /// command runs as (docker exec, whose HOME may be the image's).
    Passwd(String),
}

impl HomeFrom {
    /// The two header lines that say this to the scripts.
    pub(crate) fn header(&self) -> String {
        match self {
            HomeFrom::Environment => "0\n\n".into(),
            HomeFrom::Passwd(user) => format!("1\n{user}\n"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Installed,
    Unchanged,
    WouldInstall,
    /// The credential store there is keyring/auto: Codex would not use the file.
    Skipped,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Installed => "installed",
            Outcome::Unchanged => "unchanged",
            Outcome::WouldInstall => "would install",
            Outcome::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct InstallReport {
    pub outcome: Outcome,
    pub path: String,
    /// Where the directory came from: `flag`, `env` ($CODEX_HOME there) or `default`.
    pub home_from: String,
    pub user: String,
    pub credential_store: String,
    /// What was at the path before: none, same, different, symlink.
    pub previous: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir_mode: Option<String>,
    /// Whether the content read back matched (sha256, or length where no hash tool exists).
    pub verified: bool,
    /// `codex login status` there, masked; None when codex is not on the target's PATH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codex_status: Option<String>,
    /// Things worth knowing that are not failures (tmpfs, direct write, fixed modes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The login installed here, when it was made for this target (`push --login`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<crate::auth::AuthSummary>,
}

fn request_bytes(req: &InstallRequest<'_>, home: &HomeFrom) -> Vec<u8> {
    let bytes = req.auth.bytes().expose();
    let mut out = format!(
        "{MAGIC}\n{}\n{}\n{}\n{}\n{}\n{}",
        req.codex_home.unwrap_or(""),
        req.force as u8,
        req.dry_run as u8,
        req.auth.sha256_hex(),
        bytes.len(),
        home.header()
    )
    .into_bytes();
    if !req.dry_run {
        out.extend_from_slice(bytes);
    }
    out
}

pub(crate) async fn run<T: Target + ?Sized>(
    target: &T,
    req: &InstallRequest<'_>,
    home: HomeFrom,
) -> Result<InstallReport, TargetError> {
    let out = target.run_sh(&script(), &request_bytes(req, &home)).await?;
    let text = req.auth.scrub(&String::from_utf8_lossy(&out.stdout));
    let kv: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    if let Some(class) = kv.get("error") {
        let detail = kv.get("detail").copied().unwrap_or("").to_string();
        let (class, detail) = if *class == "write" {
            // A command failed; its own message (on stderr) says why.
            let stderr = req.auth.scrub(&String::from_utf8_lossy(&out.stderr));
            classify_write(&detail, &stderr)
        } else {
            (error_class(class).0, detail)
        };
        return Err(TargetError::new(class, detail, error_class(class).1));
    }
    let Some(outcome) = kv.get("outcome").copied() else {
        let stderr = req.auth.scrub(&String::from_utf8_lossy(&out.stderr));
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(TargetError::new(
            "remote",
            format!(
                "the install script did not finish (exit {}): {}",
                out.exit_status.map_or("none".into(), |s| s.to_string()),
                first.trim()
            ),
            Some("the target needs a POSIX sh with mkdir, cat, mv, chmod and ls"),
        ));
    };
    let outcome = match outcome {
        "installed" => Outcome::Installed,
        "unchanged" => Outcome::Unchanged,
        "would-install" => Outcome::WouldInstall,
        "skipped" => Outcome::Skipped,
        other => {
            return Err(TargetError::new(
                "remote",
                format!("unexpected outcome {other:?}"),
                None,
            ))
        }
    };
    let get = |k: &str| kv.get(k).map(|v| v.to_string());
    let dir = get("dir").unwrap_or_default();
    let mut report = InstallReport {
        outcome,
        path: format!("{}/auth.json", dir.trim_end_matches('/')),
        home_from: get("home_from").unwrap_or_default(),
        user: get("login")
            .filter(|s| !s.is_empty())
            .or(get("uid"))
            .unwrap_or_default(),
        credential_store: get("store").unwrap_or_else(|| "file".into()),
        previous: get("existing").unwrap_or_else(|| "none".into()),
        backup: get("backup"),
        file_mode: get("file_mode"),
        dir_mode: get("dir_mode"),
        verified: false,
        codex_status: match kv.get("codex_rc") {
            None | Some(&"none") => None,
            Some(_) => Some(get("codex_status").unwrap_or_default()),
        },
        notes: Vec::new(),
        login: None,
    };
    if matches!(outcome, Outcome::Installed | Outcome::Unchanged) {
        verify(&kv, req, &mut report)?;
    }
    Ok(report)
}

/// Check what the script read back after writing: content, modes, owner.
fn verify(
    kv: &HashMap<&str, &str>,
    req: &InstallRequest<'_>,
    report: &mut InstallReport,
) -> Result<(), TargetError> {
    let want_sum = req.auth.sha256_hex();
    let want_len = req.auth.bytes().len().to_string();
    let sum = kv.get("sum").copied().unwrap_or("");
    let len = kv.get("len").copied().unwrap_or("");
    if len != want_len || (!sum.is_empty() && sum != want_sum) {
        return Err(TargetError::new(
            "verify",
            format!("{} does not hold what was sent after writing", report.path),
            Some("another process may be writing the file; run again"),
        ));
    }
    // A trailing '.' marks an SELinux context, which changes nothing here.
    let mode = report.file_mode.as_deref().map(|m| m.trim_end_matches('.'));
    if mode != Some("-rw-------") {
        return Err(TargetError::new(
            "verify",
            format!(
                "{} has mode {} instead of -rw-------",
                report.path,
                report.file_mode.as_deref().unwrap_or("?")
            ),
            Some("check the file system's permission handling (ACLs, mount options)"),
        ));
    }
    let uid = kv.get("uid").copied().unwrap_or("");
    if kv.get("file_uid").copied() != Some(uid) {
        return Err(TargetError::new(
            "verify",
            format!("{} is not owned by the login user", report.path),
            None,
        ));
    }
    report.verified = true;
    Ok(())
}

/// Name a failed write by what the command said: no space, read-only, permission.
fn classify_write(what: &str, stderr: &str) -> (&'static str, String) {
    let reason = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let lower = stderr.to_ascii_lowercase();
    if lower.contains("no space") {
        ("disk-full", format!("{what}: no space left on device"))
    } else if lower.contains("read-only") {
        ("read-only", format!("{what}: read-only file system"))
    } else if lower.contains("permission denied") || lower.contains("operation not permitted") {
        ("permission-denied", format!("{what}: permission denied"))
    } else if reason.is_empty() {
        ("io", what.to_string())
    } else {
        ("io", format!("{what}: {reason}"))
    }
}

fn error_class(raw: &str) -> (&'static str, Option<&'static str>) {
    match raw {
        "disk-full" => ("disk-full", Some("free space on the target and run again; the old login is untouched")),
        "read-only" => ("read-only", Some("the file system is read-only; pass --codex-home on a writable path")),
        "permission-denied" => ("permission-denied", Some("the login user cannot write there; check ownership of the directory or pass --codex-home")),
        "no-home" => ("no-home", Some("pass --codex-home PATH")),
        "torn" => ("torn", Some("the transfer was cut short; run again")),
        "not-a-file" => ("not-a-file", Some("move the directory out of the way")),
        "protocol" => ("protocol", None),
        _ => ("io", None),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What every script sent to a login shell must satisfy: no character that bash,
    /// zsh, fish or csh would treat specially inside single quotes, one line, within
    /// bsd-csh's 8185-character word limit, and valid POSIX sh.
    pub(crate) fn assert_portable(s: &str) {
        for bad in ['\'', '\\', '!', '`', '\n'] {
            assert!(!s.contains(bad), "a target script must not contain {bad:?}");
        }
        assert!(s.len() < 8000, "the script is {} characters", s.len());
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(s)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn script_survives_every_login_shell_quoting() {
        assert_portable(&script());
    }

    /// The script run by the local `sh`, with HOME pointing at a scratch directory.
    struct LocalSh {
        home: std::path::PathBuf,
    }

    impl Target for LocalSh {
        async fn run_sh(
            &self,
            script: &str,
            stdin: &[u8],
        ) -> Result<super::super::RunOutput, TargetError> {
            use std::io::Write;
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("HOME", &self.home)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let _ = child.stdin.take().unwrap().write_all(stdin);
            let out = child.wait_with_output().unwrap();
            Ok(super::super::RunOutput {
                stdout: out.stdout,
                stderr: out.stderr,
                exit_status: out.status.code().map(|c| c as u32),
            })
        }
    }

    fn local() -> (tempfile::TempDir, LocalSh) {
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
        }
    }

    #[tokio::test]
    async fn short_payload_is_torn_and_leaves_the_old_file() {
        let (dir, sh) = local();
        let old = AuthFile::from_api_key("sk-test-old-00000000000000000").unwrap();
        run(&sh, &req(&old), HomeFrom::Environment).await.unwrap();
        let new = AuthFile::from_api_key("sk-test-new-00000000000000000").unwrap();
        // The connection "drops" after half the payload: the script sees EOF early.
        let full = request_bytes(&req(&new), &HomeFrom::Environment);
        let cut = &full[..full.len() - new.bytes().len() / 2];
        let out = sh.run_sh(&script(), cut).await.unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("error=torn"), "{text}");
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
        let e = run(&sh, &req(&auth), HomeFrom::Environment)
            .await
            .unwrap_err();
        assert_eq!(e.class, "not-a-file");
        let mut r = req(&auth);
        r.codex_home = Some("/proc/codex-auth-test");
        let e = run(&sh, &r, HomeFrom::Environment).await.unwrap_err();
        assert!(matches!(e.class, "permission-denied" | "io"), "{e:?}");
        assert!(e.hint.is_some() || e.class == "io");
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
        let rep = run(&sh, &req(&auth), HomeFrom::Environment).await.unwrap();
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
        };
        let bytes = request_bytes(&req, &HomeFrom::Environment);
        assert!(!String::from_utf8_lossy(&bytes).contains("sk-test"));
        assert_eq!(String::from_utf8_lossy(&bytes).lines().count(), 8);
    }
}
