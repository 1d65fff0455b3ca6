//! Which Codex processes of this user run with a given Codex home: a login switched
//! under a running Codex would be overwritten by its next refresh, or would mix two
//! accounts in one session. Read from /proc (Linux); elsewhere nothing is found.

use std::path::Path;

/// The PIDs of this user's `codex` processes whose Codex home is `dir` (their
/// `CODEX_HOME`, else `~/.codex` of their `HOME`).
#[cfg(target_os = "linux")]
pub(crate) fn codex_processes_using(dir: &Path) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let want = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let proc_dir = e.path();
        if std::fs::metadata(&proc_dir).map(|m| m.uid()).ok() != Some(me) {
            continue;
        }
        let is_codex = std::fs::read_link(proc_dir.join("exe"))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .is_some_and(|n| n == "codex" || n.starts_with("codex-"));
        if !is_codex || pid == std::process::id() {
            continue;
        }
        let Ok(environ) = std::fs::read(proc_dir.join("environ")) else {
            continue;
        };
        let var = |name: &str| {
            environ.split(|b| *b == 0).find_map(|kv| {
                let kv = std::str::from_utf8(kv).ok()?;
                kv.strip_prefix(name)?.strip_prefix('=').map(str::to_string)
            })
        };
        let home = match var("CODEX_HOME").filter(|h| !h.is_empty()) {
            Some(h) => std::path::PathBuf::from(h),
            None => match var("HOME") {
                Some(h) => Path::new(&h).join(".codex"),
                None => continue,
            },
        };
        let home = home.canonicalize().unwrap_or(home);
        if home == want {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn codex_processes_using(_dir: &Path) -> Vec<u32> {
    Vec::new()
}
