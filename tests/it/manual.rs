//! Shell completions and the man page, generated from the clap definition, loaded by
//! the real shells and rendered by the real `man`.

use crate::harness::Sandbox;

#[test]
fn bash_completion_offers_ssh_after_push_ss() {
    let sb = Sandbox::new();
    let out = sb.run(&["completions", "bash"]).code(0);
    let script = sb.write("codex-auth.bash", &out.stdout);
    // Call whatever function the script bound to codex-auth, as bash would on Tab.
    let probe = format!(
        "source {}; f=$(complete -p codex-auth | sed 's/.*-F \\([^ ]*\\).*/\\1/'); COMP_WORDS=(codex-auth push --ss); COMP_CWORD=2; \"$f\" codex-auth --ss push; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let got = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &probe])
        .output()
        .unwrap();
    assert!(got.status.success(), "{got:?}");
    let offered = String::from_utf8_lossy(&got.stdout);
    assert_eq!(
        offered.lines().collect::<Vec<_>>(),
        vec!["--ssh"],
        "{got:?}"
    );
}

#[test]
fn fish_completion_offers_the_subcommands() {
    let sb = Sandbox::new();
    let out = sb.run(&["completions", "fish"]).code(0);
    let script = sb.write("codex-auth.fish", &out.stdout);
    let probe = format!(
        "source {}; complete -C 'codex-auth pu'; complete -C 'codex-auth push --docker-u'",
        script.display()
    );
    let got = std::process::Command::new("fish")
        .args(["--no-config", "-c", &probe])
        .env("HOME", sb.home())
        .output()
        .unwrap();
    let offered = String::from_utf8_lossy(&got.stdout);
    assert!(offered.lines().any(|l| l.starts_with("push\t")), "{got:?}");
    assert!(
        offered.lines().any(|l| l.starts_with("--docker-user\t")),
        "{got:?}"
    );
}

/// `codex-auth man ARGS...` as the real `man -l` renders it.
fn man_page(sb: &Sandbox, args: &[&str]) -> String {
    let mut argv = vec!["man"];
    argv.extend_from_slice(args);
    let out = sb.run(&argv).code(0);
    let page = sb.write(&format!("codex-auth{}.1", args.join("-")), &out.stdout);
    let got = std::process::Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .env("LANG", "C.UTF-8")
        .output()
        .unwrap();
    assert!(got.status.success(), "{got:?}");
    String::from_utf8_lossy(&got.stdout).into_owned()
}

#[test]
fn man_page_renders_with_man() {
    let sb = Sandbox::new();
    let text = man_page(&sb, &[]);
    assert!(
        text.contains("codex-auth - Install a Codex CLI login"),
        "{text}"
    );
    for sub in ["push", "status", "login", "completions"] {
        assert!(
            text.contains(&format!("codex-auth-{sub}(1)")),
            "{sub} missing:\n{text}"
        );
    }
    assert!(text.contains("Exit codes: 0 all targets done"), "{text}");
    // Each command's own page has every flag of it.
    for (sub, flags) in [
        (
            "push",
            &[
                "--ssh",
                "--docker-filter",
                "--access-token-stdin",
                "--target-timeout",
                "--move",
            ][..],
        ),
        ("logout", &["--revoke", "--keep-backup"][..]),
        ("status", &["--known", "--forget"][..]),
        ("login", &["--forward", "--device-auth", "--no-run"][..]),
    ] {
        let text = man_page(&sb, &[sub]);
        assert!(text.starts_with(&format!("codex-auth-{sub}(1)")), "{text}");
        for flag in flags {
            assert!(text.contains(flag), "{sub}: {flag} missing:\n{text}");
        }
    }
    sb.run(&["man", "bogus"]).code(2);
}

/// `man -l` of codex-auth-push(1) shows a paragraph for every flag `push --help` names:
/// the flag's line, then its text, indented.
#[test]
fn the_push_page_has_a_paragraph_per_flag() {
    let sb = Sandbox::new();
    let help = sb.run(&["push", "--help"]).code(0).stdout;
    let flags: Vec<String> = help
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| {
            l.split([' ', ','])
                .find(|w| w.starts_with("--"))
                .or_else(|| l.split(' ').next())
                .map(|f| f.trim_end_matches('.').to_string())
        })
        .collect();
    assert!(flags.len() > 25, "{help}");
    let page = man_page(&sb, &["push"]);
    let lines: Vec<&str> = page.lines().collect();
    for flag in &flags {
        let at = lines
            .iter()
            .position(|l| {
                let l = l.trim_start();
                l.starts_with(&format!("{flag} ")) || l == flag || l.contains(&format!(", {flag}"))
            })
            .unwrap_or_else(|| panic!("{flag} has no entry:\n{page}"));
        let text = lines[at + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_else(|| panic!("{flag} has no paragraph"));
        assert!(
            text.starts_with("              ") || lines[at].trim_start().len() > flag.len() + 8,
            "{flag}: {text:?}\n{page}"
        );
    }
    // With --dir, every page is written, ready for a man directory.
    let dir = sb.home().join("man1");
    sb.run(&["man", "--dir", dir.to_str().unwrap()]).code(0);
    for name in ["codex-auth.1", "codex-auth-push.1", "codex-auth-logout.1"] {
        assert!(dir.join(name).is_file(), "{name}");
    }
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let sb = Sandbox::new();
    let out = sb.run(&["completions", "tcsh"]).code(2);
    assert!(out.stderr.contains("invalid value 'tcsh'"), "{out:?}");
}
