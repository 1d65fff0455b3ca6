//! The transport form of the scripts: the readable sources in `sh/` (multi-line POSIX
//! sh), the library's functions that the script does not reach left out, joined into one
//! line, and that line put on a command line any login shell passes on unchanged (bash,
//! zsh, fish, csh; bsd-csh refuses words over 8185 characters). Owns the rules the
//! sources follow for that; the sources' own header repeats them.

use std::fmt;

/// Why a source cannot be joined (a rule of `sh/common.sh`'s header is broken).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct JoinError {
    pub line: usize,
    pub what: &'static str,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

/// Where the join is inside `case ... esac` constructs (one entry per open `case`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum CaseState {
    /// After `case WORD in` or a `;;`: the next line is a pattern, or `esac`.
    Pattern,
    /// After a pattern alone on its line: commands, up to a `;;`.
    Arm,
}

/// Whether a line leaves the shell expecting more of the same command, so that the
/// next line joins it with a blank rather than `;`.
fn continues(line: &str) -> bool {
    const OPERATORS: [&str; 5] = ["||", "&&", "|", ";", "&"];
    let last = line.rsplit(char::is_whitespace).next().unwrap_or("");
    let opens = matches!(line, "then" | "do" | "else")
        || line.ends_with("; then")
        || line.ends_with("; do")
        || matches!(last, "{" | "(");
    opens || OPERATORS.iter().any(|op| line.ends_with(op))
}

/// The characters a script may not contain (outside comments): a single quote ends the
/// quoting, a backslash or backquote means something to fish or csh inside it.
const FORBIDDEN: [(char, &str); 3] = [
    ('\'', "a single quote"),
    ('\\', "a backslash"),
    ('`', "a backquote"),
];

/// The longest source line.
pub(crate) const MAX_LINE: usize = 120;

/// Check one source line against the rules the join relies on.
fn check(line: &str) -> Result<(), &'static str> {
    if line.chars().count() > MAX_LINE {
        return Err("a line longer than 120 characters");
    }
    if let Some((_, what)) = FORBIDDEN.iter().find(|(c, _)| line.contains(*c)) {
        return Err(what);
    }
    // csh takes `!` for history unless a blank, `=` or `(` follows it.
    let bangs = line.match_indices('!');
    if bangs
        .into_iter()
        .any(|(i, _)| !matches!(line[i + 1..].chars().next(), Some(' ' | '=' | '(')))
    {
        return Err("an exclamation mark not followed by a blank, = or (");
    }
    if line.contains("<<") {
        return Err("a here-document");
    }
    if line.matches('"').count() % 2 == 1 {
        return Err("a string that spans lines");
    }
    if line.contains(" #") || line.contains("\t#") {
        return Err("a comment after a command (comments go on lines of their own)");
    }
    let mut depth = 0usize;
    let mut open = false;
    for (i, c) in line.char_indices() {
        match c {
            '(' if line[..i].ends_with('$') => {
                depth += 1;
                open = true;
            }
            '(' if open => depth += 1,
            ')' if open => {
                depth -= 1;
                open = depth > 0;
            }
            _ => {}
        }
    }
    if open {
        return Err("a command substitution that spans lines");
    }
    Ok(())
}

/// The sources (each a multi-line POSIX sh script, in order) as one line: comments and
/// blank lines dropped, each line joined to the next with `; `, or with a blank where
/// the line leaves a construct open (after `then`, `do`, `else`, `{`, `(`, a pipe,
/// `&&`, `||`, `&`, a `;`; inside `case`, after a pattern or a `;;`, and before a `;;`).
/// A source that breaks a rule is refused, naming its line.
pub(crate) fn join(sources: &[&str]) -> Result<String, JoinError> {
    let mut out = String::new();
    let mut cases: Vec<CaseState> = Vec::new();
    let mut joins_with_blank = true;
    let mut number = 0;
    for source in sources {
        for (i, raw) in source.lines().enumerate() {
            number = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            check(raw).map_err(|what| JoinError { line: number, what })?;
            if !out.is_empty() {
                out.push_str(if joins_with_blank || line.starts_with(";;") {
                    " "
                } else {
                    "; "
                });
            }
            out.push_str(line);
            let opens_case = line.starts_with("case ") && line.ends_with(" in");
            joins_with_blank = continues(line);
            match cases.last().copied() {
                _ if opens_case => {
                    cases.push(CaseState::Pattern);
                    joins_with_blank = true;
                }
                None => {}
                Some(_) if line == "esac" => {
                    cases.pop();
                }
                Some(state) => {
                    let next = if line.ends_with(";;") {
                        CaseState::Pattern
                    } else if state == CaseState::Arm || line.ends_with(')') {
                        CaseState::Arm
                    } else {
                        return Err(JoinError {
                            line: number,
                            what: "a case pattern that is neither alone on its line nor a whole arm ending in ;;",
                        });
                    };
                    if next != state || line.ends_with(";;") {
                        joins_with_blank = true;
                    }
                    cases.pop();
                    cases.push(next);
                }
            }
        }
        if !cases.is_empty() {
            return Err(JoinError {
                line: number,
                what: "a case without its esac",
            });
        }
    }
    Ok(out)
}

