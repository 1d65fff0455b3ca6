//! Several accounts on this machine: `save`, `switch`, `forget`, `status --saved`, with
//! a real Codex refresh between them.

use std::process::{Command, Stdio};

use crate::harness::{Codex, Sandbox};
use crate::issuer::FakeIssuer;

fn sandbox(issuer: &FakeIssuer) -> (Sandbox, std::path::PathBuf) {
    let mut sb = Sandbox::new();
    let home = sb.home().join("codex-home");
    std::fs::create_dir_all(&home).unwrap();
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    sb.env
        .push(("CODEX_AUTH_ISSUER".into(), issuer.base.clone()));
    (sb, home)
}

fn refresh_token(path: &std::path::Path) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["tokens"]["refresh_token"].as_str().unwrap().to_string()
}

#[test]
fn save_switch_forget_and_a_refresh_made_here_is_kept_under_its_name() {
    let issuer = FakeIssuer::start();
    issuer.access_tokens_expire_in(60);
    let (mut sb, home) = sandbox(&issuer);
    let auth = home.join("auth.json");
    let saved = sb.home().join(".local/state/codex-auth/logins");
    let (a, a_token) = issuer.login_json();
    let (b, b_token) = issuer.login_json();
    sb.secret(&a_token);
    sb.secret(&b_token);
    std::fs::write(&auth, &a).unwrap();
    let out = sb.run(&["save", "work"]).code(0);
    assert!(
        out.stdout.starts_with("saved work: ChatGPT account user"),
        "{out:?}"
    );
    // Another account signs in here; it is saved too.
    std::fs::write(&auth, &b).unwrap();
    // Switching away from a login saved under no name is refused: it would be lost.
    let out = sb.run(&["switch", "work"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("saved under no name"), "{out:?}");
    assert_eq!(refresh_token(&auth), b_token);
    sb.run(&["save", "personal"]).code(0);
    // A name holding another sign-in is not replaced without --force.
    let out = sb.run(&["save", "work"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(refresh_token(&saved.join("work.json")), a_token);
    let out = sb.run(&["switch", "work"]).code(0);
    assert!(out.stdout.starts_with("switched to work"), "{out:?}");
    assert_eq!(std::fs::read_to_string(&auth).unwrap(), a);
    // Codex 0.171 refreshes the current login for real.
    let run = Command::new(Codex::Npm171.bin())
        .args(["doctor", "--json"])
        .env("CODEX_HOME", &home)
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let _ = run;
    let refreshed = refresh_token(&auth);
    assert_ne!(
        refreshed,
        a_token,
        "Codex did not refresh: {:?}",
        issuer.log()
    );
    for t in issuer.issued() {
        sb.secret(&t);
    }
    // Switching away keeps the refreshed login under its name.
    let out = sb.run(&["switch", "personal"]).code(0);
    assert!(
        out.stdout.contains("kept the refreshed login under work"),
        "{out:?}"
    );
    assert_eq!(refresh_token(&saved.join("work.json")), refreshed);
    assert_eq!(refresh_token(&auth), b_token);
    // status --saved: one line per name, the current one marked.
    let out = sb.run(&["status", "--saved"]).code(0);
    assert!(out.stdout.contains("personal (current)"), "{out:?}");
    assert!(out.stdout.contains("work"), "{out:?}");
    let out = sb.run(&["status", "--saved", "--json"]).code(0);
    let list = out.json()["saved"].clone();
    assert_eq!(list.as_array().unwrap().len(), 2, "{out:?}");
    assert_eq!(list[0]["name"], "personal");
    assert_eq!(list[0]["current"], true);
    // The saved files are private.
    use std::os::unix::fs::PermissionsExt;
    for f in ["work.json", "personal.json"] {
        let mode = std::fs::metadata(saved.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    let mode = std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    // forget --revoke ends the session at the issuer.
    let out = sb.run(&["forget", "work", "--revoke"]).code(0);
    assert!(
        out.stdout.contains("revoked its ChatGPT session"),
        "{out:?}"
    );
    assert!(!saved.join("work.json").exists());
    assert!(!issuer.is_live(&refreshed));
    assert!(issuer.is_live(&b_token), "the other account is untouched");
}

#[test]
fn a_switch_under_a_running_codex_is_refused_and_bad_names_are_usage_errors() {
    let issuer = FakeIssuer::start();
    let (mut sb, home) = sandbox(&issuer);
    let (a, a_token) = issuer.login_json();
    let (b, b_token) = issuer.login_json();
    sb.secret(&a_token);
    sb.secret(&b_token);
    std::fs::write(home.join("auth.json"), &a).unwrap();
    sb.run(&["save", "a"]).code(0);
    std::fs::write(home.join("auth.json"), &b).unwrap();
    sb.run(&["save", "b"]).code(0);
    // A process named codex using this Codex home.
    let bin = sb.home().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/sleep", bin.join("codex")).unwrap();
    let mut codex = Command::new(bin.join("codex"))
        .arg("30")
        .env("CODEX_HOME", &home)
        .spawn()
        .unwrap();
    let out = sb.run(&["switch", "a"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains(&format!("(PID {})", codex.id())),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(home.join("auth.json")).unwrap(), b);
    // --wait waits for it.
    let pid = codex.id();
    let waiter = sb.spawn(&["switch", "a", "--wait", "20"]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = codex.wait();
    let out = sb.wait(waiter, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(std::fs::read_to_string(home.join("auth.json")).unwrap(), a);
    for bad in [
        &["save", "../x"][..],
        &["save", ""],
        &["save", ".hidden"],
        &["switch", "a/b"],
        &["switch", "nope"],
        &["forget", "nope"],
    ] {
        let out = sb.run(bad);
        assert_eq!(out.code, 2, "{bad:?}: {out:?}");
        assert!(out.stderr.contains("hint:"), "{bad:?}: {out:?}");
    }
    assert_eq!(std::fs::read_to_string(home.join("auth.json")).unwrap(), a);
}

#[test]
fn login_save_signs_in_straight_into_a_name_and_run_lends_it() {
    let issuer = crate::issuer::FakeIssuer::start();
    issuer.device_mode(crate::issuer::DeviceMode::Approve { pending: 0 });
    let (mut sb, home) = sandbox(&issuer);
    let auth = home.join("auth.json");
    // This machine's current login is an API key; it stays as it is.
    let key = crate::harness::logins::api_key("current");
    std::fs::write(&auth, crate::harness::logins::api_key_json(&key)).unwrap();
    sb.secret(&key);
    let before = std::fs::read_to_string(&auth).unwrap();
    let mut args = vec!["login".to_string(), "--save".into(), "seat-2".into()];
    args.extend(issuer.args());
    args.push("--device-auth".into());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let running = sb.spawn(&argv);
    let out = sb.wait(running, &issuer.issued());
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.starts_with("saved seat-2: ChatGPT account"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&auth).unwrap(), before);
    for t in issuer.issued() {
        sb.secret(&t);
    }
    // Lent to a command here, Codex sees the saved sign-in, not the current key.
    let script = format!(
        "{} login status 2>&1 | tail -1",
        Codex::Npm171.bin().display()
    );
    let out = sb.run(&["run", "--from", "saved:seat-2", "--", "sh", "-c", &script]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), "Logged in using ChatGPT", "{out:?}");
    // A bad name is refused before anyone signs in.
    let out = sb.run(&["login", "--save", "a/b", "--api-key-stdin"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--save a/b"), "{out:?}");
    assert!(!sb.home().join(".local/state/codex-auth/logins/a").exists());
}
