//! `push --docker` against a real dockerd (and podman's API socket), images built
//! locally by scripts/docker-peers.sh.

use crate::harness::{docker_peers, logins, Codex, RemoteUser, Sandbox, TestContainer};

fn sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().host().to_string()));
    sb
}

#[test]
fn running_root_container_gets_an_atomic_install() {
    let mut sb = sandbox();
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let (out, key) = sb.push_key("droot", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let t = &out.json()["targets"][0];
    assert_eq!(t["kind"], "docker");
    assert_eq!(t["outcome"], "installed");
    assert_eq!(t["path"], "/root/.codex/auth.json");
    assert_eq!(t["dir_mode"], "drwx------");
    assert!(
        !t["notes"].to_string().contains("through the Docker API"),
        "fast path expected: {out:?}"
    );
    let (content, mode, uid) = c.file("/root/.codex/auth.json").unwrap();
    assert_eq!(content, logins::api_key_json(&key));
    assert_eq!((mode, uid), (0o600, 0));
    // Second push: unchanged, nothing written.
    let out = sb.run_with_stdin(
        &["push", "--docker", &c.name, "--api-key-stdin", "--json"],
        &key,
    );
    assert_eq!(out.json()["targets"][0]["outcome"], "unchanged", "{out:?}");
}

#[test]
fn user_1000_home_comes_from_the_containers_passwd() {
    let mut sb = sandbox();
    let c = TestContainer::new("USER1000", &[], true);
    let (out, _) = sb.push_key("d1000", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.json()["targets"][0]["path"],
        "/home/app/.codex/auth.json"
    );
    let (_, mode, uid) = c.file("/home/app/.codex/auth.json").unwrap();
    assert_eq!((mode, uid), (0o600, 1000));
    let dir = c.exec(&["stat", "-c", "%a %u", "/home/app/.codex"]);
    assert_eq!(dir, "700 1000");
}

#[test]
fn docker_user_and_codex_home_flags() {
    let mut sb = sandbox();
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let (out, _) = sb.push_key(
        "dnode",
        &[
            "--docker",
            &c.name,
            "--docker-user",
            "node",
            "--codex-home",
            "/tmp/ws/.codex",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["targets"][0]["user"], "node");
    let (_, mode, uid) = c.file("/tmp/ws/.codex/auth.json").unwrap();
    assert_eq!((mode, uid), (0o600, 1001));
}

#[test]
fn shell_less_container_is_written_through_the_archive_api() {
    let mut sb = sandbox();
    let c = TestContainer::new("NOSHELL", &[], true);
    let (out, key) = sb.push_key(
        "dnosh",
        &["--docker", &c.name, "--docker-user", "app", "--json"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let t = &out.json()["targets"][0];
    assert_eq!(t["outcome"], "installed");
    assert_eq!(t["verified"], true);
    assert!(
        t["notes"][0].as_str().unwrap().contains("no shell"),
        "{out:?}"
    );
    assert!(
        t["notes"][0]
            .as_str()
            .unwrap()
            .contains("without Codex's locks"),
        "{out:?}"
    );
    let (content, mode, uid) = c.file("/home/app/.codex/auth.json").unwrap();
    assert_eq!(content, logins::api_key_json(&key));
    assert_eq!((mode, uid), (0o600, 1000));
    let (_, dmode, duid) = c.file("/home/app/.codex").unwrap();
    assert_eq!((dmode, duid), (0o700, 1000));
    // A different login: the old one is kept as .bak.
    let (out, _) = sb.push_key(
        "dnosh2",
        &["--docker", &c.name, "--docker-user", "app", "--json"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let (bak, bmode, _) = c.file("/home/app/.codex/auth.json.bak").unwrap();
    assert_eq!(bak, logins::api_key_json(&key));
    assert_eq!(bmode, 0o600);
}

#[test]
fn a_codex_home_others_can_write_is_refused_through_the_archive_api_too() {
    use std::os::unix::fs::PermissionsExt;
    let mut sb = sandbox();
    let c = TestContainer::new("USER1000", &[], false);
    // docker cp makes root the owner: /srv/open is anyone's to write, /srv/sticky too,
    // but sticky (as /tmp).
    let local = sb.dir.path().join("srv");
    for (name, mode) in [("open", 0o777), ("sticky", 0o1777)] {
        let d = local.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    c.copy_in(&local, "/");
    let (out, _) = sb.push_key(
        "darch-open",
        &["--docker", &c.name, "--codex-home", "/srv/open", "--json"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "unsafe-home", "{out:?}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("/srv/open (owner uid 0, mode 0777)"),
        "{out:?}"
    );
    assert!(c.file("/srv/open/auth.json").is_none(), "written: {out:?}");
    // A Codex home of the user's own below a sticky directory is fine.
    let (out, _) = sb.push_key(
        "darch-sticky",
        &[
            "--docker",
            &c.name,
            "--codex-home",
            "/srv/sticky/codex",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let (_, mode, uid) = c.file("/srv/sticky/codex/auth.json").unwrap();
    assert_eq!((mode, uid), (0o600, 1000));
}

#[test]
fn stopped_container_is_written_and_sees_it_when_started() {
    let mut sb = sandbox();
    let c = TestContainer::new("USER1000", &[], false);
    let (out, key) = sb.push_key("dstop", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.json()["targets"][0]["notes"][0]
        .as_str()
        .unwrap()
        .contains("not running"));
    c.start();
    assert_eq!(
        c.exec(&["cat", "/home/app/.codex/auth.json"]),
        logins::api_key_json(&key)
    );
    assert_eq!(
        c.exec(&["stat", "-c", "%a %u", "/home/app/.codex/auth.json"]),
        "600 1000"
    );
}

#[test]
fn tmpfs_home_is_reported_not_silently_lost() {
    let mut sb = sandbox();
    let tmpfs = ["--tmpfs", "/home/app:uid=1000,gid=1000,mode=0755"];
    // Running with a shell: written inside the container (visible), with a warning.
    let running = TestContainer::new("USER1000", &tmpfs, true);
    let (out, _) = sb.push_key("dtmp", &["--docker", &running.name, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.json()["targets"][0]["notes"]
            .to_string()
            .contains("is a tmpfs mount"),
        "{out:?}"
    );
    assert!(running
        .exec(&["cat", "/home/app/.codex/auth.json"])
        .contains("apikey"));
    // Stopped: the archive API would write below the mount: refused.
    let stopped = TestContainer::new("USER1000", &tmpfs, false);
    let (out, _) = sb.push_key("dtmp2", &["--docker", &stopped.name, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["targets"][0]["error"]["class"], "tmpfs");
}

#[test]
fn read_only_root_is_a_clear_error() {
    let mut sb = sandbox();
    let c = TestContainer::new("BUSYBOX_ROOT", &["--read-only"], true);
    let (out, _) = sb.push_key("dro", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "read-only", "{out:?}");
    assert!(e["hint"].as_str().unwrap().contains("--codex-home"));
    // Stopped read-only container: the archive API refuses too.
    let stopped = TestContainer::new("BUSYBOX_ROOT", &["--read-only"], false);
    let (out, _) = sb.push_key("dro2", &["--docker", &stopped.name, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "read-only",
        "{out:?}"
    );
}

#[test]
fn codex_inside_the_container_judges_the_install() {
    for codex in Codex::BOTH {
        let mut sb = sandbox();
        let c = TestContainer::new(codex.image(), &[], true);
        let (out, _) = sb.push_key("dcodex", &["--docker", &c.name, "--json"]);
        assert_eq!(out.code, 0, "{out:?}");
        let t = &out.json()["targets"][0];
        assert_eq!(
            t["codex_status"],
            codex.api_key_line("sk-test-***00000"),
            "{out:?}"
        );
        assert_eq!(t["codex"]["verdict"], "accepted");
        assert_eq!(t["codex"]["version"], codex.version());
        assert_eq!(t["codex"]["path"], "/usr/local/bin/codex");
        // A ChatGPT-shaped login is accepted by the real codex too.
        let (json, refresh) = logins::chatgpt_json("dchat");
        sb.secret(&refresh);
        let from = sb.write("in/auth.json", &json);
        let out = sb.run(&[
            "push",
            "--docker",
            &c.name,
            "--from",
            from.to_str().unwrap(),
            "--json",
            "-v",
        ]);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(
            out.json()["targets"][0]["codex_status"],
            "Logged in using ChatGPT"
        );
        let verdict = c.exec(&["sh", "-c", "codex login status 2>&1"]);
        assert!(verdict.contains("Logged in using ChatGPT"), "{verdict}");
    }
}

#[test]
fn codex_home_in_the_container_environment_is_honoured() {
    let mut sb = sandbox();
    let running = TestContainer::new("BUSYBOX_ROOT", &["-e", "CODEX_HOME=/srv/codex"], true);
    let stopped = TestContainer::new("BUSYBOX_ROOT", &["-e", "CODEX_HOME=/srv/codex"], false);
    let (out, _) = sb.push_key(
        "denv",
        &[
            "--docker",
            &running.name,
            "--docker",
            &stopped.name,
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    for t in out.json()["targets"].as_array().unwrap() {
        assert_eq!(t["path"], "/srv/codex/auth.json", "{out:?}");
        assert_eq!(t["home_from"], "env");
    }
    assert!(running.file("/srv/codex/auth.json").is_some());
    assert!(stopped.file("/srv/codex/auth.json").is_some());
}

#[test]
fn missing_container_user_and_home_are_clear_errors() {
    let mut sb = sandbox();
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let stopped = TestContainer::new("BUSYBOX_ROOT", &[], false);
    // A container that does not exist: the hint names similar ones.
    let almost = format!("{}x", c.name);
    let (out, _) = sb.push_key("dmiss", &["--docker", &almost, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "no-container");
    assert!(e["hint"].as_str().unwrap().contains(&c.name), "{out:?}");
    // A user that is not in the image, running and stopped.
    for name in [&c.name, &stopped.name] {
        let (out, _) = sb.push_key(
            "dghost",
            &["--docker", name, "--docker-user", "ghost", "--json"],
        );
        assert_eq!(out.code, 1, "{out:?}");
        assert_eq!(
            out.json()["targets"][0]["error"]["class"],
            "no-user",
            "{out:?}"
        );
    }
    // A numeric user with no passwd entry: never /.codex.
    for name in [&c.name, &stopped.name] {
        let (out, _) = sb.push_key(
            "dnum",
            &["--docker", name, "--docker-user", "4242", "--json"],
        );
        assert_eq!(out.code, 1, "{out:?}");
        let e = &out.json()["targets"][0]["error"];
        assert_eq!(e["class"], "no-home", "{out:?}");
        assert!(e["hint"].as_str().unwrap().contains("--codex-home"));
    }
    assert!(c.file("/.codex/auth.json").is_none());
}

#[test]
fn keyring_store_in_a_container_is_skipped_unless_forced() {
    let mut sb = sandbox();
    let c = TestContainer::new("BUSYBOX_ROOT", &[], false);
    // Put a config.toml in place through the archive API (the container is stopped).
    let dir = sb.write(
        "cfg/.codex/config.toml",
        "cli_auth_credentials_store = \"keyring\"\n",
    );
    c.copy_in(dir.parent().unwrap(), "/root/");
    let (out, _) = sb.push_key("dkr", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["targets"][0]["outcome"], "skipped");
    assert!(c.file("/root/.codex/auth.json").is_none());
    let (out, _) = sb.push_key("dkr", &["--docker", &c.name, "--json", "--force"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(c.file("/root/.codex/auth.json").is_some());
}

#[test]
fn mixed_ssh_and_docker_run_with_one_failing_target() {
    let mut sb = sandbox();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("box", &user);
    let c = TestContainer::new("USER1000", &[], true);
    let (out, _) = sb.push_key(
        "dmix",
        &[
            "--ssh",
            "box",
            "-F",
            cfg.to_str().unwrap(),
            "--docker",
            &c.name,
            "--docker",
            "cxa-no-such-container",
            "--json",
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["targets"][0]["outcome"], "installed");
    assert_eq!(doc["targets"][1]["outcome"], "installed");
    assert_eq!(doc["targets"][2]["error"]["class"], "no-container");
    assert!(user.auth_path().exists());
}

#[test]
fn chatgpt_login_to_two_containers_needs_share() {
    let mut sb = sandbox();
    let (json, refresh) = logins::chatgpt_json("dshare");
    sb.secret(&refresh);
    let from = sb.write("in/auth.json", &json);
    let out = sb.run(&[
        "push",
        "--docker",
        "a1",
        "--docker",
        "a2",
        "--from",
        from.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--share"));
}

#[test]
fn dry_run_in_a_container_writes_nothing() {
    let mut sb = sandbox();
    let running = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let stopped = TestContainer::new("BUSYBOX_ROOT", &[], false);
    let (out, _) = sb.push_key(
        "ddry",
        &[
            "--docker",
            &running.name,
            "--docker",
            &stopped.name,
            "-n",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    for t in out.json()["targets"].as_array().unwrap() {
        assert_eq!(t["outcome"], "would-install");
    }
    assert!(running.file("/root/.codex").is_none());
    assert!(stopped.file("/root/.codex").is_none());
}

#[test]
fn unreachable_engine_and_docker_context() {
    let mut sb = Sandbox::new();
    sb.env.push((
        "DOCKER_HOST".into(),
        format!("unix://{}/nothing.sock", sb.home().display()),
    ));
    let (out, _) = sb.push_key("dunr", &["--docker", "whatever", "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "docker-unreachable",
        "{out:?}"
    );

    // No DOCKER_HOST: the current docker context names the engine, as for the CLI.
    let mut sb = Sandbox::new();
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let ctx = "cxa-test";
    let id = context_id(ctx);
    use_context(&sb, ctx, &id, docker_peers().host());
    let (out, _) = sb.push_key("dctx", &["--docker", &c.name]);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn podman_api_socket_is_a_supported_engine() {
    let host = docker_peers()
        .podman_host()
        .expect("podman's API service did not start (see docker-peers.sh up log)");
    let mut sb = Sandbox::new();
    sb.env.push(("DOCKER_HOST".into(), host.to_string()));
    let c = TestContainer::on(host, docker_peers().image("BASE"), &[], true);
    let (out, key) = sb.push_key("dpod", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["targets"][0]["outcome"], "installed");
    assert_eq!(
        c.exec(&["cat", "/root/.codex/auth.json"]),
        logins::api_key_json(&key)
    );
}

/// A TCP listener on loopback that relays every connection to a unix socket, so the
/// engine can be reached as `tcp://` like a remote one.
fn tcp_relay(unix_path: &str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let path = unix_path.to_string();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let Ok(unix) = std::os::unix::net::UnixStream::connect(&path) else {
                continue;
            };
            let (mut t1, mut u1) = (tcp.try_clone().unwrap(), unix.try_clone().unwrap());
            let (mut t2, mut u2) = (tcp, unix);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut t1, &mut u1);
                let _ = u1.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut t2);
                let _ = t2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

#[test]
fn tcp_docker_host_is_supported() {
    let port = tcp_relay(docker_peers().host().trim_start_matches("unix://"));
    let mut sb = Sandbox::new();
    sb.env
        .push(("DOCKER_HOST".into(), format!("tcp://127.0.0.1:{port}")));
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let (out, _) = sb.push_key("dtcp", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(c.file("/root/.codex/auth.json").is_some());
}

/// The directory name the docker CLI gives a context's files: sha256 of its name.
/// Make `ctx` (whose id is `id`) the current docker context, its engine `host`, as the
/// docker CLI stores it.
fn use_context(sb: &Sandbox, ctx: &str, id: &str, host: &str) {
    sb.write(
        ".docker/config.json",
        &format!("{{\"currentContext\": \"{ctx}\"}}"),
    );
    sb.write(
        &format!(".docker/contexts/meta/{id}/meta.json"),
        &format!(
            "{{\"Name\":\"{ctx}\",\"Metadata\":{{}},\"Endpoints\":{{\"docker\":{{\"Host\":\"{host}\",\"SkipTLSVerify\":false}}}}}}"
        ),
    );
}

fn context_id(name: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf %s {name} | sha256sum | cut -d' ' -f1"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The TLS engine named by the environment, as for the docker CLI.
fn tls_env(sb: &mut Sandbox, cert_path: &std::path::Path) {
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().tls_host().into()));
    sb.env.push(("DOCKER_TLS_VERIFY".into(), "1".into()));
    sb.env
        .push(("DOCKER_CERT_PATH".into(), cert_path.display().to_string()));
}

#[test]
fn tls_docker_host_with_client_certificates_installs_the_login() {
    let mut sb = Sandbox::new();
    tls_env(&mut sb, docker_peers().tls_certs());
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let (out, key) = sb.push_key("dtls", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["targets"][0]["outcome"], "installed", "{out:?}");
    assert_eq!(
        c.exec(&["cat", "/root/.codex/auth.json"]),
        logins::api_key_json(&key)
    );
    // status reads it back over the same TLS connection.
    let out = sb.run(&["status", "--docker", &c.name, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn docker_context_with_tls_material_installs_the_login() {
    let sb = Sandbox::new();
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let ctx = "cxa-tls";
    let id = context_id(ctx);
    use_context(&sb, ctx, &id, docker_peers().tls_host());
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        let pem = std::fs::read_to_string(docker_peers().tls_certs().join(f)).unwrap();
        sb.write(&format!(".docker/contexts/tls/{id}/docker/{f}"), &pem);
    }
    let mut sb = sb;
    // The environment's TLS settings do not apply to a context (as for the CLI).
    sb.env
        .push(("DOCKER_CERT_PATH".into(), "/nonexistent".into()));
    let (out, key) = sb.push_key("dctxtls", &["--docker", &c.name]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        c.exec(&["cat", "/root/.codex/auth.json"]),
        logins::api_key_json(&key)
    );

    // A context that skips verification is refused before anything is sent.
    sb.write(
        &format!(".docker/contexts/meta/{id}/meta.json"),
        &format!(
            "{{\"Name\":\"{ctx}\",\"Metadata\":{{}},\"Endpoints\":{{\"docker\":{{\"Host\":\"{}\",\"SkipTLSVerify\":true}}}}}}",
            docker_peers().tls_host()
        ),
    );
    let (out, _) = sb.push_key("dctxskip", &["--docker", &c.name]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("SkipTLSVerify"), "{out:?}");
}

#[test]
fn tls_engine_without_tls_material_is_a_clear_error() {
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    // Plain HTTP to the TLS port: the engine says so, and the login is never sent.
    let mut sb = Sandbox::new();
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().tls_host().into()));
    let (out, _) = sb.push_key("dnotls", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let error = &out.json()["targets"][0]["error"];
    assert_eq!(error["class"], "config", "{out:?}");
    assert!(
        error["message"].as_str().unwrap().contains("speaks TLS"),
        "{out:?}"
    );
    assert!(
        error["hint"]
            .as_str()
            .unwrap()
            .contains("DOCKER_TLS_VERIFY=1"),
        "{out:?}"
    );
    assert!(c.file("/root/.codex").is_none(), "something was written");

    // DOCKER_TLS_VERIFY without a ca.pem: bad input, nothing connected.
    let mut sb = Sandbox::new();
    let empty = sb.home().join("no-certs");
    std::fs::create_dir_all(&empty).unwrap();
    tls_env(&mut sb, &empty);
    let (out, _) = sb.push_key("dnoca", &["--docker", &c.name]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("ca.pem"), "{out:?}");
    assert!(out.stderr.contains("DOCKER_CERT_PATH"), "{out:?}");

    // The CA only, no client certificate: the engine refuses the handshake.
    let mut sb = Sandbox::new();
    let ca_only = sb.home().join("ca-only");
    std::fs::create_dir_all(&ca_only).unwrap();
    std::fs::copy(
        docker_peers().tls_certs().join("ca.pem"),
        ca_only.join("ca.pem"),
    )
    .unwrap();
    tls_env(&mut sb, &ca_only);
    let (out, _) = sb.push_key("dnocert", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let error = &out.json()["targets"][0]["error"];
    assert_eq!(error["class"], "docker-unreachable", "{out:?}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("TLS with the Docker engine"),
        "{out:?}"
    );
    assert!(
        error["message"].as_str().unwrap().contains("cert.pem"),
        "{out:?}"
    );

    // Another CA than the engine's: its certificate is not trusted (no system roots).
    let mut sb = Sandbox::new();
    let other = sb.home().join("other-ca");
    std::fs::create_dir_all(&other).unwrap();
    for (from, to) in [
        ("cert.pem", "ca.pem"),
        ("cert.pem", "cert.pem"),
        ("key.pem", "key.pem"),
    ] {
        std::fs::copy(docker_peers().tls_certs().join(from), other.join(to)).unwrap();
    }
    tls_env(&mut sb, &other);
    let (out, _) = sb.push_key("dotherca", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let error = &out.json()["targets"][0]["error"];
    assert_eq!(error["class"], "docker-unreachable", "{out:?}");
    assert!(
        error["message"].as_str().unwrap().contains("certificate"),
        "{out:?}"
    );

    // TLS without verification is refused (exit 2).
    let mut sb = Sandbox::new();
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().tls_host().into()));
    sb.env.push(("DOCKER_TLS".into(), "1".into()));
    let (out, _) = sb.push_key("dtlsnov", &["--docker", &c.name]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("DOCKER_TLS_VERIFY"), "{out:?}");
    assert!(c.file("/root/.codex").is_none(), "something was written");
}

#[test]
fn plaintext_tcp_to_another_machine_is_refused_unless_allowed() {
    // 192.0.2.1 (TEST-NET-1) is not this machine: plain TCP there is refused, exit 2.
    let mut sb = Sandbox::new();
    sb.env
        .push(("DOCKER_HOST".into(), "tcp://192.0.2.1:2375".into()));
    let (out, _) = sb.push_key("dplain", &["--docker", "whatever"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("unencrypted"), "{out:?}");
    assert!(out.stderr.contains("--docker-plaintext"), "{out:?}");
    let out = sb.run(&["status", "--docker", "whatever"]);
    assert_eq!(out.code, 2, "{out:?}");

    // With the flag it is tried (and here, nothing answers).
    let (out, _) = sb.push_key(
        "dplain2",
        &["--docker", "whatever", "--docker-plaintext", "--json"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "docker-unreachable",
        "{out:?}"
    );

    // The flag says how to reach containers: alone it is refused, never ignored.
    let out = sb.run(&["status", "--docker-plaintext"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--docker-plaintext"), "{out:?}");
}

/// A user on the ssh peer who can use the engine: in the docker group, the docker CLI
/// on PATH and DOCKER_HOST naming the private engine, as on a real docker host;
/// `DOCKER_HOST=ssh://dockerhost` here. With `slow_dial`, its `docker system dial-stdio`
/// waits 2 s first. Returns the user and the ssh config.
fn docker_host_user(sb: &mut Sandbox, slow_dial: bool) -> (RemoteUser, std::path::PathBuf) {
    let socket = docker_peers()
        .host()
        .trim_start_matches("unix://")
        .to_string();
    let socket_dir = std::path::Path::new(&socket)
        .parent()
        .unwrap()
        .to_path_buf();
    let status = std::process::Command::new("chmod")
        .arg("o+x")
        .arg(&socket_dir)
        .status()
        .unwrap();
    assert!(status.success());
    let user = RemoteUser::bash();
    user.authorize(sb);
    let status = std::process::Command::new("usermod")
        .args(["-aG", "docker", &user.name])
        .status()
        .unwrap();
    assert!(status.success());
    let docker_cli = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v docker"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let cli_dir = std::path::Path::new(docker_cli.trim())
        .parent()
        .unwrap()
        .display()
        .to_string();
    let mut path = format!("{cli_dir}:/usr/bin:/bin");
    if slow_dial {
        user.write_owned(
            "slowbin/docker",
            &format!("#!/bin/sh\n[ \"$1 $2\" = \"system dial-stdio\" ] && sleep 2\nexec {cli_dir}/docker \"$@\"\n"),
            0o755,
        );
        path = format!("{}/slowbin:{path}", user.home.display());
    }
    user.set_environment(&[("PATH", &path), ("DOCKER_HOST", docker_peers().host())]);
    let cfg = sb.alias("dockerhost", &user);
    sb.env
        .push(("DOCKER_HOST".into(), "ssh://dockerhost".into()));
    (user, cfg)
}

#[test]
fn ssh_docker_host_reaches_the_engine_through_dial_stdio() {
    let mut sb = Sandbox::new();
    let (_user, cfg) = docker_host_user(&mut sb, false);
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let (out, key) = sb.push_key(
        "dssh",
        &["--docker", &c.name, "-F", cfg.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["targets"][0]["outcome"], "installed");
    assert_eq!(
        c.exec(&["cat", "/root/.codex/auth.json"]),
        logins::api_key_json(&key)
    );
}

#[test]
fn the_relay_socket_of_an_ssh_docker_host_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let mut sb = Sandbox::new();
    // The host's docker CLI dials slowly, so the relay socket can be looked at.
    let (_user, cfg) = docker_host_user(&mut sb, true);
    let tmp = sb.home().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    sb.env.push(("TMPDIR".into(), tmp.display().to_string()));
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let line = format!(
        "umask 000; exec \"$CODEX_AUTH\" status --docker {} -F {}",
        c.name,
        cfg.display()
    );
    let running = sb.program("sh", &["-c", &line]).spawn();
    let mut seen = None;
    for _ in 0..200 {
        let relay = std::fs::read_dir(&tmp).unwrap().flatten().find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("codex-auth-docker")
        });
        if let Some(dir) = relay {
            let socket = dir.path().join("docker.sock");
            if let Ok(meta) = std::fs::symlink_metadata(&socket) {
                let dir_mode = dir.metadata().unwrap().permissions().mode() & 0o777;
                seen = Some((dir_mode, meta.permissions().mode() & 0o777));
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = sb.wait(running, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        seen,
        Some((0o700, 0o600)),
        "relay directory and socket modes"
    );
}
