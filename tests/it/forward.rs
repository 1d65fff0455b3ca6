//! `login --forward` with the real `codex login` on a host in its own network namespace
//! (its 127.0.0.1:1455 is not ours), reached through real sshd.

use std::process::{Child, Command, Stdio};

use crate::harness::Running;
use std::time::{Duration, Instant};

use crate::harness::{login_ports, peers, wait_for_line, Codex, RemoteUser, Sandbox};
use crate::issuer::http_get;

fn jump_config(sb: &Sandbox, user: &RemoteUser) -> std::path::PathBuf {
    assert!(
        peers().netns(),
        "network namespaces are needed for the forward peers"
    );
    sb.pin_host(peers().get("PEER_JUMP_HOST"), 22);
    sb.pin_host(peers().get("PEER_INNER_HOST"), 22);
    sb.ssh_config(&format!(
        "Host host\n  HostName {j}\nHost inner\n  HostName {i}\n  ProxyJump host\nHost *\n  User {u}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
        j = peers().get("PEER_JUMP_HOST"),
        i = peers().get("PEER_INNER_HOST"),
        u = user.name
    ))
}

/// Processes of `user` whose command name is `codex` (a check, never a kill).
fn codex_processes(user: &RemoteUser) -> usize {
    let out = Command::new("ps")
        .args(["-u", &user.name, "-o", "comm="])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim() == "codex")
        .count()
}

