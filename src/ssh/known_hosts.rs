//! known_hosts files as OpenSSH reads them: plain and hashed (`|1|`) host patterns,
//! `[host]:port`, wildcards and negation, `@revoked`, `@cert-authority` (host
//! certificates checked as ssh checks them: the CA's signature, the validity window,
//! the principals, no critical option, nothing revoked); and appending a learned key.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{KeyInit, Mac};
use russh::keys::{HashAlg, PublicKey};

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HostKeyStatus {
    Known,
    /// No entry for this host at all.
    Unknown,
    /// The host has entries, none with this key: treat as a changed key.
    Changed {
        file: PathBuf,
        line: usize,
    },
    Revoked {
        file: PathBuf,
        line: usize,
    },
    /// A host certificate from a CA known for this host, that does not hold.
    CertificateInvalid {
        why: String,
    },
}

/// The name a host is recorded under: `host`, or `[host]:port` off port 22.
pub(crate) fn host_entry_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

pub(crate) fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

struct Entry {
    file: PathBuf,
    line: usize,
    revoked: bool,
    /// `@cert-authority`: a CA whose host certificates are accepted for these hosts.
    authority: bool,
    key: PublicKey,
}

fn entries_for(files: &[PathBuf], name: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for file in files {
        // Regular files only: a FIFO or a device named here would never end.
        if !std::fs::metadata(file).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        out.extend(entries_in(&text, file, name));
    }
    out
}

/// The entries of one known_hosts file's text that name `name`.
fn entries_in(text: &str, file: &Path, name: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or("");
        let (mut revoked, mut authority) = (false, false);
        if first.starts_with('@') {
            match first {
                "@revoked" => revoked = true,
                "@cert-authority" => authority = true,
                _ => continue,
            }
            first = fields.next().unwrap_or("");
        }
        let (Some(_alg), Some(b64)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !patterns_match(first, name) {
            continue;
        }
        if let Ok(key) = russh::keys::parse_public_key_base64(b64) {
            out.push(Entry {
                file: file.to_path_buf(),
                line: idx + 1,
                revoked,
                authority,
                key,
            });
        }
    }
    out
}

/// Algorithms already recorded for this host, so the client can ask for those first
/// (as OpenSSH does) instead of reporting a host with another key type as changed.
pub(crate) fn known_algorithms(files: &[PathBuf], name: &str) -> Vec<russh::keys::Algorithm> {
    let mut algs = Vec::new();
    for e in entries_for(files, name) {
        if !e.revoked && !e.authority && !algs.contains(&e.key.algorithm()) {
            algs.push(e.key.algorithm());
        }
    }
    algs
}

pub(crate) fn check(files: &[PathBuf], name: &str, key: &PublicKey) -> HostKeyStatus {
    let entries = entries_for(files, name);
    if let Some(e) = entries
        .iter()
        .find(|e| e.revoked && e.key.key_data() == key.key_data())
    {
        return HostKeyStatus::Revoked {
            file: e.file.clone(),
            line: e.line,
        };
    }
    let live: Vec<&Entry> = entries
        .iter()
        .filter(|e| !e.revoked && !e.authority)
        .collect();
    if live.iter().any(|e| e.key.key_data() == key.key_data()) {
        return HostKeyStatus::Known;
    }
    match live.first() {
        Some(e) => HostKeyStatus::Changed {
            file: e.file.clone(),
            line: e.line,
        },
        None => HostKeyStatus::Unknown,
    }
}

/// Whether a `@cert-authority` line names this host: then its host certificates are
/// asked for, and checked against those CAs.
pub(crate) fn has_authorities(files: &[PathBuf], name: &str) -> bool {
    entries_for(files, name)
        .iter()
        .any(|e| e.authority && !e.revoked)
}

/// Check a host certificate as ssh does. `name` is the known_hosts name (`[host]:port`
/// off port 22), `principal` the host name the certificate must be for (HostKeyAlias,
/// else the host name, without the port). A certified key or a CA marked `@revoked` is
/// refused; a certificate from a CA listed for the host must be a host certificate, in
/// its validity window, signed by that CA (not with SHA-1), for `principal`, with no
/// critical option; with no CA listed for the host, the certified key is checked as a
/// plain key.
pub(crate) fn check_certificate(
    files: &[PathBuf],
    name: &str,
    principal: &str,
    cert: &russh::keys::Certificate,
) -> HostKeyStatus {
    let entries = entries_for(files, name);
    let ca = cert.signature_key();
    for e in entries.iter().filter(|e| e.revoked) {
        if e.key.key_data() == cert.public_key() || e.key.key_data() == ca {
            return HostKeyStatus::Revoked {
                file: e.file.clone(),
                line: e.line,
            };
        }
    }
    let authorities: Vec<russh::keys::ssh_key::Fingerprint> = entries
        .iter()
        .filter(|e| e.authority)
        .map(|e| e.key.fingerprint(HashAlg::Sha256))
        .collect();
    if !authorities.contains(&ca.fingerprint(HashAlg::Sha256)) {
        // No CA known for it: the key inside is checked as a plain host key.
        return check(files, name, &PublicKey::new(cert.public_key().clone(), ""));
    }
    let invalid = |why: String| HostKeyStatus::CertificateInvalid { why };
    if !cert.cert_type().is_host() {
        return invalid("it is not a host certificate".into());
    }
    if matches!(
        cert.signature().algorithm(),
        russh::keys::Algorithm::Rsa { hash: None }
    ) {
        return invalid("its CA signed it with SHA-1 (ssh-rsa), which ssh refuses".into());
    }
    if let Err(e) = cert.validate(authorities.iter()) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let why = if now < cert.valid_after() {
            "it is not valid yet".to_string()
        } else if now >= cert.valid_before() {
            "it has expired".to_string()
        } else {
            format!("its signature does not hold ({e})")
        };
        return invalid(why);
    }
    let principals = cert.valid_principals();
    if !principals.is_empty() && !principals.iter().any(|p| super::config::glob(p, principal)) {
        return invalid(format!(
            "it is for {}, not {principal}",
            principals.join(", ")
        ));
    }
    if let Some(option) = cert.critical_options().keys().next() {
        return invalid(format!("it carries the critical option {option}"));
    }
    HostKeyStatus::Known
}

