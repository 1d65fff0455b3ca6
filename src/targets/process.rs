//! Processes started on a place for `run`: the keeper of a lease and the command itself,
//! their stdin, output and exit as one stream of [`Event`]s whatever the transport (an
//! ssh channel, a docker exec, a child here). Each kind implements [`Target::spawn`]
//! with its own [`Process`].
//!
//! [`Target::spawn`]: super::Target::spawn

use futures_util::future::BoxFuture;

use super::TargetError;

/// What to start: `sh -c LINE sh ARGS...`.
pub(crate) struct Spawn<'a> {
    /// A POSIX sh script as one line.
    pub line: &'a str,
    pub args: &'a [String],
    /// On a terminal of this type and size (as `ssh -t`, `docker exec -t`), or on pipes.
    pub tty: Option<Tty>,
    /// Here, the process takes this process's own stdin, stdout and stderr (nothing is
    /// pumped); elsewhere it has no meaning.
    pub inherit: bool,
}

/// A terminal's type and size.
#[derive(Clone, Debug)]
pub(crate) struct Tty {
    pub term: String,
    pub cols: u16,
    pub rows: u16,
}

/// What a process did next.
#[derive(Debug)]
pub(crate) enum Event {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// It ended with this status (128 + N when signal N ended it, as a shell says).
    Exit(i32),
    /// Its output is over (and the channel, exec or child with it); no exit status came
    /// before this when the connection was lost.
    Closed,
}

/// A process running on a place.
pub(crate) trait Process: Send {
    /// The next thing it did (cancel-safe: nothing is lost when a select drops it).
    fn next(&mut self) -> BoxFuture<'_, Event>;
    /// Send `data` to its stdin.
    fn write<'a>(&'a mut self, data: &'a [u8]) -> BoxFuture<'a, Result<(), TargetError>>;
    /// End of its input.
    fn close_stdin(&mut self) -> BoxFuture<'_, ()>;
    /// Its terminal was resized.
    fn resize(&mut self, _cols: u16, _rows: u16) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The status a shell gives a process ended by `signal` (named without SIG).
pub(crate) fn signal_status(signal: &str) -> i32 {
    let number = match signal {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "ABRT" => 6,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => 0,
    };
    128 + number
}

/// A word quoted for a POSIX sh (and the login shells that pass single quotes on).
pub(crate) fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}
