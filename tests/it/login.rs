//! `login` and `push --login` against the strict in-process issuer; the real `codex`
//! judges every auth.json the login writes.

use std::net::TcpListener;

use crate::harness::{login_ports, logins, wait_for_line, Codex, RemoteUser, Sandbox};
use crate::issuer::{http_get, params, DeviceMode, FakeIssuer};

/// What both Codex builds say of the login in `codex_home` (they must agree on the
/// verdict; their wording differs only for API keys).
fn codex_status(codex_home: &std::path::Path) -> String {
    let mut said = Vec::new();
    for codex in Codex::BOTH {
        let (code, text) = codex.status(codex_home);
        assert_eq!(code, 0, "{codex:?}: {text}");
        said.push(text);
    }
    said.join("\n")
}

fn login_sandbox(issuer: &FakeIssuer) -> (Sandbox, std::path::PathBuf, Vec<String>) {
    let mut sb = Sandbox::new();
    let home = sb.home().join("codex-home");
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    let record = sb.recording_browser();
    let mut args = vec!["login".to_string()];
    args.extend(issuer.args());
    (sb, record, args)
}

/// Follow the authorize URL at the issuer, returning the callback URL it redirects to.
fn authorize(url: &str) -> String {
    let (status, headers, body) = http_get(url);
    assert_eq!(status, 302, "issuer refused the authorize request: {body}");
    headers["location"].clone()
}

