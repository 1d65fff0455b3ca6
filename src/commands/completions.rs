//! `codex-auth completions SHELL` and `codex-auth man`: generated from the clap
//! definition itself, so they cannot drift from the flags.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{exit, AppError};

const BIN: &str = "codex-auth";

pub(crate) fn completions(args: &CompletionsArgs) -> Result<u8, AppError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, BIN, &mut out);
    let mut script = String::from_utf8_lossy(&out).into_owned();
    if args.shell == clap_complete::Shell::Bash {
        // clap_complete 4.6 spells a hyphenated binary's state one way in its dispatch
        // loop (codex__auth__subcmd__push) and another in the case arms
        // (codex__subcmd__auth__subcmd__push), so nothing completes after a
        // subcommand (clap-rs/clap#6421). Spell the arms as the loop does.
        script = script.replace(&BIN.replace('-', "__subcmd__"), &BIN.replace('-', "__"));
    }
    crate::report::print_stdout(&script);
    Ok(exit::OK)
}

/// The page of codex-auth, or of one of its commands as `codex-auth-COMMAND(1)` (the
/// name the main page's COMMANDS section gives it), with a paragraph for every flag, its
/// examples and the exit codes; or, with `--dir`, every page written there.
pub(crate) fn man(args: &ManArgs) -> Result<u8, AppError> {
    if let Some(dir) = &args.dir {
        let mut names: Vec<Option<String>> = vec![None];
        names.extend(
            Cli::command()
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .filter(|n| n != "help")
                .map(Some),
        );
        std::fs::create_dir_all(dir).map_err(|e| cannot_write(dir, &e))?;
        for name in names {
            let file = dir.join(match &name {
                None => format!("{BIN}.1"),
                Some(n) => format!("{BIN}-{n}.1"),
            });
            std::fs::write(&file, page(name.as_deref())?).map_err(|e| cannot_write(&file, &e))?;
        }
        return Ok(exit::OK);
    }
    crate::report::print_stdout(&page(args.command.as_deref())?);
    Ok(exit::OK)
}

fn cannot_write(path: &std::path::Path, e: &std::io::Error) -> AppError {
    AppError::failed(format!("cannot write {}: {e}", path.display()), None)
}

/// One page, as roff.
fn page(command: Option<&str>) -> Result<String, AppError> {
    let main = Cli::command();
    let cmd = match command {
        None => main,
        Some(name) => main
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| AppError::usage(format!("no command {name:?}"), None))?
            .name(format!("{BIN}-{name}"))
            .bin_name(format!("{BIN} {name}")),
    };
    let after_help = cmd.get_after_help().map(|h| h.to_string());
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    let fail =
        |e: std::io::Error| AppError::failed(format!("cannot render the man page: {e}"), None);
    man.render_title(&mut out).map_err(fail)?;
    man.render_name_section(&mut out).map_err(fail)?;
    man.render_synopsis_section(&mut out).map_err(fail)?;
    man.render_description_section(&mut out).map_err(fail)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).map_err(fail)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out).map_err(fail)?;
    }
    let mut text = String::from_utf8_lossy(&out).into_owned();
    // A command's after-help is its examples; the main page's, the exit codes in one line.
    let (examples, exit_line) = match after_help {
        Some(h) if h.starts_with("Examples:") => (Some(h), None),
        other => (None, other),
    };
    if let Some(examples) = examples {
        text.push_str(".SH EXAMPLES\n.nf\n");
        for line in examples.lines().skip(1) {
            text.push_str(&roff_line(line.trim_start()));
            text.push('\n');
        }
        text.push_str(".fi\n");
    }
    text.push_str(".SH \"EXIT STATUS\"\n");
    if let Some(line) = exit_line {
        text.push_str(&roff_line(&line));
        text.push('\n');
    }
    text.push_str(EXIT_STATUS);
    Ok(text)
}

/// A line of text as roff takes it literally (a leading `.` or `'` would be a request).
fn roff_line(line: &str) -> String {
    let line = line.replace('\\', "\\e");
    if line.starts_with(['.', '\'']) {
        format!("\\&{line}")
    } else {
        line
    }
}

/// Every page ends with the exit codes (the README's table).
const EXIT_STATUS: &str = ".TP\n0\nEvery place done (installed, unchanged, read, logged out); login: logged in and saved.\n\
.TP\n1\nAt least one place failed or was skipped (the others are done and reported).\n\
.TP\n2\nBad usage or bad input: nothing was touched anywhere.\n\
.TP\n130\nInterrupted (Ctrl-C): every place holds its old login or the new one.\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag of every command has a paragraph of help: the man pages say what each
    /// does.
    #[test]
    fn every_flag_has_its_paragraph_and_every_page_renders() {
        for sub in Cli::command().get_subcommands() {
            for arg in sub.get_arguments() {
                let help = arg
                    .get_long_help()
                    .or(arg.get_help())
                    .map(|h| h.to_string());
                assert!(
                    help.is_some_and(|h| h.len() > 10),
                    "{} {}: no help",
                    sub.get_name(),
                    arg.get_id()
                );
            }
            if sub.get_name() != "help" {
                let text = page(Some(sub.get_name())).unwrap();
                assert!(text.contains(".SH OPTIONS"), "{}", sub.get_name());
                assert!(text.contains(".SH \"EXIT STATUS\""));
            }
        }
        let main = page(None).unwrap();
        assert!(main.contains("Exit codes: 0 all targets done"));
        assert_eq!(roff_line(".x"), "\\&.x");
    }
}
