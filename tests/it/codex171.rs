//! The Codex users run today (npm 0.171) beside the older PyPI build (0.147): where it is
//! found on a target, every kind of login it writes, its forced settings, its locks, and
//! real refreshes against the in-process issuer racing a push.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{docker_peers, logins, peers, Codex, RemoteUser, Sandbox, TestContainer};
use crate::issuer::FakeIssuer;

/// `push --json` of a fresh API key to `user` (alias `s`), returning the target's JSON.
fn push_key_json(sb: &mut Sandbox, user: &RemoteUser, tag: &str) -> serde_json::Value {
    let cfg = sb.alias("s", user);
    let (out, _) = sb.push_key(tag, &["--ssh", "s", "-F", cfg.to_str().unwrap(), "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.json()["targets"][0].clone()
}

#[test]
fn codex_is_found_where_its_users_install_it() {
    // Where each user's codex is, and what a command over ssh sees of it.
    let shells_and_homes: &[(&str, &str, &str)] = &[
        // ~/bin: on PATH for login shells only (Debian's .profile).
        ("/bin/bash", "bin", ""),
        // A directory that only the user's login shell knows.
        (
            "/bin/bash",
            "tools/codex/bin",
            ".profile:PATH=\"$HOME/tools/codex/bin:$PATH\"\n",
        ),
        (
            "/usr/bin/zsh",
            "tools/codex/bin",
            ".zprofile:path=($HOME/tools/codex/bin $path)\n",
        ),
        (
            "/usr/bin/fish",
            "tools/codex/bin",
            ".config/fish/config.fish:set -gx PATH $HOME/tools/codex/bin $PATH\n",
        ),
        (
            "/bin/csh",
            "tools/codex/bin",
            ".login:setenv PATH $HOME/tools/codex/bin:$PATH\n",
        ),
    ];
    for (shell, dir, profile) in shells_and_homes {
        let mut sb = Sandbox::new();
        let user = RemoteUser::new(shell);
        user.authorize(&sb).with_codex_in(dir, Codex::Pypi147);
        if let Some((file, text)) = profile.split_once(':') {
            user.write_owned(file, text, 0o644);
        }
        let t = push_key_json(&mut sb, &user, "found");
        assert_eq!(
            t["codex"]["path"],
            format!("{}/{dir}/codex", user.home.display()),
            "{shell} {dir}: {t}"
        );
        assert_eq!(t["codex"]["verdict"], "accepted", "{shell}: {t}");
        assert_eq!(t["codex"]["version"], Codex::Pypi147.version());
    }
    // nvm: npm's JavaScript wrapper, which needs its node beside it.
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_nvm_codex();
    let t = push_key_json(&mut sb, &user, "nvm");
    assert_eq!(
        t["codex"]["path"],
        format!(
            "{}/.nvm/versions/node/v20.20.2/bin/codex",
            user.home.display()
        )
    );
    assert_eq!(
        t["codex_status"],
        Codex::Npm171.api_key_line("sk-test-***00000")
    );
    assert_eq!(t["codex"]["version"], Codex::Npm171.version());
    // A second nvm version, older but later in name order: the newest by number wins,
    // unless nvm's default alias names another.
    user.with_codex_in(".nvm/versions/node/v9.11.2/bin", Codex::Pypi147);
    let t = push_key_json(&mut sb, &user, "nvm2");
    assert_eq!(t["codex"]["version"], Codex::Npm171.version(), "{t}");
    user.write_owned(".nvm/alias/default", "9\n", 0o644);
    let t = push_key_json(&mut sb, &user, "nvm3");
    assert_eq!(
        t["codex"]["path"],
        format!(
            "{}/.nvm/versions/node/v9.11.2/bin/codex",
            user.home.display()
        ),
        "{t}"
    );
    assert_eq!(t["codex"]["version"], Codex::Pypi147.version());
    // npm's user prefix, as ~/.npmrc sets it.
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb)
        .with_codex_in(".npm-packages/bin", Codex::Pypi147);
    user.write_owned(".npmrc", "fund=false\nprefix = ~/.npm-packages\n", 0o644);
    let t = push_key_json(&mut sb, &user, "npmrc");
    assert_eq!(
        t["codex"]["path"],
        format!("{}/.npm-packages/bin/codex", user.home.display()),
        "{t}"
    );
    // Nowhere: no verdict, and no pretending.
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let t = push_key_json(&mut sb, &user, "none");
    assert!(
        t.get("codex").is_none() && t.get("codex_status").is_none(),
        "{t}"
    );
}

/// The login shell's PATH is kept in the user's cache by an install, so the next run does
/// not start the login shell again; it is asked again when a start-up file changes, and
/// a codex installed later into a directory on that PATH is found without asking.
#[test]
fn the_login_shell_s_path_is_kept_and_follows_its_start_up_files() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    user.write_owned(".profile", "PATH=\"$HOME/tools/b/bin:$PATH\"\n", 0o644);
    // No codex yet: no verdict, and the PATH the login shell has is kept.
    let t = push_key_json(&mut sb, &user, "kept1");
    assert!(t.get("codex").is_none(), "{t}");
    let kept = std::fs::read_to_string(user.home.join(".cache/codex-auth/login-path")).unwrap();
    assert!(
        kept.starts_with("/bin/bash\n") && kept.contains("/tools/b/bin:"),
        "{kept}"
    );
    // Installed later into a directory on that PATH: found, from what was kept.
    user.with_codex_in("tools/b/bin", Codex::Pypi147);
    let t = push_key_json(&mut sb, &user, "kept2");
    assert_eq!(
        t["codex"]["path"],
        format!("{}/tools/b/bin/codex", user.home.display()),
        "{t}"
    );
    // The profile changes (a second later, so its time is newer): asked again.
    std::thread::sleep(Duration::from_millis(1100));
    user.with_codex_in("tools/c/bin", Codex::Npm171);
    user.write_owned(".profile", "PATH=\"$HOME/tools/c/bin:$PATH\"\n", 0o644);
    let t = push_key_json(&mut sb, &user, "kept3");
    assert_eq!(
        t["codex"]["path"],
        format!("{}/tools/c/bin/codex", user.home.display()),
        "{t}"
    );
    assert_eq!(t["codex"]["version"], Codex::Npm171.version());
}

