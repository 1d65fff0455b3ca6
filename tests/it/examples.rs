//! The worked examples in examples/, run as a user would run them, against the real
//! peers: only host names, users and images are replaced, and each replacement must
//! still find its text, so an example that changes cannot silently stop being tested.

use std::path::{Path, PathBuf};

use crate::harness::{docker_peers, logins, peers, RemoteUser, Sandbox};
use crate::issuer::{DeviceMode, FakeIssuer};

/// A copy of `examples/NAME` in the sandbox.
fn example(sb: &Sandbox, name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let to = sb.home().join("examples").join(name);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

/// Replace each `from` by `to` in `file`; every `from` must be there.
fn rewrite(file: &Path, replacements: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(file).unwrap();
    for (from, to) in replacements {
        assert!(
            text.contains(from),
            "{} no longer contains {from:?}: update this test with the example",
            file.display()
        );
        text = text.replace(from, to);
    }
    std::fs::write(file, text).unwrap();
}

#[test]
fn fleet_behind_a_bastion() {
    assert!(
        peers().netns(),
        "the fleet example needs the ProxyJump peers"
    );
    let mut sb = Sandbox::new();
    let (bastion, alice, ci) = (RemoteUser::bash(), RemoteUser::bash(), RemoteUser::bash());
    for u in [&bastion, &alice, &ci] {
        u.authorize(&sb);
    }
    let (jump, inner) = (
        peers().get("PEER_JUMP_HOST"),
        peers().get("PEER_INNER_HOST"),
    );
    sb.pin_host(jump, 22);
    sb.pin_host(inner, 22);
    sb.pin_host("127.0.0.1", 22);
    let dir = example(&sb, "fleet");
    rewrite(
        &dir.join("ssh_config"),
        &[
            ("bastion.example.com", jump),
            ("10.0.2.11", inner),
            // build-2 is the bastion's own sshd, as the bastion sees it.
            ("10.0.2.12", "127.0.0.1"),
            ("User deploy", &format!("User {}", bastion.name)),
            ("User alice", &format!("User {}", alice.name)),
            ("User ci", &format!("User {}", ci.name)),
            // ssh takes ~ from the passwd entry, which is not the sandbox.
            (
                "IdentityFile ~/.ssh/id_ed25519",
                &format!(
                    "IdentityFile {}\n    UserKnownHostsFile {}",
                    sb.key_path().display(),
                    sb.known_hosts().display()
                ),
            ),
        ],
    );
    let key = logins::api_key("fleet");
    sb.secret(&key);
    sb.env.push(("OPENAI_API_KEY".into(), key.clone()));
    let script = dir.join("push.sh");
    let out = sb
        .program("bash", &[script.to_str().unwrap()])
        .out()
        .code(0);
    for u in [&alice, &ci] {
        assert_eq!(
            std::fs::read_to_string(u.auth_path()).unwrap(),
            logins::api_key_json(&key),
            "{}: {out:?}",
            u.name
        );
    }
    assert!(
        !bastion.auth_path().exists(),
        "the bastion is only passed through"
    );
    assert!(out.stdout.contains("2 targets: 2 installed"), "{out:?}");
    for host in ["build-1", "build-2"] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(host) && l.contains("apikey  file")),
            "{host} missing from the status table: {out:?}"
        );
    }
}

/// A Compose project, taken down (containers removed at once) when dropped.
struct Project {
    name: String,
    file: PathBuf,
}

impl Project {
    fn compose(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new("docker-compose")
            .arg("-p")
            .arg(&self.name)
            .arg("-f")
            .arg(&self.file)
            .args(args)
            .env("DOCKER_HOST", docker_peers().host())
            .output()
            .unwrap()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-t", "0"]);
    }
}

