//! Faults are part of the contract: a cut connection, a killed sshd or client, a noisy
//! login shell, two pushes at once, containers that stop or vanish mid-push. Each ends
//! its target promptly with a report the target backs; nothing hangs, nothing is torn,
//! nothing is left behind after the next push.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{
    docker_peers, logins, peers, Out, RemoteUser, Running, Sandbox, TestContainer,
};

/// A TCP proxy to the loopback sshd that resets the connection (RST both ways) once
/// one direction has carried `limit` bytes. One connection per proxy; it counts what
/// went each way, and keeps the order in which it carried it.
struct CutProxy {
    port: u16,
    /// Bytes carried client to server and server to client, when the connection ended.
    carried: Arc<std::sync::Mutex<Option<(usize, usize)>>>,
    timeline: Timeline,
}

/// What a [`CutProxy`] carried, in order: each read it passed on, with its direction
/// (true: client to server) and its size.
type Timeline = Arc<std::sync::Mutex<Vec<(bool, usize)>>>;

/// Where a [`CutProxy`] cuts: after so many bytes from the client, or from the server.
#[derive(Clone, Copy, Debug)]
enum Cut {
    Client(usize),
    Server(usize),
    /// Stop carrying anything either way once the server has sent so many bytes, and
    /// keep both connections open: a network that went silent (no RST, no FIN).
    Silence(usize),
    Never,
}

fn reset_on_close(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// Copy `from` to `to` until either side ends or `cut` is set; at `limit` bytes, set it.
/// With `silent`, a cut carries nothing more but holds the sockets open for a minute.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    limit: usize,
    cut: Arc<AtomicBool>,
    silent: bool,
    (timeline, up): (Timeline, bool),
) -> usize {
    from.set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    let mut carried = 0usize;
    let mut buf = [0u8; 16384];
    while !cut.load(Ordering::SeqCst) {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = limit - carried;
                // Recorded before it is passed on: the answer it brings comes after it.
                timeline.lock().unwrap().push((up, n.min(room)));
                if to.write_all(&buf[..n.min(room)]).is_err() {
                    break;
                }
                carried += n.min(room);
                if carried >= limit {
                    cut.store(true, Ordering::SeqCst);
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    if silent {
        std::thread::sleep(Duration::from_secs(60));
    }
    // Either end gone ends the other: a cut resets both (the linger set below).
    cut.store(true, Ordering::SeqCst);
    carried
}

impl CutProxy {
    fn start(at: Cut) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let carried = Arc::new(std::sync::Mutex::new(None));
        let record = carried.clone();
        let timeline = Timeline::default();
        let order = timeline.clone();
        std::thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let Ok(server) = TcpStream::connect(("127.0.0.1", peers().port())) else {
                return;
            };
            let (up, down) = match at {
                Cut::Client(n) => (n, usize::MAX),
                Cut::Server(n) | Cut::Silence(n) => (usize::MAX, n),
                Cut::Never => (usize::MAX, usize::MAX),
            };
            if !matches!(at, Cut::Never) {
                reset_on_close(&client);
                reset_on_close(&server);
            }
            let cut = Arc::new(AtomicBool::new(false));
            let (c, s, flag) = (
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                cut.clone(),
            );
            let silent = matches!(at, Cut::Silence(_));
            let back_order = (order.clone(), false);
            let back = std::thread::spawn(move || pump(s, c, down, flag, silent, back_order));
            let sent = pump(client, server, up, cut, silent, (order, true));
            let received = back.join().unwrap_or(0);
            *record.lock().unwrap() = Some((sent, received));
        });
        CutProxy {
            port,
            carried,
            timeline,
        }
    }

    /// The bytes the server had sent when the client began to send its login, in a
    /// whole push through this proxy: the client's longest flight of bytes is the exec
    /// request carrying the script, the server answers it, and the client's next
    /// flight is the request and the login on stdin, after which only the server's
    /// report comes. Panics on a conversation of another shape.
    fn server_bytes_before_the_login(&self) -> usize {
        self.carried();
        // Flights: consecutive reads one way, with the server's total before each.
        let mut flights: Vec<(bool, usize, usize)> = Vec::new();
        let mut down = 0;
        for &(up, n) in self.timeline.lock().unwrap().iter() {
            match flights.last_mut() {
                Some((way, bytes, _)) if *way == up => *bytes += n,
                _ => flights.push((up, n, down)),
            }
            if !up {
                down += n;
            }
        }
        let exec = (0..flights.len())
            .filter(|&i| flights[i].0)
            .max_by_key(|&i| flights[i].1)
            .expect("the client sent nothing");
        match flights.get(exec + 1..exec + 3) {
            Some([(false, _, _), (true, _, before)]) => *before,
            _ => panic!("no answer to the exec and then stdin in {flights:?}"),
        }
    }

    /// What the connection carried each way (client to server, server to client).
    fn carried(&self) -> (usize, usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(c) = *self.carried.lock().unwrap() {
                return c;
            }
            assert!(Instant::now() < deadline, "the proxy never finished");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The `.auth*` temp files in a Codex home.
fn temp_files(user: &RemoteUser) -> Vec<String> {
    std::fs::read_dir(user.home.join(".codex"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".auth"))
                .collect()
        })
        .unwrap_or_default()
}