fn callback_port(callback: &str) -> u16 {
    callback
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Something on a port that answers every request with 404, until dropped.
struct NotALoginServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NotALoginServer {
    fn bind(port: u16) -> NotALoginServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            use std::io::Write;
            for mut c in listener.incoming().flatten() {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let _ = c.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        });
        NotALoginServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for NotALoginServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn browser_login_writes_a_login_codex_accepts() {
    let _ports = login_ports();
    let issuer = FakeIssuer::start();
    let (sb, record, args) = login_sandbox(&issuer);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = sb.spawn(&args);
    let url = wait_for_line(&record, 10);
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", issuer.base)),
        "{url}"
    );
    let callback = authorize(&url);
    assert_eq!(callback_port(&callback), 1455);

    // A stray answer with the wrong state: Codex's 400 "State mismatch", and it keeps waiting.
    let (q_base, q) = callback.split_once('?').unwrap();
    let p = params(q);
    assert_ne!(p["state"], "forged");
    let forged = format!("{q_base}?code={}&state=forged", p["code"]);
    let (status, _, body) = http_get(&forged.replace("localhost", "127.0.0.1"));
    assert_eq!(status, 400);
    assert!(body.contains("State mismatch"));

    let (status, _, body) = http_get(&callback.replace("localhost", "127.0.0.1"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Signed in"));
    let out = sb.wait(child, &issuer.issued());
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("/oauth/authorize?"),
        "the URL is always printed: {out:?}"
    );
    assert!(out.stdout.contains("Logged in: ChatGPT account"), "{out:?}");

    let home = sb.home().join("codex-home");
    let auth = std::fs::read_to_string(home.join("auth.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&auth).unwrap();
    assert_eq!(v["auth_mode"], "chatgpt");
    assert!(v["OPENAI_API_KEY"]
        .as_str()
        .unwrap()
        .starts_with("sk-proj-issued"));
    assert!(v["tokens"]["account_id"]
        .as_str()
        .unwrap()
        .starts_with("acct-"));
    assert!(v["last_refresh"].as_str().unwrap().ends_with('Z'));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.join("auth.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(codex_status(&home).contains("Logged in using ChatGPT"));
    // The port is free again.
    assert!(TcpListener::bind("127.0.0.1:1455").is_ok());
}

#[test]
fn issuer_error_is_reported_and_nothing_written() {
    let _ports = login_ports();
    let issuer = FakeIssuer::start();
    issuer.deny_with("access_denied");
    let (sb, record, args) = login_sandbox(&issuer);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = sb.spawn(&args);
    let callback = authorize(&wait_for_line(&record, 10));
    let (status, _, body) = http_get(&callback.replace("localhost", "127.0.0.1"));
    assert_eq!(status, 200);
    assert!(body.contains("access_denied"), "{body}");
    let out = sb.wait(child, &issuer.issued());
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("access_denied"), "{out:?}");
    assert!(!sb.home().join("codex-home/auth.json").exists());
    assert!(TcpListener::bind("127.0.0.1:1455").is_ok());
}

#[test]
fn browser_login_times_out_and_releases_the_port() {
    let _ports = login_ports();
    let issuer = FakeIssuer::start();
    let (sb, _record, mut args) = login_sandbox(&issuer);
    args.extend(["--timeout".into(), "1".into(), "--no-browser".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sb.run(&args);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("no answer from the browser within 1 s"),
        "{out:?}"
    );
    assert!(TcpListener::bind("127.0.0.1:1455").is_ok());
}

#[test]
fn stale_login_server_on_1455_is_nudged_away() {
    let _ports = login_ports();
    // A stale "codex login" holding 1455: it stops when asked GET /cancel.
    let stale = TcpListener::bind("127.0.0.1:1455").unwrap();
    let cancelled = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = cancelled.clone();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut c in stale.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let n = c.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\ncancelled",
            );
            if req.starts_with("GET /cancel") {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                return; // drops the listener: the port is free
            }
        }
    });
    let issuer = FakeIssuer::start();
    let (sb, record, args) = login_sandbox(&issuer);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = sb.spawn(&args);
    let callback = authorize(&wait_for_line(&record, 10));
    assert!(cancelled.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(callback_port(&callback), 1455);
    http_get(&callback.replace("localhost", "127.0.0.1"));
    let out = sb.wait(child, &issuer.issued());
    assert_eq!(out.code, 0, "{out:?}");
    server.join().unwrap();
}

#[test]
fn something_else_on_1455_means_1457_and_both_busy_is_an_error() {
    let _ports = login_ports();
    // Not a login server: it never answers /cancel with 200.
    let _other = NotALoginServer::bind(1455);
    let issuer = FakeIssuer::start();
    let (sb, record, args) = login_sandbox(&issuer);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = sb.spawn(&argv);
    let callback = authorize(&wait_for_line(&record, 10));
    assert_eq!(callback_port(&callback), 1457);
    http_get(&callback.replace("localhost", "127.0.0.1"));
    let out = sb.wait(child, &issuer.issued());
    assert_eq!(out.code, 0, "{out:?}");

    let _also = TcpListener::bind("127.0.0.1:1457").unwrap();
    let out = sb.run(&argv);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("1455 and 1457"), "{out:?}");
}

#[test]
fn device_code_login_pending_then_success() {
    let issuer = FakeIssuer::start();
    issuer.device_mode(DeviceMode::Approve { pending: 2 });
    let (sb, _record, mut args) = login_sandbox(&issuer);
    args.push("--device-auth".into());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = sb.spawn(&argv);
    let out = sb.wait(child, &issuer.issued());
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("/codex/device"), "{out:?}");
    assert!(out.stderr.contains("ABCD-"), "the code is shown: {out:?}");
    let polls = issuer
        .log()
        .iter()
        .filter(|l| l.ends_with("deviceauth/token"))
        .count();
    assert_eq!(polls, 3);
    assert!(codex_status(&sb.home().join("codex-home")).contains("Logged in using ChatGPT"));
}

#[test]
fn device_code_expired_and_not_enabled() {
    let issuer = FakeIssuer::start();
    issuer.device_mode(DeviceMode::Expired);
    let (sb, _record, mut args) = login_sandbox(&issuer);
    args.push("--device-auth".into());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sb.run(&argv);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("expired"), "{out:?}");

    issuer.device_mode(DeviceMode::Disabled);
    let out = sb.run(&argv);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("not enabled"), "{out:?}");
    assert!(
        out.stderr.contains("Security"),
        "says how to enable it: {out:?}"
    );
    assert!(!sb.home().join("codex-home/auth.json").exists());
}

