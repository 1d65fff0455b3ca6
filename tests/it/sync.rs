//! `sync` against real hosts, containers and both Codex builds, with the strict issuer
//! (refresh tokens rotate, a replay ends the whole sign-in): one sign-in kept alive on
//! every place, access-only copies that never reach the issuer, adoption of a copy a
//! place's own Codex refreshed, and a refresh token never sent twice.

use std::time::Duration;

use crate::codex171::{refresh_as, wait_for_refreshes};
use crate::harness::{docker_peers, Codex, RemoteUser, Sandbox, TestContainer};
use crate::issuer::FakeIssuer;

/// A sandbox whose own login (CODEX_HOME) is a fresh sign-in at `issuer`, trusting it.
pub(crate) fn signed_in(issuer: &FakeIssuer) -> (Sandbox, std::path::PathBuf, String) {
    let mut sb = Sandbox::new();
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().host().to_string()));
    sb.env
        .push(("CODEX_AUTH_ISSUER".into(), issuer.base.clone()));
    let (login, refresh) = issuer.login_json();
    sb.secret(&refresh);
    let home = sb.home().join("local-codex");
    sb.write("local-codex/auth.json", &login);
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    (sb, home, refresh)
}

fn tokens(path: &std::path::Path) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["tokens"].clone()
}

/// No token the issuer made is in `out`; each is registered as a secret no later output
/// may show.
fn no_token_shown(sb: &mut Sandbox, issuer: &FakeIssuer, out: &crate::harness::Out) {
    for t in issuer.issued() {
        assert!(!out.all().contains(&t), "a token leaked: {out:?}");
        sb.secret(&t);
    }
}

/// How many requests reached the token endpoint (answered or not).
fn token_posts(issuer: &FakeIssuer) -> usize {
    issuer
        .log()
        .iter()
        .filter(|l| *l == "POST /oauth/token")
        .count()
}

