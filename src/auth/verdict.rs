//! What Codex itself says of a login: `codex login status`, read the same way for every
//! place (this machine, hosts, containers) and every Codex version, without depending on
//! one version's wording; the first meaningful line is shown.
//! The exit status decides, except where the words are plain ("Not logged in", "Error …").
//! Seen: 0.147 "Logged in using an API key - sk-…", 0.171 "API key configured - sk-…",
//! both "Logged in using ChatGPT", "Logged in using personal access token",
//! "Logged in using workload identity", "Not logged in" (exit 1, and exit 0 for a login
//! a forced workspace refuses) and "Error checking login status: …" (exit 1).

/// Codex's verdict on the login it finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Verdict {
    /// It would use the login (it checks the shape, not the validity, offline).
    Accepted,
    NotLoggedIn,
    /// It could not tell (a broken file or config, or a check that needs the network).
    Error,
}

/// Which Codex judged, and what it said (the line itself is reported beside it, as
/// `codex_status`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub(crate) struct CodexSeen {
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The verdict and the line that says it, from `codex login status`'s exit status (when
/// known) and its output lines (stdout and stderr, in order). Codex's own warnings (it
/// prints one about helper binaries under /tmp) are not the verdict.
pub(crate) fn judge<'a>(
    exit: Option<i64>,
    lines: impl IntoIterator<Item = &'a str>,
) -> (Verdict, String) {
    let line = lines
        .into_iter()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("WARNING:"))
        .unwrap_or("")
        .to_string();
    let verdict = match exit {
        // Codex has been seen to say "Not logged in" with exit 0 (a login its forced
        // workspace refuses): the words win over the status there.
        _ if line.contains("Not logged in") => Verdict::NotLoggedIn,
        _ if line.starts_with("Error") => Verdict::Error,
        Some(0) => Verdict::Accepted,
        None if line.starts_with("Logged in") || line.starts_with("API key configured") => {
            Verdict::Accepted
        }
        _ => Verdict::Error,
    };
    (verdict, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_s_lines_are_read_alike() {
        let cases: &[(Option<i64>, &str, Verdict, &str)] = &[
            (
                Some(0),
                "API key configured - sk-test-***12345\nAuthentication is checked when you send a request.\n",
                Verdict::Accepted,
                "API key configured - sk-test-***12345",
            ),
            (
                Some(0),
                "Logged in using an API key - sk-test-***12345\n",
                Verdict::Accepted,
                "Logged in using an API key - sk-test-***12345",
            ),
            (
                Some(0),
                "WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper binaries under temporary dir \"/tmp\"\nLogged in using ChatGPT\n",
                Verdict::Accepted,
                "Logged in using ChatGPT",
            ),
            (Some(1), "Not logged in\n", Verdict::NotLoggedIn, "Not logged in"),
            (Some(0), "Not logged in\n", Verdict::NotLoggedIn, "Not logged in"),
            (Some(0), "Error checking login status: x\n", Verdict::Error, "Error checking login status: x"),
            (Some(0), "Logged in using workload identity\n", Verdict::Accepted, "Logged in using workload identity"),
            (
                Some(1),
                "Error checking login status: failed to request personal access token metadata\n",
                Verdict::Error,
                "Error checking login status: failed to request personal access token metadata",
            ),
            (None, "Logged in using personal access token", Verdict::Accepted, "Logged in using personal access token"),
            (Some(1), "", Verdict::Error, ""),
        ];
        for (exit, text, verdict, line) in cases {
            assert_eq!(
                judge(*exit, text.lines()),
                (*verdict, line.to_string()),
                "{text}"
            );
        }
    }

    #[test]
    fn verdicts_take_the_odd_inputs() {
        for (_, text) in crate::test_inputs::odd_texts() {
            let _ = judge(Some(0), text.lines().take(8));
            let _ = judge(None, [text.as_str()]);
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn verdicts_never_panic(
            rc in proptest::option::of(proptest::num::i64::ANY),
            lines in proptest::collection::vec(crate::test_inputs::text_from(&["Logged in", "Not logged in", "using", "API key", "ChatGPT", "Error", "\u{1b}[0m", "sk-"], 8), 0..8),
        ) {
            let _ = judge(rc, lines.iter().map(String::as_str));
        }
    }
}