/// `library` with the functions `script` never reaches (directly, through other
/// functions, or through the library's own top-level code) blanked out, line for line,
/// so that every target is sent only what runs there and [`join`] still names the
/// right line. A function is `name() {` at the start of a line, its body up to a `}`
/// alone at the start of a line; any use of its name as a word in code (not in a
/// comment) counts as a call, so a doubtful case keeps it.
pub(crate) fn used_only(library: &str, script: &str) -> String {
    struct Function<'a> {
        name: &'a str,
        lines: std::ops::Range<usize>,
    }
    let lines: Vec<&str> = library.lines().collect();
    let mut functions: Vec<Function> = Vec::new();
    let mut top_level = String::new();
    let mut i = 0;
    while i < lines.len() {
        let name = lines[i]
            .strip_suffix("() {")
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        match name {
            Some(name) => {
                let start = i;
                while i < lines.len() && lines[i] != "}" {
                    i += 1;
                }
                functions.push(Function {
                    name,
                    lines: start..(i + 1).min(lines.len()),
                });
            }
            None => {
                top_level.push_str(lines[i]);
                top_level.push('\n');
            }
        }
        i += 1;
    }
    fn words(code: &str) -> std::collections::HashSet<&str> {
        code.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
            .filter(|w| !w.is_empty())
            .collect()
    }
    let mut reached = vec![false; functions.len()];
    let mut pending = vec![format!("{script}\n{top_level}")];
    while let Some(code) = pending.pop() {
        let used = words(&code);
        for (f, reached) in functions.iter().zip(reached.iter_mut()) {
            if !*reached && used.contains(f.name) {
                *reached = true;
                pending.push(lines[f.lines.clone()].join("\n"));
            }
        }
    }
    let mut keep = vec![true; lines.len()];
    for (f, reached) in functions.iter().zip(&reached) {
        if !reached {
            keep[f.lines.clone()].iter_mut().for_each(|k| *k = false);
        }
    }
    lines
        .iter()
        .zip(keep)
        .map(|(line, keep)| if keep { *line } else { "" })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The longest single-quoted word a script is sent in: bsd-csh refuses words longer
/// than 8185 characters.
const WORD: usize = 4000;

