//! `push --ssh` against the real sshd peers, judged by the real `codex` binary.

use crate::harness::{logins, mode_and_uid, peers, Agent, Codex, RemoteUser, Sandbox};

#[test]
fn alias_via_config_file_installs_api_key_with_modes_owner_and_codex_verdict() {
    for codex in Codex::BOTH {
        let mut sb = Sandbox::new();
        let user = RemoteUser::bash();
        user.authorize(&sb).with_codex(codex);
        let cfg = sb.alias("devbox", &user);
        let key = logins::api_key("alias");
        sb.secret(&key);
        let out = sb.run_with_stdin(
            &[
                "push",
                "--ssh",
                "devbox",
                "-F",
                cfg.to_str().unwrap(),
                "--api-key-stdin",
                "-v",
            ],
            &format!("{key}\n"),
        );
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stdout.contains("installed"), "{out:?}");
        let line = codex.api_key_line("sk-test-***00000");
        assert!(out.stdout.contains(&format!("codex: {line}")), "{out:?}");
        // -v says which Codex judged: found in ~/.local/bin, not on ssh's PATH.
        let judged = format!(
            "judged by {} at {}/.local/bin/codex",
            codex.version(),
            user.home.display()
        );
        assert!(out.stdout.contains(&judged), "{out:?}");
        let auth = user.auth_path();
        assert_eq!(
            std::fs::read_to_string(&auth).unwrap(),
            logins::api_key_json(&key)
        );
        assert_eq!(mode_and_uid(&auth), (0o600, user.uid()));
        assert_eq!(mode_and_uid(auth.parent().unwrap()), (0o700, user.uid()));
        for judge in Codex::BOTH {
            let (code, status) = judge.status(&user.home.join(".codex"));
            assert_eq!(code, 0, "{status}");
            assert!(
                status.contains(&judge.api_key_line("sk-test-***00000")),
                "{status}"
            );
        }
    }
}

#[test]
fn user_at_host_port_with_identity_and_options() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    sb.pin_host("127.0.0.1", peers().port());
    let (json, refresh) = logins::chatgpt_json("uhp");
    sb.secret(&refresh);
    let from = sb.write("in/auth.json", &json);
    let dest = format!("{}@127.0.0.1:{}", user.name, peers().port());
    let kh = format!("UserKnownHostsFile={}", sb.known_hosts().display());
    let out = sb.run(&[
        "push",
        "--ssh",
        &dest,
        "-i",
        sb.key_path().to_str().unwrap(),
        "-o",
        &kh,
        "-o",
        "StrictHostKeyChecking=yes",
        "--from",
        from.to_str().unwrap(),
        "--json",
        "-vv",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["targets"][0]["outcome"], "installed");
    assert_eq!(doc["targets"][0]["verified"], true);
    assert_eq!(doc["login"]["mode"], "chatgpt");
    assert_eq!(doc["login"]["email"], "uhp@example.test");
    assert!(out.stderr.contains("share one ChatGPT session"), "{out:?}");
    assert_eq!(std::fs::read_to_string(user.auth_path()).unwrap(), json);
    for codex in Codex::BOTH {
        let (code, status) = codex.status(&user.home.join(".codex"));
        assert_eq!(code, 0, "{status}");
        assert!(status.contains("Logged in using ChatGPT"), "{status}");
    }
}

#[test]
fn bracketed_ipv6_and_ssh_uri_destinations() {
    if peers().get("PEER_SSH_V6") != "1" {
        panic!("IPv6 loopback is not available on this machine");
    }
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    sb.pin_host("::1", peers().port());
    sb.pin_host("127.0.0.1", peers().port());
    let key = logins::api_key("v6");
    sb.secret(&key);
    let kh = format!("UserKnownHostsFile={}", sb.known_hosts().display());
    for dest in [
        format!("{}@[::1]:{}", user.name, peers().port()),
        format!("ssh://{}@127.0.0.1:{}", user.name, peers().port()),
    ] {
        let out = sb.run_with_stdin(
            &[
                "push",
                "--ssh",
                &dest,
                "-i",
                sb.key_path().to_str().unwrap(),
                "-o",
                &kh,
                "--api-key-stdin",
            ],
            &key,
        );
        assert_eq!(out.code, 0, "{dest}: {out:?}");
    }
}

#[test]
fn agent_auth_without_identity_files() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let agent = Agent::start(&sb);
    agent.add(&sb.key_path());
    let sock = agent.socket.clone();
    // Only the agent holds the key: move the files away from where -i or defaults look.
    std::fs::rename(sb.key_path(), sb.home().join("moved_key")).unwrap();
    sb.pin_host("127.0.0.1", peers().port());
    sb.env
        .push(("SSH_AUTH_SOCK".into(), sock.display().to_string()));
    let cfg = sb.ssh_config(&format!(
        "Host a\n  HostName 127.0.0.1\n  Port {{port}}\n  User {}\n  UserKnownHostsFile {{known_hosts}}\n",
        user.name
    ));
    let (out, key) = sb.push_key("agent", &["--ssh", "a", "-F", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(user.auth_path().exists());
    // IdentityAgent in the config names the socket instead of SSH_AUTH_SOCK.
    sb.env.clear();
    let cfg = sb.ssh_config(&format!(
        "Host a\n  HostName 127.0.0.1\n  Port {{port}}\n  User {}\n  UserKnownHostsFile {{known_hosts}}\n  IdentityAgent {}\n",
        user.name,
        sock.display()
    ));
    let args = [
        "push",
        "--ssh",
        "a",
        "-F",
        cfg.to_str().unwrap(),
        "--api-key-stdin",
        "--json",
    ];
    let out = sb.run_with_stdin(&args, &key);
    drop(agent);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["targets"][0]["outcome"], "unchanged");
}