/// Wait for a background run, but never longer than `secs`: a run still going then is
/// a hang, and fails the test (after killing it).
fn wait_bounded(sb: &Sandbox, run: Running, secs: u64) -> Out {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut run = run;
    loop {
        if run.child.try_wait().unwrap().is_some() {
            return sb.wait(run, &[]);
        }
        if Instant::now() > deadline {
            run.signal(libc::SIGKILL);
            let out = sb.wait(run, &[]);
            panic!("still running after {secs} s (killed): {out:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_connection_cut_anywhere_in_a_push_ends_it_promptly_and_truly() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    sb.pin_host("127.0.0.1", peers().port());
    let keys: Vec<String> = (0..2)
        .map(|i| logins::api_key(&format!("cut{i}")))
        .collect();
    for k in &keys {
        sb.secret(k);
    }
    let files: Vec<String> = keys.iter().map(|k| logins::api_key_json(k)).collect();
    user.write_owned(".codex/auth.json", &files[0], 0o600);
    let mut holds = 0;
    let (mut tried, mut longest) = (0, Duration::ZERO);
    // Runs that ended installed, untouched, and cut while installing or verifying.
    let mut seen = [0; 3];
    let mut push_through = |at: Cut| -> (usize, usize) {
        let proxy = CutProxy::start(at);
        let cfg = sb.ssh_config(&format!(
            "Host cut\n  HostName 127.0.0.1\n  Port {}\n  HostKeyAlias [127.0.0.1]:{}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
            proxy.port,
            peers().port(),
            user.name
        ));
        let next = 1 - holds;
        let started = Instant::now();
        let out = push_cut(&sb, &["cut"], &cfg, &keys[next], at);
        longest = longest.max(started.elapsed());
        tried += 1;
        let now = std::fs::read_to_string(user.auth_path()).unwrap();
        seen[judge(at, &out, 0, &now, &files, holds)] += 1;
        holds = if now == files[0] { 0 } else { 1 };
        proxy.carried()
    };
    // One whole push measures the conversation; then cuts at every step of it, in the
    // bytes the client sends (connecting, authenticating, the request, the login) and
    // in the bytes the server sends back (the report, line by line).
    let (up, down) = push_through(Cut::Never);
    const STEPS: usize = 50;
    for k in 0..=STEPS {
        push_through(Cut::Client(k * up / STEPS));
    }
    for k in 0..=STEPS {
        push_through(Cut::Server(k * down / STEPS));
    }
    eprintln!(
        "cut sweep: {tried} cut points over {up} bytes up and {down} down, longest run {longest:?}; installed {}, untouched {}, cut while installing or verifying {}",
        seen[0], seen[1], seen[2]
    );
    // The sweep spans the whole push: cuts before it, during it, and none at all.
    assert!(seen.iter().all(|n| *n > 0), "{seen:?}");
    // The next whole push leaves no temp file of any cut run behind.
    let cfg = sb.alias("s", &user);
    sb.push_key("after-cuts", &["--ssh", "s", "-F", cfg.to_str().unwrap()])
        .0
        .code(0);
    assert!(temp_files(&user).is_empty(), "{:?}", temp_files(&user));
}

/// A push of API key `key` to `hosts` of ssh config `cfg`, whose connection is cut at
/// `at`: it ends within 30 s (else the test fails), done or failed (exit 0 or 1).
fn push_cut(sb: &Sandbox, hosts: &[&str], cfg: &std::path::Path, key: &str, at: Cut) -> Out {
    let mut args = vec!["push"];
    for host in hosts {
        args.extend(["--ssh", host]);
    }
    let cfg = cfg.to_str().unwrap();
    args.extend(["-F", cfg, "--api-key-stdin", "--json"]);
    let out = wait_bounded(sb, sb.cmd(&args).stdin(key).spawn(), 30);
    assert!(out.code == 0 || out.code == 1, "{at:?}: {out:?}");
    out
}

/// Whether target `i`'s report in `out` is backed by the file it holds, `now`, after a
/// push of `files[1 - holds]` over `files[holds]` cut at `at`: the class of the run (0
/// installed, 1 untouched, 2 cut while installing or verifying).
fn judge(at: Cut, out: &Out, i: usize, now: &str, files: &[String], holds: usize) -> usize {
    let next = 1 - holds;
    assert!(
        now == files[0] || now == files[1],
        "torn file at {at:?}: {now:?}"
    );
    let target = &out.json()["targets"][i];
    let message = target["error"]["message"].as_str().unwrap_or("");
    if target["ok"] == true {
        assert_eq!(
            now, files[next],
            "{at:?}: target {i} done but the old login: {out:?}"
        );
        0
    } else if message.contains("nothing was changed") || message.contains("nothing was replaced") {
        assert_eq!(now, files[holds], "{at:?}: says untouched: {out:?}");
        1
    } else if message.contains("the new login was written") {
        assert_eq!(now, files[next], "{at:?}: says written: {out:?}");
        2
    } else {
        assert!(
            message.contains("old login or the new one"),
            "{at:?}: the report claims what it cannot know: {out:?}"
        );
        2
    }
}

/// A cut of the one connection to a jump host ends every target behind it (they share
/// it) promptly, each with a report its file backs; the next push leaves no temp file.
#[test]
fn a_cut_of_a_shared_jump_host_connection_ends_every_target_behind_it_truly() {
    let mut sb = Sandbox::new();
    let users = [RemoteUser::bash(), RemoteUser::bash()];
    let keys: Vec<String> = (0..2)
        .map(|i| logins::api_key(&format!("jumpcut{i}")))
        .collect();
    for k in &keys {
        sb.secret(k);
    }
    let files: Vec<String> = keys.iter().map(|k| logins::api_key_json(k)).collect();
    for user in &users {
        user.authorize(&sb);
        user.write_owned(".codex/auth.json", &files[0], 0o600);
    }
    sb.pin_host("127.0.0.1", peers().port());
    let mut holds = [0, 0];
    let mut seen = [0; 3];
    let mut push_through = |at: Cut| -> (usize, usize) {
        // The proxy carries one connection: a second one to the jump host would wait
        // unanswered, and the run would fail its bound.
        let proxy = CutProxy::start(at);
        let mut config = format!(
            "Host jump\n  HostName 127.0.0.1\n  Port {}\n  HostKeyAlias [127.0.0.1]:{}\n  User {}\n",
            proxy.port,
            peers().port(),
            users[0].name
        );
        for (i, user) in users.iter().enumerate() {
            config.push_str(&format!(
                "Host inner{i}\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  ProxyJump jump\n",
                peers().port(),
                user.name
            ));
        }
        config.push_str("Host *\n  IdentityFile {key}\n  UserKnownHostsFile {known_hosts}\n  StrictHostKeyChecking yes\n");
        let cfg = sb.ssh_config(&config);
        // Both targets are pushed the login the first one does not hold (a cut may
        // leave them apart: each is judged by what it held).
        let next = 1 - holds[0];
        let out = push_cut(&sb, &["inner0", "inner1"], &cfg, &keys[next], at);
        for (i, user) in users.iter().enumerate() {
            let now = std::fs::read_to_string(user.auth_path()).unwrap();
            if holds[i] == next {
                // Out of step: it was pushed the login it held, and holds it still.
                assert_eq!(now, files[next], "{at:?}: {out:?}");
            } else {
                seen[judge(at, &out, i, &now, &files, holds[i])] += 1;
            }
            holds[i] = if now == files[0] { 0 } else { 1 };
        }
        proxy.carried()
    };
    let (up, down) = push_through(Cut::Never);
    const STEPS: usize = 16;
    for k in 0..=STEPS {
        push_through(Cut::Client(k * up / STEPS));
    }
    for k in 0..=STEPS {
        push_through(Cut::Server(k * down / STEPS));
    }
    assert!(seen.iter().all(|n| *n > 0), "{seen:?}");
    for user in &users {
        let cfg = sb.alias("s", user);
        sb.push_key(
            "after-jump-cuts",
            &["--ssh", "s", "-F", cfg.to_str().unwrap()],
        )
        .0
        .code(0);
        assert!(temp_files(user).is_empty(), "{:?}", temp_files(user));
    }
}

/// Host `quiet` for `user` through a proxy on `port`, with keepalives every second.
fn quiet_config(sb: &Sandbox, user: &RemoteUser, port: u16) -> std::path::PathBuf {
    sb.ssh_config(&format!(
        "Host quiet\n  HostName 127.0.0.1\n  Port {port}\n  HostKeyAlias [127.0.0.1]:{}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n  ServerAliveInterval 1\n  ServerAliveCountMax 2\n",
        peers().port(),
        user.name
    ))
}

#[test]
fn a_network_gone_silent_is_noticed_by_keepalives() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    sb.pin_host("127.0.0.1", peers().port());
    let key = logins::api_key("silence");
    sb.secret(&key);
    // Silent once the client has sent its login, before the server's report: only
    // keepalives can tell the connection is gone. Where that is, a whole push through
    // the same proxy tells.
    let whole = CutProxy::start(Cut::Never);
    let cfg = quiet_config(&sb, &user, whole.port);
    sb.push_key("whole", &["--ssh", "quiet", "-F", cfg.to_str().unwrap()])
        .0
        .code(0);
    let proxy = CutProxy::start(Cut::Silence(whole.server_bytes_before_the_login() + 1));
    let cfg = quiet_config(&sb, &user, proxy.port);
    let run = sb
        .cmd(&[
            "push",
            "--ssh",
            "quiet",
            "-F",
            cfg.to_str().unwrap(),
            "--api-key-stdin",
            "--json",
        ])
        .stdin(&key)
        .spawn();
    // 1 s x 2 unanswered keepalives, plus the handshake: far less than the minute the
    // proxy stays silent.
    let out = wait_bounded(&sb, run, 20).code(1);
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "disconnected", "{out:?}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains(", while installing: "),
        "the request went out whole before the silence: {out:?}"
    );
}

/// Make the target's `flock` slow for `user` (3 s, then the real one): an install then
/// holds still right before it replaces the file, long enough to fault it there. Fault
/// injection only: ~/.ssh/environment puts the slow one first on the PATH.
fn slow_flock(user: &RemoteUser) {
    user.write_owned(
        "slow/flock",
        "#!/bin/sh\nsleep 3\nexec /usr/bin/flock \"$@\"\n",
        0o755,
    );
    user.set_environment(&[(
        "PATH",
        &format!("{}/slow:/usr/local/bin:/usr/bin:/bin", user.home.display()),
    )]);
}

/// The PIDs of `user`'s processes named `name`, on this machine only: a container's
/// processes can run under the same uid, and are none of this test's business.
fn processes(user: &RemoteUser, name: &str) -> Vec<i32> {
    user_processes(user)
        .into_iter()
        .filter(|(_, comm)| comm == name)
        .map(|(pid, _)| pid)
        .collect()
}

/// PID and name of every live process of `user` on this machine (zombies are gone).
fn user_processes(user: &RemoteUser) -> Vec<(i32, String)> {
    let out = std::process::Command::new("ps")
        .args(["-u", &user.name, "-o", "pid=,stat=,comm="])
        .output()
        .unwrap();
    let host_ns = std::fs::read_link("/proc/self/ns/pid").ok();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let pid: i32 = f.next()?.parse().ok()?;
            let live = !f.next()?.starts_with('Z');
            live.then(|| (pid, f.next().unwrap_or("").to_string()))
        })
        .filter(|(pid, _)| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok() == host_ns)
        .collect()
}

