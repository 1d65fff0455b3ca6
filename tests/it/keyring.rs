//! Logins kept in the OS keyring, as Codex keeps them there
//! (`cli_auth_credentials_store = "keyring"` or `"auto"`): a real GNOME Keyring on a
//! private session bus (scripts/keyring-peers.sh), and the real Codex writing, reading
//! and judging those logins, here and on the targets.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{keyring_peers, logins, Codex, RemoteUser, Sandbox, TestContainer};

/// A sandbox whose Codex home keeps its login in `store`, on the unlocked keyring's
/// bus when `bus` is set (else with no session bus at all).
fn keyring_sandbox(store: &str, bus: bool) -> (Sandbox, PathBuf) {
    let mut sb = Sandbox::new();
    let home = sb.home().join("codex-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!("cli_auth_credentials_store = \"{store}\"\n"),
    )
    .unwrap();
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    if bus {
        sb.env.push((
            "DBUS_SESSION_BUS_ADDRESS".into(),
            keyring_peers().bus().to_string(),
        ));
    }
    (sb, home)
}

/// The real Codex 0.171, in this sandbox's environment (its bus, its Codex home).
fn codex(sb: &Sandbox, args: &[&str], stdin: &str) -> (i32, String) {
    let mut cmd = Command::new(Codex::Npm171.bin());
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", sb.home());
    for (k, v) in &sb.env {
        cmd.env(k, v);
    }
    let out = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(stdin.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The account Codex files a Codex home's login under (computed independently).
fn account(home: &Path) -> String {
    use sha2::Digest;
    let real = std::fs::canonicalize(home).unwrap();
    let hash = sha2::Sha256::digest(real.to_string_lossy().as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("cli|{}", &hex[..16])
}

/// The login Codex keeps in the keyring for the Codex home `home` (nothing when none).
fn codex_entry(home: &Path) -> String {
    secret_tool(
        &[
            "lookup",
            "service",
            "Codex Auth",
            "username",
            &account(home),
        ],
        "",
    )
}

/// `secret-tool` on the unlocked keyring.
fn secret_tool(args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("secret-tool")
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", keyring_peers().bus())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_keyring_login_made_by_codex_is_pushed_and_accepted_on_a_host_and_in_a_container() {
    let (mut sb, home) = keyring_sandbox("keyring", true);
    let key = logins::api_key("kr-push");
    sb.secret(&key);
    let (rc, said) = codex(&sb, &["login", "--with-api-key"], &key);
    assert_eq!(rc, 0, "{said}");
    assert!(
        !home.join("auth.json").exists(),
        "Codex keeps it in the keyring"
    );
    let stored = codex_entry(&home);
    assert!(
        stored.contains(&key),
        "the entry Codex made is where we look"
    );

    let user = RemoteUser::bash();
    user.authorize(&sb).with_codex(Codex::Npm171);
    let cfg = sb.alias("s", &user);
    let c = TestContainer::new(Codex::Npm171.image(), &[], true);
    sb.env.push((
        "DOCKER_HOST".into(),
        crate::harness::docker_peers().host().to_string(),
    ));
    let out = sb
        .cmd(&[
            "push",
            "--ssh",
            "s",
            "-F",
            cfg.to_str().unwrap(),
            "--docker",
            &c.name,
            "--json",
        ])
        .out();
    assert_eq!(out.code, 0, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["login_from"]["store"], "keyring", "{out:?}");
    assert_eq!(doc["login_from"]["keyring_account"], account(&home));
    assert!(
        out.stderr.contains("from the OS keyring (Codex Auth, cli|"),
        "{out:?}"
    );
    for t in doc["targets"].as_array().unwrap() {
        assert_eq!(t["outcome"], "installed", "{t}");
        assert_eq!(t["codex"]["verdict"], "accepted", "{t}");
        assert_eq!(
            t["codex_status"],
            Codex::Npm171.api_key_line("sk-test-***00000")
        );
    }
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&key)
    );

    // status reads it where Codex does, and says so.
    let out = sb.run(&["status", "--json"]).code(0);
    let local = &out.json()["places"][0];
    assert_eq!(local["login"]["mode"], "apikey", "{out:?}");
    assert_eq!(local["keyring_account"], account(&home));
    assert!(local["path"]
        .as_str()
        .unwrap()
        .starts_with("keyring:Codex Auth/cli|"));
    assert_eq!(local["codex"]["verdict"], "accepted", "{out:?}");
    let out = sb.run(&["status"]).code(0);
    assert!(out.stdout.contains("kept in the OS keyring"), "{out:?}");
    assert!(!out.stdout.contains("ignores auth.json"), "{out:?}");
}

#[test]
fn login_saves_to_the_keyring_and_removes_a_stale_file_as_codex_does() {
    let (mut sb, home) = keyring_sandbox("keyring", true);
    let stale = logins::api_key("kr-stale");
    sb.secret(&stale);
    std::fs::write(home.join("auth.json"), logins::api_key_json(&stale)).unwrap();
    let key = logins::api_key("kr-login");
    sb.secret(&key);
    let out = sb
        .cmd(&["login", "--api-key-stdin", "--json"])
        .stdin(&key)
        .out();
    assert_eq!(out.code, 0, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["store"], "keyring", "{out:?}");
    assert_eq!(doc["keyring_account"], account(&home));
    assert_eq!(
        doc["removed_file"],
        home.join("auth.json").display().to_string()
    );
    assert!(!home.join("auth.json").exists());
    // The real Codex reads it from the keyring.
    let (rc, said) = codex(&sb, &["login", "status"], "");
    assert_eq!(rc, 0, "{said}");
    assert!(said.contains("sk-test-***00000"), "{said}");
    // Again: unchanged; another account needs --force, as for the file.
    let out = sb
        .cmd(&["login", "--api-key-stdin", "--json"])
        .stdin(&key)
        .out();
    assert_eq!(out.json()["outcome"], "unchanged", "{out:?}");
    let other = logins::api_key("kr-other");
    sb.secret(&other);
    let out = sb.cmd(&["login", "--api-key-stdin"]).stdin(&other).out();
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("the OS keyring (Codex Auth, cli|"),
        "{out:?}"
    );
    let out = sb
        .cmd(&["login", "--api-key-stdin", "--force", "--json"])
        .stdin(&other)
        .out();
    assert_eq!(out.json()["outcome"], "replaced", "{out:?}");
}

