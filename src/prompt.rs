//! Questions for the person at the terminal (host key confirmation, passphrases, passwords).
//! The lower layers ask through [`Prompter`]; `report` implements it so prompts and
//! progress bars never draw over each other. Without a terminal, nothing is asked. The
//! transports also leave their `-vv` detail there (it is the one way up they have).

use std::io::{BufRead, Write};

use crate::secret::Secret;

pub(crate) trait Prompter: Send + Sync {
    /// Whether there is a terminal to ask on.
    fn available(&self) -> bool;
    /// A yes/no question; `None` when no terminal.
    fn confirm(&self, question: &str) -> Option<bool>;
    /// A line read without echo (a password or passphrase); `None` when no terminal or
    /// aborted.
    fn secret(&self, prompt: &str) -> Option<Secret>;
    /// A line of a transport's detail (round trips per connection), shown with `-vv`.
    fn trace(&self, _line: &str) {}
}

/// Whether this process has a controlling terminal to ask on, as ssh uses `/dev/tty`.
pub(crate) fn tty_available() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_ok()
}

/// Ask on `/dev/tty` directly (not stdin: stdin may carry a key).
pub(crate) fn tty_confirm(question: &str) -> Option<bool> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    loop {
        write!(tty, "{question} (yes/no): ").ok()?;
        tty.flush().ok()?;
        let mut line = String::new();
        std::io::BufReader::new(&tty).read_line(&mut line).ok()?;
        match line.trim().to_ascii_lowercase().as_str() {
            "yes" | "y" => return Some(true),
            "no" | "n" | "" => return Some(false),
            _ => {
                writeln!(tty, "Please type 'yes' or 'no'.").ok()?;
            }
        }
    }
}

/// Read a line without echo on the terminal.
pub(crate) fn tty_secret(prompt: &str) -> Option<Secret> {
    rpassword::prompt_password(prompt).ok().map(Secret::new)
}
