//! The compare-and-swap precondition of an install, on every path (an ssh host's
//! script, a container's exec, a stopped container's archive API, this machine), against
//! the real peers: `push --if-holds` with the fingerprints `status --json` shows, a lock
//! held across a change as Codex holds it across a commit, a real refresh by Codex
//! 0.171, and a `--move` whose source changes under it.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{docker_peers, logins, Codex, RemoteUser, Sandbox, TestContainer};
use crate::issuer::FakeIssuer;

/// The fingerprint `status --json` shows for place `index`.
fn fingerprint(out: &crate::harness::Out, index: usize) -> String {
    let doc = out.json();
    doc["places"][index]["fingerprint"]
        .as_str()
        .unwrap_or_else(|| panic!("no fingerprint for place {index}: {out:?}"))
        .to_string()
}

/// `push ARGS --if-holds EXPECT --api-key-stdin` with `key`, as JSON.
fn push_if(sb: &Sandbox, args: &[&str], expect: &str, key: &str) -> crate::harness::Out {
    let mut all = vec!["push"];
    all.extend_from_slice(args);
    all.extend(["--if-holds", expect, "--api-key-stdin", "--json"]);
    sb.run_with_stdin(&all, key)
}

/// Check one place: it holds login `a` (fingerprint `fp_a`); `--if-holds none` and a
/// wrong fingerprint are refused as `changed` with nothing written (`holds` reads what
/// is there); the right fingerprint installs `b`.
fn refuses_then_swaps(
    sb: &mut Sandbox,
    place: &[&str],
    fp_a: &str,
    holds: &dyn Fn() -> String,
    tag: &str,
) {
    let before = holds();
    let b = logins::api_key(&format!("{tag}-b"));
    sb.secret(&b);
    let wrong = "0".repeat(64);
    for expect in ["none", wrong.as_str()] {
        let out = push_if(sb, place, expect, &b);
        assert_eq!(out.code, 1, "{tag} {expect}: {out:?}");
        let e = &out.json()["targets"][0]["error"];
        assert_eq!(e["class"], "changed", "{tag}: {out:?}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .ends_with("nothing was written"),
            "{tag}: {out:?}"
        );
        assert_eq!(holds(), before, "{tag}: written despite the precondition");
    }
    // A dry run says the same, and the right fingerprint goes through.
    let mut dry = place.to_vec();
    dry.push("--dry-run");
    let out = push_if(sb, &dry, "none", &b);
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "changed",
        "{out:?}"
    );
    let out = push_if(sb, place, fp_a, &b).code(0);
    assert_eq!(
        out.json()["targets"][0]["outcome"],
        "installed",
        "{tag}: {out:?}"
    );
    assert_eq!(holds(), logins::api_key_json(&b), "{tag}");
    // Now it holds b: a's fingerprint no longer holds.
    let out = push_if(sb, place, fp_a, &b);
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "changed",
        "{tag}: {out:?}"
    );
}

#[test]
fn if_holds_refuses_a_place_that_changed_on_every_path() {
    // An ssh host (the script, under Codex's locks), with Codex 0.171 there.
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_codex(Codex::Npm171);
    let cfg = sb.alias("s", &user);
    let cfg = cfg.to_str().unwrap().to_string();
    let host = ["--ssh", "s", "-F", cfg.as_str()];
    let (out, _) = sb.push_key("cas-ssh-a", &host);
    out.code(0);
    let fp = fingerprint(&sb.status_json("s", std::path::Path::new(&cfg)).code(0), 1);
    let path = user.auth_path();
    refuses_then_swaps(
        &mut sb,
        &host,
        &fp,
        &|| std::fs::read_to_string(&path).unwrap(),
        "ssh",
    );

    // A running container (docker exec), and a stopped one (the archive API).
    let mut sb = Sandbox::new();
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().host().to_string()));
    for (start, tag) in [(true, "exec"), (false, "archive")] {
        let c = TestContainer::new("USER1000", &[], start);
        let place = ["--docker", c.name.as_str()];
        let (out, _) = sb.push_key(&format!("cas-{tag}-a"), &place);
        out.code(0);
        let out = sb.run(&["status", "--docker", &c.name, "--json"]).code(0);
        let fp = fingerprint(&out, 1);
        let holds = || {
            c.file("/home/app/.codex/auth.json")
                .map(|(content, _, _)| content)
                .unwrap_or_default()
        };
        refuses_then_swaps(&mut sb, &place, &fp, &holds, tag);
    }

    // This machine.
    let mut sb = Sandbox::new();
    let home = sb.home().join("here");
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    let a = logins::api_key("cas-local-a");
    sb.secret(&a);
    sb.write("here/auth.json", &logins::api_key_json(&a));
    let fp = fingerprint(&sb.run(&["status", "--json"]).code(0), 0);
    let path = home.join("auth.json");
    refuses_then_swaps(
        &mut sb,
        &["--local", "--force"],
        &fp,
        &|| std::fs::read_to_string(&path).unwrap(),
        "local",
    );
}