#[test]
fn proxyjump_chain_reaches_host_only_visible_from_jump() {
    assert!(
        peers().netns(),
        "network namespaces are needed for the ProxyJump peer"
    );
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    sb.pin_host(peers().get("PEER_JUMP_HOST"), 22);
    sb.pin_host(peers().get("PEER_INNER_HOST"), 22);
    let cfg = sb.ssh_config(&format!(
        "Host jump\n  HostName {j}\nHost inner\n  HostName {i}\n  ProxyJump jump\nHost *\n  User {u}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
        j = peers().get("PEER_JUMP_HOST"),
        i = peers().get("PEER_INNER_HOST"),
        u = user.name
    ));
    let (out, _) = sb.push_key("jump", &["--ssh", "inner", "-F", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(user.auth_path().exists());
}

#[test]
fn a_proxycommand_host_is_reached_only_through_its_command_with_its_tokens() {
    assert!(
        peers().netns(),
        "network namespaces are needed for the jump peer"
    );
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    sb.pin_host(peers().get("PEER_JUMP_HOST"), 22);
    sb.pin_host(peers().get("PEER_INNER_HOST"), 22);
    // inner is only reachable from the jump host: through OpenSSH's `ssh -W`, run as
    // the ProxyCommand, which records the tokens it was given.
    let cfg_path = sb.home().join(".ssh/config");
    let tokens = sb.home().join("tokens");
    let cfg = sb.ssh_config(&format!(
        "Host jump\n  HostName {j}\nHost inner\n  HostName {i}\n  ProxyCommand sh -c \"echo %r %n %h %% >> {t}; exec ssh -F {c} -W %h:%p jump\"\nHost failing\n  HostName {i}\n  ProxyCommand sh -c \"echo the bastion says no >&2; exit 3\"\nHost direct\n  HostName {i}\n  ProxyCommand none\n  ConnectTimeout 2\nHost *\n  User {u}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
        j = peers().get("PEER_JUMP_HOST"),
        i = peers().get("PEER_INNER_HOST"),
        t = tokens.display(),
        c = cfg_path.display(),
        u = user.name
    ));
    let cfg = cfg.to_str().unwrap();
    let (out, _) = sb.push_key("proxycmd", &["--ssh", "inner", "-F", cfg]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(user.auth_path().exists());
    assert_eq!(
        std::fs::read_to_string(&tokens).unwrap(),
        format!("{} inner {} %\n", user.name, peers().get("PEER_INNER_HOST"))
    );
    // A command that fails ends that target at once, saying how and what it printed.
    let started = std::time::Instant::now();
    let (out, _) = sb.push_key("proxyfail", &["--ssh", "failing", "-F", cfg, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "unreachable", "{out:?}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("exited with status 3"), "{message}");
    assert!(message.contains("the bastion says no"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // ProxyCommand none: straight there, where inner cannot be reached.
    let (out, _) = sb.push_key("proxynone", &["--ssh", "direct", "-F", cfg, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_ne!(out.json()["targets"][0]["outcome"], "installed");
}

#[test]
fn unknown_host_key_policies() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let key = logins::api_key("hostkey");
    sb.secret(&key);
    let cfg = sb.ssh_config(&format!(
        "Host t\n  HostName 127.0.0.1\n  Port {{port}}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n",
        user.name
    ));
    let cfg = cfg.to_str().unwrap();
    let push = |extra: &[&str]| {
        let mut args = vec!["push", "--ssh", "t", "-F", cfg, "--api-key-stdin"];
        args.extend_from_slice(extra);
        sb.run_with_stdin(&args, &key)
    };

    let out = push(&["-o", "StrictHostKeyChecking=yes"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("is not known (SHA256:"), "{out:?}");
    assert!(
        out.stdout.contains("StrictHostKeyChecking is yes"),
        "{out:?}"
    );

    // Default (ask) without a terminal: refuse, never accept silently.
    let out = push(&[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("no terminal to confirm"), "{out:?}");
    assert!(!sb.known_hosts().exists());
    assert!(!user.auth_path().exists());

    let out = push(&["-o", "StrictHostKeyChecking=accept-new", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let recorded = std::fs::read_to_string(sb.known_hosts()).unwrap();
    assert!(recorded.contains(peers().host_key().split(' ').nth(1).unwrap()));

    // Now known: strict mode accepts it.
    let out = push(&["-o", "StrictHostKeyChecking=yes"]);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn changed_host_key_is_refused_with_fingerprint_and_hint() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    // Record another key for the host, as if the server had been replaced.
    std::fs::write(
        sb.known_hosts(),
        format!(
            "[127.0.0.1]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
            peers().port()
        ),
    )
    .unwrap();
    let cfg = sb.ssh_config(&format!(
        "Host t\n  HostName 127.0.0.1\n  Port {{port}}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking no\n",
        user.name
    ));
    let (out, _) = sb.push_key(
        "changed",
        &["--ssh", "t", "-F", cfg.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let t = &out.json()["targets"][0];
    assert_eq!(t["error"]["class"], "host-key-changed");
    assert!(t["error"]["message"].as_str().unwrap().contains("SHA256:"));
    assert!(t["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("ssh-keygen -R"));
    assert!(!user.auth_path().exists());
}

#[test]
fn every_login_shell_runs_the_install() {
    for shell in ["/usr/bin/fish", "/bin/csh", "/usr/bin/zsh", "/bin/sh"] {
        let mut sb = Sandbox::new();
        let user = RemoteUser::new(shell);
        user.authorize(&sb);
        let cfg = sb.alias("s", &user);
        let (out, _) = sb.push_key("shell", &["--ssh", "s", "-F", cfg.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{shell}: {out:?}");
        assert_eq!(
            mode_and_uid(&user.auth_path()),
            (0o600, user.uid()),
            "{shell}"
        );
        // A status's request travels in the command line (no payload): through this
        // login shell too.
        let status = sb.status_json("s", &cfg).code(0).json();
        assert_eq!(
            status["places"][1]["state"], "logged-in",
            "{shell}: {status}"
        );
    }
}

#[test]
fn symlink_at_auth_path_is_replaced_not_followed() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let victim = user.home.join("victim.txt");
    user.write_owned("victim.txt", "do not touch\n", 0o644);
    user.write_owned(".codex/placeholder", "", 0o600);
    std::os::unix::fs::symlink(&victim, user.auth_path()).unwrap();
    let cfg = sb.alias("s", &user);
    let (out, _) = sb.push_key("symlink", &["--ssh", "s", "-F", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "do not touch\n");
    let meta = std::fs::symlink_metadata(user.auth_path()).unwrap();
    assert!(meta.file_type().is_file());
    assert!(out.stdout.contains("replaced a symlink"), "{out:?}");
}

#[test]
fn identical_repush_is_unchanged_and_different_login_is_backed_up() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("s", &user);
    let cfg = cfg.to_str().unwrap();
    let first = logins::api_key("first");
    let second = logins::api_key("second");
    sb.secret(&first);
    sb.secret(&second);

    let out = sb.run_with_stdin(
        &["push", "--ssh", "s", "-F", cfg, "--api-key-stdin"],
        &first,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let mtime = std::fs::metadata(user.auth_path())
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));

    let out = sb.run_with_stdin(
        &["push", "--ssh", "s", "-F", cfg, "--api-key-stdin", "--json"],
        &first,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["targets"][0]["outcome"], "unchanged");
    assert_eq!(
        std::fs::metadata(user.auth_path())
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    assert!(!user.home.join(".codex/auth.json.bak").exists());

    let out = sb.run_with_stdin(
        &["push", "--ssh", "s", "-F", cfg, "--api-key-stdin", "--json"],
        &second,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["targets"][0]["previous"], "different");
    let bak = user.home.join(".codex/auth.json.bak");
    assert_eq!(
        std::fs::read_to_string(&bak).unwrap(),
        logins::api_key_json(&first)
    );
    assert_eq!(mode_and_uid(&bak), (0o600, user.uid()));
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&second)
    );
    // No temp files left behind.
    let names: Vec<String> = std::fs::read_dir(user.home.join(".codex"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".auth.json")),
        "{names:?}"
    );
}

#[test]
fn keyring_configured_host_is_skipped_unless_forced() {
    for store in ["keyring", "ephemeral"] {
        let mut sb = Sandbox::new();
        let user = RemoteUser::bash();
        user.authorize(&sb);
        user.write_owned(
            ".codex/config.toml",
            &format!("model = \"o4\"\ncli_auth_credentials_store = \"{store}\"\n\n[profiles.x]\nmodel = \"y\"\n"),
            0o600,
        );
        let cfg = sb.alias("s", &user);
        let (out, key) = sb.push_key("keyring", &["--ssh", "s", "-F", cfg.to_str().unwrap()]);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stdout.contains("skipped"), "{out:?}");
        assert!(
            out.stdout
                .contains(&format!("cli_auth_credentials_store = \"{store}\"")),
            "{out:?}"
        );
        assert!(!user.auth_path().exists());
        let out = sb.run_with_stdin(
            &[
                "push",
                "--ssh",
                "s",
                "-F",
                cfg.to_str().unwrap(),
                "--api-key-stdin",
                "--force",
            ],
            &key,
        );
        assert_eq!(out.code, 0, "{out:?}");
        assert!(user.auth_path().exists());
    }
    // auto, with no keyring reachable there (no session bus over ssh, no codex to ask):
    // Codex falls back to the file, so it is installed.
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    user.write_owned(
        ".codex/config.toml",
        "cli_auth_credentials_store = \"auto\"\n",
        0o600,
    );
    let cfg = sb.alias("s", &user);
    let (out, _) = sb.push_key("auto", &["--ssh", "s", "-F", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("there is no OS keyring"), "{out:?}");
    assert!(user.auth_path().exists());
}

#[test]
fn codex_home_from_target_environment_and_from_flag() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let env_home = user.home.join("env-codex");
    user.set_environment(&[("CODEX_HOME", env_home.to_str().unwrap())]);
    let cfg = sb.alias("s", &user);
    let cfg = cfg.to_str().unwrap();
    let (out, key) = sb.push_key("home", &["--ssh", "s", "-F", cfg, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["targets"][0]["home_from"], "env");
    assert!(env_home.join("auth.json").exists());

    let out = sb.run_with_stdin(
        &[
            "push",
            "--ssh",
            "s",
            "-F",
            cfg,
            "--api-key-stdin",
            "--codex-home",
            "~/flag home",
            "--json",
        ],
        &key,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let flag_home = user.home.join("flag home");
    assert_eq!(
        mode_and_uid(&flag_home.join("auth.json")),
        (0o600, user.uid())
    );
    assert_eq!(mode_and_uid(&flag_home), (0o700, user.uid()));
}

#[test]
fn dry_run_touches_nothing() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("s", &user);
    let (out, _) = sb.push_key("dry", &["--ssh", "s", "-F", cfg.to_str().unwrap(), "-n"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("would install"), "{out:?}");
    assert!(!user.home.join(".codex").exists());
}

#[test]
fn several_targets_with_one_unreachable_installs_the_rest() {
    let mut sb = Sandbox::new();
    let a = RemoteUser::bash();
    let b = RemoteUser::bash();
    a.authorize(&sb);
    b.authorize(&sb);
    sb.alias("a", &a);
    let cfg = sb.alias("b", &b);
    // A closed loopback port: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dead = format!("nobody@127.0.0.1:{port}");
    let (out, _) = sb.push_key(
        "multi",
        &[
            "--ssh",
            "a",
            "--ssh",
            &dead,
            "--ssh",
            "b",
            "-F",
            cfg.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["targets"][0]["outcome"], "installed");
    assert_eq!(doc["targets"][1]["error"]["class"], "refused");
    assert_eq!(doc["targets"][2]["outcome"], "installed");
    assert_eq!(doc["summary"]["failed"], 1);
    assert!(a.auth_path().exists() && b.auth_path().exists());
}

#[test]
fn silent_server_times_out_with_connect_timeout() {
    let mut sb = Sandbox::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = logins::api_key("timeout");
    sb.secret(&key);
    let dest = format!("u@127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let out = sb.run_with_stdin(
        &[
            "push",
            "--ssh",
            &dest,
            "-o",
            "ConnectTimeout=1",
            "--api-key-stdin",
            "--json",
        ],
        &key,
    );
    drop(listener);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["targets"][0]["error"]["class"], "timeout");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn password_only_server_without_terminal_fails_clearly() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    // No authorized key: only password is left, and there is no terminal.
    let cfg = sb.alias("s", &user);
    let (out, _) = sb.push_key("pw", &["--ssh", "s", "-F", cfg.to_str().unwrap(), "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "auth");
    assert!(
        e["hint"].as_str().unwrap().contains("no terminal"),
        "{out:?}"
    );
}

#[test]
fn many_targets_on_one_default_sshd_all_succeed() {
    // 24 users on the sshd with OpenSSH's default MaxStartups 10:30:100.
    let mut sb = Sandbox::new();
    let users: Vec<RemoteUser> = (0..24).map(|_| RemoteUser::bash()).collect();
    let mut cfg = None;
    for (i, u) in users.iter().enumerate() {
        u.authorize(&sb);
        cfg = Some(sb.alias(&format!("h{i}"), u));
    }
    let cfg = cfg.unwrap();
    let key = logins::api_key("many");
    sb.secret(&key);
    let mut args = vec!["push".to_string()];
    for i in 0..users.len() {
        args.push("--ssh".into());
        args.push(format!("h{i}"));
    }
    args.extend([
        "-F".into(),
        cfg.display().to_string(),
        "--api-key-stdin".into(),
        "--jobs".into(),
        "64".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sb.run_with_stdin(&args, &key);
    assert_eq!(out.code, 0, "{out:?}");
    for u in &users {
        assert!(u.auth_path().exists(), "{}", u.name);
    }
}

#[test]
fn user_whose_home_is_root_is_refused_with_hint() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    // HOME=/ as for many service accounts: never write /.codex by accident.
    user.set_environment(&[("HOME", "/")]);
    let cfg = sb.alias("s", &user);
    let (out, _) = sb.push_key(
        "nohome",
        &["--ssh", "s", "-F", cfg.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "no-home", "{out:?}");
    assert!(e["hint"].as_str().unwrap().contains("--codex-home"));
    assert!(!std::path::Path::new("/.codex/auth.json").exists());
}

/// Processes of `user` with this command name (a check, never a kill).
fn processes_named(user: &RemoteUser, name: &str) -> usize {
    let out = std::process::Command::new("ps")
        .args(["-u", &user.name, "-o", "comm="])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim() == name)
        .count()
}

#[test]
fn interrupt_exits_130_and_leaves_targets_alone() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let old = logins::api_key("interrupt-old");
    sb.secret(&old);
    user.write_owned(".codex/auth.json", &logins::api_key_json(&old), 0o600);
    // sshd runs ~/.ssh/rc before the command: the push hangs there, connected and
    // authenticated, with the install not started yet.
    user.write_owned(".ssh/rc", "sleep 30\n", 0o600);
    let cfg = sb.alias("s", &user);
    let key = logins::api_key("interrupt");
    sb.secret(&key);
    let child = sb
        .cmd(&[
            "push",
            "--ssh",
            "s",
            "-F",
            cfg.to_str().unwrap(),
            "--api-key-stdin",
        ])
        .stdin(&key)
        .spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while processes_named(&user, "sleep") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the push never reached the host"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.signal(libc::SIGINT);
    let out = sb.wait(child, &[]).code(130);
    assert!(out.stderr.contains("interrupted"), "{out:?}");
    // The target holds its old login, whole, and no temp file.
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&old)
    );
    let names: Vec<String> = std::fs::read_dir(user.home.join(".codex"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["auth.json".to_string()]);
}

#[test]
fn unknown_host_name_is_a_dns_error() {
    let mut sb = Sandbox::new();
    let (out, _) = sb.push_key(
        "dns",
        &[
            "--ssh",
            "u@no-such-host.invalid",
            "-o",
            "ConnectTimeout=5",
            "--json",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["targets"][0]["error"]["class"], "dns", "{out:?}");
}

#[test]
fn passphrase_key_without_terminal_fails_with_agent_hint() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize_key(&sb.keygen("locked_key", "ed25519", &[], "correct horse"));
    sb.pin_host("127.0.0.1", peers().port());
    let dest = format!("{}@127.0.0.1:{}", user.name, peers().port());
    let kh = format!("UserKnownHostsFile={}", sb.known_hosts().display());
    let (out, _) = sb.push_key(
        "locked",
        &[
            "--ssh",
            &dest,
            "-i",
            sb.home().join("locked_key").to_str().unwrap(),
            "-o",
            &kh,
            "-o",
            "IdentitiesOnly=yes",
            "--json",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "auth");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("passphrase-protected keys skipped"),
        "{out:?}"
    );
    // The host was asked whether it takes the key (no passphrase needed for that).
    assert!(
        message.contains("locked_key (the host would take it)"),
        "{out:?}"
    );
    assert!(e["hint"].as_str().unwrap().contains("ssh-agent"), "{out:?}");
}

#[test]
fn unwritable_codex_home_is_permission_denied() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("s", &user);
    let (out, _) = sb.push_key(
        "perm",
        &[
            "--ssh",
            "s",
            "-F",
            cfg.to_str().unwrap(),
            "--codex-home",
            "/root/codex-auth-test",
            "--json",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "permission-denied", "{out:?}");
    assert!(!std::path::Path::new("/root/codex-auth-test").exists());
}

/// A tiny tmpfs mounted on a test user's ~/.codex, unmounted when dropped.
struct SmallMount {
    path: std::path::PathBuf,
}

impl SmallMount {
    fn new(user: &RemoteUser) -> SmallMount {
        let path = user.home.join(".codex");
        std::fs::create_dir_all(&path).unwrap();
        let uid = user.uid();
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size=8k,mode=0700,uid={uid},gid={uid}"),
                "tmpfs",
            ])
            .arg(&path)
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot mount a tmpfs for the disk-full test");
        SmallMount { path }
    }
    fn remount_read_only(&self) {
        let ok = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.path)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for SmallMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

#[test]
fn full_and_read_only_file_systems_are_clear_errors_and_keep_the_old_login() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("s", &user);
    let cfg = cfg.to_str().unwrap();
    let mount = SmallMount::new(&user);
    let old = logins::api_key("old");
    sb.secret(&old);
    let out = sb.run_with_stdin(&["push", "--ssh", "s", "-F", cfg, "--api-key-stdin"], &old);
    assert_eq!(out.code, 0, "{out:?}");
    // Fill the file system to the last block.
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=1k", "count=64"])
        .arg(format!("of={}", mount.path.join("filler").display()))
        .stderr(std::process::Stdio::null())
        .status();
    let new = logins::api_key("new");
    sb.secret(&new);
    let out = sb.run_with_stdin(
        &["push", "--ssh", "s", "-F", cfg, "--api-key-stdin", "--json"],
        &new,
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "disk-full",
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&old)
    );

    std::fs::remove_file(mount.path.join("filler")).unwrap();
    mount.remount_read_only();
    let out = sb.run_with_stdin(
        &["push", "--ssh", "s", "-F", cfg, "--api-key-stdin", "--json"],
        &new,
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "read-only",
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&old)
    );
    // A logout there cannot take the login off either, and says why as a push does.
    let out = sb.run(&["logout", "--ssh", "s", "-F", cfg, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.json()["places"][0]["error"]["class"],
        "read-only",
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&old)
    );
}

#[test]
fn config_include_and_host_star_identity_resolve_like_ssh() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    sb.pin_host("127.0.0.1", peers().port());
    let included = sb.write(
        "conf.d/hosts.conf",
        &format!(
            "Host inc-alias\n  HostName 127.0.0.1\n  Port {}\n  User {}\n",
            peers().port(),
            user.name
        ),
    );
    let cfg = sb.ssh_config(&format!(
        "Include {}\nHost *\n  IdentityFile /nonexistent/first_key\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n  User first-value-wins-not-this-one\n",
        included.display()
    ));
    let (out, _) = sb.push_key(
        "include",
        &["--ssh", "inc-alias", "-F", cfg.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(user.auth_path().exists());
}

#[test]
fn proxyjump_chain_of_two_hops() {
    assert!(
        peers().netns(),
        "network namespaces are needed for the ProxyJump peer"
    );
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    sb.pin_host(peers().get("PEER_JUMP_HOST"), 22);
    sb.pin_host("127.0.0.1", 22);
    sb.pin_host(peers().get("PEER_INNER_HOST"), 22);
    // jump, then the jump host's own loopback sshd as a second hop, then the inner host.
    let cfg = sb.ssh_config(&format!(
        "Host jump\n  HostName {j}\nHost jumplo\n  HostName 127.0.0.1\n  Port 22\nHost inner\n  HostName {i}\n  ProxyJump jump,jumplo\nHost *\n  User {u}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
        j = peers().get("PEER_JUMP_HOST"),
        i = peers().get("PEER_INNER_HOST"),
        u = user.name
    ));
    let (out, _) = sb.push_key("chain", &["--ssh", "inner", "-F", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(user.auth_path().exists());
}

#[test]
fn terminal_prompts_for_unknown_host_key_and_passphrase() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize_key(&sb.keygen("locked_key", "ed25519", &[], "correct horse"));
    let cfg = sb.ssh_config(&format!(
        "Host t\n  HostName 127.0.0.1\n  Port {{port}}\n  User {}\n  IdentityFile {}\n  UserKnownHostsFile {{known_hosts}}\n",
        user.name,
        sb.home().join("locked_key").display()
    ));
    let (json, refresh) = logins::chatgpt_json("tty");
    sb.secret(&refresh);
    let from = sb.write("in/auth.json", &json);
    let out = sb.run_in_tty(
        &[
            "push",
            "--ssh",
            "t",
            "-F",
            cfg.to_str().unwrap(),
            "--from",
            from.to_str().unwrap(),
        ],
        "yes\ncorrect horse\n",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("can't be established"), "{out:?}");
    assert!(out.stdout.contains("SHA256:"), "{out:?}");
    assert!(out.stdout.contains("Enter passphrase for key"), "{out:?}");
    assert!(user.auth_path().exists());
    assert!(std::fs::read_to_string(sb.known_hosts())
        .unwrap()
        .contains("ssh-ed25519"));
}

/// Two passphrase-protected identity files, `first` not authorized and `second`
/// authorized: the config for them, with the host pinned.
fn two_locked_keys(sb: &Sandbox, user: &RemoteUser) -> std::path::PathBuf {
    sb.keygen("first", "ed25519", &[], "alpha");
    user.authorize_key(&sb.keygen("second", "ed25519", &[], "bravo"));
    sb.pin_host("127.0.0.1", peers().port());
    sb.ssh_config(&format!(
        "Host t\n  HostName 127.0.0.1\n  Port {{port}}\n  User {}\n  IdentityFile {}\n  IdentityFile {}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
        user.name,
        sb.home().join("first").display(),
        sb.home().join("second").display()
    ))
}

#[test]
fn a_passphrase_is_asked_only_for_the_key_the_server_takes() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    let cfg = two_locked_keys(&sb, &user);
    // Without its .pub: the public half comes from the key file, unencrypted there.
    std::fs::remove_file(sb.home().join("second.pub")).unwrap();
    let key = logins::api_key("locked-pair");
    sb.secret(&key);
    let from = sb.write("in/auth.json", &logins::api_key_json(&key));
    let args = ["push", "--ssh", "t", "-F", cfg.to_str().unwrap()];
    let args = [&args[..], &["--from", from.to_str().unwrap()]].concat();
    let out = sb.run_in_tty(&args, "bravo\n");
    assert_eq!(out.code, 0, "{out:?}");
    let asked: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("Enter passphrase"))
        .collect();
    assert_eq!(asked.len(), 1, "{out:?}");
    assert!(asked[0].contains("second'"), "{out:?}");
    assert!(user.auth_path().exists());
}

/// Locked RSA keys: one in OpenSSH's format (its public half known, so signed by
/// codex-auth's own signer once the host takes it, with the SHA-2 hash the real sshd
/// requires), and one in the legacy PEM format without a .pub (no public half: its
/// passphrase is asked before it is offered).
#[test]
fn locked_rsa_keys_in_both_formats_sign_as_the_host_requires() {
    let mut sb = Sandbox::new();
    sb.secret("echo-rsa");
    sb.pin_host("127.0.0.1", peers().port());
    for (name, format) in [("rsa_openssh", "RFC4716"), ("rsa_pem", "PEM")] {
        let user = RemoteUser::bash();
        let key = sb.keygen(name, "rsa", &["-b", "2048", "-m", format], "echo-rsa");
        user.authorize_key(&key);
        if format == "PEM" {
            std::fs::remove_file(key.with_extension("pub")).unwrap();
        }
        let out = status_in_tty_with_only(&sb, &user, &key, "", "echo-rsa\n");
        assert_eq!(out.code, 0, "{name}: {out:?}");
        assert_eq!(
            out.stdout.matches("Enter passphrase").count(),
            1,
            "{name}: {out:?}"
        );
    }
}

#[test]
fn a_fleet_reached_with_one_locked_key_asks_for_its_passphrase_once() {
    let mut sb = Sandbox::new();
    let (a, b) = (RemoteUser::bash(), RemoteUser::bash());
    let locked = sb.keygen("fleet_key", "ed25519", &[], "delta");
    a.authorize_key(&locked);
    b.authorize_key(&locked);
    sb.pin_host("127.0.0.1", peers().port());
    let cfg = sb.ssh_config(&format!(
        "Host a b\n  HostName 127.0.0.1\n  Port {{port}}\n  IdentityFile {}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\nHost a\n  User {}\nHost b\n  User {}\n",
        locked.display(),
        a.name,
        b.name
    ));
    let key = logins::api_key("fleet-locked");
    sb.secret(&key);
    sb.secret("delta");
    let from = sb.write("in/auth.json", &logins::api_key_json(&key));
    let (cfg, from) = (cfg.to_str().unwrap(), from.to_str().unwrap());
    let args = [
        "push", "--ssh", "a", "--ssh", "b", "-F", cfg, "--from", from,
    ];
    let out = sb.run_in_tty(&args, "delta\n");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.matches("Enter passphrase").count(), 1, "{out:?}");
    assert!(a.auth_path().exists() && b.auth_path().exists(), "{out:?}");
}

#[test]
fn a_wrong_passphrase_is_asked_again_as_ssh_asks_then_named() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    let cfg = two_locked_keys(&sb, &user);
    // What is typed is never shown.
    sb.secret("alpha");
    sb.secret("bravo");
    let status = ["status", "--ssh", "t", "-F", cfg.to_str().unwrap()];
    let out = sb.run_in_tty(&status, "alpha\nalpha\nalpha\n");
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout.matches("Enter passphrase").count(), 1, "{out:?}");
    assert_eq!(
        out.stdout.matches("Bad passphrase, try again").count(),
        2,
        "{out:?}"
    );
    assert!(out.stdout.contains("second (wrong passphrase)"), "{out:?}");
    // A mistyped one, then the right one.
    let out = sb.run_in_tty(&status, "alpha\nbravo\n");
    assert_eq!(out.code, 0, "{out:?}");
    // An empty one skips the key without asking again.
    let out = sb.run_in_tty(&status, "\n");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(!out.stdout.contains("Bad passphrase"), "{out:?}");
    assert!(
        out.stdout.contains("second (no passphrase given)"),
        "{out:?}"
    );
    // NumberOfPasswordPrompts says how many tries, as for ssh.
    let once = [&status[..], &["-o", "NumberOfPasswordPrompts=1"]].concat();
    let out = sb.run_in_tty(&once, "alpha\nalpha\n");
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout.matches("Enter passphrase").count(), 1, "{out:?}");
    assert!(!out.stdout.contains("Bad passphrase"), "{out:?}");
    assert!(out.stdout.contains("second (wrong passphrase)"), "{out:?}");
    // ... and 0 asks nothing, as without a terminal: the key the host would take is named.
    let never = [&status[..], &["-o", "NumberOfPasswordPrompts=0"]].concat();
    let out = sb.run_in_tty(&never, "alpha\n");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(!out.stdout.contains("passphrase for"), "{out:?}");
    assert!(!out.stdout.contains("password:"), "{out:?}");
    assert!(
        out.stdout.contains("second (the host would take it)"),
        "{out:?}"
    );
}

/// A `.pub` beside a locked key that is the public half of another key: the host takes
/// the public key offered, the passphrase opens a key that is not it, and nothing is
/// signed with the wrong key; the report says why.
#[test]
fn a_pub_file_of_another_key_is_named_and_nothing_signed_with_it() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    sb.secret("foxtrot");
    let locked = sb.keygen("mislabelled", "ed25519", &[], "foxtrot");
    let other = sb.keygen("other", "ed25519", &[], "");
    user.authorize_key(&other);
    std::fs::copy(other.with_extension("pub"), locked.with_extension("pub")).unwrap();
    sb.pin_host("127.0.0.1", peers().port());
    let out = status_in_tty_with_only(
        &sb,
        &user,
        &locked,
        "  PasswordAuthentication no\n",
        "foxtrot\n",
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout.matches("Enter passphrase").count(), 1, "{out:?}");
    assert!(
        out.stdout
            .contains("mislabelled (its .pub is of another key)"),
        "{out:?}"
    );
}

#[test]
fn declining_an_unknown_host_key_at_the_terminal_touches_nothing() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.ssh_config(&format!(
        "Host t\n  HostName 127.0.0.1\n  Port {{port}}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n",
        user.name
    ));
    let key = logins::api_key("decline");
    sb.secret(&key);
    let from = sb.write("in/auth.json", &logins::api_key_json(&key));
    let out = sb.run_in_tty(
        &[
            "push",
            "--ssh",
            "t",
            "-F",
            cfg.to_str().unwrap(),
            "--from",
            from.to_str().unwrap(),
        ],
        "no\n",
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("you declined the key"), "{out:?}");
    assert!(!user.auth_path().exists());
    assert!(!sb.known_hosts().exists());
}

#[test]
fn human_table_and_quiet_output_are_exact() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("s", &user);
    let cfg = cfg.to_str().unwrap();
    let (out, key) = sb.push_key("table", &["--ssh", "s", "-F", cfg]);
    let path = user.auth_path().display().to_string();
    let w = path.len();
    out.code(0)
        .stdout_is(&format!(
            "TARGET  RESULT     {:<w$}  NOTE\ns       installed  {path}\n1 target: 1 installed\n",
            "PATH"
        ))
        .stderr_is("s: installed\n");
    sb.cmd(&["push", "--ssh", "s", "-F", cfg, "--api-key-stdin", "-q"])
        .stdin(&key)
        .out()
        .code(0)
        .stdout_is("1 target: 1 unchanged\n")
        .stderr_is("");
}

#[test]
fn a_codex_home_others_can_write_is_refused_with_nothing_written() {
    use std::os::unix::fs::PermissionsExt;
    let chmod = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("s", &user);
    let cfg = cfg.to_str().unwrap();
    let codex = user.home.join(".codex");
    user.write_owned(".codex/config.toml", "", 0o600);
    // A shared directory, not the user's, that anyone may write.
    let shared = std::path::PathBuf::from(format!("/srv/cxa-shared-{}", user.name));
    std::fs::create_dir_all(&shared).unwrap();
    chmod(&shared, 0o777);
    let shared_arg = shared.display().to_string();
    for (case, extra, unsafe_dir) in [
        ("world-writable home", vec![], codex.clone()),
        ("group-writable parent", vec![], user.home.clone()),
        (
            "shared directory",
            vec!["--codex-home", shared_arg.as_str()],
            shared.clone(),
        ),
    ] {
        match case {
            "world-writable home" => chmod(&codex, 0o777),
            "group-writable parent" => {
                chmod(&codex, 0o700);
                chmod(&user.home, 0o770)
            }
            _ => chmod(&user.home, 0o700),
        }
        let mut args = vec!["--ssh", "s", "-F", cfg, "--json"];
        args.extend(extra.iter().copied());
        let (out, _) = sb.push_key(&format!("unsafe{}", case.len()), &args);
        assert_eq!(out.code, 1, "{case}: {out:?}");
        let e = &out.json()["targets"][0]["error"];
        assert_eq!(e["class"], "unsafe-home", "{case}: {out:?}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with(&unsafe_dir.display().to_string()),
            "{case}: {out:?}"
        );
        for dir in [&codex, &shared] {
            let names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != "config.toml")
                .collect();
            assert!(names.is_empty(), "{case}: written: {names:?}");
        }
    }
    // A logout from an unsafe home touches nothing either.
    chmod(&user.home, 0o700);
    chmod(&codex, 0o700);
    let (out, key) = sb.push_key("unsafe-logout", &["--ssh", "s", "-F", cfg]);
    out.code(0);
    chmod(&codex, 0o777);
    let out = sb.run(&["logout", "--ssh", "s", "-F", cfg, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["places"][0]["error"]["class"], "unsafe-home");
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&key)
    );
    // Under a sticky directory (/tmp), a home of the user's own is fine.
    chmod(&codex, 0o700);
    let sticky = format!("/tmp/cxa-sticky-{}/codex", user.name);
    let (out, _) = sb.push_key(
        "sticky",
        &["--ssh", "s", "-F", cfg, "--codex-home", &sticky],
    );
    out.code(0);
    let _ = std::fs::remove_dir_all(std::path::Path::new(&sticky).parent().unwrap());
    let _ = std::fs::remove_dir_all(&shared);
}

#[test]
fn setenv_and_algorithm_lists_of_the_ssh_config_are_honoured() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("s", &user);
    let home = user.home.join("from-setenv");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text = text.replace(
        "Host s\n",
        &format!(
            "Host s\n  SetEnv CODEX_HOME={}\n  Ciphers aes128-ctr\n  MACs hmac-sha2-256-etm@openssh.com\n",
            home.display()
        ),
    );
    std::fs::write(&cfg, &text).unwrap();
    let cfg = cfg.to_str().unwrap();
    let (out, _) = sb.push_key("setenv", &["--ssh", "s", "-F", cfg, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["targets"][0]["home_from"], "env", "{out:?}");
    assert!(home.join("auth.json").exists());
    // A list that leaves nothing codex-auth speaks is said, not a failed handshake.
    std::fs::write(cfg, text.replace("Ciphers aes128-ctr", "Ciphers 3des-cbc")).unwrap();
    let (out, _) = sb.push_key("nocipher", &["--ssh", "s", "-F", cfg, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "config", "{out:?}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("none of the Ciphers"),
        "{out:?}"
    );
}

/// `status` of host `t` (`user` on the test sshd) at a terminal where `typed` is typed,
/// with `key` as the only identity, and the config lines `extra`.
fn status_in_tty_with_only(
    sb: &Sandbox,
    user: &RemoteUser,
    key: &std::path::Path,
    extra: &str,
    typed: &str,
) -> crate::harness::Out {
    let cfg = sb.ssh_config(&format!(
        "Host t\n  HostName 127.0.0.1\n  Port {{port}}\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n{extra}  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
        user.name,
        key.display()
    ));
    sb.run_in_tty(
        &["status", "--ssh", "t", "-F", cfg.to_str().unwrap()],
        typed,
    )
}