#[test]
fn compose_app_gets_a_session_of_its_own() {
    let issuer = FakeIssuer::start();
    issuer.device_mode(DeviceMode::Approve { pending: 0 });
    let mut sb = Sandbox::new();
    let dir = example(&sb, "compose");
    rewrite(
        &dir.join("compose.yaml"),
        &[(
            "image: node:22-bookworm",
            // The local image with the real Codex (it has the node user); no network.
            &format!(
                "image: {}\n    network_mode: \"none\"",
                docker_peers().image("CODEX")
            ),
        )],
    );
    let project = Project {
        name: format!("cxaex{}", std::process::id()),
        file: dir.join("compose.yaml"),
    };
    for (k, v) in [
        ("DOCKER_HOST", docker_peers().host().to_string()),
        ("COMPOSE", format!("docker-compose -p {}", project.name)),
        ("LOGIN_FLAGS", "--device-auth".to_string()),
        ("CODEX_AUTH_ISSUER", issuer.base.clone()),
        ("CODEX_AUTH_CLIENT_ID", crate::issuer::CLIENT_ID.to_string()),
        (
            "CODEX_HOME",
            sb.home().join("local-codex").display().to_string(),
        ),
    ] {
        sb.env.push((k.into(), v));
    }
    let script = dir.join("up.sh");
    let run = sb.program("bash", &[script.to_str().unwrap()]).spawn();
    let out = sb.wait(run, &issuer.issued()).code(0);
    assert!(out.stdout.contains("1 target: 1 installed"), "{out:?}");
    let ps = project.compose(&["ps", "-q", "app"]);
    let id = String::from_utf8_lossy(&ps.stdout).trim().to_string();
    assert!(!id.is_empty(), "{ps:?}");
    let verdict = std::process::Command::new("docker")
        .args([
            "exec",
            "-u",
            "node",
            &id,
            "sh",
            "-c",
            "ls -ln .codex/auth.json; codex login status 2>&1",
        ])
        .env("DOCKER_HOST", docker_peers().host())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verdict.stdout);
    let listing: Vec<&str> = text.split_whitespace().take(4).collect();
    assert_eq!(
        listing,
        ["-rw-------", "1", "1001", "1001"],
        "{text} {}",
        String::from_utf8_lossy(&verdict.stderr)
    );
    assert!(text.contains("Logged in using ChatGPT"), "{text}");
    // The session went straight into the container: nothing was written here.
    assert!(!sb.home().join("local-codex/auth.json").exists());
}

#[test]
fn ansible_rollout_signs_in_every_web_host_at_once_and_moves_a_session() {
    let issuer = FakeIssuer::start();
    issuer.device_mode(DeviceMode::ApproveReversed { after: 2 });
    let mut sb = Sandbox::new();
    let (web1, web2, db) = (RemoteUser::bash(), RemoteUser::bash(), RemoteUser::bash());
    for u in [&web1, &web2, &db] {
        u.authorize(&sb).with_codex(crate::harness::Codex::Npm171);
    }
    sb.pin_host("127.0.0.1", peers().port());
    let dir = example(&sb, "ansible");
    let port = peers().port().to_string();
    let key = sb.key_path().display().to_string();
    rewrite(
        &dir.join("inventory.ini"),
        &[
            (
                "ansible_host=10.0.3.11 ansible_user=deploy",
                &format!(
                    "ansible_host=127.0.0.1 ansible_port={port} ansible_user={}",
                    web1.name
                ),
            ),
            (
                "ansible_host=10.0.3.12 ansible_user=deploy",
                &format!(
                    "ansible_host=127.0.0.1 ansible_port={port} ansible_user={}",
                    web2.name
                ),
            ),
            (
                "ansible_host=10.0.3.21 ansible_user=dba ansible_port=2222",
                &format!(
                    "ansible_host=127.0.0.1 ansible_user={} ansible_port={port}",
                    db.name
                ),
            ),
            ("~/.ssh/deploy_ed25519", &key),
        ],
    );
    // The app container being replaced holds a ChatGPT session; its successor nothing.
    let old = crate::harness::TestContainer::new(crate::harness::Codex::Npm171.image(), &[], true);
    let new = crate::harness::TestContainer::new(crate::harness::Codex::Npm171.image(), &[], true);
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().host().to_string()));
    let (json, refresh) = issuer.login_json();
    sb.secret(&refresh);
    let file = sb.write("in/auth.json", &json);
    sb.run(&[
        "push",
        "--docker",
        &old.name,
        "--from",
        file.to_str().unwrap(),
    ])
    .code(0);
    let path = format!(
        "{}:{}",
        peers().get("PEER_ANSIBLE_BIN_DIR"),
        std::env::var("PATH").unwrap_or_default()
    );
    for (k, v) in [
        ("PATH", path),
        ("OLD", old.name.clone()),
        ("NEW", new.name.clone()),
        ("LOGIN_FLAGS", issuer.args().join(" ")),
        (
            "SSH_FLAGS",
            format!("-o UserKnownHostsFile={}", sb.known_hosts().display()),
        ),
    ] {
        sb.env.push((k.into(), v));
    }
    let script = dir.join("rollout.sh");
    let run = sb.program("bash", &[script.to_str().unwrap()]).spawn();
    let out = sb.wait(run, &issuer.issued()).code(0);
    assert!(out.stdout.contains("2 targets: 2 installed"), "{out:?}");
    let sessions: std::collections::HashSet<String> = [&web1, &web2]
        .iter()
        .map(|u| std::fs::read_to_string(u.auth_path()).unwrap())
        .collect();
    assert_eq!(sessions.len(), 2, "one session per host");
    assert!(!db.auth_path().exists(), "db is outside --limit web");
    assert_eq!(new.file("/root/.codex/auth.json").unwrap().0, json);
    assert!(
        old.file("/root/.codex/auth.json").is_none(),
        "moved, not copied"
    );
    for host in ["web-1", "web-2"] {
        assert!(out.stdout.contains(host), "{host}: {out:?}");
    }
}

