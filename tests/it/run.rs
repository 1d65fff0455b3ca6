//! `run`: a login lent to one command on an ssh host, in a container and here, judged by
//! the real Codex there, and gone afterwards, whatever happens (a Ctrl-C, a crash, a
//! killed `run`, a cut connection); `--full` writes a real refresh back.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{Codex, RemoteUser, Sandbox, TestContainer};
use crate::issuer::FakeIssuer;
use crate::sync::signed_in;

/// A host user with Codex 0.171 and a config.toml that names a model.
fn host(sb: &Sandbox) -> (RemoteUser, String) {
    let user = RemoteUser::bash();
    user.authorize(sb);
    user.with_codex(Codex::Npm171);
    user.write_owned(".codex/config.toml", "model = \"gpt-lent-here\"\n", 0o600);
    let cfg = sb.alias("box", &user);
    (user, cfg.display().to_string())
}

/// `run --ssh box -F CFG -- CMD...`.
fn box_args<'a>(cfg: &'a str, cmd: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--ssh", "box", "-F", cfg, "--"];
    args.extend_from_slice(cmd);
    args
}

/// The line `KEY=VALUE` printed by a command, its VALUE.
fn said<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {stdout:?}"))
}

/// Wait until `path` is gone (a lease removed by its keeper).
fn gone_within(path: &str, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Path::new(path).exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.rsplit(") ").next().unwrap_or("").starts_with('Z')
}

/// What a command shows of the lease it runs in: where, whether Codex there is logged
/// in, which model the place's config.toml names, and that the copy is access-only.
const SHOW: &str = "echo home=$CODEX_HOME; \
    echo status=$($CODEX login status 2>&1 | tail -1); \
    echo model=$(sed -n 's/^model = //p' $CODEX_HOME/config.toml); \
    grep -q '\"refresh_token\": \"\"' $CODEX_HOME/auth.json && echo copy=access-only; \
    exit ${WANT:-0}";

#[test]
fn a_command_on_a_host_gets_an_access_only_login_that_is_gone_after() {
    let issuer = FakeIssuer::start();
    let (sb, home, refresh) = signed_in(&issuer);
    let (user, cfg) = host(&sb);
    let before = std::fs::read_to_string(home.join("auth.json")).unwrap();
    let codex = format!("CODEX={}/.local/bin/codex", user.home.display());
    for want in ["0", "1", "42"] {
        let script = format!("{codex}; WANT={want}; {SHOW}");
        let out = sb.run(&box_args(&cfg, &["sh", "-c", &script]));
        assert_eq!(out.code.to_string(), want, "{out:?}");
        assert_eq!(
            said(&out.stdout, "status"),
            "Logged in using ChatGPT",
            "{out:?}"
        );
        assert_eq!(said(&out.stdout, "model"), "\"gpt-lent-here\"", "{out:?}");
        assert_eq!(said(&out.stdout, "copy"), "access-only", "{out:?}");
        let lease = said(&out.stdout, "home");
        let leases = format!("{}/.codex/.codex-auth-run/", user.home.display());
        assert!(lease.starts_with(&leases), "{out:?}");
        assert!(
            !Path::new(lease).exists(),
            "the lease is still there: {out:?}"
        );
        assert_eq!(out.stderr, "", "run says nothing of its own: {out:?}");
    }
    // The host's own Codex home got no login (nor anything else); this machine's is as
    // it was; the issuer was never asked.
    assert_eq!(user.run_as("ls -A ~/.codex").trim(), "config.toml");
    assert_eq!(
        std::fs::read_to_string(home.join("auth.json")).unwrap(),
        before
    );
    assert!(issuer.refreshes().is_empty());
    assert!(issuer.is_live(&refresh));
    // `codex` is the one its user would run (here in ~/.local/bin, not on the PATH of a
    // command over ssh), as push finds it.
    let out = sb.run(&box_args(&cfg, &["codex", "login", "status"]));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stderr.trim(), "Logged in using ChatGPT", "{out:?}");
    // The place's config.toml applies: `codex exec` there names its model (and then
    // fails offline); Codex makes its helper binaries (the lease is not in /tmp).
    let out = sb.run(&box_args(&cfg, &["sh", "-c",
        "HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1 timeout 6 $HOME/.local/bin/codex exec --skip-git-repo-check hi </dev/null"]));
    assert!(out.stderr.contains("model: gpt-lent-here"), "{out:?}");
    assert!(
        !out.stderr.contains("Refusing to create helper binaries"),
        "{out:?}"
    );
    // Arguments arrive as given, quotes and all; stdin reaches the command.
    let out = sb
        .cmd(&box_args(&cfg, &["printf", "[%s]", "a b", "it's", "$HOME"]))
        .out();
    assert_eq!(out.stdout, "[a b][it's][$HOME]", "{out:?}");
    let out = sb
        .cmd(&box_args(&cfg, &["wc", "-c"]))
        .stdin("twelve bytes")
        .out();
    assert_eq!(out.stdout.trim(), "12", "{out:?}");
    // A command that is not there is the shell's 127; one that crashes, 128 + its signal.
    let out = sb.run(&box_args(&cfg, &["no-such-command-here"]));
    assert_eq!(out.code, 127, "{out:?}");
    let out = sb.run(&box_args(
        &cfg,
        &["sh", "-c", "echo home=$CODEX_HOME; kill -SEGV $$"],
    ));
    assert_eq!(out.code, 139, "{out:?}");
    assert!(gone_within(said(&out.stdout, "home"), 5), "{out:?}");
}