#[test]
fn auto_uses_the_keyring_when_it_can_and_the_file_when_it_cannot() {
    // With a session bus and an unlocked keyring: the keyring, no file.
    let (mut sb, home) = keyring_sandbox("auto", true);
    let key = logins::api_key("kr-auto");
    sb.secret(&key);
    let out = sb
        .cmd(&["login", "--api-key-stdin", "--json"])
        .stdin(&key)
        .out();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["store"], "keyring", "{out:?}");
    assert!(!home.join("auth.json").exists());
    let (rc, said) = codex(&sb, &["login", "status"], "");
    assert_eq!(rc, 0, "{said}");

    // Without one: the file, saying why; Codex (auto) reads that file too.
    let (mut sb, home) = keyring_sandbox("auto", false);
    let key = logins::api_key("kr-auto-file");
    sb.secret(&key);
    let out = sb
        .cmd(&["login", "--api-key-stdin", "--json"])
        .stdin(&key)
        .out();
    assert_eq!(out.code, 0, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["store"], "file", "{out:?}");
    assert!(
        doc["keyring_unavailable"]
            .as_str()
            .unwrap()
            .contains("no OS keyring is reachable"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(home.join("auth.json")).unwrap(),
        logins::api_key_json(&key)
    );
    let (rc, said) = codex(&sb, &["login", "status"], "");
    assert_eq!(rc, 0, "{said}");
    // push reads the same file, and says why.
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("s", &user);
    let out = sb
        .run(&["push", "--ssh", "s", "-F", cfg.to_str().unwrap(), "--json"])
        .code(0);
    assert_eq!(out.json()["login_from"]["store"], "file");
    assert!(out.stderr.contains("no OS keyring is reachable"), "{out:?}");
}