/// The refresh token of the login in `home`.
fn refresh_token(home: &Path) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("auth.json")).unwrap()).unwrap();
    v["tokens"]["refresh_token"].as_str().unwrap().to_string()
}

#[test]
fn ci_jobs_get_access_only_copies_of_a_session_sync_keeps_fresh() {
    let issuer = FakeIssuer::start();
    // The store's login is due for a refresh (10 minutes left, under sync's 3 days);
    // a refreshed one lives long.
    issuer.access_tokens_expire_in(600);
    let mut sb = Sandbox::new();
    let dir = example(&sb, "ci");
    let workflow = std::fs::read_to_string(dir.join("workflow.yml")).unwrap();
    assert!(
        workflow.contains("run: examples/ci/job.sh codex exec"),
        "workflow.yml lost its job"
    );
    let store = sb.home().join("ci-login");
    let (json, first) = issuer.login_json();
    sb.secret(&first);
    sb.write("ci-login/auth.json", &json);
    for (k, v) in [
        ("CODEX_HOME", store.display().to_string()),
        ("CODEX_AUTH_ISSUER", issuer.base.clone()),
        ("DOCKER_HOST", docker_peers().host().to_string()),
        (
            "JOB_IMAGE",
            docker_peers()
                .image(crate::harness::Codex::Npm171.image())
                .to_string(),
        ),
        // The job's Codex could reach the test issuer on this machine's loopback.
        ("DOCKER_RUN_FLAGS", "--network host".to_string()),
    ] {
        sb.env.push((k.into(), v));
    }
    let script = dir.join("job.sh").display().to_string();
    // The job: Codex there says it is signed in, with a copy that has no refresh token
    // in a Codex home of its own; `status` is its exit status.
    let job = |sb: &Sandbox, status: u8| {
        let run = format!(
            "codex login status && grep -q '\"refresh_token\": \"\"' $CODEX_HOME/auth.json && test ! -e /root/.codex/auth.json && HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1 codex doctor --json >/dev/null; exit {status}"
        );
        sb.program("bash", &[&script, "sh", "-c", &run]).spawn()
    };
    // Run 1: sync refreshes the store's session once; the job's status is the run's.
    let run = job(&sb, 3);
    let out = sb.wait(run, &issuer.issued()).code(3);
    assert!(out.all().contains("Logged in using ChatGPT"), "{out:?}");
    assert!(!out.stderr.contains("left a place behind"), "{out:?}");
    assert_eq!(issuer.refreshes(), vec![first.clone()]);
    let second = refresh_token(&store);
    assert!(issuer.is_live(&second));
    // Runs 2 and 3 at once: nothing is due, nothing is sent.
    let (a, b) = (job(&sb, 0), job(&sb, 0));
    for out in [sb.wait(a, &issuer.issued()), sb.wait(b, &issuer.issued())] {
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.all().contains("Logged in using ChatGPT"), "{out:?}");
        assert!(!out.stderr.contains("left a place behind"), "{out:?}");
    }
    // The session was refreshed once, here; no job ever reached the issuer, not even
    // with an empty refresh token.
    assert_eq!(issuer.refreshes(), vec![first]);
    assert_eq!(refresh_token(&store), second);
    assert!(issuer.is_live(&second));
    // Every job container is gone, and with it every copy; the ledger holds none (a
    // lent copy is never recorded).
    let left = crate::harness::docker_cli(
        docker_peers().host(),
        &["ps", "-aq", "--filter", "name=codex-job-"],
    );
    assert!(left.trim().is_empty(), "containers left: {left}");
    let out = sb.run(&["sync"]).code(0);
    assert!(!out.stdout.contains("codex-job-"), "{out:?}");
}