/// An agent identity as Codex 0.171 writes it (the JWT with the claims it reads).
fn agent_identity_json() -> (String, String) {
    let jwt = logins::jwt(&serde_json::json!({
        "iss": "https://auth.openai.com", "aud": "codex", "iat": 1_790_000_000u64,
        "exp": 4_000_000_000u64, "agent_runtime_id": "ar-1", "agent_private_key": "k-test",
        "account_id": "acct-agent-0000", "chatgpt_user_id": "user-agent", "email": "agent@example.test",
        "plan_type": "team", "chatgpt_account_is_fedramp": false
    }));
    (
        format!(
            "{{\n  \"auth_mode\": \"agentIdentity\",\n  \"OPENAI_API_KEY\": null,\n  \"agent_identity\": \"{jwt}\"\n}}"
        ),
        jwt,
    )
}

#[test]
fn every_kind_of_login_codex_writes_is_pushed_byte_for_byte() {
    let issuer = FakeIssuer::start();
    for codex in Codex::BOTH {
        let mut sb = Sandbox::new();
        let (a, b) = (RemoteUser::bash(), RemoteUser::bash());
        a.authorize(&sb).with_codex(codex);
        b.authorize(&sb);
        sb.alias("a", &a);
        let cfg = sb.alias("b", &b);
        let cfg = cfg.to_str().unwrap();
        for s in issuer.issued() {
            sb.secret(&s);
        }
        // Files as Codex writes them, pushed with --from: the bytes arrive unchanged.
        let (chatgpt, refresh) = issuer.login_json();
        sb.secret(&refresh);
        let (agent, jwt) = agent_identity_json();
        sb.secret(&jwt);
        let key = logins::api_key("kinds");
        sb.secret(&key);
        let no_mode = format!("{{\"OPENAI_API_KEY\":\"{key}\"}}");
        let cases: [(&str, &str, &str); 3] = [
            (&chatgpt, "chatgpt", "accepted"),
            (&no_mode, "apikey", "accepted"),
            // Codex checks an agent identity with the issuer: offline it cannot tell.
            (&agent, "agentIdentity", "error"),
        ];
        for (content, mode, verdict) in cases {
            let from = sb.write("in/auth.json", content);
            let out = sb.run(&[
                "push",
                "--ssh",
                "a",
                "-F",
                cfg,
                "--from",
                from.to_str().unwrap(),
                "--json",
            ]);
            let t = &out.json()["targets"][0];
            assert_eq!(out.code, 0, "{mode}: {out:?}");
            assert_eq!(out.json()["login"]["mode"], mode);
            assert_eq!(
                std::fs::read_to_string(a.auth_path()).unwrap(),
                content,
                "{mode}"
            );
            assert_eq!(t["codex"]["verdict"], verdict, "{codex:?} {mode}: {out:?}");
        }
        // An access token from stdin, to two hosts at once: it does not rotate, so no
        // --share is needed; written exactly as `codex login --with-access-token` does.
        let token = "at-test-kinds-0000000000000000";
        sb.secret(token);
        let out = sb
            .cmd(&[
                "push",
                "--ssh",
                "a",
                "--ssh",
                "b",
                "-F",
                cfg,
                "--access-token-stdin",
                "--json",
            ])
            .stdin(format!("{token}\n"))
            .out()
            .code(0);
        let doc = out.json();
        assert_eq!(doc["login"]["mode"], "personalAccessToken");
        assert_eq!(doc["login"]["access_token"], "at-test-***00000");
        let written = format!(
            "{{\n  \"OPENAI_API_KEY\": null,\n  \"personal_access_token\": \"{token}\"\n}}"
        );
        assert_eq!(std::fs::read_to_string(a.auth_path()).unwrap(), written);
        assert_eq!(std::fs::read_to_string(b.auth_path()).unwrap(), written);
        // Codex checks an access token with the issuer (whoami): offline, an error it names.
        let t = &doc["targets"][0];
        assert_eq!(t["codex"]["verdict"], "error", "{out:?}");
        assert!(
            t["codex_status"]
                .as_str()
                .unwrap()
                .contains("personal access token"),
            "{out:?}"
        );
        // status shows the kind, masked.
        let out = sb.run(&["status", "--ssh", "a", "-F", cfg]).code(0);
        assert!(out.stdout.contains("personalAccessToken"), "{out:?}");
        assert!(
            out.stdout.contains("access token at-test-***00000"),
            "{out:?}"
        );
    }
}

