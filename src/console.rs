//! This process's own terminal and stdin while `run` drives a command elsewhere: whether
//! stdin is a terminal, its type and size, raw mode (keys go to the remote terminal as
//! typed, Ctrl-C included) restored however the run ends, and stdin read on a thread of
//! its own (a blocking read must not hold the async runtime at exit).

use std::io::{IsTerminal, Read};

/// Whether stdin is a terminal (then `run` gives the command one).
pub(crate) fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// The terminal's type (`$TERM`, else xterm) and size (columns, rows).
pub(crate) fn terminal() -> (String, u16, u16) {
    let term = std::env::var("TERM")
        .ok()
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| "xterm".into());
    let (cols, rows) = size().unwrap_or((80, 24));
    (term, cols, rows)
}

/// The terminal's size (columns, rows), from stdin, stdout or stderr.
pub(crate) fn size() -> Option<(u16, u16)> {
    for fd in [0, 1, 2] {
        // SAFETY: TIOCGWINSZ writes one winsize into the struct given; a fd that is not
        // a terminal fails the call and nothing is read from it.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col > 0 && ws.ws_row > 0 {
            return Some((ws.ws_col, ws.ws_row));
        }
    }
    None
}

/// The terminal in raw mode until this is dropped (then as it was).
pub(crate) struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    /// Raw mode on stdin's terminal; `None` when stdin is not one.
    pub(crate) fn enter() -> Option<RawMode> {
        // SAFETY: tcgetattr fills the termios given for a terminal fd (checked by its
        // return); cfmakeraw and tcsetattr only read and write that struct.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(0, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            Some(RawMode { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: puts back the settings read from this terminal in `enter`.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}

/// Stdin, read on a thread of its own: each chunk as it comes, then `None` at its end.
pub(crate) fn read_stdin() -> tokio::sync::mpsc::Receiver<Option<Vec<u8>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 16 << 10];
        loop {
            match stdin.read(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Ok(0) | Err(_) => {
                    let _ = tx.blocking_send(None);
                    return;
                }
                Ok(n) => {
                    if tx.blocking_send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}