fn actions(out: &serde_json::Value) -> Vec<(String, String)> {
    out["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["target"].as_str().unwrap().to_string(),
                p["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn one_sign_in_stays_alive_on_hosts_and_containers_and_a_refresh_there_is_adopted() {
    let issuer = FakeIssuer::start();
    // Signed in 10 minutes before expiry; every refresh gives 303 s, so a place's own
    // Codex (which refreshes in the last 300) refreshes a few seconds later, once.
    issuer.access_tokens_expire_in(600);
    issuer.refreshed_tokens_expire_in(303);
    let (mut sb, home, first) = signed_in(&issuer);
    let (full, access) = (RemoteUser::bash(), RemoteUser::bash());
    full.with_codex(Codex::Npm171);
    access.with_codex(Codex::Pypi147);
    for u in [&full, &access] {
        u.authorize(&sb);
    }
    sb.alias("full", &full);
    let cfg = sb.alias("access", &access);
    let cfg = cfg.to_str().unwrap().to_string();
    let c = TestContainer::new(Codex::Npm171.image(), &[], true);
    sb.run(&["push", "--ssh", "full", "-F", &cfg]).code(0);
    let out = sb
        .run(&[
            "push",
            "--ssh",
            "access",
            "--docker",
            &c.name,
            "-F",
            &cfg,
            "--access-only",
            "--json",
        ])
        .code(0);
    // Access-only copies: no refresh token, no API key; Codex accepts them.
    for t in out.json()["targets"].as_array().unwrap() {
        assert!(
            t["codex_status"]
                .as_str()
                .unwrap()
                .contains("Logged in using ChatGPT"),
            "{out:?}"
        );
    }
    assert_eq!(tokens(&access.auth_path())["refresh_token"], "");
    let status = sb.run(&["status", "--ssh", "access", "-F", &cfg]).code(0);
    assert!(
        status.stdout.contains("access-only, expires in"),
        "{status:?}"
    );

    // The first sync: due (10 minutes < 1 hour), refreshed here once, spread.
    let out = sb
        .run(&["sync", "--refresh-within", "1h", "-F", &cfg, "--json"])
        .code(0);
    no_token_shown(&mut sb, &issuer, &out);
    let doc = out.json();
    assert_eq!(doc["session"]["refreshed"], true, "{out:?}");
    let mut got = actions(&doc);
    got.sort();
    let mut want = vec![
        ("local".to_string(), "refreshed".to_string()),
        ("full".into(), "updated".into()),
        ("access".into(), "updated".into()),
        (c.name.clone(), "updated".into()),
    ];
    want.sort();
    assert_eq!(got, want, "{out:?}");
    assert_eq!(issuer.refreshes(), vec![first.clone()]);
    let here = tokens(&home.join("auth.json"));
    let second = here["refresh_token"].as_str().unwrap().to_string();
    assert!(issuer.is_live(&second));
    assert_eq!(tokens(&full.auth_path())["refresh_token"], second.as_str());
    let a = tokens(&access.auth_path());
    assert_eq!(a["refresh_token"], "");
    assert_eq!(a["access_token"], here["access_token"]);
    let in_container: serde_json::Value =
        serde_json::from_str(&c.exec(&["cat", "/root/.codex/auth.json"])).unwrap();
    assert_eq!(in_container["tokens"]["refresh_token"], "");
    assert_eq!(in_container["tokens"]["access_token"], here["access_token"]);
    assert_eq!(in_container["OPENAI_API_KEY"], serde_json::Value::Null);

    // Nothing is due now: every place is current, nothing is sent.
    let out = sb
        .run(&["sync", "--refresh-within", "30s", "-F", &cfg, "--json"])
        .code(0);
    assert!(
        actions(&out.json()).iter().all(|(_, a)| a == "current"),
        "{out:?}"
    );
    assert_eq!(issuer.refreshes().len(), 1);

    // The host's own Codex refreshes (once its copy has under 300 s left): its copy is
    // the newest, adopted here and spread; nothing is sent twice.
    std::thread::sleep(Duration::from_secs(4));
    let mut codex = refresh_as(&full, Codex::Npm171, &issuer);
    wait_for_refreshes(&issuer, 2);
    let _ = codex.wait();
    let third = tokens(&full.auth_path())["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(third, second);
    no_token_shown(&mut sb, &issuer, &out);
    let out = sb
        .run(&["sync", "--refresh-within", "30s", "-F", &cfg, "--json"])
        .code(0);
    no_token_shown(&mut sb, &issuer, &out);
    let mut got = actions(&out.json());
    got.sort();
    let mut want = vec![
        ("local".to_string(), "adopted".to_string()),
        ("full".into(), "current".into()),
        ("access".into(), "updated".into()),
        (c.name.clone(), "updated".into()),
    ];
    want.sort();
    assert_eq!(got, want, "{out:?}");
    assert_eq!(
        tokens(&home.join("auth.json"))["refresh_token"],
        third.as_str()
    );
    assert_eq!(
        tokens(&access.auth_path())["access_token"],
        tokens(&full.auth_path())["access_token"]
    );
    let sent = issuer.refreshes();
    assert_eq!(sent, vec![first, second], "each token once, no empty one");
    assert!(issuer.is_live(&third) && !issuer.family_revoked(&third));
    // Every place is still signed in, as its own Codex says.
    let out = sb
        .run(&[
            "status", "--ssh", "full", "--ssh", "access", "--docker", &c.name, "-F", &cfg, "--json",
        ])
        .code(0);
    for p in out.json()["places"].as_array().unwrap() {
        assert!(
            p["codex_status"]
                .as_str()
                .is_none_or(|s| s.contains("Logged in using ChatGPT")),
            "{out:?}"
        );
    }
    // Status shows the session: where the newest copy is, the access-only ones.
    let text = sb
        .run(&[
            "status", "--ssh", "full", "--ssh", "access", "--docker", &c.name, "-F", &cfg,
        ])
        .code(0);
    let line = text
        .stdout
        .lines()
        .find(|l| l.starts_with("session of ChatGPT account user"))
        .unwrap_or_else(|| panic!("no session line: {text:?}"));
    assert!(
        line.contains(
            "newest at local; full copies at local, full; access-only at access (expires in"
        ),
        "{line}"
    );
    assert!(line.contains(&format!("{} (expires in", c.name)), "{line}");
    assert!(line.contains("last sync "), "{line}");
    assert!(
        text.stdout
            .contains("warning: the access-only copy at access expires in"),
        "{text:?}"
    );
    let session = &out.json()["sessions"][0];
    assert_eq!(session["newest"], "local", "{out:?}");
    assert_eq!(
        session["access_only"].as_array().unwrap().len(),
        2,
        "{out:?}"
    );
    assert!(session["behind"].as_array().unwrap().is_empty(), "{out:?}");
}

#[test]
fn a_refresh_whose_answer_never_came_is_never_sent_again() {
    let issuer = FakeIssuer::start();
    issuer.access_tokens_expire_in(600);
    let (mut sb, home, first) = signed_in(&issuer);
    let before = std::fs::read_to_string(home.join("auth.json")).unwrap();
    // The issuer holds its answer back; the sync is killed while it waits, and the
    // issuer takes the token all the same (the answer is lost).
    issuer.delay_refresh(Duration::from_secs(2));
    let run = sb.spawn(&["sync", "--refresh-within", "1h"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while token_posts(&issuer) == 0 {
        assert!(std::time::Instant::now() < deadline, "no refresh was sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.signal(libc::SIGKILL);
    let killed = sb.wait(run, &[]);
    assert_eq!(killed.code, -1, "{killed:?}");
    std::thread::sleep(Duration::from_millis(2500));
    issuer.delay_refresh(Duration::ZERO);
    assert!(!issuer.is_live(&first), "the issuer took the token");
    assert_eq!(
        std::fs::read_to_string(home.join("auth.json")).unwrap(),
        before
    );
    // The next sync knows the token was sent, and does not send it again.
    let out = sb.run(&["sync", "--refresh-within", "1h", "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    no_token_shown(&mut sb, &issuer, &out);
    let doc = out.json();
    assert!(
        doc["session"]["needs_sign_in"]
            .as_str()
            .unwrap()
            .contains("never sent twice"),
        "{out:?}"
    );
    assert_eq!(
        actions(&doc),
        vec![("local".into(), "needs-sign-in".into())]
    );
    assert_eq!(issuer.refreshes(), vec![first.clone()]);
    let out = sb.run(&["sync", "--refresh-within", "1h"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("NEEDS SIGN-IN"), "{out:?}");
    assert_eq!(issuer.refreshes(), vec![first]);
}

#[test]
fn a_refused_refresh_says_what_to_do_and_two_syncs_take_turns() {
    let issuer = FakeIssuer::start();
    issuer.access_tokens_expire_in(600);
    let (mut sb, home, first) = signed_in(&issuer);
    // Two syncs at once: one refresh, one token sent once.
    issuer.delay_refresh(Duration::from_millis(700));
    let a = sb.spawn(&["sync", "--refresh-within", "1h", "--json"]);
    let b = sb.spawn(&["sync", "--refresh-within", "1h", "--json"]);
    let (a, b) = (sb.wait(a, &[]), sb.wait(b, &[]));
    no_token_shown(&mut sb, &issuer, &a);
    no_token_shown(&mut sb, &issuer, &b);
    assert_eq!(issuer.refreshes(), vec![first.clone()], "{a:?} {b:?}");
    assert_eq!((a.code, b.code), (0, 0), "{a:?} {b:?}");
    let refreshed = [&a, &b]
        .iter()
        .filter(|o| o.json()["session"]["refreshed"] == true)
        .count();
    assert_eq!(
        refreshed, 1,
        "the second waits, then finds it fresh: {a:?} {b:?}"
    );
    // The session is ended elsewhere (a replay of the first token): the next refresh
    // is refused, and the report says to sign in again.
    let second = tokens(&home.join("auth.json"))["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let replay = reqwest_like_replay(&issuer, &first);
    assert!(replay.contains("refresh_token_reused"), "{replay}");
    assert!(issuer.family_revoked(&second));
    let out = sb.run(&["sync", "--refresh-within", "5000w", "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    no_token_shown(&mut sb, &issuer, &out);
    let why = out.json()["session"]["needs_sign_in"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("refresh_token_invalidated"), "{why}");
    assert!(why.contains("sign in again"), "{why}");
}

/// Send `token` to the issuer's token endpoint as a replay would (curl).
fn reqwest_like_replay(issuer: &FakeIssuer, token: &str) -> String {
    let body = serde_json::json!({
        "client_id": crate::issuer::CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": token,
    });
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-H",
            "content-type: application/json",
            "--data-binary",
        ])
        .arg(body.to_string())
        .arg(format!("{}/oauth/token", issuer.base))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_timer_runs_this_sync_on_schedule_and_goes_again() {
    let issuer = FakeIssuer::start();
    let (sb, home, _) = signed_in(&issuer);
    let user = RemoteUser::bash();
    let cfg = sb.alias("box", &user);
    let cfg = cfg.to_str().unwrap();
    let units = sb.home().join(".config/systemd/user");
    // No user session bus here: the units are written, and the report says what to
    // run (exit 1, nothing claimed).
    let out = sb.run(&[
        "sync",
        "--install-timer",
        "--every",
        "12h",
        "-F",
        cfg,
        "--refresh-within",
        "2d",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .contains("systemctl --user enable --now codex-auth-sync.timer"),
        "{out:?}"
    );
    let service = std::fs::read_to_string(units.join("codex-auth-sync.service")).unwrap();
    let timer = std::fs::read_to_string(units.join("codex-auth-sync.timer")).unwrap();
    assert!(
        service.contains(&format!(
            "\"sync\" \"--refresh-within\" \"172800s\" \"-F\" \"{cfg}\""
        )),
        "{service}"
    );
    assert!(
        service.contains(&format!("Environment=\"CODEX_HOME={}\"", home.display())),
        "{service}"
    );
    assert!(timer.contains("OnUnitActiveSec=43200s"), "{timer}");
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(units.join("codex-auth-sync.service"))
        .arg(units.join("codex-auth-sync.timer"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
    // Places are the ledger's: naming one is refused.
    let out = sb.run(&["sync", "--install-timer", "--ssh", "box", "-F", cfg]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = sb.run(&["sync", "--uninstall-timer"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!units.join("codex-auth-sync.timer").exists());
    assert!(!units.join("codex-auth-sync.service").exists());
}

#[test]
fn sync_every_stops_cleanly_on_sigterm() {
    let issuer = FakeIssuer::start();
    let (sb, _, _) = signed_in(&issuer);
    let run = sb.spawn(&["sync", "--every", "1h"]);
    std::thread::sleep(Duration::from_millis(1500));
    run.signal(libc::SIGTERM);
    let out = sb.wait(run, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("next sync in 1h"), "{out:?}");
    assert!(out.stdout.contains("local"), "{out:?}");
}

#[test]
fn cycles_of_refreshes_at_a_host_and_a_host_that_was_down_catches_up() {
    let issuer = FakeIssuer::start();
    issuer.access_tokens_expire_in(600);
    issuer.refreshed_tokens_expire_in(303);
    let (mut sb, home, _) = signed_in(&issuer);
    let (full, access) = (RemoteUser::bash(), RemoteUser::bash());
    full.with_codex(Codex::Npm171);
    access.with_codex(Codex::Npm171);
    for u in [&full, &access] {
        u.authorize(&sb);
    }
    sb.alias("full", &full);
    let cfg = sb.alias("access", &access);
    let cfg = cfg.to_str().unwrap().to_string();
    // The same hosts, with `access` down (nothing listens on its port).
    let down = sb.write(
        "down_config",
        &std::fs::read_to_string(&cfg).unwrap().replace(
            &format!(
                "Port {}\n  User {}\n",
                crate::harness::peers().port(),
                access.name
            ),
            &format!("Port 1\n  User {}\n", access.name),
        ),
    );
    let down = down.to_str().unwrap().to_string();
    sb.run(&["push", "--ssh", "full", "-F", &cfg]).code(0);
    sb.run(&["push", "--ssh", "access", "-F", &cfg, "--access-only"])
        .code(0);
    sb.run(&["sync", "--refresh-within", "1h", "-F", &cfg])
        .code(0);
    for cycle in 0..3 {
        // The host's Codex refreshes for real (its copy is due), then a sync adopts it;
        // in the second cycle `access` is down, and catches up in the third.
        std::thread::sleep(Duration::from_secs(4));
        let before = token_posts(&issuer);
        let mut codex = refresh_as(&full, Codex::Npm171, &issuer);
        wait_for_refreshes(&issuer, before + 1);
        let _ = codex.wait();
        let config = if cycle == 1 { &down } else { &cfg };
        let out = sb.run(&["sync", "--refresh-within", "30s", "-F", config, "--json"]);
        no_token_shown(&mut sb, &issuer, &out);
        let mut got = actions(&out.json());
        got.sort();
        let access_action = if cycle == 1 { "unreachable" } else { "updated" };
        let mut want = vec![
            ("local".to_string(), "adopted".to_string()),
            ("full".into(), "current".into()),
            ("access".into(), access_action.into()),
        ];
        want.sort();
        assert_eq!(got, want, "cycle {cycle}: {out:?}");
        assert_eq!(out.code, if cycle == 1 { 1 } else { 0 }, "{out:?}");
        let here = tokens(&home.join("auth.json"));
        assert_eq!(
            here["refresh_token"],
            tokens(&full.auth_path())["refresh_token"]
        );
        if cycle != 1 {
            assert_eq!(
                tokens(&access.auth_path())["access_token"],
                here["access_token"]
            );
        }
    }
    // No token was presented twice, none empty, and the sign-in is alive.
    let sent = issuer.refreshes();
    let distinct: std::collections::HashSet<&String> = sent.iter().collect();
    assert_eq!(distinct.len(), sent.len(), "{sent:?}");
    assert!(
        !sent.iter().any(String::is_empty),
        "an access-only copy reached the issuer"
    );
    let live = tokens(&home.join("auth.json"))["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(issuer.is_live(&live) && !issuer.family_revoked(&live));
    let out = sb
        .run(&[
            "status", "--ssh", "full", "--ssh", "access", "-F", &cfg, "--json",
        ])
        .code(0);
    for p in out.json()["places"].as_array().unwrap() {
        assert!(
            p["codex_status"]
                .as_str()
                .is_none_or(|s| s.contains("Logged in using ChatGPT")),
            "{out:?}"
        );
    }
}

#[test]
fn a_sync_killed_at_any_step_never_sends_a_token_twice() {
    for kill_after_ms in [150u64, 400, 700, 1100] {
        let issuer = FakeIssuer::start();
        issuer.access_tokens_expire_in(600);
        let (mut sb, home, _) = signed_in(&issuer);
        let user = RemoteUser::bash();
        user.authorize(&sb);
        let cfg = sb.alias("box", &user);
        let cfg = cfg.to_str().unwrap().to_string();
        sb.run(&["push", "--ssh", "box", "-F", &cfg, "--access-only"])
            .code(0);
        // The refresh answer takes 500 ms: the kill lands before, during or after it.
        issuer.delay_refresh(Duration::from_millis(500));
        let run = sb.spawn(&["sync", "--refresh-within", "1h", "-F", &cfg]);
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        run.signal(libc::SIGKILL);
        let killed = sb.wait(run, &issuer.issued());
        std::thread::sleep(Duration::from_millis(700));
        issuer.delay_refresh(Duration::ZERO);
        // The next syncs either finish the job or say the session needs a sign-in; no
        // token is ever presented twice, and the host holds no refresh token.
        let out = sb.run(&["sync", "--refresh-within", "1h", "-F", &cfg, "--json"]);
        no_token_shown(&mut sb, &issuer, &out);
        let doc = out.json();
        match out.code {
            0 => {
                let here = tokens(&home.join("auth.json"));
                assert_eq!(
                    tokens(&user.auth_path())["access_token"],
                    here["access_token"],
                    "after {kill_after_ms} ms: {killed:?} {out:?}"
                );
                assert!(issuer.is_live(here["refresh_token"].as_str().unwrap()));
            }
            1 => assert!(
                doc["session"]["needs_sign_in"].is_string(),
                "after {kill_after_ms} ms: {out:?}"
            ),
            _ => panic!("after {kill_after_ms} ms: {out:?}"),
        }
        sb.run(&["sync", "--refresh-within", "1h", "-F", &cfg]);
        let sent = issuer.refreshes();
        let distinct: std::collections::HashSet<&String> = sent.iter().collect();
        assert_eq!(
            distinct.len(),
            sent.len(),
            "after {kill_after_ms} ms: {sent:?}"
        );
        assert_eq!(tokens(&user.auth_path())["refresh_token"], "");
        let leftovers: Vec<String> = std::fs::read_dir(user.home.join(".codex"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".auth"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn a_dry_run_reads_every_place_and_changes_nothing() {
    let issuer = FakeIssuer::start();
    issuer.access_tokens_expire_in(600);
    let (mut sb, home, _) = signed_in(&issuer);
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("box", &user);
    let cfg = cfg.to_str().unwrap().to_string();
    sb.run(&["push", "--ssh", "box", "-F", &cfg, "--access-only"])
        .code(0);
    // An access-only copy behind this machine's (as after a refresh here).
    let stale = std::fs::read_to_string(user.auth_path()).unwrap();
    let here = std::fs::read_to_string(home.join("auth.json")).unwrap();
    let ledger =
        std::fs::read_to_string(sb.home().join(".local/state/codex-auth/ledger.json")).unwrap();
    let out = sb
        .run(&[
            "sync",
            "--dry-run",
            "--refresh-within",
            "1h",
            "-F",
            &cfg,
            "--json",
        ])
        .code(0);
    no_token_shown(&mut sb, &issuer, &out);
    let doc = out.json();
    assert_eq!(doc["dry_run"], true);
    assert!(
        doc["places"][0]["notes"][0]
            .as_str()
            .unwrap()
            .contains("would refresh"),
        "{out:?}"
    );
    assert!(issuer.refreshes().is_empty(), "a dry run sent a refresh");
    assert_eq!(std::fs::read_to_string(user.auth_path()).unwrap(), stale);
    assert_eq!(
        std::fs::read_to_string(home.join("auth.json")).unwrap(),
        here
    );
    assert_eq!(
        std::fs::read_to_string(sb.home().join(".local/state/codex-auth/ledger.json")).unwrap(),
        ledger,
        "a dry run changed the ledger"
    );
    assert!(!sb
        .home()
        .join(".local/state/codex-auth/refresh-journal.json")
        .exists());
    // Bad input: a clear error, exit 2, nothing touched.
    for bad in [
        &["sync", "--every", "0s"][..],
        &["sync", "--refresh-within", "soon"],
        &["sync", "--install-timer", "--dry-run"],
        &["sync", "--issuer", "http://example.com"],
    ] {
        let out = sb.run(bad);
        assert_eq!(out.code, 2, "{bad:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(
            out.stderr.starts_with("codex-auth: ") || out.stderr.starts_with("error: "),
            "{out:?}"
        );
    }
    assert!(issuer.refreshes().is_empty());
}

#[test]
fn a_full_copy_planted_where_an_access_only_copy_was_put_is_never_adopted() {
    let issuer = FakeIssuer::start();
    let (mut sb, home, _) = signed_in(&issuer);
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("box", &user);
    let cfg = cfg.to_str().unwrap().to_string();
    sb.run(&["push", "--ssh", "box", "-F", &cfg, "--access-only"])
        .code(0);
    // Someone at the host plants a "newer" full copy of the same sign-in (its lineage is
    // in the access-only copy), with a refresh token of their own.
    let mut planted: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(user.auth_path()).unwrap()).unwrap();
    planted["tokens"]["refresh_token"] = "rt-planted-by-the-host-0000000000".into();
    planted["last_refresh"] = "2099-01-01T00:00:00.000000Z".into();
    user.write_owned(".codex/auth.json", &planted.to_string(), 0o600);
    let before = std::fs::read_to_string(home.join("auth.json")).unwrap();
    // A status there does not make the place a trusted holder.
    sb.run(&["status", "--ssh", "box", "-F", &cfg]).code(0);
    let out = sb.run(&["sync", "-F", &cfg, "--json"]);
    no_token_shown(&mut sb, &issuer, &out);
    assert_eq!(out.code, 1, "{out:?}");
    let doc = out.json();
    let mut got = actions(&doc);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("box".into(), "diverged".into()),
            ("local".into(), "current".into())
        ],
        "{out:?}"
    );
    assert!(
        out.stdout.contains("where an access-only copy was put"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(home.join("auth.json")).unwrap(),
        before
    );
    assert_eq!(
        tokens(&user.auth_path())["refresh_token"],
        "rt-planted-by-the-host-0000000000",
        "a suspect copy is left for a person to look at"
    );
    assert!(issuer.refreshes().is_empty());
}

#[test]
fn sync_keeps_a_saved_logins_session_alive_too() {
    let issuer = FakeIssuer::start();
    // Within Codex's own 5 minutes: the box's Codex refreshes the work sign-in.
    issuer.access_tokens_expire_in(60);
    issuer.refreshed_tokens_expire_in(600);
    let (mut sb, home, first) = signed_in(&issuer);
    let saved = sb.home().join(".local/state/codex-auth/logins/work.json");
    let user = RemoteUser::bash();
    user.with_codex(Codex::Npm171);
    user.authorize(&sb);
    let cfg = sb.alias("box", &user);
    let cfg = cfg.to_str().unwrap().to_string();
    // The work sign-in is saved, pushed to the box, and another sign-in is current.
    sb.run(&["save", "work"]).code(0);
    sb.run(&["push", "--ssh", "box", "-F", &cfg, "--from", "saved:work"])
        .code(0);
    let (other, other_token) = issuer.login_json();
    sb.secret(&other_token);
    std::fs::write(home.join("auth.json"), &other).unwrap();
    // The box's Codex refreshes the work sign-in for real.
    let before = token_posts(&issuer);
    let mut codex = refresh_as(&user, Codex::Npm171, &issuer);
    wait_for_refreshes(&issuer, before + 1);
    let _ = codex.wait();
    let at_box = tokens(&user.auth_path())["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(at_box, first);
    // One sync: this machine's session has no other place; the saved login adopts the
    // box's refresh (never the spent token over it).
    // (--refresh-within 0s: nothing is refreshed here, so what sync adopts is seen)
    let out = sb.run(&["sync", "-F", &cfg, "--json", "--refresh-within", "0s"]);
    no_token_shown(&mut sb, &issuer, &out);
    assert_eq!(out.code, 0, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["saved"][0]["name"], "work", "{out:?}");
    let places = &doc["saved"][0]["places"];
    let row = |target: &str| {
        places
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["target"] == target)
            .unwrap_or_else(|| panic!("no {target} in {out:?}"))
            .clone()
    };
    assert_eq!(row("saved:work")["action"], "adopted", "{out:?}");
    assert_eq!(row("saved:work")["kind"], "saved", "{out:?}");
    assert_eq!(row("box")["action"], "current", "{out:?}");
    let kept = tokens(&saved)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(kept, at_box);
    assert!(issuer.is_live(&kept));
    // This machine's own login is another sign-in, untouched.
    assert_eq!(
        tokens(&home.join("auth.json"))["refresh_token"],
        other_token
    );
    // Text: the saved login's pass under its own heading.
    let out = sb.run(&["sync", "-F", &cfg, "--refresh-within", "0s"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("saved login work:"), "{out:?}");
}