/// The line cut into words of at most [`WORD`] bytes, at blanks (each cut keeps its
/// blank at the start of the next word, so the words concatenate to the line).
fn words(line: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut rest = line;
    while rest.len() > WORD {
        let mut end = WORD;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let cut = rest[..end].rfind(' ').filter(|c| *c > 0).unwrap_or(end);
        words.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    words.push(rest);
    words
}

/// A command line for the user's login shell, whatever it is: `sh -c '<line>'`, or for
/// a long line `sh -c 'eval "$1$2"' sh '<part 1>' '<part 2>'`, so that no word exceeds
/// csh's limit. [`join`] has made sure that nothing in the line means anything to any
/// of these shells inside single quotes.
pub(crate) fn sh_c(line: &str) -> String {
    let parts = words(line);
    if parts.len() == 1 {
        return format!("sh -c '{line}'");
    }
    let params: String = (1..=parts.len()).map(|i| format!("${i}")).collect();
    let quoted: Vec<String> = parts.iter().map(|p| format!("'{p}'")).collect();
    format!("sh -c 'eval \"{params}\"' sh {}", quoted.join(" "))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn joined(source: &str) -> String {
        join(&[source]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Run `line` with `shell -c` and return what it printed.
    fn run(shell: &str, line: &str) -> String {
        let out = std::process::Command::new(shell)
            .arg("-c")
            .arg(line)
            .output()
            .unwrap_or_else(|e| panic!("{shell}: {e}"));
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    const CONSTRUCTS: &str = "# a comment\n\
        f() {\n    echo \"f $1\"\n}\n\n\
        for x in a b; do\n    f \"$x\"\ndone\n\
        if [ 1 = 2 ]; then\n    echo no\nelif [ 2 = 2 ]; then\n    echo elif then\nelse\n    echo else\nfi\n\
        case ab in\n    a) echo wrong ;;\n    a*)\n        echo arm\n        case x in\n            x) echo inner ;;\n        esac\n        ;;\n    *) echo star ;;\nesac\n\
        n=0\nwhile [ \"$n\" -lt 2 ]; do\n    n=$((n + 1))\ndone\necho \"n=$n\"\n\
        echo a |\n    cat\ntrue &&\n    echo and\nfalse ||\n    echo or\n\
        {\n    echo braced\n} >/dev/null\n(\n    echo sub\n) &\nwait\n\
        if ! [ -e /nonexistent ] && [ x != y ]; then\n    echo bang\nfi\n";

    #[test]
    fn every_construct_the_sources_use_joins_into_one_equivalent_line() {
        let line = joined(CONSTRUCTS);
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with("f() { echo \"f $1\"; }; for x in a b; do f \"$x\"; done; "),
            "{line}"
        );
        assert!(
            line.contains("a*) echo arm; case x in x) echo inner ;; esac ;; *) echo star ;; esac")
        );
        let expected = run("sh", CONSTRUCTS);
        assert_eq!(
            expected,
            "f a\nf b\nelif then\narm\ninner\nn=2\na\nand\nor\nsub\nbang\n"
        );
        for shell in ["sh", "dash", "bash"] {
            assert_eq!(run(shell, &line), expected, "{shell}");
        }
    }

    #[test]
    fn a_source_that_breaks_a_rule_is_refused_with_its_line() {
        let err = |s: &str| join(&[s]).unwrap_err();
        assert_eq!(err("echo a\necho 'b'\n").line, 2);
        assert_eq!(err("echo a\\\n").what, "a backslash");
        assert_eq!(err("echo `x`\n").what, "a backquote");
        assert_eq!(
            err("[ !x ]\n").what,
            "an exclamation mark not followed by a blank, = or ("
        );
        assert_eq!(err("cat <<EOF\n").what, "a here-document");
        assert_eq!(err("echo \"a\nb\"\n").what, "a string that spans lines");
        assert_eq!(
            err("echo a # note\n").what,
            "a comment after a command (comments go on lines of their own)"
        );
        assert_eq!(
            err("x=$(echo a\n)\n").what,
            "a command substitution that spans lines"
        );
        assert_eq!(
            err("case x in\n    x) echo a\n        echo b ;;\nesac\n").what,
            "a case pattern that is neither alone on its line nor a whole arm ending in ;;"
        );
        assert_eq!(
            err("case x in\n    x) ;;\n").what,
            "a case without its esac"
        );
        assert_eq!(
            err(&format!("echo {}\n", "x".repeat(120))).what,
            "a line longer than 120 characters"
        );
        // Comments may say anything.
        assert!(join(&["# it's `fine` here!\necho ok\n"]).is_ok());
    }

    #[test]
    fn only_the_library_functions_a_script_reaches_are_sent() {
        let library = "# lib\n\
            used() {\n    helper \"$1\"\n}\n\
            # helper: called by used only\n\
            helper() {\n    echo \"helped $1\"\n}\n\
            unused() {\n    echo never\n}\n\
            # unused_too is named here only in a comment\n\
            unused_too() {\n    echo never\n}\n\
            by_top_level() {\n    :\n}\n\
            set -f\nby_top_level\n";
        let script = "used x\n# unused in a comment does not count\n";
        let shaken = used_only(library, script);
        assert_eq!(
            shaken.lines().count(),
            library.lines().count(),
            "line for line"
        );
        let line = join(&[&shaken, script]).unwrap();
        assert!(
            line.contains("used() {") && line.contains("helper() {"),
            "{line}"
        );
        assert!(line.contains("by_top_level() {"), "{line}");
        assert!(!line.contains("unused"), "{line}");
        assert_eq!(run("sh", &line), "helped x\n");
        // The scripts shipped: each still joins, and runs only what it has.
        for script in super::super::Script::ALL {
            let full = join(&[super::super::COMMON, script.source()]).unwrap();
            let sent = script.line().unwrap();
            assert!(sent.len() <= full.len(), "{script:?}");
        }
    }

    #[test]
    fn a_long_line_is_sent_in_words_and_runs_whole() {
        let line: String = (0..1500).map(|i| format!("echo {i}; ")).collect();
        let command = sh_c(line.trim_end());
        assert!(
            command.starts_with("sh -c 'eval \"$1$2$3$4\"' sh '"),
            "{}",
            &command[..40]
        );
        let printed = run("sh", &command);
        assert_eq!(printed.lines().count(), 1500);
        assert_eq!(printed.lines().last(), Some("1499"));
        assert_eq!(sh_c("echo x"), "sh -c 'echo x'");
        assert!(words(&line)
            .iter()
            .all(|w| w.len() <= WORD && !w.is_empty()));
        assert_eq!(words(&line).concat(), line);
    }
}