/// A process of `user` that holds `auth.lock` of their Codex home, as Codex does while
/// it commits a refresh, replaces auth.json with `new` under it after `secs`, and lets
/// go: what Codex 0.171 does when its refresh answer arrives.
fn commit_under_lock(user: &RemoteUser, new: &str, secs: u64) -> std::process::Child {
    user.write_owned(".codex/next.json", new, 0o600);
    let codex = user.home.join(".codex");
    let script = format!(
        "echo held; sleep {secs}; mv -f {d}/next.json {d}/auth.json",
        d = codex.display()
    );
    let mut child = Command::new("setpriv")
        .args([
            "--reuid",
            &user.name,
            "--regid",
            &user.name,
            "--clear-groups",
            "flock",
        ])
        .arg(codex.join("auth.lock"))
        .args(["sh", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    child
}

#[test]
fn the_precondition_is_checked_under_codex_s_locks_and_sees_a_real_refresh() {
    let issuer = FakeIssuer::start();
    issuer.access_tokens_expire_in(60);
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_codex(Codex::Npm171);
    let (chatgpt, refresh) = issuer.login_json();
    sb.secret(&refresh);
    user.write_owned(".codex/auth.json", &chatgpt, 0o600);
    let cfg = sb.alias("s", &user);
    let fp0 = fingerprint(&sb.status_json("s", &cfg).code(0), 1);
    let cfg = cfg.to_str().unwrap();
    let host = ["--ssh", "s", "-F", cfg];

    // A commit under auth.lock: the push waits for it, then sees what it wrote.
    let committed = logins::api_key_json(&logins::api_key("cas-committed"));
    let mut holder = commit_under_lock(&user, &committed, 2);
    let key = logins::api_key("cas-late");
    sb.secret(&key);
    let started = std::time::Instant::now();
    let out = push_if(&sb, &host, &fp0, &key);
    let _ = holder.wait();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the push did not wait"
    );
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "changed",
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        committed
    );

    // A real refresh by Codex 0.171: the copy it rotated is what the place holds now.
    user.write_owned(".codex/auth.json", &chatgpt, 0o600);
    let mut doctor = crate::codex171::refresh_as(&user, Codex::Npm171, &issuer);
    crate::codex171::wait_for_refreshes(&issuer, 1);
    let _ = doctor.wait();
    for s in issuer.issued() {
        sb.secret(&s);
    }
    let refreshed = std::fs::read_to_string(user.auth_path()).unwrap();
    assert_ne!(refreshed, chatgpt, "Codex did not refresh");
    let out = push_if(&sb, &host, &fp0, &key);
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "changed",
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        refreshed
    );
    let (rc, said) = user_codex_status(&user);
    assert_eq!((rc, said.trim()), (0, "Logged in using ChatGPT"));
}

/// `codex login status` (0.171) as `user`, in their Codex home.
fn user_codex_status(user: &RemoteUser) -> (i32, String) {
    let out = Command::new("runuser")
        .args(["-u", &user.name, "--", "env"])
        .arg(format!("HOME={}", user.home.display()))
        .arg(Codex::Npm171.bin())
        .args(["login", "status"])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let line = said
        .lines()
        .find(|l| !l.starts_with("WARNING"))
        .unwrap_or("")
        .to_string();
    (out.status.code().unwrap_or(-1), line)
}

#[test]
fn a_move_whose_source_changes_under_it_hands_over_the_newer_login() {
    // The source (an ssh host) holds a; while the move runs, something there holds
    // auth.lock and replaces a with b (as a Codex committing a refresh): the move's
    // removal sees b, so it reads the source again and hands b over instead of taking
    // b away with a spent copy at the destination.
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let a = logins::api_key("move-a");
    let b = logins::api_key("move-b");
    sb.secret(&a);
    sb.secret(&b);
    user.write_owned(".codex/auth.json", &logins::api_key_json(&a), 0o600);
    let cfg = sb.alias("s", &user);
    let cfg = cfg.to_str().unwrap();
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().host().to_string()));
    let c = TestContainer::new("USER1000", &[], true);
    let mut holder = commit_under_lock(&user, &logins::api_key_json(&b), 2);
    let out = sb
        .run(&[
            "push", "--docker", &c.name, "--from", "ssh:s", "-F", cfg, "--move", "--json", "-v",
        ])
        .code(0);
    let _ = holder.wait();
    let doc = out.json();
    assert_eq!(doc["moved_from"]["removed"], true, "{out:?}");
    assert!(
        out.stderr.matches("reading the source again").count() == 1,
        "{out:?}"
    );
    assert_eq!(
        c.file("/home/app/.codex/auth.json").unwrap().0,
        logins::api_key_json(&b),
        "the destination holds the newer login"
    );
    assert!(!user.auth_path().exists(), "the source gave its login up");
}