#[test]
fn codex_on_a_shared_box_leaves_no_login_there() {
    let issuer = FakeIssuer::start();
    let mut sb = Sandbox::new();
    let dir = example(&sb, "shared-box");
    let user = RemoteUser::bash();
    user.authorize(&sb);
    user.with_codex(crate::harness::Codex::Npm171);
    user.write_owned(".codex/config.toml", "model = \"team-model\"\n", 0o600);
    let cfg = sb.alias("shared-box", &user);
    let (json, first) = issuer.login_json();
    sb.secret(&first);
    let home = sb.home().join("codex-home");
    sb.write("codex-home/auth.json", &json);
    for (k, v) in [
        ("CODEX_HOME", home.display().to_string()),
        ("SSH_CONFIG", cfg.display().to_string()),
    ] {
        sb.env.push((k.into(), v));
    }
    let script = dir.join("codex-there.sh").display().to_string();
    // `codex login status` stands in for an interactive Codex (no model API here).
    let out = sb
        .program("bash", &[&script, "shared-box", "login", "status"])
        .out()
        .code(0);
    // (Codex prints its status on stderr, and the script the tables of `status`)
    assert!(out.stderr.contains("Logged in using ChatGPT"), "{out:?}");
    assert_eq!(out.stderr.matches("not logged in [").count(), 2, "{out:?}");
    assert_eq!(user.run_as("ls -A ~/.codex").trim(), "config.toml");
    // Codex's own exit status is the script's.
    let out = sb
        .program("bash", &[&script, "shared-box", "no-such-subcommand"])
        .out();
    assert_ne!(out.code, 0, "{out:?}");
    assert_eq!(user.run_as("ls -A ~/.codex").trim(), "config.toml");
    assert!(issuer.refreshes().is_empty());
}

#[test]
fn a_timer_keeps_access_only_copies_on_hosts_fresh() {
    let issuer = FakeIssuer::start();
    issuer.access_tokens_expire_in(600);
    let mut sb = Sandbox::new();
    let dir = example(&sb, "timer");
    let (a, b) = (RemoteUser::bash(), RemoteUser::bash());
    a.with_codex(crate::harness::Codex::Npm171);
    for u in [&a, &b] {
        u.authorize(&sb);
    }
    sb.alias("build-1", &a);
    let cfg = sb.alias("build-2", &b);
    let (json, first) = issuer.login_json();
    sb.secret(&first);
    let home = sb.home().join("codex-home");
    sb.write("codex-home/auth.json", &json);
    for (k, v) in [
        ("CODEX_HOME", home.display().to_string()),
        ("CODEX_AUTH_ISSUER", issuer.base.clone()),
        ("SSH_CONFIG", cfg.display().to_string()),
    ] {
        sb.env.push((k.into(), v));
    }
    let script = dir.join("setup.sh").display().to_string();
    let out = sb
        .program("bash", &[&script, "build-1", "build-2"])
        .out()
        .code(0);
    for t in issuer.issued() {
        assert!(!out.all().contains(&t), "a token leaked: {out:?}");
    }
    // The first sync refreshed the session here and gave both hosts its access token.
    assert_eq!(issuer.refreshes(), vec![first]);
    let here: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("auth.json")).unwrap()).unwrap();
    for u in [&a, &b] {
        let there: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(u.auth_path()).unwrap()).unwrap();
        assert_eq!(there["tokens"]["refresh_token"], "");
        assert_eq!(
            there["tokens"]["access_token"],
            here["tokens"]["access_token"]
        );
    }
    assert!(out.stdout.contains("access-only at build-1"), "{out:?}");
    // The timer runs the same sync with the same ssh config, daily.
    let units = sb.home().join(".config/systemd/user");
    let service = std::fs::read_to_string(units.join("codex-auth-sync.service")).unwrap();
    assert!(
        service.contains(&format!("\"-F\" \"{}\"", cfg.display())),
        "{service}"
    );
    let timer = std::fs::read_to_string(units.join("codex-auth-sync.timer")).unwrap();
    assert!(timer.contains("OnUnitActiveSec=86400s"), "{timer}");
}

/// The README's demo: a throwaway sshd, a push through it. It runs the codex-auth found
/// on PATH when that is this checkout's version (as after `cargo install`), and builds
/// nothing then.
#[test]
fn the_demo_runs_the_installed_binary_and_builds_nothing() {
    let mut sb = Sandbox::new();
    let bin = sb.home().join("installed");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_codex-auth"), bin.join("codex-auth")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    sb.env.push(("PATH".into(), path));
    sb.env.push(("CODEX_AUTH".into(), String::new()));
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.sh");
    let out = sb.program(demo.to_str().unwrap(), &[]).out().code(0);
    assert!(
        out.stdout
            .contains(&format!("demo: using {}/codex-auth", bin.display())),
        "{out:?}"
    );
    assert!(!out.all().contains("building"), "{out:?}");
    assert!(out.stdout.contains("demo-host  installed"), "{out:?}");
    assert!(out.stdout.contains("demo-host  unchanged"), "{out:?}");
    assert!(!out.all().contains("sk-demo-0000"), "a key leaked: {out:?}");
}