#[test]
fn forced_settings_are_checked_before_anything_is_written() {
    let issuer = FakeIssuer::start();
    let (chatgpt, refresh) = issuer.login_json();
    let workspace = serde_json::from_str::<serde_json::Value>(&chatgpt).unwrap()["tokens"]
        ["account_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cases: Vec<(String, bool, Option<&str>)> = vec![
        (
            "forced_login_method = \"api\"\n".into(),
            true,
            Some("forced-login"),
        ),
        (
            "forced_login_method = 'chatgpt'\n".into(),
            false,
            Some("forced-login"),
        ),
        (
            "forced_chatgpt_workspace_id = \"other-workspace\"\n".into(),
            true,
            Some("forced-workspace"),
        ),
        (
            format!("forced_chatgpt_workspace_id = [\n  \"x\",\n  \"{workspace}\",\n]\n"),
            true,
            None,
        ),
        (
            "forced_login_method = \"chatgpt\"\n[profiles.p]\nforced_login_method = \"api\"\n"
                .into(),
            true,
            None,
        ),
        // Comments inside a list over several lines, one with a `]` in it.
        (
            format!("forced_chatgpt_workspace_id = [\n  \"x\", # a ] in a comment\n  \"{workspace}\",\n]\n"),
            true,
            None,
        ),
        // A workspace named only in a comment is not allowed.
        (
            format!("forced_chatgpt_workspace_id = [\"other\"] # {workspace}\n"),
            true,
            Some("forced-workspace"),
        ),
        // A quoted key is the same key.
        (
            "\"forced_login_method\" = \"api\"\n".into(),
            true,
            Some("forced-login"),
        ),
    ];
    for codex in Codex::BOTH {
        for (config, chatgpt_login, refused) in &cases {
            let mut sb = Sandbox::new();
            sb.secret(&refresh);
            let user = RemoteUser::bash();
            user.authorize(&sb).with_codex(codex);
            user.write_owned(".codex/config.toml", config, 0o600);
            let cfg = sb.alias("s", &user);
            let cfg = cfg.to_str().unwrap();
            let out = if *chatgpt_login {
                let from = sb.write("in/auth.json", &chatgpt);
                sb.run(&[
                    "push",
                    "--ssh",
                    "s",
                    "-F",
                    cfg,
                    "--from",
                    from.to_str().unwrap(),
                    "--json",
                ])
            } else {
                sb.push_key("forced", &["--ssh", "s", "-F", cfg, "--json"])
                    .0
            };
            let t = &out.json()["targets"][0];
            match refused {
                Some(class) => {
                    assert_eq!(out.code, 1, "{config}: {out:?}");
                    assert_eq!(t["error"]["class"], *class, "{config}: {out:?}");
                    let message = t["error"]["message"].as_str().unwrap();
                    assert!(
                        message.contains("/.codex/config.toml sets forced_"),
                        "{message}"
                    );
                    assert!(!user.auth_path().exists(), "{config}: written anyway");
                }
                None => {
                    assert_eq!(out.code, 0, "{config}: {out:?}");
                    assert_eq!(
                        t["codex"]["verdict"], "accepted",
                        "{codex:?} {config}: {out:?}"
                    );
                }
            }
        }
    }
    // A file already there that the setting refuses: status says so.
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_codex(Codex::Npm171);
    let key = logins::api_key("refused");
    sb.secret(&key);
    user.write_owned(".codex/auth.json", &logins::api_key_json(&key), 0o600);
    user.write_owned(
        ".codex/config.toml",
        "forced_login_method = \"chatgpt\"\n",
        0o600,
    );
    let cfg = sb.alias("s", &user);
    let out = sb.status_json("s", &cfg).code(0);
    let p = &out.json()["places"][1];
    assert_eq!(p["codex"]["verdict"], "not-logged-in", "{out:?}");
    assert!(p["refused"]
        .as_str()
        .unwrap()
        .contains("forced_login_method = \"chatgpt\""));
    let out = sb
        .run(&["status", "--ssh", "s", "-F", cfg.to_str().unwrap()])
        .code(0);
    assert!(out.stdout.contains("REFUSED by Codex there"), "{out:?}");
}