#[test]
fn a_command_in_a_container_and_here_gets_the_login_too() {
    let issuer = FakeIssuer::start();
    let (mut sb, _home, _refresh) = signed_in(&issuer);
    let c = TestContainer::new(Codex::Npm171.image(), &[], true);
    c.exec(&[
        "sh",
        "-c",
        "mkdir -p /root/.codex && echo 'model = \"gpt-in-box\"' > /root/.codex/config.toml",
    ]);
    let script = format!("CODEX=codex; WANT=7; {SHOW}");
    let out = sb.run(&["run", "--docker", &c.name, "--", "sh", "-c", &script]);
    assert_eq!(out.code, 7, "{out:?}");
    assert_eq!(
        said(&out.stdout, "status"),
        "Logged in using ChatGPT",
        "{out:?}"
    );
    assert_eq!(said(&out.stdout, "model"), "\"gpt-in-box\"", "{out:?}");
    assert_eq!(said(&out.stdout, "copy"), "access-only", "{out:?}");
    let lease = said(&out.stdout, "home").to_string();
    assert_eq!(
        c.exec(&[
            "sh",
            "-c",
            &format!("test -e {lease} && echo there || echo gone")
        ]),
        "gone"
    );
    assert_eq!(c.exec(&["sh", "-c", "ls -A /root/.codex"]), "config.toml");

    // Here, from a saved login: this machine's own config.toml applies.
    sb.run(&["save", "work"]).code(0);
    sb.write("local-codex/config.toml", "model = \"gpt-here\"\n");
    let codex = format!("CODEX={}", Codex::Npm171.bin().display());
    let script = format!("{codex}; {SHOW}");
    let out = sb.run(&["run", "--from", "saved:work", "--", "sh", "-c", &script]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        said(&out.stdout, "status"),
        "Logged in using ChatGPT",
        "{out:?}"
    );
    assert_eq!(said(&out.stdout, "model"), "\"gpt-here\"", "{out:?}");
    assert_eq!(said(&out.stdout, "copy"), "access-only", "{out:?}");
    assert!(!Path::new(said(&out.stdout, "home")).exists());
    for t in issuer.issued() {
        sb.secret(&t);
    }
}

