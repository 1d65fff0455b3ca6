//! The life of a login across a fleet: logout (here only, or everywhere with
//! --revoke), moving a session instead of copying it, the ledger of where sessions
//! went, and addressing many targets (@FILE lists, Docker filters, Ansible inventories).

use crate::harness::{docker_peers, logins, peers, Codex, RemoteUser, Sandbox, TestContainer};
use crate::issuer::FakeIssuer;

/// A config with an alias per user (`NAME` = the user's name) on the loopback sshd.
fn fleet_config(sb: &Sandbox, users: &[&RemoteUser]) -> String {
    sb.pin_host("127.0.0.1", peers().port());
    let mut text = String::new();
    for u in users {
        u.authorize(sb);
        text.push_str(&format!(
            "Host {n}\n  HostName 127.0.0.1\n  Port {{port}}\n  User {n}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
            n = u.name
        ));
    }
    sb.ssh_config(&text).display().to_string()
}

fn with_docker(sb: &mut Sandbox) {
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().host().to_string()));
}

/// Progress names each place by its own line: this machine's line is its own, and each
/// host's result is shown under that host (it once showed a host's under `local`).
#[test]
fn logout_progress_names_every_place_by_its_own_result() {
    let mut sb = Sandbox::new();
    let (a, b) = (RemoteUser::bash(), RemoteUser::bash());
    let cfg = fleet_config(&sb, &[&a, &b]);
    let key = logins::api_key("lo-labels");
    sb.secret(&key);
    a.write_owned(".codex/auth.json", &logins::api_key_json(&key), 0o600);
    let here = sb.home().join("here");
    sb.env
        .push(("CODEX_HOME".into(), here.display().to_string()));
    let out = sb
        .run(&[
            "logout", "--local", "--ssh", &a.name, "--ssh", &b.name, "-F", &cfg,
        ])
        .code(0);
    let lines: Vec<&str> = out.stderr.lines().collect();
    for want in [
        "local: already logged out".to_string(),
        format!("{}: removed", a.name),
        format!("{}: already logged out", b.name),
    ] {
        assert!(lines.contains(&want.as_str()), "{want}: {out:?}");
    }
    assert_eq!(lines.len(), 3, "{out:?}");
}