#[test]
fn api_key_login_from_a_pipe_and_another_account_needs_force() {
    let mut sb = Sandbox::new();
    let home = sb.home().join("codex-home");
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    let first = logins::api_key("login1");
    let second = logins::api_key("login2");
    sb.secret(&first);
    sb.secret(&second);
    let out = sb.run_with_stdin(&["login", "--api-key-stdin"], &format!("  {first}\n"));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        std::fs::read_to_string(home.join("auth.json")).unwrap(),
        logins::api_key_json(&first)
    );
    assert!(codex_status(&home).contains(&Codex::Npm171.api_key_line("sk-test-***00000")));

    let out = sb.run_with_stdin(&["login", "--api-key-stdin"], &second);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("another account (API key sk-test-***"),
        "{out:?}"
    );
    assert!(out.stderr.contains("--force"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(home.join("auth.json")).unwrap(),
        logins::api_key_json(&first)
    );

    let out = sb.run_with_stdin(&["login", "--api-key-stdin", "--force", "--json"], &second);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["outcome"], "replaced");
    assert_eq!(
        std::fs::read_to_string(home.join("auth.json.bak")).unwrap(),
        logins::api_key_json(&first)
    );

    let out = sb.run_with_stdin(&["login", "--api-key-stdin"], "\n");
    assert_eq!(out.code, 2, "{out:?}");
    let out = sb.run_in_tty(&["login", "--api-key-stdin"], "");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.contains("stdin is a terminal"), "{out:?}");
}

#[test]
fn push_login_gives_each_target_its_own_session() {
    let issuer = FakeIssuer::start();
    issuer.device_mode(DeviceMode::Approve { pending: 0 });
    let mut sb = Sandbox::new();
    let (a, b) = (RemoteUser::bash(), RemoteUser::bash());
    a.authorize(&sb).with_codex(Codex::Npm171);
    b.authorize(&sb);
    sb.alias("a", &a);
    let cfg = sb.alias("b", &b);
    let local_home = sb.home().join("local-codex");
    sb.env
        .push(("CODEX_HOME".into(), local_home.display().to_string()));
    let mut args: Vec<String> = [
        "push",
        "--ssh",
        "a",
        "--ssh",
        "b",
        "-F",
        cfg.to_str().unwrap(),
        "--login",
        "--device-auth",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(issuer.args());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = sb.spawn(&argv);
    let out = sb.wait(child, &issuer.issued());
    assert_eq!(out.code, 0, "{out:?}");
    // Both codes at once: the URL once, then one line per target with its own code.
    for t in ["a", "b"] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains("ABCD-") && l.trim_end().ends_with(&format!(" {t}"))),
            "the prompt names the target {t}: {out:?}"
        );
    }
    assert_eq!(out.stderr.matches("/codex/device").count(), 1, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["targets"][0]["codex_status"], "Logged in using ChatGPT");
    let ra: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.auth_path()).unwrap()).unwrap();
    let rb: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.auth_path()).unwrap()).unwrap();
    assert_ne!(ra["tokens"]["refresh_token"], rb["tokens"]["refresh_token"]);
    // Never stored here.
    assert!(!local_home.join("auth.json").exists());
    // status agrees: two logins, no shared session.
    let out = sb.run(&[
        "status",
        "--ssh",
        "a",
        "--ssh",
        "b",
        "-F",
        cfg.to_str().unwrap(),
        "--json",
    ]);
    let extra = issuer.issued();
    for s in &extra {
        assert!(!out.all().contains(s.as_str()));
    }
    assert_eq!(out.code, 0, "{out:?}");
    for p in &out.json()["places"].as_array().unwrap()[1..] {
        assert_eq!(p["state"], "logged-in");
        assert!(p.get("shared_with").is_none(), "{out:?}");
    }
}