/// SIGKILL the sshd session that the user's script (sleeping in the slow flock) runs
/// under, found up from its `sleep`; with none there, the test fails showing the chain.
/// (A process another test left running once counted as this user's when useradd gave
/// the next user a freed uid; test users now never share a uid, see `fresh_uid`.)
fn kill_the_scripts_session(user: &RemoteUser) {
    let sleeping = processes(user, "sleep");
    let Some(session) = sleeping.iter().find_map(|p| sshd_above(*p)) else {
        panic!(
            "no sshd above the script's sleep {sleeping:?}: {:?}; the user's processes: {:?}",
            sleeping.iter().map(|p| ancestry(*p)).collect::<Vec<_>>(),
            user_processes(user)
        );
    };
    unsafe {
        libc::kill(session, libc::SIGKILL);
    }
}

/// `pid` and its ancestors: (pid, name), up to init.
fn ancestry(pid: i32) -> Vec<(i32, String)> {
    let mut chain = Vec::new();
    let mut at = pid;
    while at > 1 && chain.len() < 32 {
        let comm = std::fs::read_to_string(format!("/proc/{at}/comm")).unwrap_or_default();
        chain.push((at, comm.trim().to_string()));
        let stat = std::fs::read_to_string(format!("/proc/{at}/stat")).unwrap_or_default();
        // pid (comm) state ppid ...: the comm may hold spaces, so after its ')'.
        let after = stat.rsplit_once(") ").map_or("", |(_, a)| a);
        at = after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
    }
    chain
}