fn wait_no_codex(user: &RemoteUser) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while codex_processes(user) > 0 {
        assert!(
            Instant::now() < deadline,
            "a codex process was left on the host"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start(
    sb: &mut Sandbox,
    cfg: &std::path::Path,
    host: &str,
    extra: &[&str],
) -> (Running, std::path::PathBuf) {
    let record = sb.recording_browser();
    let mut args = vec!["login", "--forward", host, "-F", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    (sb.spawn(&args), record)
}

/// A python3 program in the host's network namespace; returns once it prints "ready".
fn in_host_netns(program: &str) -> Child {
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            peers().get("PEER_JUMP_NETNS"),
            "python3",
            "-c",
            program,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

fn callback_port(url: &str) -> u16 {
    if url.contains("%3A1457%2F") {
        1457
    } else {
        1455
    }
}

/// The test browser: a wrong state gets Codex's own 400, then /cancel ends the login.
fn wrong_state_then_cancel(port: u16) {
    let (status, _, body) = http_get(&format!(
        "http://127.0.0.1:{port}/auth/callback?code=not-a-code&state=forged-state"
    ));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("State mismatch"), "{body}");
    let (status, _, body) = http_get(&format!("http://127.0.0.1:{port}/cancel"));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn forwarded_login_reaches_the_hosts_codex_and_cancel_ends_it() {
    let _ports = login_ports();
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_codex(Codex::Npm171);
    let cfg = jump_config(&sb, &user);
    let (child, record) = start(&mut sb, &cfg, "host", &[]);
    let url = wait_for_line(&record, 20);
    assert!(url.contains("/oauth/authorize?"), "{url}");
    assert_eq!(callback_port(&url), 1455);
    wrong_state_then_cancel(1455);
    let out = sb.wait(child, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("GET /auth/callback"), "{out:?}");
    assert!(
        !out.all().contains("not-a-code"),
        "the query string is never printed: {out:?}"
    );
    assert!(!out.all().contains("forged-state"), "{out:?}");
    assert!(out.stdout.contains("Not logged in"), "{out:?}");
    wait_no_codex(&user);
    assert!(
        std::net::TcpListener::bind("127.0.0.1:1455").is_ok(),
        "local port released"
    );
}

#[test]
fn remote_codex_on_1457_is_forwarded_on_1457() {
    let _ports = login_ports();
    // Something else holds 1455 on the host (never answers): Codex falls back to 1457.
    let mut holder = in_host_netns("import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('127.0.0.1',1455))\ns.listen(8)\nprint('ready',flush=True)\ntime.sleep(120)");
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_codex(Codex::Npm171);
    let cfg = jump_config(&sb, &user);
    let (child, record) = start(&mut sb, &cfg, "host", &[]);
    let url = wait_for_line(&record, 30);
    assert_eq!(callback_port(&url), 1457, "{url}");
    wrong_state_then_cancel(1457);
    let out = sb.wait(child, &[]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("forwarding 127.0.0.1:1457"), "{out:?}");
    wait_no_codex(&user);
}

#[test]
fn local_port_taken_fails_at_once_and_stops_the_remote_login() {
    let _ports = login_ports();
    let _taken = std::net::TcpListener::bind("127.0.0.1:1455").unwrap();
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_codex(Codex::Npm171);
    let cfg = jump_config(&sb, &user);
    let (child, _record) = start(&mut sb, &cfg, "host", &[]);
    let out = sb.wait(child, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("port 1455 on 127.0.0.1 here is in use"),
        "{out:?}"
    );
    assert!(out.stderr.contains("cannot be moved"), "{out:?}");
    wait_no_codex(&user);
}

#[test]
fn host_without_codex_or_without_forwarding_is_a_clear_error() {
    let _ports = login_ports();
    let sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = jump_config(&sb, &user);
    let out = sb.run(&["login", "--forward", "host", "-F", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("codex is not installed"), "{out:?}");
    assert!(out.stderr.contains("codex-auth push"), "{out:?}");

    let nofwd = RemoteUser::bash();
    nofwd.authorize(&sb).with_codex(Codex::Npm171);
    let status = Command::new("usermod")
        .args(["-aG", peers().get("PEER_NOFWD_GROUP"), &nofwd.name])
        .status()
        .unwrap();
    assert!(status.success());
    let cfg = jump_config(&sb, &nofwd);
    let out = sb.run(&["login", "--forward", "host", "-F", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("refuses port forwarding"), "{out:?}");
    assert!(
        !out.stderr.contains("oauth/authorize"),
        "no one is sent to a browser: {out:?}"
    );
    assert_eq!(codex_processes(&nofwd), 0);
}

#[test]
fn lost_connection_exits_1_and_leaves_no_login_server() {
    let _ports = login_ports();
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_codex(Codex::Npm171);
    let cfg = jump_config(&sb, &user);
    let (child, record) = start(&mut sb, &cfg, "host", &[]);
    wait_for_line(&record, 20);
    assert_eq!(codex_processes(&user), 1);
    // Cut the connection from the host's side: stop the user's sshd session process.
    let out = Command::new("ps")
        .args(["-u", &user.name, "-o", "pid=,comm="])
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut f = line.split_whitespace();
        if let (Some(pid), Some("sshd")) = (f.next(), f.next()) {
            unsafe {
                libc::kill(pid.parse().unwrap(), libc::SIGKILL);
            }
        }
    }
    let out = sb.wait(child, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("lost"), "{out:?}");
    wait_no_codex(&user);
}

#[test]
fn interrupt_cancels_the_remote_login_and_exits_130() {
    let _ports = login_ports();
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_codex(Codex::Npm171);
    let cfg = jump_config(&sb, &user);
    let (child, record) = start(&mut sb, &cfg, "host", &[]);
    wait_for_line(&record, 20);
    child.signal(libc::SIGINT);
    let out = sb.wait(child, &[]);
    assert_eq!(out.code, 130, "{out:?}");
    wait_no_codex(&user);
    assert!(std::net::TcpListener::bind("127.0.0.1:1455").is_ok());
}

#[test]
fn no_run_holds_the_tunnel_and_prints_no_query_strings() {
    let _ports = login_ports();
    // Something to talk to on the host's 127.0.0.1:1455.
    let mut server = in_host_netns("import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        b=b'hello from the host'\n        self.send_response(200); self.send_header('Content-Length',str(len(b))); self.end_headers(); self.wfile.write(b)\n    def log_message(self,*a): pass\ns=http.server.HTTPServer(('127.0.0.1',1455),H)\nprint('ready',flush=True)\ns.serve_forever()");
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = jump_config(&sb, &user);
    let (child, _record) = start(&mut sb, &cfg, "host", &["--no-run"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        if std::net::TcpStream::connect("127.0.0.1:1457").is_ok() {
            let (status, _, body) =
                http_get("http://127.0.0.1:1455/auth/callback?code=SECRETCODE&state=S");
            assert_eq!(status, 200);
            break body;
        }
        assert!(Instant::now() < deadline, "the tunnel never came up");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(body, "hello from the host");
    // A request line written in pieces is still reported whole.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect("127.0.0.1:1455").unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(b"GET ").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        s.write_all(b"/success HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        assert!(reply.ends_with("hello from the host"), "{reply}");
    }
    child.signal(libc::SIGINT);
    let out = sb.wait(child, &["SECRETCODE".to_string()]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("GET /auth/callback"), "{out:?}");
    assert!(out.stderr.contains("1455 -> host: GET /success"), "{out:?}");
}

#[test]
fn forward_through_a_proxyjump_host() {
    let _ports = login_ports();
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb).with_codex(Codex::Npm171);
    let cfg = jump_config(&sb, &user);
    let (child, record) = start(&mut sb, &cfg, "inner", &[]);
    let url = wait_for_line(&record, 20);
    wrong_state_then_cancel(callback_port(&url));
    let out = sb.wait(child, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("GET /cancel"), "{out:?}");
    wait_no_codex(&user);
}

#[test]
fn device_logins_on_several_hosts_at_once_even_where_forwarding_is_off() {
    assert!(peers().netns(), "network namespaces are needed");
    // The hosts' own Codex reaches this issuer over the veth of their namespace.
    let issuer = crate::issuer::FakeIssuer::start_on("10.77.1.1");
    issuer.device_mode(crate::issuer::DeviceMode::ApproveReversed { after: 2 });
    let sb = Sandbox::new();
    let (a, b) = (RemoteUser::bash(), RemoteUser::bash());
    for u in [&a, &b] {
        u.authorize(&sb).with_codex(Codex::Npm171);
    }
    // b's sshd forbids forwarding: no tunnel is needed for a device login.
    let status = Command::new("usermod")
        .args(["-aG", peers().get("PEER_NOFWD_GROUP"), &b.name])
        .status()
        .unwrap();
    assert!(status.success());
    sb.pin_host(peers().get("PEER_JUMP_HOST"), 22);
    let cfg = sb.ssh_config(&format!(
        "Host h1\n  HostName {j}\n  User {a}\nHost h2\n  HostName {j}\n  User {b}\nHost *\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
        j = peers().get("PEER_JUMP_HOST"),
        a = a.name,
        b = b.name
    ));
    let cfg = cfg.to_str().unwrap();
    let run = sb.spawn(&[
        "login",
        "--forward",
        "h1",
        "--forward",
        "h2",
        "--device-auth",
        "--issuer",
        &issuer.base,
        "-F",
        cfg,
        "--json",
    ]);
    let out = sb.wait(run, &issuer.issued()).code(0);
    let doc = out.json();
    for h in doc["hosts"].as_array().unwrap() {
        assert_eq!(h["ok"], true, "{out:?}");
        assert_eq!(h["codex_status"], "Logged in using ChatGPT", "{out:?}");
    }
    assert_eq!(out.stderr.matches("/codex/device").count(), 1, "{out:?}");
    for host in ["h1", "h2"] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains("ABCD-") && l.trim_end().ends_with(host)),
            "{host}: {out:?}"
        );
    }
    assert_eq!(issuer.approved().len(), 2);
    for u in [&a, &b] {
        let (rc, said) = Codex::Npm171.status(&u.home.join(".codex"));
        assert_eq!(rc, 0, "{said}");
    }
    // The browser flow stays one host at a time.
    let out = sb.run(&["login", "--forward", "h1", "--forward", "h2", "-F", cfg]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--device-auth"), "{out:?}");
}

#[test]
fn a_host_printing_a_foreign_sign_in_url_is_refused_and_nothing_is_opened_or_bound() {
    let _ports = login_ports();
    for (tag, url) in [
        // Another scheme (a file share the desktop would mount).
        ("scheme", "smb://10.0.0.9/oauth/authorize?redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback"),
        // The real issuer, but a callback port of the host's choosing.
        ("port", "https://auth.openai.com/oauth/authorize?redirect_uri=http%3A%2F%2Flocalhost%3A2222%2Fauth%2Fcallback"),
        // A look-alike site.
        ("site", "https://auth.openai.com.example/oauth/authorize?redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback"),
    ] {
        let mut sb = Sandbox::new();
        let user = RemoteUser::bash();
        user.authorize(&sb);
        // The host's "codex" prints the URL and waits, as a login server would.
        user.write_owned(
            ".local/bin/codex",
            &format!("#!/bin/sh\necho 'Starting local login server'\necho '{url}'\nexec sleep 30\n"),
            0o755,
        );
        let cfg = jump_config(&sb, &user);
        let record = sb.recording_browser();
        let out = sb.run(&["login", "--forward", "host", "-F", cfg.to_str().unwrap()]);
        assert_eq!(out.code, 1, "{tag}: {out:?}");
        assert!(out.stderr.contains("printed a sign-in URL"), "{tag}: {out:?}");
        assert!(out.stderr.contains("it was not opened"), "{tag}: {out:?}");
        assert!(!record.exists(), "{tag}: a browser was started");
        assert!(!out.stderr.contains("forwarding 127.0.0.1"), "{tag}: a port was bound: {out:?}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::process::Command::new("pgrep")
            .args(["-u", &user.name, "sleep"])
            .status()
            .unwrap()
            .success()
        {
            assert!(Instant::now() < deadline, "{tag}: the host's login was left running");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
