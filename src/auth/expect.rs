//! The compare-and-swap precondition of a write (install or remove) on any place, this
//! machine included: what the place must still hold when the write happens, checked
//! under Codex's locks where the place has them. A place that no longer holds it fails
//! as `changed`, and nothing is written: `--move` (and `sync`) read again instead of
//! overwriting what changed.

/// The sha256 (hex) of a login's bytes as a place keeps them: equal fingerprints, the
/// same login at both places. Identifies a login without showing it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint(String);

impl Fingerprint {
    pub(crate) fn of(bytes: &[u8]) -> Fingerprint {
        Fingerprint(crate::encoding::sha256_hex(bytes))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a place must still hold for a write to go ahead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// No login may be there.
    Nothing,
    /// This login must still be there.
    Holds(Fingerprint),
}

impl Expect {
    /// Whether a place holding `now` (`None`: no login) meets the precondition.
    pub(crate) fn met_by(&self, now: Option<&[u8]>) -> bool {
        match (self, now) {
            (Expect::Nothing, None) => true,
            (Expect::Holds(fp), Some(bytes)) => Fingerprint::of(bytes) == *fp,
            _ => false,
        }
    }
}