#[test]
fn ctrl_c_a_killed_run_and_a_cut_leave_nothing_behind() {
    let issuer = FakeIssuer::start();
    let (sb, _home, _refresh) = signed_in(&issuer);
    let (user, cfg) = host(&sb);
    let marker = user.home.join("lease-of-run");
    let script = format!(
        "echo $CODEX_HOME > {m}.tmp; echo $$ >> {m}.tmp; mv {m}.tmp {m}; exec sleep 120",
        m = marker.display()
    );
    let wait_started = || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(&marker) {
                let mut lines = text.lines();
                let lease = lines.next().unwrap().to_string();
                let pid: i32 = lines.next().unwrap().parse().unwrap();
                std::fs::remove_file(&marker).unwrap();
                return (lease, pid);
            }
            assert!(Instant::now() < deadline, "the command never started");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // Ctrl-C reaches the command: 130, and the lease goes.
    let running = sb.spawn(&box_args(&cfg, &["sh", "-c", &script]));
    let (lease, pid) = wait_started();
    assert!(Path::new(&lease).join("auth.json").exists());
    running.signal(libc::SIGINT);
    let out = sb.wait(running, &[]);
    assert_eq!(out.code, 130, "{out:?}");
    assert!(!alive(pid));
    assert!(!Path::new(&lease).exists());

    // SIGKILL of run: the keeper sees the connection end, stops the command and removes
    // the lease.
    let running = sb.spawn(&box_args(&cfg, &["sh", "-c", &script]));
    let (lease, pid) = wait_started();
    running.signal(libc::SIGKILL);
    let _ = sb.wait(running, &[]);
    assert!(gone_within(&lease, 10), "the lease outlived a killed run");
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!alive(pid), "the command outlived a killed run");

    // The connection cut (sshd's session process for it killed): run ends with 255 and
    // says so; the lease goes.
    let running = sb.spawn(&box_args(&cfg, &["sh", "-c", &script]));
    let (lease, pid) = wait_started();
    let sshd = sshd_session_of(pid).expect("the command runs below an sshd");
    unsafe {
        libc::kill(sshd, libc::SIGKILL);
    }
    let out = sb.wait(running, &[]);
    assert_eq!(out.code, 255, "{out:?}");
    assert!(out.stderr.contains("was lost"), "{out:?}");
    assert!(
        gone_within(&lease, 10),
        "the lease outlived a cut connection"
    );

    // A keeper killed too (nothing could clean up): the next status there removes it.
    let stale = format!("{}/.codex/.codex-auth-run/stale", user.home.display());
    user.run_as(&format!(
        "mkdir -p -m 700 {stale} && echo '999999 1' > {stale}/.keeper && echo x > {stale}/auth.json"
    ));
    let out = sb.run(&["status", "--ssh", "box", "-F", &cfg]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        !Path::new(&stale).exists(),
        "a dead keeper's lease was left: {out:?}"
    );
}

/// The sshd process that serves the session `pid` runs in (its nearest sshd ancestor).
fn sshd_session_of(pid: i32) -> Option<i32> {
    let mut p = pid;
    for _ in 0..10 {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        let parent: i32 = stat.rsplit(") ").next()?.split(' ').nth(1)?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{parent}/comm")).ok()?;
        if comm.trim().starts_with("sshd") {
            return Some(parent);
        }
        p = parent;
    }
    None
}

#[test]
fn a_terminal_run_is_interactive_and_two_runs_do_not_collide() {
    let issuer = FakeIssuer::start();
    let (sb, _home, _refresh) = signed_in(&issuer);
    let (_user, cfg) = host(&sb);
    let out = sb.run_in_tty(
        &box_args(
            &cfg,
            &[
                "sh",
                "-c",
                "test -t 0 && echo on-a-terminal; printf 'name? '; read name; echo hello-$name",
            ],
        ),
        "world\n",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("on-a-terminal"), "{out:?}");
    assert!(out.stdout.contains("hello-world"), "{out:?}");

    let script = "echo home=$CODEX_HOME; sleep 2";
    let a = sb.spawn(&box_args(&cfg, &["sh", "-c", script]));
    let b = sb.spawn(&box_args(&cfg, &["sh", "-c", script]));
    let (a, b) = (sb.wait(a, &[]), sb.wait(b, &[]));
    assert_eq!((a.code, b.code), (0, 0), "{a:?} {b:?}");
    assert_ne!(said(&a.stdout, "home"), said(&b.stdout, "home"));
}

#[test]
fn a_full_run_writes_a_real_refresh_back() {
    let issuer = FakeIssuer::start();
    issuer.access_tokens_expire_in(60);
    let (mut sb, home, refresh) = signed_in(&issuer);
    let (user, cfg) = host(&sb);
    // Codex 0.171 there refreshes the nearly expired login, for real.
    let script = format!(
        "grep -q '\"refresh_token\": \"\"' $CODEX_HOME/auth.json && echo copy=access-only; \
         HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1 timeout 8 {}/.local/bin/codex doctor --json >/dev/null 2>&1; true",
        user.home.display()
    );
    let out = sb.run(&[
        "run", "--ssh", "box", "-F", &cfg, "--full", "--", "sh", "-c", &script,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("copy=access-only"), "{out:?}");
    assert_eq!(issuer.refreshes().len(), 1, "{:?}", issuer.log());
    for t in issuer.issued() {
        sb.secret(&t);
    }
    let now: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("auth.json")).unwrap()).unwrap();
    let written = now["tokens"]["refresh_token"].as_str().unwrap();
    assert_ne!(written, refresh);
    assert!(issuer.is_live(written), "the live token came back");
    assert!(out.stderr.contains("written back"), "{out:?}");
    assert!(!user.home.join(".codex/auth.json").exists());

    // --full cannot write back to a file: refused before anything is touched.
    let file = sb.write(
        "copy.json",
        &std::fs::read_to_string(home.join("auth.json")).unwrap(),
    );
    let out = sb.run(&[
        "run",
        "--full",
        "--from",
        file.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("cannot be written back"), "{out:?}");
}

