//! Bad input: exit 2, one line with a hint, and nothing touched anywhere (not even a
//! connection attempt, which a listening socket would see).

use std::net::TcpListener;

use crate::harness::{logins, Out, Sandbox};

/// A target that records whether anyone connected to it.
struct Tripwire {
    listener: TcpListener,
}

impl Tripwire {
    fn new() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Tripwire { listener }
    }
    fn dest(&self) -> String {
        format!("u@127.0.0.1:{}", self.listener.local_addr().unwrap().port())
    }
    fn assert_untouched(&self) {
        assert!(
            self.listener.accept().is_err(),
            "codex-auth connected to a target despite bad input"
        );
    }
}

fn assert_usage_error(out: &Out, needle: &str) {
    assert_eq!(out.code, 2, "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {out:?}");
    assert!(lines[0].starts_with("codex-auth: "), "{out:?}");
    assert!(lines[0].contains(needle), "{needle:?} missing: {out:?}");
    assert!(lines[0].contains("hint:"), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn malformed_or_incomplete_auth_json_is_refused_before_connecting() {
    let mut sb = Sandbox::new();
    let wire = Tripwire::new();
    let (good, refresh) = logins::chatgpt_json("bad");
    sb.secret(&refresh);
    let cases = [
        ("{ not json", "not valid JSON"),
        ("[1,2]", "not a JSON object"),
        (
            r#"{"auth_mode":"magic","OPENAI_API_KEY":"sk-x"}"#,
            "unknown auth_mode",
        ),
        (
            r#"{"auth_mode":"apikey","OPENAI_API_KEY":""}"#,
            "OPENAI_API_KEY is missing",
        ),
        (
            &good.replace("\"account_id\"", "\"acct\""),
            "tokens.account_id",
        ),
        (
            &good.replace("\"last_refresh\"", "\"refreshed\""),
            "last_refresh",
        ),
        (
            &good.replace("\"refresh_token\"", "\"rt\""),
            "tokens.refresh_token",
        ),
    ];
    for (content, needle) in cases {
        let f = sb.write("bad/auth.json", content);
        let out = sb.run(&["push", "--ssh", &wire.dest(), "--from", f.to_str().unwrap()]);
        assert_usage_error(&out, needle);
    }
    // An id_token that is not a JWT.
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let mut v = v;
    v["tokens"]["id_token"] = serde_json::Value::String("not-a-jwt".into());
    let f = sb.write("bad/auth.json", &v.to_string());
    let out = sb.run(&["push", "--ssh", &wire.dest(), "--from", f.to_str().unwrap()]);
    assert_usage_error(&out, "not a JWT");
    wire.assert_untouched();
}

#[test]
fn missing_files_and_empty_keys_are_usage_errors() {
    let sb = Sandbox::new();
    let wire = Tripwire::new();
    let out = sb.run(&[
        "push",
        "--ssh",
        &wire.dest(),
        "--from",
        "/nonexistent/auth.json",
    ]);
    assert_usage_error(&out, "cannot read /nonexistent/auth.json");
    let out = sb.run(&[
        "push",
        "--ssh",
        &wire.dest(),
        "--from",
        sb.home().to_str().unwrap(),
    ]);
    assert_usage_error(&out, "is a directory");
    let out = sb.run_with_stdin(&["push", "--ssh", &wire.dest(), "--api-key-stdin"], "  \n");
    assert_usage_error(&out, "the API key is empty");
    let out = sb.run_with_stdin(
        &["push", "--ssh", &wire.dest(), "--api-key-stdin"],
        "sk-two words",
    );
    assert_usage_error(&out, "whitespace");
    // No local login: say how to get one.
    let out = sb.run(&["push", "--ssh", &wire.dest()]);
    assert_usage_error(&out, "no local Codex login");
    assert!(out.stderr.contains("codex login"), "{out:?}");
    wire.assert_untouched();
}

#[test]
fn local_login_is_the_default_source_and_codex_home_is_honoured() {
    let mut sb = Sandbox::new();
    let wire = Tripwire::new();
    let (json, refresh) = logins::chatgpt_json("local");
    sb.secret(&refresh);
    // A broken local login under CODEX_HOME is reported with its path.
    let home = sb.home().join("ch");
    sb.write("ch/auth.json", &json.replace("chatgpt\"", "nope\""));
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    let out = sb.run(&["push", "--ssh", &wire.dest()]);
    assert_usage_error(&out, &format!("{}/auth.json", home.display()));
    wire.assert_untouched();
}

#[test]
fn chatgpt_login_to_several_targets_needs_share() {
    let mut sb = Sandbox::new();
    let (a, b) = (Tripwire::new(), Tripwire::new());
    let (json, refresh) = logins::chatgpt_json("share");
    sb.secret(&refresh);
    let f = sb.write("in/auth.json", &json);
    let out = sb.run(&[
        "push",
        "--ssh",
        &a.dest(),
        "--ssh",
        &b.dest(),
        "--from",
        f.to_str().unwrap(),
    ]);
    assert_usage_error(&out, "refusing to push one ChatGPT login to 2 targets");
    assert!(out.stderr.contains("--share"));
    a.assert_untouched();
    b.assert_untouched();
    // An API key is not restricted: it gets as far as connecting (and fails there).
    let out = sb.run_with_stdin(
        &[
            "push",
            "--ssh",
            &a.dest(),
            "--ssh",
            &b.dest(),
            "--api-key-stdin",
            "-o",
            "ConnectTimeout=1",
        ],
        &logins::api_key("share"),
    );
    assert_eq!(out.code, 1, "{out:?}");
}

#[test]
fn bad_destinations_and_flags_are_exit_2() {
    let sb = Sandbox::new();
    for args in [
        vec!["push"],
        vec!["push", "--ssh", "host:0"],
        vec!["push", "--ssh", "-oProxyCommand=evil"],
        vec!["push", "--ssh", "a b"],
        vec!["push", "--ssh", "x", "--ssh", "x"],
        vec!["push", "--ssh", "x", "-o", "NoValue"],
        vec!["push", "--ssh", "x", "--jobs", "0"],
        vec!["push", "--ssh", "x", "--bogus"],
        vec!["frobnicate"],
    ] {
        let out = sb.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
}

#[test]
fn usage_errors_are_one_exact_line() {
    let sb = Sandbox::new();
    let wire = Tripwire::new();
    let dest = wire.dest();
    let cases: &[(&[&str], &str)] = &[
        (
            &["push"],
            "codex-auth: no targets: name at least one (hint: codex-auth push --ssh user@host, or --docker CONTAINER, or --local)\n",
        ),
        (
            &["push", "--ssh", &dest, "--from", "bogus:x"],
            "codex-auth: unknown place kind \"bogus\" in --from bogus:x (hint: --from takes ssh:DEST, docker:CONTAINER, local, saved:NAME, or a file (a path with a colon: ./name:x))\n",
        ),
        (
            &["push", "--ssh", &dest, "--docker", "other", "--from", "local", "--move"],
            "codex-auth: --move takes a session to one destination, and 2 are named (hint: move to one place; give the others logins of their own (push --login))\n",
        ),
        (
            &["push", "--ssh", &dest, "--from", "./auth.json", "--move"],
            "codex-auth: --move takes a login off a place: it needs --from ssh:DEST, docker:CONTAINER or local (hint: to copy a file, drop --move)\n",
        ),
        (
            &["push", "--local", "--from", "local"],
            "codex-auth: local is both the source and a destination (hint: name the place to copy from with --from, and other places as destinations)\n",
        ),
        (
            &["push", "--ssh", "@-", "--api-key-stdin"],
            "codex-auth: --ssh @- and --api-key-stdin both read stdin (hint: give one of them a file instead)\n",
        ),
        (
            &["push", "--ssh", &dest, "--docker-filter", "bogus=1"],
            "codex-auth: bad --docker-filter \"bogus=1\" (hint: KEY=VALUE as docker ps --filter takes it: label=com.docker.compose.project=web, name=api, status=running)\n",
        ),
        (
            &["status", "--inventory", "/nonexistent/inventory.ini"],
            "codex-auth: inventory /nonexistent/inventory.ini does not exist or is not a file (hint: give an Ansible inventory file (INI or YAML))\n",
        ),
        (
            &["logout", "--ssh", &dest, "--issuer", "https://x"],
            "codex-auth: --issuer does not apply to a logout without --revoke (hint: add --revoke to end the session at the issuer, or drop the flag)\n",
        ),
        (
            &["push", "--ssh", &dest, "--device-auth"],
            "codex-auth: --device-auth does not apply to a push without --login (hint: add --login for a fresh sign-in per target, or drop the flag)\n",
        ),
        (
            &["push", "--ssh", &dest, "--docker-user", "app"],
            "codex-auth: --docker-user only applies to --docker targets (hint: name a container with --docker, or drop --docker-user)\n",
        ),
        (
            &["login", "-F", "cfg"],
            "codex-auth: -F does not apply to a login on this machine (hint: ssh options go with --forward HOST (or with push --ssh))\n",
        ),
        (
            &["login", "--forward", &dest, "--timeout", "5"],
            "codex-auth: --timeout does not apply to login --forward (the host's own codex login signs in) (hint: drop it, or configure the issuer in the host's Codex)\n",
        ),
        (
            &["status", "--ssh", "a", "--ssh", "a"],
            "codex-auth: target a is named twice (hint: name each target once)\n",
        ),
        (
            &["push", "--ssh", &dest, "--issuer", "ftp://x"],
            "codex-auth: --issuer does not apply to a push without --login (hint: add --login for a fresh sign-in per target, or drop the flag)\n",
        ),
        (
            &["push", "--ssh", &dest, "--login", "--issuer", "ftp://x"],
            "codex-auth: bad --issuer \"ftp://x\" (hint: give the issuer's base URL, like https://auth.openai.com)\n",
        ),
    ];
    for (args, want) in cases {
        sb.run(args).code(2).stdout_is("").stderr_is(want);
    }
    wire.assert_untouched();
}

#[test]
fn help_and_version_exit_0() {
    let sb = Sandbox::new();
    let out = sb.run(&["--help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("Exit codes"));
    let out = sb.run(&["--version"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("codex-auth "));
}

#[test]
fn api_key_stdin_refuses_a_terminal() {
    let sb = Sandbox::new();
    let wire = Tripwire::new();
    let out = sb.run_in_tty(&["push", "--ssh", &wire.dest(), "--api-key-stdin"], "");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.contains("stdin is a terminal"), "{out:?}");
    wire.assert_untouched();
}

#[test]
fn an_ssh_keyword_codex_auth_cannot_honour_is_refused_by_name_before_anything_is_touched() {
    use crate::harness::RemoteUser;
    let mut sb = Sandbox::new();
    let good = RemoteUser::bash();
    good.authorize(&sb);
    let bad = RemoteUser::bash();
    bad.authorize(&sb);
    sb.alias("good", &good);
    let cfg = sb.alias("bad", &bad);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text = text.replace("Host bad\n", "Host bad\n  RemoteCommand ls\n");
    std::fs::write(&cfg, text).unwrap();
    let cfg = cfg.to_str().unwrap();
    // In the config file, for one host of two: nothing is touched anywhere.
    let (out, _) = sb.push_key("refused", &["--ssh", "good", "--ssh", "bad", "-F", cfg]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("RemoteCommand is not supported (RemoteCommand ls)"),
        "{out:?}"
    );
    assert!(out.stderr.contains("(hint: "), "{out:?}");
    assert!(!good.auth_path().exists() && !bad.auth_path().exists());
    // On the command line.
    let (out, _) = sb.push_key(
        "refused-o",
        &[
            "--ssh",
            "good",
            "-F",
            cfg,
            "-o",
            "KnownHostsCommand=/bin/true %H",
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("KnownHostsCommand is not supported"),
        "{out:?}"
    );
    assert!(!good.auth_path().exists());
    // status and logout refuse it the same way.
    let out = sb.run(&["status", "--ssh", "bad", "-F", cfg]);
    assert_eq!(out.code, 2, "{out:?}");
}
