//! What a script is asked, as structs: each is sent as `key=value` lines (after the
//! magic line and the nonce), ended by an empty line, on the script's stdin; the script
//! keeps each key it knows as `req_KEY` (`read_request` in `sh/common.sh`). Booleans
//! travel as 1 and 0. A test holds the keys the scripts read against these fields.

use serde::Serialize;

/// Whose login, and where: every script that locates a login takes these.
#[derive(Serialize, Default, Clone)]
pub(crate) struct Whom {
    /// `--codex-home`, verbatim (`~/` is the user's home there), or empty.
    pub codex_home: String,
    /// The user the command runs as, when the client knows it (docker exec), or empty.
    pub passwd_user: String,
    /// Take the home from /etc/passwd rather than `$HOME` (a docker exec may carry the
    /// image's HOME).
    pub home_from_passwd: bool,
}

/// `sh/install.sh`: the login itself follows this on stdin.
#[derive(Serialize, Default)]
pub(crate) struct Install {
    #[serde(flatten)]
    pub whom: Whom,
    pub force: bool,
    pub dry_run: bool,
    /// sha256 (hex) of the login that follows.
    pub sum: String,
    /// Its length in bytes.
    pub len: usize,
    /// `api`, `chatgpt` or `-`, for config.toml's `forced_login_method`.
    pub login_method: String,
    /// Its ChatGPT workspace, for `forced_chatgpt_workspace_id`, or empty.
    pub workspace: String,
    pub codex_version: bool,
    /// Seconds to wait for each of Codex's locks.
    pub lock_wait: u64,
    /// The compare-and-swap precondition: empty (none), `none` (no login may be there),
    /// or the sha256 of the login that must still be there.
    pub expect: String,
}

/// `sh/inspect.sh`.
#[derive(Serialize, Default)]
pub(crate) struct Inspect {
    #[serde(flatten)]
    pub whom: Whom,
    /// Run `codex login status` there.
    pub judge: bool,
    pub codex_version: bool,
    /// Say the login's sha256, and send no login.
    pub digest_only: bool,
}

/// `sh/remove.sh`.
#[derive(Serialize, Default)]
pub(crate) struct Remove {
    #[serde(flatten)]
    pub whom: Whom,
    pub keep_backup: bool,
    pub dry_run: bool,
    pub lock_wait: u64,
    pub codex_version: bool,
    /// As for [`Install::expect`].
    pub expect: String,
    /// Send the removed login back (to revoke it); else only its sha256 is said.
    pub send_login: bool,
}

/// `sh/forward_device.sh`.
/// A lease for `run`: the login follows the request, `lines` lines whose sha256 is
/// `sum`; with `full`, a login the command changed is sent back at the end.
#[derive(Serialize, Default)]
pub(crate) struct Lease {
    #[serde(flatten)]
    pub whom: Whom,
    pub lines: usize,
    pub sum: String,
    pub full: bool,
    /// The first line of the lease's own config.toml where the place keeps logins in
    /// the keyring (a line with quotes, which the scripts cannot write).
    pub file_config: String,
    /// The command is `codex`: find the one its user would run (for its PATH).
    pub find_codex: bool,
}

#[derive(Serialize, Default)]
pub(crate) struct ForwardDevice {
    /// A base URL for Codex's hidden `--experimental_issuer` (tests), or empty.
    pub issuer: String,
}

/// A request that cannot travel as lines: a value with a line break in it.
#[derive(Debug)]
pub(crate) struct BadValue(pub String);

/// `request` as `key=value` lines, each ended by a newline.
pub(crate) fn to_lines(request: &impl Serialize) -> Result<String, BadValue> {
    let value = serde_json::to_value(request).map_err(|e| BadValue(e.to_string()))?;
    let serde_json::Value::Object(fields) = value else {
        return Err(BadValue("a request is a struct".into()));
    };
    let mut out = String::new();
    for (key, value) in fields {
        let text = match value {
            serde_json::Value::Bool(b) => if b { "1" } else { "0" }.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s,
            other => return Err(BadValue(format!("{key} is {other}, not a plain value"))),
        };
        if text.contains(['\n', '\r', '\0']) {
            return Err(BadValue(format!("{key} has a line break or NUL in it")));
        }
        out.push_str(&key);
        out.push('=');
        out.push_str(&text);
        out.push('\n');
    }
    Ok(out)
}

/// The keys of a request, as the scripts read them (for the protocol test).
#[cfg(test)]
pub(crate) fn keys(request: &impl Serialize) -> Vec<String> {
    to_lines(request)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_one_line_per_field_and_refuses_line_breaks() {
        let request = Remove {
            whom: Whom {
                codex_home: "~/a b=c".into(),
                ..Default::default()
            },
            keep_backup: true,
            lock_wait: 7,
            ..Default::default()
        };
        assert_eq!(
            to_lines(&request).unwrap(),
            "codex_home=~/a b=c\npasswd_user=\nhome_from_passwd=0\nkeep_backup=1\ndry_run=0\nlock_wait=7\ncodex_version=0\nexpect=\nsend_login=0\n"
        );
        let bad = Inspect {
            whom: Whom {
                codex_home: "a\nb".into(),
                ..Default::default()
            },
            judge: false,
            codex_version: false,
            digest_only: false,
        };
        assert!(to_lines(&bad).is_err());
    }
}
