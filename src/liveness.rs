//! Whether a process that recorded itself still runs: a PID and the time it started
//! (so that a PID the system handed to another process since is not taken for it).
//! The same test the scripts make of a lease's keeper (`keeper_alive` in common.sh).

/// The start time of process `pid` (clock ticks since boot, field 22 of /proc/PID/stat),
/// where the system says it.
#[cfg(target_os = "linux")]
pub(crate) fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // (after the command name, in parentheses and holding anything: field 3 on)
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn process_start(_pid: u32) -> Option<u64> {
    None
}

/// Whether process `pid` runs and, when `start` is known, is the one that started then.
#[cfg(unix)]
pub(crate) fn process_alive(pid: u32, start: Option<u64>) -> bool {
    let Ok(id) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only asks whether the process exists; nothing is sent.
    let exists = id > 0
        && (unsafe { libc::kill(id, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM));
    exists
        && match (start, process_start(pid)) {
            (Some(then), Some(now)) => then == now,
            _ => true,
        }
}

#[cfg(not(unix))]
pub(crate) fn process_alive(_pid: u32, _start: Option<u64>) -> bool {
    true
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_a_reused_pid_or_a_finished_child_does_not() {
        let me = std::process::id();
        let start = process_start(me);
        assert!(start.is_some());
        assert!(process_alive(me, start));
        assert!(!process_alive(me, start.map(|s| s + 1)));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid, None));
        assert!(!process_alive(0, None));
    }
}
