//! Values that must never reach output: tokens, keys, passwords, passphrases and whole
//! auth.json documents. Debug and Display print a mask; the raw value is only reachable
//! through `expose`, at the few places that send it where it belongs. They cannot be
//! cloned (share one with `Arc`), and their memory is zeroed when they are dropped; the
//! process is made undumpable while it runs ([`no_core_dumps`]).

use std::fmt;

/// A string that must never reach output.
#[derive(PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The raw value, for the one place that sends it where it belongs.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Deserializing keeps the value secret from the start (token responses).
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Bytes that must never reach output (a whole auth.json).
#[derive(PartialEq, Eq)]
pub(crate) struct SecretBytes(Vec<u8>);

impl Drop for SecretBytes {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// No core dump of this process, and no ptrace by other processes of the user: a
/// crash or a debugger must not write the logins it holds to disk. Called once at the
/// start, before any secret is read.
pub(crate) fn no_core_dumps() {
    #[cfg(unix)]
    // SAFETY: setrlimit with a valid struct; no memory is handed over.
    unsafe {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) takes plain integers.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

impl SecretBytes {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_can_leave_no_core_dump() {
        no_core_dumps();
        // SAFETY: prctl(PR_GET_DUMPABLE) takes no pointers.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE) }, 0);
    }

    #[test]
    fn secrets_print_masked() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        let parsed: Secret = serde_json::from_str("\"tok-abc\"").unwrap();
        assert_eq!(parsed.expose(), "tok-abc");
        assert_eq!(
            format!("{:?}", SecretBytes::new(b"{}".to_vec())),
            "SecretBytes(2 bytes)"
        );
    }
}
