//! Values that must never reach output: tokens, keys, passwords, passphrases and whole
//! auth.json documents. Debug and Display print a mask; the raw value is only reachable
//! through `expose`, at the few places that send it where it belongs.

use std::fmt;

/// A string that must never reach output.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

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
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretBytes(Vec<u8>);

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