#[test]
fn forced_settings_in_containers_running_or_stopped() {
    let mut sb = Sandbox::new();
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().host().to_string()));
    let (chatgpt, refresh) = logins::chatgpt_json("dforced");
    sb.secret(&refresh);
    let from = sb.write("in/auth.json", &chatgpt);
    let cfg = sb.write("cfg/.codex/config.toml", "forced_login_method = \"api\"\n");
    for start in [true, false] {
        let c = TestContainer::new("BUSYBOX_ROOT", &[], false);
        c.copy_in(cfg.parent().unwrap(), "/root/");
        if start {
            c.start();
        }
        let out = sb.run(&[
            "push",
            "--docker",
            &c.name,
            "--from",
            from.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(out.code, 1, "{out:?}");
        assert_eq!(
            out.json()["targets"][0]["error"]["class"],
            "forced-login",
            "{out:?}"
        );
        assert!(c.file("/root/.codex/auth.json").is_none());
    }
}

/// A flock(1) holding `lock` (in the user's Codex home) as the user, in a process group
/// of its own, until dropped (the group is then killed: flock and its sleep).
struct LockHolder(std::process::Child);

impl LockHolder {
    fn hold(user: &RemoteUser, lock: &str) -> LockHolder {
        use std::os::unix::process::CommandExt;
        let path = user.home.join(".codex").join(lock);
        let mut child = Command::new("setpriv")
            .args([
                "--reuid",
                &user.name,
                "--regid",
                &user.name,
                "--clear-groups",
                "flock",
            ])
            .arg(&path)
            .args(["sh", "-c", "echo held; exec sleep 60"])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "held");
        LockHolder(child)
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

#[test]
fn install_takes_codex_s_locks_waits_for_a_holder_and_gives_up_when_it_stays() {
    check_lock_protocol(false);
}

/// BusyBox's flock (Alpine's, for one) has no `-w`: the wait is polled there, with the
/// same outcomes. Its flock is stood in for by one that refuses `-w` as BusyBox does.
#[test]
fn locks_are_waited_for_with_a_flock_that_has_no_timeout_option() {
    check_lock_protocol(true);
}

fn check_lock_protocol(busybox_flock: bool) {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    if busybox_flock {
        user.write_owned(
            "bb/flock",
            "#!/bin/sh\nfor a in \"$@\"; do case $a in -w|-w*) echo \"flock: unrecognized option: w\" >&2; echo \"Usage: flock [-sxun] FD | { FILE [-c] PROG ARGS }\" >&2; exit 1;; esac; done\nexec /usr/bin/flock \"$@\"\n",
            0o755,
        );
        user.set_environment(&[(
            "PATH",
            &format!("{}/bb:/usr/local/bin:/usr/bin:/bin", user.home.display()),
        )]);
    }
    let old = logins::api_key("lock-old");
    sb.secret(&old);
    user.write_owned(".codex/auth.json", &logins::api_key_json(&old), 0o600);
    user.write_owned(".codex/auth.lock", "", 0o600);
    user.write_owned(".codex/auth.json.lock", "", 0o600);
    let cfg = sb.alias("s", &user);
    let cfg = cfg.to_str().unwrap();
    let new = logins::api_key("lock-new");
    sb.secret(&new);
    // A holder that lets go: the push waits for it, then installs.
    let holder = LockHolder::hold(&user, "auth.lock");
    let push = sb
        .cmd(&["push", "--ssh", "s", "-F", cfg, "--api-key-stdin", "--json"])
        .stdin(&new)
        .spawn();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&old),
        "the push did not wait for auth.lock"
    );
    drop(holder);
    let out = sb.wait(push, &[]).code(0);
    assert_eq!(out.json()["targets"][0]["outcome"], "installed");
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&new)
    );
    // A holder that stays: busy, the file old and whole, no temp file left.
    let holder = LockHolder::hold(&user, "auth.json.lock");
    sb.env.push(("CODEX_AUTH_LOCK_WAIT".into(), "1".into()));
    let out = sb
        .cmd(&["push", "--ssh", "s", "-F", cfg, "--api-key-stdin", "--json"])
        .stdin(&old)
        .out()
        .code(1);
    drop(holder);
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "busy", "{out:?}");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("auth.json.lock stayed locked for 1 s"));
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&new)
    );
    let names: Vec<String> = std::fs::read_dir(user.home.join(".codex"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".auth"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn running_codex_and_missing_flock_are_reported() {
    // A codex process of the user (a copy of sleep named codex) is running.
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    user.run_as("mkdir -p ~/x && cp /bin/sleep ~/x/codex");
    let mut running = Command::new("runuser")
        .args(["-u", &user.name, "--"])
        .arg(user.home.join("x/codex"))
        .arg("30")
        .spawn()
        .unwrap();
    let t = push_key_json(&mut sb, &user, "running");
    let _ = running.kill();
    let _ = running.wait();
    let notes = t["notes"].to_string();
    assert!(
        notes.contains("1 Codex process of this user is running there"),
        "{t}"
    );
    // A busybox container has no flock: said, not hidden.
    let mut sb = Sandbox::new();
    sb.env
        .push(("DOCKER_HOST".into(), docker_peers().host().to_string()));
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    let (out, _) = sb.push_key("noflock", &["--docker", &c.name, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.json()["targets"][0]["notes"]
            .to_string()
            .contains("no flock there"),
        "{out:?}"
    );
}

/// Run `codex doctor --json` as `user` on their Codex home in the background: with an
/// access token about to expire, Codex refreshes it first. No network but loopback.
pub(crate) fn refresh_as(
    user: &RemoteUser,
    codex: Codex,
    issuer: &FakeIssuer,
) -> std::process::Child {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", &user.name, "--", "env"])
        .arg(format!("HOME={}", user.home.display()))
        .arg(format!("CODEX_HOME={}", user.home.join(".codex").display()))
        .args([
            "HTTPS_PROXY=http://127.0.0.1:9",
            "HTTP_PROXY=http://127.0.0.1:9",
            "NO_PROXY=127.0.0.1",
        ]);
    if codex == Codex::Pypi147 {
        // 0.147 does not read oauth_provenance: it is told where to refresh.
        cmd.arg(format!(
            "CODEX_REFRESH_TOKEN_URL_OVERRIDE={}/oauth/token",
            issuer.base
        ));
    }
    cmd.arg(codex.bin())
        .args(["doctor", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

pub(crate) fn wait_for_refreshes(issuer: &FakeIssuer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while issuer
        .log()
        .iter()
        .filter(|l| *l == "POST /oauth/token")
        .count()
        < n
    {
        assert!(
            Instant::now() < deadline,
            "Codex never asked for a refresh: {:?}",
            issuer.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_push_racing_a_real_refresh_is_reported_truly() {
    for codex in Codex::BOTH {
        let issuer = FakeIssuer::start();
        issuer.access_tokens_expire_in(60);
        let mut sb = Sandbox::new();
        let user = RemoteUser::bash();
        user.authorize(&sb);
        let (chatgpt, refresh) = issuer.login_json();
        sb.secret(&refresh);
        user.write_owned(".codex/auth.json", &chatgpt, 0o600);
        let cfg = sb.alias("s", &user);
        // Codex sends its refresh; the answer is held back while the push replaces the
        // file with an API-key login.
        issuer.delay_refresh(Duration::from_secs(3));
        let mut doctor = refresh_as(&user, codex, &issuer);
        wait_for_refreshes(&issuer, 1);
        let (out, key) = sb.push_key(
            "race",
            &["--ssh", "s", "-F", cfg.to_str().unwrap(), "--json"],
        );
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.json()["targets"][0]["verified"], true);
        let _ = doctor.wait();
        for s in issuer.issued() {
            sb.secret(&s);
        }
        let out = sb.status_json("s", &cfg).code(0);
        let p = &out.json()["places"][1];
        match codex {
            // 0.171 re-reads the file under its lock, sees another login, leaves it.
            Codex::Npm171 => {
                assert_eq!(
                    std::fs::read_to_string(user.auth_path()).unwrap(),
                    logins::api_key_json(&key)
                );
                assert!(p.get("inconsistent").is_none(), "{out:?}");
            }
            // 0.147 merges its refreshed tokens into whatever the file holds: status says so.
            Codex::Pypi147 => {
                assert_ne!(
                    std::fs::read_to_string(user.auth_path()).unwrap(),
                    logins::api_key_json(&key)
                );
                assert_eq!(p["login"]["mode"], "apikey", "{out:?}");
                assert!(
                    p["inconsistent"]
                        .as_str()
                        .unwrap()
                        .contains("also carries ChatGPT tokens"),
                    "{out:?}"
                );
            }
        }
    }
}

#[test]
fn status_shows_which_copy_of_a_shared_session_went_stale() {
    let issuer = FakeIssuer::start();
    issuer.access_tokens_expire_in(60);
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let (chatgpt, refresh) = issuer.login_json();
    sb.secret(&refresh);
    // This machine and the host hold one session.
    let local = sb.home().join("local-codex");
    sb.write("local-codex/auth.json", &chatgpt);
    sb.env
        .push(("CODEX_HOME".into(), local.display().to_string()));
    user.write_owned(".codex/auth.json", &chatgpt, 0o600);
    let cfg = sb.alias("s", &user);
    let cfg = cfg.to_str().unwrap();
    let out = sb.run(&["status", "--ssh", "s", "-F", cfg]).code(0);
    assert!(out.stdout.contains("SAME SESSION as s"), "{out:?}");
    assert!(
        out.stdout.contains("codex logout"),
        "the warning explains revocation: {out:?}"
    );
    // The host's Codex refreshes for real: the refresh token rotates there.
    let mut doctor = refresh_as(&user, Codex::Npm171, &issuer);
    wait_for_refreshes(&issuer, 1);
    let _ = doctor.wait();
    for s in issuer.issued() {
        sb.secret(&s);
    }
    let out = sb
        .run(&["status", "--ssh", "s", "-F", cfg, "--json"])
        .code(0);
    let places = out.json()["places"].clone();
    assert_eq!(places[0]["stale_since_refresh_on"], "s", "{out:?}");
    assert!(places[1].get("stale_since_refresh_on").is_none(), "{out:?}");
    assert!(places[0].get("shared_with").is_none(), "{out:?}");
    let out = sb.run(&["status", "--ssh", "s", "-F", cfg]).code(0);
    assert!(
        out.stdout
            .contains("STALE: this sign-in was refreshed on s"),
        "{out:?}"
    );
}

#[test]
fn a_login_made_here_refreshes_against_the_issuer_it_came_from() {
    let issuer = FakeIssuer::start();
    issuer.device_mode(crate::issuer::DeviceMode::Approve { pending: 0 });
    issuer.access_tokens_expire_in(60);
    let mut sb = Sandbox::new();
    let home = sb.home().join("codex-home");
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    let mut args = vec!["login".to_string(), "--device-auth".into()];
    args.extend(issuer.args());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = sb.spawn(&argv);
    sb.wait(run, &issuer.issued()).code(0);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("auth.json")).unwrap()).unwrap();
    assert_eq!(written["tokens"]["oauth_provenance"]["issuer"], issuer.base);
    assert_eq!(
        written["tokens"]["oauth_provenance"]["client_id"],
        crate::issuer::CLIENT_ID
    );
    assert_eq!(
        written["tokens"]["login_owner_id"].as_str().unwrap().len(),
        43
    );
    let old_refresh = written["tokens"]["refresh_token"].clone();
    // The real Codex 0.171 refreshes it against this issuer, with this client id.
    let out = Command::new(Codex::Npm171.bin())
        .args(["doctor", "--json"])
        .env("CODEX_HOME", &home)
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    let bodies = issuer.bodies();
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("\"grant_type\":\"refresh_token\"")),
        "{bodies:?} {out:?}"
    );
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("auth.json")).unwrap()).unwrap();
    assert_ne!(after["tokens"]["refresh_token"], old_refresh);
    assert_eq!(
        after["tokens"]["login_owner_id"],
        written["tokens"]["login_owner_id"]
    );
}

/// An ssh config naming the netns host (`host`, as `user`) and the loopback peer
/// (`other`, as `other`), both known.
fn host_and_other_config(
    sb: &Sandbox,
    user: &RemoteUser,
    other: &RemoteUser,
) -> std::path::PathBuf {
    sb.pin_host(peers().get("PEER_JUMP_HOST"), 22);
    sb.pin_host("127.0.0.1", peers().port());
    sb.ssh_config(&format!(
        "Host host\n  HostName {}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\nHost other\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
        peers().get("PEER_JUMP_HOST"),
        user.name,
        peers().port(),
        other.name
    ))
}

/// Start `login --forward host`, let the host's Codex print its URL, cancel it there,
/// and return what was printed (exit 1: the login was cancelled).
fn forward_then_cancel(sb: &mut Sandbox, cfg: &std::path::Path) -> crate::harness::Out {
    let record = sb.recording_browser();
    let run = sb.spawn(&["login", "--forward", "host", "-F", cfg.to_str().unwrap()]);
    // The host's codex (nvm's, found without ~/.ssh/environment) printed its URL.
    let url = crate::harness::wait_for_line(&record, 30);
    let port = if url.contains("%3A1457%2F") {
        1457
    } else {
        1455
    };
    let (status, _, _) = crate::issuer::http_get(&format!("http://127.0.0.1:{port}/cancel"));
    assert_eq!(status, 200);
    sb.wait(run, &[]).code(1)
}

#[test]
fn forward_warns_before_the_hosts_codex_revokes_a_shared_session() {
    assert!(peers().netns(), "needs the netns host");
    let _ports = crate::harness::login_ports();
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_nvm_codex();
    let (chatgpt, refresh) = logins::chatgpt_json("fwdshared");
    sb.secret(&refresh);
    user.write_owned(".codex/auth.json", &chatgpt, 0o600);
    sb.write("local-codex/auth.json", &chatgpt);
    sb.env.push((
        "CODEX_HOME".into(),
        sb.home().join("local-codex").display().to_string(),
    ));
    // A second place with the same session, which the ledger remembers.
    let other = RemoteUser::bash();
    other.authorize(&sb);
    let cfg = host_and_other_config(&sb, &user, &other);
    let from = sb.write("in/auth.json", &chatgpt);
    sb.run(&[
        "push",
        "--ssh",
        "other",
        "-F",
        cfg.to_str().unwrap(),
        "--from",
        from.to_str().unwrap(),
    ])
    .code(0);
    let out = forward_then_cancel(&mut sb, &cfg);
    assert!(
        out.stderr
            .contains("host holds the same ChatGPT session as this machine, other (pushed "),
        "{out:?}"
    );
}

#[test]
fn forward_knows_a_pushed_session_from_its_sha256_alone() {
    // No login here: the host holds exactly what a push left there, and the ledger knows
    // which session that is and where else it went; the host sends only its sha256.
    assert!(peers().netns(), "needs the netns host");
    let _ports = crate::harness::login_ports();
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_nvm_codex();
    let (chatgpt, refresh) = logins::chatgpt_json("fwddigest");
    sb.secret(&refresh);
    sb.env.push((
        "CODEX_HOME".into(),
        sb.home().join("empty-codex").display().to_string(),
    ));
    let other = RemoteUser::bash();
    other.authorize(&sb);
    let cfg = host_and_other_config(&sb, &user, &other);
    let cfg = cfg.to_str().unwrap();
    let from = sb.write("in/auth.json", &chatgpt);
    sb.run(&[
        "push",
        "--ssh",
        "host",
        "--ssh",
        "other",
        "-F",
        cfg,
        "--from",
        from.to_str().unwrap(),
        "--share",
    ])
    .code(0);
    let out = forward_then_cancel(&mut sb, std::path::Path::new(cfg));
    assert!(
        out.stderr
            .contains("host holds the same ChatGPT session as other (pushed "),
        "{out:?}"
    );
}