#[test]
fn bad_input_is_refused_before_anything_runs() {
    let issuer = FakeIssuer::start();
    let (sb, _home, _refresh) = signed_in(&issuer);
    for (args, says) in [
        (&["run"][..], "CMD"),
        (
            &["run", "--from", "saved:nope", "--", "true"][..],
            "no saved login",
        ),
        (
            &["run", "--from", "saved:a/b", "--", "true"][..],
            "not a path",
        ),
        (
            &["run", "--ssh", "a", "--ssh", "b", "--", "true"][..],
            "one place",
        ),
        (&["run", "--json", "--", "true"][..], "--json"),
    ] {
        let out = sb.run(args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains(says), "{args:?}: {out:?}");
        if args.len() > 1 {
            // one line, and its hint
            assert!(out.stderr.trim().lines().count() <= 2, "{out:?}");
        }
    }
}

#[test]
fn the_ledger_knows_a_lease_only_while_its_run_runs() {
    let issuer = FakeIssuer::start();
    issuer.access_tokens_expire_in(600);
    let (sb, home, _refresh) = signed_in(&issuer);
    // Inside a --full run here: status names the lease, and a sync due to refresh the
    // session leaves it to the command (nothing is sent to the issuer).
    let script = "\"$CODEX_AUTH\" status --json > inner-status.json; \
        \"$CODEX_AUTH\" sync > inner-sync.txt 2>&1; echo sync=$?";
    let out = sb.run(&["run", "--full", "--", "sh", "-c", script]);
    assert_eq!(out.code, 0, "{out:?}");
    let inner: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sb.home().join("inner-status.json")).unwrap(),
    )
    .unwrap();
    let leases = inner["leases"].as_array().expect("leases while run runs");
    assert_eq!(leases.len(), 1, "{inner}");
    assert_eq!(leases[0]["place"], "local");
    assert_eq!(leases[0]["access_only"], false);
    let sync = std::fs::read_to_string(sb.home().join("inner-sync.txt")).unwrap();
    assert!(
        sync.contains("not refreshed: a `codex-auth run --full`"),
        "{sync}"
    );
    assert!(issuer.refreshes().is_empty(), "{:?}", issuer.log());
    // After: no lease in status or in the ledger file.
    let after = sb.run(&["status", "--json"]).code(0).json();
    assert!(after.get("leases").is_none(), "{after}");

    // A run killed outright leaves its record, which nobody takes for a live lease.
    let running = sb.spawn(&[
        "run",
        "--",
        "sh",
        "-c",
        "echo $CODEX_HOME > lease-path; exec sleep 120",
    ]);
    let lease = crate::harness::wait_for_line(&sb.home().join("lease-path"), 20);
    let during = sb.run(&["status", "--json"]).code(0).json();
    assert_eq!(during["leases"][0]["lease"], lease.as_str(), "{during}");
    assert_eq!(during["leases"][0]["access_only"], true, "{during}");
    let text = sb.run(&["status"]).code(0).stdout;
    assert!(text.contains("an access-only copy"), "{text}");
    running.signal(libc::SIGKILL);
    let _ = sb.wait(running, &[]);
    let after = sb.run(&["status", "--json"]).code(0).json();
    assert!(after.get("leases").is_none(), "{after}");

    // A lease here whose keeper is gone too: the next status here removes it.
    let stale = home.join(".codex-auth-run/stale");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join(".keeper"), "999999 1\n").unwrap();
    std::fs::write(stale.join("auth.json"), "x").unwrap();
    let out = sb.run(&["status"]).code(0);
    assert!(!stale.exists(), "a dead keeper's lease was left: {out:?}");
    assert!(
        out.stdout
            .contains("the lease of a `codex-auth run` that died"),
        "{out:?}"
    );
}