#[test]
fn logout_takes_the_login_off_the_places_named_only() {
    let mut sb = Sandbox::new();
    let (a, b) = (RemoteUser::bash(), RemoteUser::bash());
    a.with_codex(Codex::Npm171);
    let cfg = fleet_config(&sb, &[&a, &b]);
    let key = logins::api_key("lo-key");
    sb.secret(&key);
    for u in [&a, &b] {
        u.write_owned(".codex/auth.json", &logins::api_key_json(&key), 0o600);
    }
    a.write_owned(".codex/auth.json.bak", &logins::api_key_json(&key), 0o600);
    // Dry run: says what would go, changes nothing.
    let out = sb
        .run(&[
            "logout",
            "--ssh",
            &a.name,
            "-F",
            &cfg,
            "--dry-run",
            "--json",
        ])
        .code(0);
    assert_eq!(
        out.json()["places"][0]["outcome"],
        "would-remove",
        "{out:?}"
    );
    // Only its fingerprint comes back: this machine never saw that login, so that is
    // all it can say of it.
    let sum = hex_sha256(logins::api_key_json(&key).as_bytes());
    assert_eq!(
        out.json()["places"][0]["removed_login"],
        serde_json::json!({ "fingerprint": sum }),
        "the dry run says what would go: {out:?}"
    );
    assert!(a.auth_path().exists());
    // Once a status has seen it there, the ledger names the account.
    sb.run(&["status", "--ssh", &a.name, "-F", &cfg]).code(0);
    // The real thing: a's login and backup go; b keeps its own; Codex on a says so.
    let out = sb
        .run(&["logout", "--ssh", &a.name, "-F", &cfg, "--json"])
        .code(0);
    let p = &out.json()["places"][0];
    assert_eq!(p["outcome"], "removed", "{out:?}");
    assert_eq!(p["removed_login"]["api_key"], "sk-test-***00000", "{out:?}");
    assert_eq!(p["removed_login"]["fingerprint"], sum.as_str(), "{out:?}");
    assert!(
        p["codex_status"]
            .as_str()
            .unwrap()
            .contains("Not logged in"),
        "{out:?}"
    );
    assert!(!a.auth_path().exists());
    assert!(!a.home.join(".codex/auth.json.bak").exists());
    // The login set aside to send it back is gone too.
    let left: Vec<String> = std::fs::read_dir(a.home.join(".codex"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".auth"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(b.auth_path().exists(), "another place was touched");
    assert_eq!(out.json()["revocations"].as_array().unwrap().len(), 0);
    // Again: already logged out, exit 0.
    let out = sb.run(&["logout", "--ssh", &a.name, "-F", &cfg]).code(0);
    assert!(out.stdout.contains("already logged out"), "{out:?}");
    // --keep-backup keeps it; a symlink at the path is removed, its target untouched.
    b.write_owned(".codex/auth.json.bak", "{}", 0o600);
    b.write_owned("elsewhere.json", "keep me", 0o600);
    std::fs::remove_file(b.auth_path()).unwrap();
    std::os::unix::fs::symlink(b.home.join("elsewhere.json"), b.auth_path()).unwrap();
    sb.run(&["logout", "--ssh", &b.name, "-F", &cfg, "--keep-backup"])
        .code(0);
    assert!(std::fs::symlink_metadata(b.auth_path()).is_err());
    assert_eq!(
        std::fs::read_to_string(b.home.join("elsewhere.json")).unwrap(),
        "keep me"
    );
    assert!(b.home.join(".codex/auth.json.bak").exists());

    // This machine, by default.
    let home = sb.home().join("codex-here");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("auth.json"), logins::api_key_json(&key)).unwrap();
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    let out = sb.run(&["logout"]).code(0);
    assert!(out.stdout.contains("local"), "{out:?}");
    assert!(!home.join("auth.json").exists());

    // Containers: a running one like a host; a stopped one cannot be changed (exit 1).
    with_docker(&mut sb);
    let running = TestContainer::new("BUSYBOX_ROOT", &[], true);
    sb.push_key("lo-docker", &["--docker", &running.name])
        .0
        .code(0);
    sb.run(&["logout", "--docker", &running.name]).code(0);
    assert!(running.file("/root/.codex/auth.json").is_none());
    let stopped = TestContainer::new("BUSYBOX_ROOT", &[], false);
    sb.push_key("lo-stopped", &["--docker", &stopped.name])
        .0
        .code(0);
    let out = sb
        .run(&["logout", "--docker", &stopped.name, "--json"])
        .code(1);
    assert_eq!(
        out.json()["places"][0]["error"]["class"],
        "not-running",
        "{out:?}"
    );
    assert!(stopped.file("/root/.codex/auth.json").is_some());
}

#[test]
fn logout_revoke_ends_the_session_once_and_names_every_holder() {
    let issuer = FakeIssuer::start();
    let mut sb = Sandbox::new();
    let (a, b, c) = (RemoteUser::bash(), RemoteUser::bash(), RemoteUser::bash());
    let cfg = fleet_config(&sb, &[&a, &b, &c]);
    let (json, refresh) = issuer.login_json();
    sb.secret(&refresh);
    let file = sb.write("in/auth.json", &json);
    let file = file.to_str().unwrap();
    // One session on three hosts (the ledger remembers them all).
    let out = sb.run(&[
        "push", "--ssh", &a.name, "--ssh", &b.name, "--ssh", &c.name, "-F", &cfg, "--from", file,
        "--share",
    ]);
    out.code(0);
    // A second push of it says where it already is.
    let out = sb
        .run(&["push", "--ssh", &a.name, "-F", &cfg, "--from", file])
        .code(0);
    // (The places are listed by name: which comes first depends on the test counter.)
    let also = out
        .stderr
        .lines()
        .find(|l| l.contains("this ChatGPT session is also on "))
        .unwrap_or_default();
    for holder in [&b.name, &c.name] {
        assert!(also.contains(&format!("{holder} (pushed ")), "{out:?}");
    }
    // Logging out a and b with --revoke: one revocation, naming c (remembered).
    let out = sb.run(&[
        "logout",
        "--ssh",
        &a.name,
        "--ssh",
        &b.name,
        "-F",
        &cfg,
        "--revoke",
        "--issuer",
        &issuer.base,
        "--json",
    ]);
    let out = out.code(0);
    let doc = out.json();
    let revs = doc["revocations"].as_array().unwrap();
    assert_eq!(revs.len(), 1, "{out:?}");
    assert_eq!(revs[0]["result"], "revoked");
    assert_eq!(revs[0]["issuer"], issuer.base);
    assert!(
        revs[0]["also_signed_out"].to_string().contains(&c.name),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains(&format!("this also signs out {}", c.name)),
        "{out:?}"
    );
    let bodies = issuer.bodies();
    let revoke: Vec<serde_json::Value> = bodies
        .iter()
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .filter(|v| v["token_type_hint"] == "refresh_token")
        .collect();
    assert_eq!(revoke.len(), 1, "{bodies:?}");
    assert_eq!(revoke[0]["token"], refresh);
    assert_eq!(revoke[0]["client_id"], crate::issuer::CLIENT_ID);
    assert!(!a.auth_path().exists() && !b.auth_path().exists());
    assert!(
        c.auth_path().exists(),
        "only the places named lose the file"
    );

    // API keys are removed, never revoked.
    let out = sb
        .push_key("rev-key", &["--ssh", &a.name, "-F", &cfg])
        .0
        .code(0);
    drop(out);
    let out = sb
        .run(&["logout", "--ssh", &a.name, "-F", &cfg, "--revoke"])
        .code(0);
    assert!(out.stdout.contains("not revoked"), "{out:?}");
    assert!(
        out.stdout.contains("platform.openai.com/api-keys"),
        "{out:?}"
    );
}

#[test]
fn a_login_naming_a_foreign_issuer_is_not_revoked_there_and_says_so() {
    // The issuer this machine trusts, and one a compromised target names in its file.
    let trusted = FakeIssuer::start();
    let foreign = FakeIssuer::start();
    let mut sb = Sandbox::new();
    let a = RemoteUser::bash();
    let cfg = fleet_config(&sb, &[&a]);
    let (json, refresh) = foreign.login_json();
    sb.secret(&refresh);
    a.write_owned(".codex/auth.json", &json, 0o600);
    let out = sb.run(&[
        "logout",
        "--ssh",
        &a.name,
        "-F",
        &cfg,
        "--revoke",
        "--issuer",
        &trusted.base,
        "--json",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    let doc = out.json();
    let rev = &doc["revocations"][0];
    assert_eq!(rev["issuer"], trusted.base, "{out:?}");
    assert!(
        rev["error"].to_string().contains("names another issuer"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("revoking"), "{out:?}");
    for issuer in [&trusted, &foreign] {
        assert!(
            !issuer.bodies().iter().any(|b| b.contains(&refresh)),
            "the refresh token was sent to an issuer"
        );
    }
    // The file is still removed: a logout is local first.
    assert!(!a.auth_path().exists());
}

#[test]
fn a_session_moves_between_containers_hosts_and_this_machine() {
    let mut sb = Sandbox::new();
    with_docker(&mut sb);
    let (json, refresh) = logins::chatgpt_json("move");
    sb.secret(&refresh);
    let file = sb.write("in/auth.json", &json);
    // Container to container: the new one holds it, the old one no longer does.
    let v1 = TestContainer::new(Codex::Npm171.image(), &[], true);
    let v2 = TestContainer::new(Codex::Npm171.image(), &[], true);
    sb.run(&[
        "push",
        "--docker",
        &v1.name,
        "--from",
        file.to_str().unwrap(),
    ])
    .code(0);
    let out = sb
        .run(&[
            "push",
            "--docker",
            &v2.name,
            "--from",
            &format!("docker:{}", v1.name),
            "--move",
            "--json",
        ])
        .code(0);
    let doc = out.json();
    assert_eq!(doc["moved_from"]["removed"], true, "{out:?}");
    assert_eq!(doc["targets"][0]["codex"]["verdict"], "accepted", "{out:?}");
    assert!(
        !out.stderr.contains("share one ChatGPT session"),
        "a move shares nothing: {out:?}"
    );
    assert_eq!(v2.file("/root/.codex/auth.json").unwrap().0, json);
    assert!(v1.file("/root/.codex/auth.json").is_none());

    // Host to host, then host to this machine.
    let (a, b) = (RemoteUser::bash(), RemoteUser::bash());
    let cfg = fleet_config(&sb, &[&a, &b]);
    a.write_owned(".codex/auth.json", &json, 0o600);
    sb.run(&[
        "push",
        "--ssh",
        &b.name,
        "-F",
        &cfg,
        "--from",
        &format!("ssh:{}", a.name),
        "--move",
    ])
    .code(0);
    assert!(!a.auth_path().exists());
    assert_eq!(std::fs::read_to_string(b.auth_path()).unwrap(), json);
    let here = sb.home().join("codex-here");
    sb.env
        .push(("CODEX_HOME".into(), here.display().to_string()));
    let out = sb
        .run(&[
            "push",
            "--local",
            "-F",
            &cfg,
            "--from",
            &format!("ssh:{}", b.name),
            "--move",
            "--json",
        ])
        .code(0);
    assert_eq!(out.json()["targets"][0]["target"], "local", "{out:?}");
    assert_eq!(
        std::fs::read_to_string(here.join("auth.json")).unwrap(),
        json
    );
    assert!(!b.auth_path().exists());

    // A destination that does not take it: the source keeps its login.
    let c = RemoteUser::bash();
    let cfg = fleet_config(&sb, &[&a, &b, &c]);
    a.write_owned(".codex/auth.json", &json, 0o600);
    c.write_owned(
        ".codex/config.toml",
        "cli_auth_credentials_store = \"keyring\"\n",
        0o600,
    );
    let out = sb
        .run(&[
            "push",
            "--ssh",
            &c.name,
            "-F",
            &cfg,
            "--from",
            &format!("ssh:{}", a.name),
            "--move",
        ])
        .code(1);
    assert!(out.stdout.contains("NOT moved"), "{out:?}");
    assert!(a.auth_path().exists(), "the source lost its login");
    // Nothing at the source: exit 2, nothing touched.
    let out = sb
        .run(&[
            "push",
            "--ssh",
            &c.name,
            "-F",
            &cfg,
            "--from",
            &format!("ssh:{}", b.name),
        ])
        .code(2);
    assert!(out.stderr.contains("holds no login"), "{out:?}");
}

#[test]
fn the_ledger_remembers_and_status_known_checks_every_place() {
    let mut sb = Sandbox::new();
    let (a, b) = (RemoteUser::bash(), RemoteUser::bash());
    let cfg = fleet_config(&sb, &[&a, &b]);
    let (json, refresh) = logins::chatgpt_json("ledger");
    sb.secret(&refresh);
    let file = sb.write("in/auth.json", &json);
    sb.run(&[
        "push",
        "--ssh",
        &a.name,
        "--ssh",
        &b.name,
        "-F",
        &cfg,
        "--from",
        file.to_str().unwrap(),
        "--share",
    ])
    .code(0);
    let ledger = sb.home().join(".local/state/codex-auth/ledger.json");
    let text = std::fs::read_to_string(&ledger).unwrap();
    assert!(!text.contains(&refresh), "no secret in the ledger");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&ledger).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // b gets another login behind our back; status --known (no target named) finds out.
    b.write_owned(
        ".codex/auth.json",
        &logins::api_key_json(&logins::api_key("other")),
        0o600,
    );
    let out = sb.run(&["status", "--known", "-F", &cfg, "--json"]).code(0);
    let places = out.json()["places"].as_array().unwrap().clone();
    assert_eq!(places.len(), 3, "local and the two remembered: {out:?}");
    let bp = places
        .iter()
        .find(|p| p["target"] == b.name.as_str())
        .unwrap();
    assert!(
        bp["notes"]
            .to_string()
            .contains("LEDGER: holds another login"),
        "{out:?}"
    );
    // --forget drops one; a damaged ledger is a warning, never fatal.
    sb.run(&["status", "--forget", &a.name]).code(0);
    sb.run(&["status", "--forget", &a.name]).code(2);
    std::fs::write(&ledger, "{ damaged").unwrap();
    let out = sb.run(&["status", "--ssh", &b.name, "-F", &cfg]).code(0);
    assert!(out.stderr.contains("is damaged"), "{out:?}");
    assert!(std::fs::read_to_string(&ledger).unwrap().contains(&b.name));
}

#[test]
fn a_fleet_from_lists_filters_and_an_ansible_inventory() {
    let mut sb = Sandbox::new();
    let users: Vec<RemoteUser> = (0..3).map(|_| RemoteUser::bash()).collect();
    let refs: Vec<&RemoteUser> = users.iter().collect();
    let cfg = fleet_config(&sb, &refs);
    // @FILE, comments and blank lines skipped; @- from stdin.
    let list = sb.write(
        "hosts.txt",
        &format!(
            "# the fleet\n{}\n\n{}  # second\n",
            users[0].name, users[1].name
        ),
    );
    let (out, key) = sb.push_key(
        "list",
        &[
            "--ssh",
            &format!("@{}", list.display()),
            "-F",
            &cfg,
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["summary"]["ok"], 2);
    assert_eq!(
        std::fs::read_to_string(users[1].auth_path()).unwrap(),
        logins::api_key_json(&key)
    );
    let out = sb
        .cmd(&["status", "--ssh", "@-", "-F", &cfg, "--json"])
        .stdin(format!("{}\n", users[2].name))
        .out();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["places"].as_array().unwrap().len(), 2);
    let out = sb.run(&[
        "status",
        "--ssh",
        &format!("@{}", sb.write("empty", "# none\n").display()),
    ]);
    assert_eq!(out.code, 2, "{out:?}");

    // An Ansible inventory (INI), with ansible_host/user/port/key per host; --limit.
    let key_path = sb.key_path();
    let inventory = sb.write(
        "inventory.ini",
        &format!(
            "[web]\nweb1 ansible_host=127.0.0.1 ansible_port={p} ansible_user={u0} ansible_ssh_private_key_file={k}\nweb2 ansible_host=127.0.0.1 ansible_port={p} ansible_user={u1} ansible_ssh_private_key_file={k}\n[db]\ndb1 ansible_host=127.0.0.1 ansible_port={p} ansible_user={u2} ansible_ssh_private_key_file={k}\n",
            p = peers().port(),
            u0 = users[0].name,
            u1 = users[1].name,
            u2 = users[2].name,
            k = key_path.display()
        ),
    );
    let ansible_path = format!(
        "{}:{}",
        peers().get("PEER_ANSIBLE_BIN_DIR"),
        std::env::var("PATH").unwrap_or_default()
    );
    sb.env.push(("PATH".into(), ansible_path));
    let inv = inventory.to_str().unwrap();
    let kh = format!("UserKnownHostsFile={}", sb.known_hosts().display());
    let (out, key) = sb.push_key(
        "inventory",
        &["--inventory", inv, "--limit", "web", "-o", &kh, "--json"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let names: Vec<String> = out.json()["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["web1", "web2"]);
    assert_eq!(
        std::fs::read_to_string(users[0].auth_path()).unwrap(),
        logins::api_key_json(&key)
    );
    assert_ne!(
        std::fs::read_to_string(users[2].auth_path()).ok(),
        Some(logins::api_key_json(&key)),
        "db1 is outside the limit"
    );
    let empty = sb.write("empty.ini", "# no hosts\n");
    let out = sb.run(&["status", "--inventory", empty.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("has no hosts"), "{out:?}");
    let out = sb.run(&["status", "--inventory", inv, "--limit", "nosuchgroup"]);
    assert_eq!(out.code, 2, "{out:?}");

    // Every container of a Compose-like project, by label.
    with_docker(&mut sb);
    let project = format!("cxaproj{}", std::process::id());
    let label = format!("com.docker.compose.project={project}");
    let c1 = TestContainer::new("BUSYBOX_ROOT", &["--label", &label], true);
    let c2 = TestContainer::new("BUSYBOX_ROOT", &["--label", &label], true);
    let _other = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let (out, _) = sb.push_key(
        "filter",
        &["--docker-filter", &format!("label={label}"), "--json"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let mut got: Vec<String> = out.json()["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want = vec![c1.name.clone(), c2.name.clone()];
    want.sort();
    assert_eq!(got, want);
    let out = sb.run(&["status", "--docker-filter", "label=no.such.label=1"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no container matches"), "{out:?}");
}

#[test]
fn many_device_sign_ins_at_once_each_installed_as_its_code_is_approved() {
    let issuer = crate::issuer::FakeIssuer::start();
    // Pending until all three codes were asked for: a one-at-a-time push would wait
    // for ever on the first; then approved newest first.
    issuer.device_mode(crate::issuer::DeviceMode::ApproveReversed { after: 3 });
    let sb = Sandbox::new();
    let users: Vec<RemoteUser> = (0..3).map(|_| RemoteUser::bash()).collect();
    for u in &users {
        u.with_codex(Codex::Npm171);
    }
    let refs: Vec<&RemoteUser> = users.iter().collect();
    let cfg = fleet_config(&sb, &refs);
    let mut args: Vec<String> = vec!["push".into()];
    for u in &users {
        args.extend(["--ssh".into(), u.name.clone()]);
    }
    args.extend([
        "-F".into(),
        cfg.clone(),
        "--login".into(),
        "--device-auth".into(),
        "--json".into(),
    ]);
    args.extend(issuer.args());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = sb.cmd(&argv).spawn();
    let out = sb.wait(run, &issuer.issued()).code(0);
    let doc = out.json();
    for (t, u) in doc["targets"].as_array().unwrap().iter().zip(&users) {
        assert_eq!(t["target"], u.name.as_str(), "{out:?}");
        assert_eq!(t["outcome"], "installed", "{out:?}");
        assert_eq!(t["codex"]["verdict"], "accepted", "{out:?}");
    }
    // One URL, one line per target with its own code.
    assert_eq!(out.stderr.matches("/codex/device").count(), 1, "{out:?}");
    for u in &users {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains("ABCD-") && l.trim_end().ends_with(&u.name)),
            "{}: {out:?}",
            u.name
        );
    }
    // Approved out of order (newest first), and three separate sessions.
    let approved: Vec<usize> = issuer
        .approved()
        .iter()
        .map(|id| id.trim_start_matches("dev-").parse().unwrap())
        .collect();
    assert_eq!(approved.len(), 3);
    let mut sorted = approved.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(approved, sorted, "approved newest first");
    let files: std::collections::HashSet<String> = users
        .iter()
        .map(|u| std::fs::read_to_string(u.auth_path()).unwrap())
        .collect();
    assert_eq!(files.len(), 3, "one session per target");
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