#[test]
fn issuer_and_client_id_from_the_environment() {
    let issuer = FakeIssuer::start();
    issuer.device_mode(DeviceMode::Approve { pending: 0 });
    let mut sb = Sandbox::new();
    let home = sb.home().join("codex-home");
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    sb.env
        .push(("CODEX_AUTH_ISSUER".into(), issuer.base.clone()));
    sb.env.push((
        "CODEX_AUTH_CLIENT_ID".into(),
        crate::issuer::CLIENT_ID.into(),
    ));
    let child = sb.spawn(&["login", "--device-auth", "--json"]);
    let out = sb.wait(child, &issuer.issued());
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["outcome"], "created");
    assert!(home.join("auth.json").exists());
}

#[test]
fn issuer_that_grants_no_api_key_gives_a_login_without_one() {
    let issuer = FakeIssuer::start();
    issuer.device_mode(DeviceMode::Approve { pending: 0 });
    issuer.no_api_key_exchange();
    let (sb, _record, mut args) = login_sandbox(&issuer);
    args.extend(["--device-auth".into(), "--json".into()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = sb.spawn(&argv);
    let out = sb.wait(child, &issuer.issued()).code(0);
    assert!(out.json()["login"].get("api_key").is_none(), "{out:?}");
    let home = sb.home().join("codex-home");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("auth.json")).unwrap()).unwrap();
    assert_eq!(v["OPENAI_API_KEY"], serde_json::Value::Null);
    assert!(codex_status(&home).contains("Logged in using ChatGPT"));
    let exchanges = issuer
        .log()
        .iter()
        .filter(|l| l.as_str() == "POST /oauth/token")
        .count();
    assert_eq!(
        exchanges, 2,
        "the code exchange, then the refused key exchange"
    );
}

/// A raw GET to 127.0.0.1:`port` with the given extra header lines; the status code.
fn get_with_headers(port: u16, path: &str, headers: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_web_page_cannot_cancel_the_sign_in_nor_reach_it_by_another_name() {
    let _ports = login_ports();
    let issuer = FakeIssuer::start();
    let (sb, record, args) = login_sandbox(&issuer);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = sb.spawn(&args);
    let callback = authorize(&wait_for_line(&record, 10));
    let port = callback_port(&callback);
    // While it holds a sign-in in memory, it can leave no core dump.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.child.id())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(core.split_whitespace().nth(4), Some("0"), "{core}");
    assert_eq!(core.split_whitespace().nth(5), Some("0"), "{core}");
    let here = format!("Host: localhost:{port}\r\n");
    // A page that rebinds its own name to 127.0.0.1, and pages of other sites.
    for (path, headers) in [
        ("/cancel", "Host: evil.example:1455\r\n".to_string()),
        ("/cancel", format!("{here}Sec-Fetch-Site: cross-site\r\n")),
        ("/cancel", format!("{here}Origin: https://evil.example\r\n")),
        ("/success", "Host: evil.example\r\n".to_string()),
        ("/cancel", String::new()),
    ] {
        assert_eq!(
            get_with_headers(port, path, &headers),
            403,
            "{path} {headers:?}"
        );
    }
    // The sign-in still waits, and completes.
    http_get(&callback.replace("localhost", "127.0.0.1"));
    let out = sb.wait(child, &issuer.issued());
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn a_local_codex_home_others_can_write_is_refused_with_nothing_written() {
    use std::os::unix::fs::PermissionsExt;
    let mut sb = Sandbox::new();
    let home = sb.home().join("shared-codex");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o775)).unwrap();
    sb.env
        .push(("CODEX_HOME".into(), home.display().to_string()));
    let key = logins::api_key("local-unsafe");
    sb.secret(&key);
    let out = sb.run_with_stdin(&["login", "--api-key-stdin"], &key);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("can be written by others than this user"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_dir(&home).unwrap().count(), 0);
}
