//! This machine's Codex home: where `$CODEX_HOME/auth.json` is, and reading it.
//! Writing a local login arrives with the login command.

use std::path::PathBuf;

/// `$CODEX_HOME` if set and non-empty, else `~/.codex`.
pub fn codex_home() -> Option<PathBuf> {
    match std::env::var_os("CODEX_HOME") {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => dirs::home_dir().map(|h| h.join(".codex")),
    }
}

pub fn auth_path() -> Option<PathBuf> {
    codex_home().map(|h| h.join("auth.json"))
}
