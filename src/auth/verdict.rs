//! What Codex itself says of a login: the line of `codex login status` output that
//! carries its verdict. One reading for every place (this machine, hosts, containers).

/// The verdict line among what `codex login status` printed (stdout and stderr, in
/// order): the first line saying logged in, not logged in, or an error; empty when
/// none does (a Codex that printed something else).
pub(crate) fn verdict_line<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    lines
        .into_iter()
        .map(str::trim)
        .find(|l| l.contains("Logged in") || l.contains("Not logged in") || l.contains("rror"))
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_verdict_among_warnings() {
        let out =
            "WARNING: proceeding, even though we could not update PATH\nLogged in using ChatGPT\n";
        assert_eq!(verdict_line(out.lines()), "Logged in using ChatGPT");
        assert_eq!(verdict_line("Not logged in".lines()), "Not logged in");
        assert_eq!(
            verdict_line("Error checking login status: boom".lines()),
            "Error checking login status: boom"
        );
        assert_eq!(verdict_line("something else".lines()), "");
    }
}
