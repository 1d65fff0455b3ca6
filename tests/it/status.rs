//! `status` against the real peers: local, ssh and docker places, shared sessions,
//! keyring stores, failures, and no token in any output.

use crate::harness::{docker_peers, logins, Codex, RemoteUser, Sandbox, TestContainer};

/// Register every token of a ChatGPT auth.json as a secret of the sandbox.
fn chatgpt(sb: &mut Sandbox, tag: &str) -> String {
    let (json, refresh) = logins::chatgpt_json(tag);
    sb.secret(&refresh);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for t in ["id_token", "access_token"] {
        sb.secret(v["tokens"][t].as_str().unwrap());
    }
    json
}

#[test]
fn status_everywhere_with_shared_sessions_and_keyring_store() {
    let mut sb = Sandbox::new();
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().host().to_string()));
    let shared = chatgpt(&mut sb, "shared");
    let other = chatgpt(&mut sb, "other");
    let key = logins::api_key("status");
    sb.secret(&key);

    // Local login: the shared session.
    let local_home = sb.home().join("local-codex");
    sb.write("local-codex/auth.json", &shared);
    sb.env
        .push(("CODEX_HOME".into(), local_home.display().to_string()));

    // ssh: one with the shared session, one with its own, one keyring-configured, one empty.
    let (u_shared, u_other, u_keyring, u_empty) = (
        RemoteUser::bash(),
        RemoteUser::bash(),
        RemoteUser::bash(),
        RemoteUser::bash(),
    );
    for u in [&u_shared, &u_other, &u_keyring, &u_empty] {
        u.authorize(&sb);
    }
    u_shared.write_owned(".codex/auth.json", &shared, 0o600);
    u_other.write_owned(".codex/auth.json", &other, 0o600);
    u_keyring.write_owned(
        ".codex/config.toml",
        "cli_auth_credentials_store = \"keyring\"\n",
        0o600,
    );
    sb.alias("s-shared", &u_shared);
    sb.alias("s-other", &u_other);
    sb.alias("s-keyring", &u_keyring);
    let cfg = sb.alias("s-empty", &u_empty);
    let before = std::fs::metadata(u_shared.auth_path())
        .unwrap()
        .modified()
        .unwrap();

    // docker: a running container with the shared session, a shell-less one with a key.
    let running = TestContainer::new("BUSYBOX_ROOT", &[], true);
    running.exec(&["mkdir", "-p", "/root/.codex"]);
    running.copy_in(
        &sb.home().join("local-codex/auth.json"),
        "/root/.codex/auth.json",
    );
    let noshell = TestContainer::new("NOSHELL", &[], true);
    let keyfile = sb.write("k/.codex/auth.json", &logins::api_key_json(&key));
    noshell.copy_in(keyfile.parent().unwrap(), "/root/");

    let args = [
        "status",
        "--ssh",
        "s-shared",
        "--ssh",
        "s-other",
        "--ssh",
        "s-keyring",
        "--ssh",
        "s-empty",
        "--docker",
        &running.name,
        "--docker",
        &noshell.name,
        "--docker-user",
        "root",
        "-F",
        cfg.to_str().unwrap(),
        "--json",
    ];
    let out = sb.run(&args);
    assert_eq!(out.code, 0, "{out:?}");
    let doc = out.json();
    let places = doc["places"].as_array().unwrap();
    let by = |name: &str| {
        places
            .iter()
            .find(|p| p["target"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {out:?}"))
    };
    let local = by("local");
    assert_eq!(local["state"], "logged-in");
    assert_eq!(local["login"]["email"], "shared@example.test");
    let mut with: Vec<&str> = local["shared_with"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    with.sort();
    let docker_name = format!("docker:{}", running.name);
    let mut want = vec!["s-shared", docker_name.as_str()];
    want.sort();
    assert_eq!(with, want, "{out:?}");
    assert!(by("s-other").get("shared_with").is_none());
    assert_eq!(by("s-other")["login"]["plan"], "pro");
    assert_eq!(by("s-keyring")["credential_store"], "keyring");
    assert_eq!(by("s-keyring")["state"], "not-logged-in");
    assert_eq!(by("s-empty")["state"], "not-logged-in");
    let ns = by(&noshell.name);
    assert_eq!(ns["kind"], "docker");
    assert_eq!(ns["state"], "logged-in", "{out:?}");
    assert_eq!(ns["login"]["api_key"], "sk-test-***00000");
    // Read only: nothing changed.
    assert_eq!(
        std::fs::metadata(u_shared.auth_path())
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    assert!(!u_empty.home.join(".codex").exists());

    // The human table warns about the shared session.
    let human: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let out = sb.run(&human);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("hold one ChatGPT session"), "{out:?}");
    assert!(out.stdout.contains("keyring credential store"), "{out:?}");
}

#[test]
fn status_of_nothing_is_not_a_failure_but_unreachable_is() {
    let sb = Sandbox::new();
    let out = sb.run(&["status", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["places"][0]["state"], "not-logged-in");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = sb.run(&["status", "--ssh", &format!("u@127.0.0.1:{port}"), "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["places"][1]["error"]["class"], "refused");
}

#[test]
fn status_reports_an_invalid_file() {
    let sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    user.write_owned(".codex/auth.json", "{\"auth_mode\": \"bogus\"}", 0o600);
    let cfg = sb.alias("s", &user);
    let out = sb.status_json("s", &cfg);
    assert_eq!(out.code, 0, "{out:?}");
    let p = &out.json()["places"][1];
    assert_eq!(p["state"], "invalid");
    assert!(p["invalid_reason"]
        .as_str()
        .unwrap()
        .contains("unknown auth_mode"));
}

#[test]
fn status_with_codex_on_the_host_leaves_its_home_untouched() {
    for codex in Codex::BOTH {
        let mut sb = Sandbox::new();
        let user = RemoteUser::bash();
        user.authorize(&sb).with_codex(codex);
        let key = logins::api_key("untouched");
        sb.secret(&key);
        user.write_owned(".codex/auth.json", &logins::api_key_json(&key), 0o600);
        let cfg = sb.alias("s", &user);
        let out = sb.status_json("s", &cfg);
        assert_eq!(out.code, 0, "{out:?}");
        let p = &out.json()["places"][1];
        assert_eq!(
            p["codex_status"],
            codex.api_key_line("sk-test-***00000"),
            "{out:?}"
        );
        assert_eq!(p["codex"]["verdict"], "accepted", "{out:?}");
        assert_eq!(p["codex"]["version"], codex.version(), "{out:?}");
        let names: Vec<String> = std::fs::read_dir(user.home.join(".codex"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            vec!["auth.json".to_string()],
            "status wrote into the Codex home"
        );
    }
}

#[test]
fn human_status_table_is_exact() {
    let mut sb = Sandbox::new();
    // No codex on this PATH: the CODEX column says so with "-".
    sb.env.push(("PATH".into(), "/usr/bin:/bin".into()));
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let key = logins::api_key("table");
    sb.secret(&key);
    user.write_owned(".codex/auth.json", &logins::api_key_json(&key), 0o600);
    let cfg = sb.alias("s", &user);
    let local = format!("{}/.codex/auth.json", sb.home().display());
    sb.run(&["status", "--ssh", "s", "-F", cfg.to_str().unwrap()])
        .code(0)
        .stdout_is(&format!(
            "PLACE  LOGIN   STORE  CODEX  DETAIL\nlocal  none    file   -      not logged in [{local}]\ns      apikey  file   -      sk-test-***00000\n"
        ));
}

#[test]
fn a_hosts_control_sequences_are_shown_as_text_never_sent_to_the_terminal() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let key = logins::api_key("ctl");
    sb.secret(&key);
    user.write_owned(".codex/auth.json", &logins::api_key_json(&key), 0o600);
    // A host whose codex answers with OSC 52 (write the clipboard), erase-line, a
    // carriage return and CSI as its one-byte C1 form.
    user.write_owned(
        "bin/codex",
        "#!/bin/sh\nprintf 'Logged in using an API key\\033]52;c;ZXZpbA==\\007\\033[2K\\r\\302\\2331A\\n' >&2\n",
        0o755,
    );
    user.set_environment(&[(
        "PATH",
        &format!("{}/bin:/usr/bin:/bin", user.home.display()),
    )]);
    let cfg = sb.alias("s", &user);
    for json in [false, true] {
        let mut args = vec!["status", "--ssh", "s", "-F", cfg.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let out = sb.run(&args);
        assert_eq!(out.code, 0, "{out:?}");
        let raw = out.all();
        assert!(
            !raw.chars().any(|c| c.is_control() && c != '\n'),
            "a control character reached the terminal: {raw:?}"
        );
        if json {
            let line = out.json()["places"][1]["codex_status"].clone();
            assert!(line.as_str().unwrap().contains("\u{1b}]52"), "{line}");
        } else {
            assert!(out.stdout.contains("\\u001b]52;c;"), "{out:?}");
        }
    }
}

#[test]
fn status_reports_a_temp_file_left_beside_the_login_and_touches_it_not() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let key = logins::api_key("leftover");
    sb.secret(&key);
    user.write_owned(".codex/auth.json", &logins::api_key_json(&key), 0o600);
    // What a push killed with SIGKILL (its script too) would leave.
    user.write_owned(
        ".codex/.auth.json.99999.aBcDeFgHiJ",
        &logins::api_key_json(&key),
        0o600,
    );
    let cfg = sb.alias("s", &user);
    let out = sb.status_json("s", &cfg);
    assert_eq!(out.code, 0, "{out:?}");
    let notes = out.json()["places"][1]["notes"].to_string();
    assert!(
        notes.contains(".auth.json.99999.aBcDeFgHiJ may hold a copy of a login"),
        "{out:?}"
    );
    assert!(user
        .home
        .join(".codex/.auth.json.99999.aBcDeFgHiJ")
        .exists());
}
