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

impl std::str::FromStr for Fingerprint {
    type Err = ();

    /// A fingerprint as `status --json` shows it: 64 hex digits (any case).
    fn from_str(s: &str) -> Result<Fingerprint, ()> {
        if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Fingerprint(s.to_ascii_lowercase()))
        } else {
            Err(())
        }
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

impl std::str::FromStr for Expect {
    type Err = ();

    /// `none`, or a fingerprint.
    fn from_str(s: &str) -> Result<Expect, ()> {
        match s {
            "none" => Ok(Expect::Nothing),
            fp => fp.parse().map(Expect::Holds),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_precondition_is_none_or_64_hex_digits() {
        let fp = Fingerprint::of(b"{}");
        assert_eq!(fp.as_str().len(), 64);
        assert_eq!(
            fp.as_str().to_uppercase().parse::<Expect>(),
            Ok(Expect::Holds(fp.clone()))
        );
        assert_eq!("none".parse::<Expect>(), Ok(Expect::Nothing));
        assert!("abc".parse::<Expect>().is_err());
        assert!(Expect::Holds(fp).met_by(Some(b"{}")));
        assert!(!Expect::Nothing.met_by(Some(b"{}")));
        assert!(Expect::Nothing.met_by(None));
    }
}
