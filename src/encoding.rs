//! Small encodings every layer shares: hex, base64url, sha256 digests, random tokens, and
//! text without terminal colour sequences.
//! No policy lives here; a random source that fails is an error, never a weak token.

use sha2::Digest;

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of `bytes`, as lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

/// base64url without padding, as JWTs and PKCE use it.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

/// The operating system's random source could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the system's random number source failed ({0})")]
pub(crate) struct RandomUnavailable(String);

/// `n` random bytes from the operating system.
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>, RandomUnavailable> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| RandomUnavailable(e.to_string()))?;
    Ok(buf)
}

/// `n` random bytes, base64url without padding (PKCE verifiers, states, temp names).
pub(crate) fn random_b64url(n: usize) -> Result<String, RandomUnavailable> {
    Ok(b64url(&random_bytes(n)?))
}

/// Text without its ANSI CSI sequences (colours, cursor moves; Codex colours its output
/// even into a pipe); a lone ESC goes too. Other control characters stay.
pub(crate) fn strip_csi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... final byte in @..~
            if chars.clone().next() == Some('[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
        let a = random_b64url(32).unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_b64url(32).unwrap());
    }
}