fn patterns_match(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for p in patterns.split(',') {
        if let Some(hashed) = p.strip_prefix("|1|") {
            if hashed_match(hashed, name) {
                matched = true;
            }
        } else if let Some(neg) = p.strip_prefix('!') {
            if super::config::glob(neg, name) {
                return false;
            }
        } else if super::config::glob(p, name) {
            matched = true;
        }
    }
    matched
}

fn hashed_match(salt_and_hash: &str, name: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        data_encoding::BASE64.decode(salt.as_bytes()),
        data_encoding::BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mut mac) = <HmacSha1 as KeyInit>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Append `name key` to `file` (hashed when `hash` is set), creating it 0600 and its
/// directory 0700 if needed.
pub(crate) fn learn(file: &Path, name: &str, key: &PublicKey, hash: bool) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(dir)?;
        }
    }
    let host_field = if hash {
        let salt = crate::encoding::random_bytes(20).map_err(std::io::Error::other)?;
        let mut mac =
            <HmacSha1 as KeyInit>::new_from_slice(&salt).map_err(std::io::Error::other)?;
        mac.update(name.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!(
            "|1|{}|{}",
            data_encoding::BASE64.encode(&salt),
            data_encoding::BASE64.encode(&digest)
        )
    } else {
        name.to_string()
    };
    let key_text = key
        .to_openssh()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // to_openssh gives "alg base64 [comment]"; drop the comment.
    let mut parts = key_text.split_whitespace();
    let (alg, b64) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let needs_newline = std::fs::read(file)
        .map(|b| !b.is_empty() && !b.ends_with(b"\n"))
        .unwrap_or(false);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file)?;
    if needs_newline {
        f.write_all(b"\n")?;
    }
    writeln!(f, "{host_field} {alg} {b64}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIDxzsj9iiGMnMjAXuxyCx0TR6IIxLhGb/Sdpc2YfGqWN";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    #[test]
    fn plain_hashed_ported_and_changed_entries() {
        let dir = tempfile::tempdir().unwrap();
        let kh = dir.path().join("known_hosts");
        learn(&kh, "[127.0.0.1]:2222", &key(KEY_A), true).unwrap();
        learn(&kh, "plain.example", &key(KEY_A), false).unwrap();
        let files = vec![kh.clone()];
        assert_eq!(
            check(&files, "[127.0.0.1]:2222", &key(KEY_A)),
            HostKeyStatus::Known
        );
        assert_eq!(
            check(&files, "127.0.0.1", &key(KEY_A)),
            HostKeyStatus::Unknown
        );
        assert_eq!(
            check(&files, "plain.example", &key(KEY_A)),
            HostKeyStatus::Known
        );
        assert!(matches!(
            check(&files, "plain.example", &key(KEY_B)),
            HostKeyStatus::Changed { line: 2, .. }
        ));
        let text = std::fs::read_to_string(&kh).unwrap();
        assert!(text.starts_with("|1|"));
        assert!(!text.contains("127.0.0.1"));
    }

    #[test]
    fn wildcards_negation_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let kh = dir.path().join("known_hosts");
        std::fs::write(
            &kh,
            format!(
                "# comment\n*.lan,!bad.lan ssh-ed25519 {KEY_A}\n@revoked * ssh-ed25519 {KEY_B}\n@cert-authority * ssh-ed25519 {KEY_A}\n"
            ),
        )
        .unwrap();
        let files = vec![kh];
        assert_eq!(check(&files, "box.lan", &key(KEY_A)), HostKeyStatus::Known);
        assert_eq!(
            check(&files, "bad.lan", &key(KEY_A)),
            HostKeyStatus::Unknown
        );
        assert!(matches!(
            check(&files, "box.lan", &key(KEY_B)),
            HostKeyStatus::Revoked { .. }
        ));
    }

    const KNOWN_HOSTS_WORDS: &[&str] = &[
        "@revoked",
        "@cert-authority",
        "|1|",
        "|",
        "[127.0.0.1]:2222",
        "127.0.0.1",
        ",",
        "*",
        "?",
        "!",
        " ",
        "\n",
        "ssh-ed25519",
        KEY_A,
        "AAAA",
        "=",
        "#",
        "plain.example",
        "c2FsdA==",
    ];

    #[test]
    fn known_hosts_takes_the_odd_inputs() {
        for (_, text) in crate::test_inputs::odd_texts() {
            let _ = entries_in(&text, Path::new("kh"), "[127.0.0.1]:2222");
            let _ = patterns_match(crate::test_inputs::head(&text, 1 << 16), "plain.example");
            let _ = hashed_match(crate::test_inputs::head(&text, 1 << 16), "plain.example");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn known_hosts_lines_never_panic(text in crate::test_inputs::text_from(KNOWN_HOSTS_WORDS, 60)) {
            let _ = entries_in(&text, Path::new("kh"), "[127.0.0.1]:2222");
            let _ = entries_in(&text, Path::new("kh"), "plain.example");
            let _ = hashed_match(&text, "plain.example");
        }
    }
}
