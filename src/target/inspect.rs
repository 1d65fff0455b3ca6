//! The read-only look at a shell-capable target: run `inspect.sh`, parse its report and
//! take the auth.json bytes it sends back (kept secret; `ops::status` decodes them).

use std::collections::HashMap;

use super::install::HomeFrom;
use super::{Target, TargetError};
use crate::auth::SecretBytes;

const MAGIC: &str = "codex-auth-inspect-1";
const SCRIPT_SOURCE: &str = include_str!("inspect.sh");

/// `common.sh` and `inspect.sh` joined into one line, as for the installer.
pub fn script() -> String {
    super::install::compact(&format!(
        "{}\n{SCRIPT_SOURCE}",
        super::install::COMMON_SOURCE
    ))
}

pub struct InspectRequest<'a> {
    /// `--codex-home`, verbatim.
    pub codex_home: Option<&'a str>,
}

/// What a target holds. `content` is the raw auth.json and never printed.
#[derive(Debug, Default)]
pub struct InspectReport {
    pub path: String,
    pub home_from: String,
    pub user: String,
    pub credential_store: String,
    /// none, file, symlink, dir
    pub kind: String,
    pub file_mode: Option<String>,
    pub codex_status: Option<String>,
    pub content: Option<SecretBytes>,
    pub unreadable: bool,
}

fn request_bytes(req: &InspectRequest<'_>, home: &HomeFrom) -> Vec<u8> {
    format!(
        "{MAGIC}\n{}\n{}",
        req.codex_home.unwrap_or(""),
        home.header()
    )
    .into_bytes()
}

pub(crate) async fn run<T: Target + ?Sized>(
    target: &T,
    req: &InspectRequest<'_>,
    home: HomeFrom,
) -> Result<InspectReport, TargetError> {
    let out = target.run_sh(&script(), &request_bytes(req, &home)).await?;
    // Split the key=value head from the file bytes that follow `auth_begin`.
    let marker = b"auth_begin\n";
    let (head, body) = match find(&out.stdout, marker) {
        Some(i) => (&out.stdout[..i], Some(&out.stdout[i + marker.len()..])),
        None => (&out.stdout[..], None),
    };
    let head = String::from_utf8_lossy(head);
    let kv: HashMap<&str, &str> = head.lines().filter_map(|l| l.split_once('=')).collect();
    if let Some(class) = kv.get("error") {
        let detail = kv.get("detail").copied().unwrap_or("").to_string();
        let hint = (*class == "no-home").then_some("pass --codex-home PATH");
        let class = if *class == "no-home" {
            "no-home"
        } else {
            "remote"
        };
        return Err(TargetError::new(class, detail, hint));
    }
    let Some(kind) = kv.get("kind") else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(TargetError::new(
            "remote",
            format!(
                "the inspect script did not finish: {}",
                stderr.lines().next().unwrap_or("").trim()
            ),
            Some("the target needs a POSIX sh"),
        ));
    };
    let get = |k: &str| kv.get(k).map(|v| v.to_string());
    let content = match (
        body,
        kv.get("auth_len").and_then(|l| l.parse::<usize>().ok()),
    ) {
        (Some(b), Some(n)) if b.len() >= n => Some(SecretBytes::new(b[..n].to_vec())),
        (Some(_), Some(_)) => {
            return Err(TargetError::new(
                "remote",
                "auth.json changed while it was read; run again",
                None,
            ))
        }
        _ => None,
    };
    let dir = get("dir").unwrap_or_default();
    Ok(InspectReport {
        path: format!("{}/auth.json", dir.trim_end_matches('/')),
        home_from: get("home_from").unwrap_or_default(),
        user: get("login")
            .filter(|s| !s.is_empty())
            .or(get("uid"))
            .unwrap_or_default(),
        credential_store: get("store").unwrap_or_else(|| "file".into()),
        kind: kind.to_string(),
        file_mode: get("file_mode"),
        codex_status: match kv.get("codex_rc") {
            None | Some(&"none") => None,
            Some(_) => Some(get("codex_status").unwrap_or_default()),
        },
        content,
        unreadable: kv.contains_key("unreadable"),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_survives_every_login_shell_quoting() {
        crate::target::install::tests::assert_portable(&script());
    }
}