/// Every local keyring problem: a clear one-line error, exit 2 for push and login
/// (status: that place fails, exit 1), and nothing written anywhere.
#[test]
fn keyring_errors_are_clear_and_touch_nothing() {
    let user = RemoteUser::bash();
    let check = |sb: &mut Sandbox, home: &Path, want: &str, hint: &str| {
        user.authorize(sb);
        let cfg = sb.alias("s", &user);
        let out = sb.run(&["push", "--ssh", "s", "-F", cfg.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{want}: {out:?}");
        assert!(out.stderr.contains(want), "{want}: {out:?}");
        assert!(out.stderr.contains(hint), "{hint}: {out:?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{out:?}");
        assert!(!user.auth_path().exists(), "the target was touched");
        let out = sb.run(&["login", "--api-key-stdin"]);
        assert_ne!(out.code, 0, "{out:?}");
        assert!(!home.join("auth.json").exists(), "a file was written here");
    };
    // Locked, holding this home's login: Codex cannot read it either.
    let mut sb = Sandbox::new();
    let locked_home = PathBuf::from(keyring_peers().get("PEER_KEYRING_LOCKED_HOME"));
    sb.env
        .push(("CODEX_HOME".into(), locked_home.display().to_string()));
    sb.env.push((
        "DBUS_SESSION_BUS_ADDRESS".into(),
        keyring_peers().get("PEER_KEYRING_LOCKED_BUS").to_string(),
    ));
    check(
        &mut sb,
        &locked_home,
        "the OS keyring is locked",
        "unlock the keyring",
    );
    let out = sb.run(&["status", "--json"]).code(1);
    assert_eq!(
        out.json()["places"][0]["error"]["class"],
        "keyring",
        "{out:?}"
    );
    let out = sb
        .cmd(&["login", "--api-key-stdin"])
        .stdin(logins::api_key("kr-locked"))
        .out();
    assert_eq!(out.code, 2, "refused before anything is saved: {out:?}");

    // No Secret Service (no session bus).
    let (mut sb, home) = keyring_sandbox("keyring", false);
    check(
        &mut sb,
        &home,
        "no OS keyring is reachable here",
        "cli_auth_credentials_store",
    );

    // Configured, reachable, but empty.
    let (mut sb, home) = keyring_sandbox("keyring", true);
    check(
        &mut sb,
        &home,
        "has no login for this Codex home",
        "codex login",
    );

    // Something that is not a Codex login under Codex's name.
    let (mut sb, home) = keyring_sandbox("keyring", true);
    secret_tool(
        &[
            "store",
            "--label=junk",
            "application",
            "rust-keyring",
            "service",
            "Codex Auth",
            "target",
            "default",
            "username",
            &account(&home),
        ],
        "not json at all",
    );
    check(
        &mut sb,
        &home,
        "does not hold a Codex login",
        "log in again",
    );

    // ephemeral: Codex keeps nothing; nothing to push, nowhere to save.
    let (mut sb, home) = keyring_sandbox("ephemeral", true);
    check(&mut sb, &home, "in memory only", "codex login");
    let out = sb
        .cmd(&["login", "--api-key-stdin"])
        .stdin(logins::api_key("kr-eph"))
        .out();
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("ephemeral"), "{out:?}");
}

/// A D-Bus session with an unlocked keyring of the user's own, as a desktop login gives
/// one, reachable over ssh through ~/.ssh/environment; stopped by its PIDs on drop.
struct UserKeyring {
    pids: Vec<i32>,
}

impl UserKeyring {
    fn start(user: &RemoteUser) -> UserKeyring {
        let script = "set -e; mkdir -p \"$HOME/run\"; chmod 700 \"$HOME/run\"; \
             dbus-daemon --session --fork --address=unix:path=$HOME/run/bus --print-pid; \
             printf pw | XDG_RUNTIME_DIR=$HOME/run DBUS_SESSION_BUS_ADDRESS=unix:path=$HOME/run/bus gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
             for i in $(seq 1 100); do if out=$(DBUS_SESSION_BUS_ADDRESS=unix:path=$HOME/run/bus dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null); then set -- $out; echo \"$2\"; exit 0; fi; sleep 0.05; done; exit 1";
        let printed = user.run_as(script);
        let pids = printed
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        user.set_environment(&[(
            "DBUS_SESSION_BUS_ADDRESS",
            &format!("unix:path={}/run/bus", user.home.display()),
        )]);
        UserKeyring { pids }
    }
}

impl Drop for UserKeyring {
    fn drop(&mut self) {
        for pid in &self.pids {
            unsafe {
                libc::kill(*pid, libc::SIGTERM);
            }
        }
    }
}

#[test]
fn targets_that_keep_logins_elsewhere_are_skipped_or_installed_as_codex_there_reads() {
    let mut sb = Sandbox::new();
    let push = |sb: &mut Sandbox, user: &RemoteUser, extra: &[&str]| {
        user.authorize(sb);
        // An alias per user: in an ssh config the first Host block that matches wins.
        let cfg = sb.alias(&user.name, user);
        let mut args = vec!["--ssh", &user.name, "-F", cfg.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        sb.push_key("kr-target", &args).0
    };
    // keyring there: skipped (exit 1), saying what Codex there does; --force writes it.
    let user = RemoteUser::bash();
    user.with_codex(Codex::Npm171);
    user.write_owned(
        ".codex/config.toml",
        "cli_auth_credentials_store = \"keyring\"\n",
        0o600,
    );
    let out = push(&mut sb, &user, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let t = &out.json()["targets"][0];
    assert_eq!(t["outcome"], "skipped", "{out:?}");
    assert!(
        out.stdout.contains("ignore auth.json") || out.stderr.contains("ignore"),
        "{out:?}"
    );
    assert!(!user.auth_path().exists());
    let out = push(&mut sb, &user, &["--force"]);
    assert_eq!(out.json()["targets"][0]["outcome"], "installed", "{out:?}");

    // ephemeral there: skipped.
    let user = RemoteUser::bash();
    user.write_owned(
        ".codex/config.toml",
        "cli_auth_credentials_store = \"ephemeral\"\n",
        0o600,
    );
    let out = push(&mut sb, &user, &[]);
    assert_eq!(out.json()["targets"][0]["outcome"], "skipped", "{out:?}");

    // auto, and Codex there finds no keyring (no session bus over ssh): installed, and
    // the real Codex there reads it.
    for codex in Codex::BOTH {
        let user = RemoteUser::bash();
        user.with_codex(codex);
        user.write_owned(
            ".codex/config.toml",
            "cli_auth_credentials_store = \"auto\"\n",
            0o600,
        );
        let out = push(&mut sb, &user, &[]);
        assert_eq!(out.code, 0, "{out:?}");
        let t = &out.json()["targets"][0];
        assert_eq!(t["outcome"], "installed", "{out:?}");
        assert_eq!(t["codex"]["verdict"], "accepted", "{out:?}");
        let notes = t["notes"].to_string();
        assert!(notes.contains("Codex there finds no OS keyring"), "{notes}");
    }

    // auto, and the user has an unlocked keyring on a session bus: skipped, unless --force.
    let user = RemoteUser::bash();
    user.with_codex(Codex::Npm171);
    user.write_owned(
        ".codex/config.toml",
        "cli_auth_credentials_store = \"auto\"\n",
        0o600,
    );
    let _keyring = UserKeyring::start(&user);
    let out = push(&mut sb, &user, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let t = &out.json()["targets"][0];
    assert_eq!(t["outcome"], "skipped", "{out:?}");
    assert!(
        t["notes"]
            .to_string()
            .contains("Codex there reaches an OS keyring"),
        "{out:?}"
    );
    let out = push(&mut sb, &user, &["--force"]);
    assert_eq!(out.json()["targets"][0]["outcome"], "installed", "{out:?}");

    // A stopped container (the archive path): auto is written, keyring skipped.
    sb.env.push((
        "DOCKER_HOST".into(),
        crate::harness::docker_peers().host().to_string(),
    ));
    let c = TestContainer::new("BUSYBOX_ROOT", &["-e", "CODEX_HOME=/srv/codex"], false);
    let cfg_dir = sb.write("cfg/config.toml", "cli_auth_credentials_store = \"auto\"\n");
    c.copy_in(cfg_dir.parent().unwrap(), "/srv/codex");
    let (out, _) = sb.push_key("kr-stopped", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.json()["targets"][0]["notes"]
            .to_string()
            .contains("no D-Bus session"),
        "{out:?}"
    );
}

/// Where a saved login NAME is kept in the keyring (nothing when it is not).
fn saved_entry(name: &str) -> String {
    secret_tool(
        &[
            "lookup",
            "service",
            "codex-auth saved login",
            "username",
            name,
        ],
        "",
    )
}

#[test]
fn saved_logins_live_in_the_keyring_when_codex_keeps_its_login_there() {
    let (mut sb, home) = keyring_sandbox("keyring", true);
    let logins_dir = sb.home().join(".local/state/codex-auth/logins");
    let (first, second) = (
        logins::api_key(&format!("kr-saved-a{}", std::process::id())),
        logins::api_key(&format!("kr-saved-b{}", std::process::id())),
    );
    sb.secret(&first);
    sb.secret(&second);
    let (rc, said) = codex(&sb, &["login", "--with-api-key"], &first);
    assert_eq!(rc, 0, "{said}");
    let name_a = format!("kra{}", std::process::id());
    let name_b = format!("krb{}", std::process::id());
    sb.run(&["save", &name_a]).code(0);
    assert!(logins_dir.join(format!("{name_a}.keyring")).exists());
    assert!(
        !logins_dir.join(format!("{name_a}.json")).exists(),
        "no file copy"
    );
    assert!(saved_entry(&name_a).contains(&first));
    // Another login here, saved too; switching back puts the first in Codex's entry.
    sb.run_with_stdin(&["login", "--api-key-stdin", "--force"], &second)
        .code(0);
    sb.run(&["save", &name_b]).code(0);
    let out = sb.run(&["status", "--saved"]).code(0);
    assert!(
        out.stdout.contains(&name_a) && out.stdout.contains(&name_b),
        "{out:?}"
    );
    sb.run(&["switch", &name_a]).code(0);
    let current = codex_entry(&home);
    assert!(
        current.contains(&first),
        "the switch wrote Codex's own entry"
    );
    let (rc, said) = codex(&sb, &["login", "status"], "");
    assert_eq!(rc, 0, "{said}");
    // Lent from the keyring to a command here: its Codex home keeps logins in files
    // (this machine's config.toml says keyring), and the real Codex reads the loan.
    std::fs::write(
        home.join("config.toml"),
        "cli_auth_credentials_store = \"keyring\"\nmodel = \"gpt-kr\"\n[tui]\ncli_auth_credentials_store = 1\n",
    )
    .unwrap();
    let script = format!(
        "cat $CODEX_HOME/config.toml; {} login status 2>&1",
        Codex::Npm171.bin().display()
    );
    let out = sb.run(&[
        "run",
        "--from",
        &format!("saved:{name_b}"),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "cli_auth_credentials_store = \"file\"",
            "model = \"gpt-kr\"",
            "[tui]",
            "cli_auth_credentials_store = 1",
        ],
        "{out:?}"
    );
    assert!(
        lines[4..]
            .iter()
            .any(|l| l.starts_with("API key configured")),
        "{out:?}"
    );
    // Forget takes the entry and its marker.
    sb.run(&["forget", &name_a]).code(0);
    sb.run(&["forget", &name_b]).code(0);
    assert_eq!(saved_entry(&name_a), "");
    assert_eq!(saved_entry(&name_b), "");
    assert!(!logins_dir.join(format!("{name_a}.keyring")).exists());
}