/// The nearest sshd process above `pid` (its session), if any.
fn sshd_above(pid: i32) -> Option<i32> {
    ancestry(pid)
        .into_iter()
        .skip(1)
        .find(|(_, name)| name.starts_with("sshd"))
        .map(|(p, _)| p)
}

fn wait_until(what: &str, secs: u64, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sshd_killed_or_client_killed_mid_push_leaves_a_whole_file_and_no_leftovers() {
    for kill_client in [false, true] {
        let mut sb = Sandbox::new();
        let user = RemoteUser::bash();
        user.authorize(&sb);
        let old = logins::api_key("killed-old");
        let new = logins::api_key("killed-new");
        sb.secret(&old);
        sb.secret(&new);
        user.write_owned(".codex/auth.json", &logins::api_key_json(&old), 0o600);
        slow_flock(&user);
        let cfg = sb.alias("s", &user);
        let cfg = cfg.to_str().unwrap();
        let run = sb
            .cmd(&["push", "--ssh", "s", "-F", cfg, "--api-key-stdin", "--json"])
            .stdin(&new)
            .spawn();
        // The install holds still in the slow flock, its temp file written.
        wait_until("the slow flock", 20, || {
            !processes(&user, "sleep").is_empty()
        });
        let started = Instant::now();
        if kill_client {
            run.signal(libc::SIGKILL);
            let out = sb.wait(run, &[]);
            assert_eq!(out.code, -1, "{out:?}");
        } else {
            kill_the_scripts_session(&user);
            let out = wait_bounded(&sb, run, 20).code(1);
            let e = &out.json()["targets"][0]["error"];
            assert_eq!(e["class"], "disconnected", "{out:?}");
            let message = e["message"].as_str().unwrap();
            assert!(message.contains("while installing"), "{out:?}");
            assert!(
                !message.contains("nothing was"),
                "it cannot know that: {out:?}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "not prompt: {out:?}"
            );
        }
        // Whatever the remote script did meanwhile, the file is whole: old or new. The
        // script outlives its session, and sleeps in the slow flock once for each of
        // Codex's two locks: a moment without a `sleep` (between the two) is not its end.
        // Only when nothing of the user runs any more is it over; the next push must not
        // meet it (it would wait for its lock, and find its temp file still in use).
        // (In a full suite on two cores it had once not ended after 20 s, what still ran
        // unrecorded; a script that never ends still fails here, and says what runs.)
        let deadline = Instant::now() + Duration::from_secs(60);
        while !user_processes(&user).is_empty() {
            assert!(
                Instant::now() < deadline,
                "kill_client {kill_client}: the remote script never ended: {:?}",
                std::process::Command::new("ps")
                    .args(["-u", &user.name, "-o", "pid,ppid,stat,etimes,args"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        let now = std::fs::read_to_string(user.auth_path()).unwrap();
        assert!(
            now == logins::api_key_json(&old) || now == logins::api_key_json(&new),
            "{now}"
        );
        // And the script took its temp file with it: no copy of the login stays beside
        // it, not even until the next run.
        assert_eq!(
            temp_files(&user),
            Vec::<String>::new(),
            "kill_client {kill_client}"
        );
        assert_eq!(crate::harness::mode_and_uid(&user.auth_path()).0, 0o600);
        // The next push cleans up after the dead run.
        let _ = std::fs::remove_file(user.home.join(".ssh/environment"));
        sb.push_key("after-kill", &["--ssh", "s", "-F", cfg])
            .0
            .code(0);
        assert!(
            temp_files(&user).is_empty(),
            "kill_client {kill_client}: {:?} {:?}",
            temp_files(&user),
            std::process::Command::new("ps")
                .args(["-u", &user.name, "-o", "pid,ppid,args"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        );
    }
}

#[test]
fn killed_logouts_leave_the_login_where_it_was_or_nowhere() {
    for kill_client in [false, true] {
        let mut sb = Sandbox::new();
        let user = RemoteUser::bash();
        user.authorize(&sb);
        let key = logins::api_key("killed-logout");
        sb.secret(&key);
        user.write_owned(".codex/auth.json", &logins::api_key_json(&key), 0o600);
        slow_flock(&user);
        let cfg = sb.alias("s", &user);
        let cfg = cfg.to_str().unwrap();
        let run = sb.spawn(&["logout", "--ssh", "s", "-F", cfg, "--json"]);
        wait_until("the slow flock", 20, || {
            !processes(&user, "sleep").is_empty()
        });
        if kill_client {
            run.signal(libc::SIGKILL);
            let out = sb.wait(run, &[]);
            assert_eq!(out.code, -1, "{out:?}");
        } else {
            kill_the_scripts_session(&user);
            let out = wait_bounded(&sb, run, 20).code(1);
            assert_eq!(
                out.json()["places"][0]["error"]["class"],
                "disconnected",
                "{out:?}"
            );
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !user_processes(&user).is_empty() {
            assert!(
                Instant::now() < deadline,
                "kill_client {kill_client}: the remote script never ended"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Where it was, whole, or gone; and no copy of it anywhere beside.
        match std::fs::read_to_string(user.auth_path()) {
            Ok(now) => assert_eq!(now, logins::api_key_json(&key)),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        }
        assert_eq!(
            temp_files(&user),
            Vec::<String>::new(),
            "kill_client {kill_client}"
        );
        for entry in std::fs::read_dir(user.home.join(".codex")).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n != "auth.json") && path.is_file() {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(!text.contains(&key), "{} holds the login", path.display());
            }
        }
    }
}

#[test]
fn a_stuck_target_is_given_up_at_its_deadline_and_the_others_finish() {
    let mut sb = Sandbox::new();
    let stuck = RemoteUser::bash();
    let fine = RemoteUser::bash();
    stuck.authorize(&sb);
    fine.authorize(&sb);
    let old = logins::api_key("deadline-old");
    sb.secret(&old);
    stuck.write_owned(".codex/auth.json", &logins::api_key_json(&old), 0o600);
    // Its flock takes 3 s; with 1 s for the locks and 1 s for the rest, that is stuck.
    slow_flock(&stuck);
    let cfg = sb.ssh_config(&format!(
        "Host stuck\n  HostName 127.0.0.1\n  Port {port}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n\
         Host fine\n  HostName 127.0.0.1\n  Port {port}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n",
        stuck.name,
        fine.name,
        port = peers().port()
    ));
    sb.pin_host("127.0.0.1", peers().port());
    let cfg = cfg.to_str().unwrap();
    sb.env.push(("CODEX_AUTH_LOCK_WAIT".into(), "1".into()));
    let key = logins::api_key("deadline");
    sb.secret(&key);
    let run = sb
        .cmd(&[
            "push",
            "--ssh",
            "stuck",
            "--ssh",
            "fine",
            "-F",
            cfg,
            "--api-key-stdin",
            "--target-timeout",
            "1",
            "--json",
        ])
        .stdin(&key)
        .spawn();
    let out = wait_bounded(&sb, run, 20).code(1);
    let doc = out.json();
    let e = &doc["targets"][0]["error"];
    assert_eq!(e["class"], "timeout", "{out:?}");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("no result within 2 s, while installing"),
        "{out:?}"
    );
    assert!(message.contains("old login or the new one"), "{out:?}");
    assert_eq!(doc["targets"][1]["outcome"], "installed", "{out:?}");
    wait_until("the remote script's end", 20, || {
        processes(&stuck, "sleep").is_empty()
    });
    let now = std::fs::read_to_string(stuck.auth_path()).unwrap();
    assert!(
        now == logins::api_key_json(&old) || now == logins::api_key_json(&key),
        "{now}"
    );

    // status: a login shell that never returns is given up too, and reads nothing.
    let hung = RemoteUser::bash();
    hung.authorize(&sb);
    hung.write_owned(".bashrc", "sleep 20\n", 0o644);
    let cfg = sb.alias("hung", &hung);
    let run = sb
        .cmd(&[
            "status",
            "--ssh",
            "hung",
            "-F",
            cfg.to_str().unwrap(),
            "--target-timeout",
            "2",
            "--json",
        ])
        .spawn();
    let out = wait_bounded(&sb, run, 20).code(1);
    let e = &out.json()["places"][1]["error"];
    assert_eq!(e["class"], "timeout", "{out:?}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("while reading: reading changes nothing"),
        "{out:?}"
    );
}

#[test]
fn noisy_start_up_files_change_nothing() {
    let noise = "echo outcome=installed; echo error=torn; echo detail=noise; echo banner >&2; echo Read-only file system >&2";
    let shells: &[(&str, &str, String)] = &[
        ("/bin/bash", ".bashrc", format!("{noise}\n")),
        ("/usr/bin/zsh", ".zshenv", format!("{noise}\n")),
        (
            "/usr/bin/fish",
            ".config/fish/config.fish",
            "echo outcome=installed; echo error=torn; echo banner >&2\n".to_string(),
        ),
        (
            "/bin/csh",
            ".cshrc",
            "echo outcome=installed; echo error=torn; echo detail=noise\n".to_string(),
        ),
    ];
    for (shell, file, text) in shells {
        let mut sb = Sandbox::new();
        let user = RemoteUser::new(shell);
        user.authorize(&sb);
        user.write_owned(file, text, 0o644);
        let cfg = sb.alias("s", &user);
        let cfg = cfg.to_str().unwrap();
        let (out, key) = sb.push_key("noisy", &["--ssh", "s", "-F", cfg, "--json"]);
        assert_eq!(out.code, 0, "{shell}: {out:?}");
        let t = &out.json()["targets"][0];
        assert_eq!(t["outcome"], "installed", "{shell}: {out:?}");
        assert_eq!(t["verified"], true);
        assert_eq!(
            std::fs::read_to_string(user.auth_path()).unwrap(),
            logins::api_key_json(&key)
        );
        let out = sb
            .run(&["status", "--ssh", "s", "-F", cfg, "--json"])
            .code(0);
        assert_eq!(
            out.json()["places"][1]["login"]["mode"],
            "apikey",
            "{shell}: {out:?}"
        );
    }
}

#[test]
fn two_pushes_at_once_both_succeed_and_the_file_is_one_of_them() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let cfg = sb.alias("s", &user);
    let cfg = cfg.to_str().unwrap();
    let keys: Vec<String> = (0..2)
        .map(|i| logins::api_key(&format!("both{i}")))
        .collect();
    for k in &keys {
        sb.secret(k);
    }
    for round in 0..8 {
        let runs: Vec<Running> = keys
            .iter()
            .map(|k| {
                sb.cmd(&["push", "--ssh", "s", "-F", cfg, "--api-key-stdin", "--json"])
                    .stdin(k)
                    .spawn()
            })
            .collect();
        for run in runs {
            let out = wait_bounded(&sb, run, 30);
            assert_eq!(out.code, 0, "round {round}: {out:?}");
            assert_eq!(out.json()["targets"][0]["verified"], true, "round {round}");
        }
        let now = std::fs::read_to_string(user.auth_path()).unwrap();
        assert!(
            keys.iter().any(|k| now == logins::api_key_json(k)),
            "round {round}: {now}"
        );
        assert!(temp_files(&user).is_empty(), "{:?}", temp_files(&user));
    }
}

/// A container whose `flock` holds still for 3 s (busybox has none: this one is a
/// stand-in that sleeps), so a push can be faulted right before it replaces the file.
fn slow_container() -> TestContainer {
    let c = TestContainer::new("BUSYBOX_ROOT", &[], true);
    c.exec(&[
        "sh",
        "-c",
        "mkdir -p /usr/local/bin && printf '#!/bin/sh\\nsleep 3\\n' > /usr/local/bin/flock && chmod 755 /usr/local/bin/flock",
    ]);
    c
}

#[test]
fn a_container_that_stops_vanishes_or_restarts_mid_push_ends_that_target_only() {
    for fault in ["stop", "rm", "restart", "exec"] {
        let mut sb = Sandbox::new();
        sb.env
            .push(("DOCKER_HOST".into(), docker_peers().host().to_string()));
        let c = slow_container();
        let good = TestContainer::new("BUSYBOX_ROOT", &[], true);
        let run = sb
            .cmd(&[
                "push",
                "--docker",
                &c.name,
                "--docker",
                &good.name,
                "--api-key-stdin",
                "--json",
            ])
            .stdin(logins::api_key("vanish"))
            .spawn();
        sb.secret(&logins::api_key("vanish"));
        wait_until("the slow flock in the container", 20, || {
            std::process::Command::new("docker")
                .args(["top", &c.name])
                .env("DOCKER_HOST", docker_peers().host())
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("sleep 3"))
                .unwrap_or(false)
        });
        match fault {
            "stop" | "rm" | "restart" => {
                let args: &[&str] = match fault {
                    "stop" => &["kill", &c.name],
                    "rm" => &["rm", "-f", &c.name],
                    _ => &["restart", "-t", "0", &c.name],
                };
                crate::harness::docker_cli(docker_peers().host(), args);
            }
            _ => {
                // The exec's own shell dies (killed by PID, seen from this machine); the
                // container lives on.
                let top = crate::harness::docker_cli(
                    docker_peers().host(),
                    &["top", &c.name, "-o", "pid,args"],
                );
                let script = top
                    .lines()
                    .find(|l| l.contains("sh -c") && l.contains("say()"))
                    .and_then(|l| l.split_whitespace().next())
                    .and_then(|p| p.parse::<i32>().ok())
                    .unwrap_or_else(|| panic!("no install script in {top}"));
                unsafe {
                    libc::kill(script, libc::SIGKILL);
                }
            }
        }
        let out = wait_bounded(&sb, run, 20).code(1);
        let doc = out.json();
        let e = &doc["targets"][0]["error"];
        let message = e["message"].as_str().unwrap();
        if fault == "exec" {
            assert_eq!(e["class"], "remote", "{fault}: {out:?}");
            assert!(message.contains("exit 137"), "{out:?}");
            assert!(message.contains("old login or the new one"), "{out:?}");
        } else {
            assert_eq!(e["class"], "container-gone", "{fault}: {out:?}");
            assert!(message.contains(&c.name), "{out:?}");
        }
        assert_eq!(
            doc["targets"][1]["outcome"], "installed",
            "{fault}: the other continues"
        );
    }
}

/// A unix-socket relay to the engine that can be cut (as a restarting dockerd cuts
/// every API connection).
struct EngineRelay {
    path: std::path::PathBuf,
    cut: Arc<AtomicBool>,
}

impl EngineRelay {
    fn start(dir: &std::path::Path) -> EngineRelay {
        use std::os::unix::net::{UnixListener, UnixStream};
        let path = dir.join("relay.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let engine = docker_peers()
            .host()
            .trim_start_matches("unix://")
            .to_string();
        let flag = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = UnixStream::connect(&engine) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                    (upstream, client),
                ] {
                    let flag = flag.clone();
                    std::thread::spawn(move || {
                        from.set_read_timeout(Some(Duration::from_millis(20)))
                            .unwrap();
                        let mut buf = [0u8; 16384];
                        while !flag.load(Ordering::SeqCst) {
                            match from.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                                Err(_) => break,
                            }
                        }
                        let _ = from.shutdown(std::net::Shutdown::Both);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        EngineRelay { path, cut }
    }
}

#[test]
fn an_engine_that_goes_away_mid_push_ends_the_push_promptly() {
    let mut sb = Sandbox::new();
    let relay = EngineRelay::start(sb.home());
    sb.env.push((
        "DOCKER_HOST".into(),
        format!("unix://{}", relay.path.display()),
    ));
    let c = slow_container();
    let key = logins::api_key("engine-gone");
    sb.secret(&key);
    let run = sb
        .cmd(&["push", "--docker", &c.name, "--api-key-stdin", "--json"])
        .stdin(&key)
        .spawn();
    wait_until("the slow flock in the container", 20, || {
        std::process::Command::new("docker")
            .args(["top", &c.name])
            .env("DOCKER_HOST", docker_peers().host())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("sleep 3"))
            .unwrap_or(false)
    });
    relay.cut.store(true, Ordering::SeqCst);
    let out = wait_bounded(&sb, run, 20).code(1);
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "docker-unreachable", "{out:?}");
    assert!(e["message"].as_str().unwrap().contains("lost"), "{out:?}");
}
