//! Round trips: what a push and a status cost over a slow link is how often they wait
//! for the host. Counted twice, by the binary itself (`-vv`) and by a delaying proxy in
//! front of the real sshd (scripts/latency-proxy.py), and pinned: a change that adds a
//! turn fails here (counts, not times).

use std::process::{Child, Command};

use crate::harness::{logins, Agent, RemoteUser, Sandbox};

/// The delaying proxy in front of the test sshd: its port, its log, and the process.
struct Proxy {
    port: u16,
    log: std::path::PathBuf,
    child: Child,
}

impl Proxy {
    fn start(sb: &Sandbox, delay_ms: u32) -> Proxy {
        let log = sb.home().join("proxy.log");
        let ready = sb.home().join("proxy.port");
        let child = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/latency-proxy.py"
            ))
            .args(["0", "127.0.0.1"])
            .arg(crate::harness::peers().port().to_string())
            .arg(delay_ms.to_string())
            .arg("--log")
            .arg(&log)
            .arg("--ready")
            .arg(&ready)
            .spawn()
            .unwrap();
        let port = crate::harness::wait_for_line(&ready, 20).parse().unwrap();
        // The proxy's address is the sshd's to ssh: its host key, pinned there.
        sb.pin_host("127.0.0.1", port);
        Proxy { port, log, child }
    }

    /// An ssh config with host `far` for `user` through this proxy (its host key pinned,
    /// checked strictly), with `keys`: the lines that say how to authenticate.
    fn config(&self, sb: &Sandbox, user: &RemoteUser, keys: &str) -> std::path::PathBuf {
        sb.ssh_config(&format!(
            "Host far\n  HostName 127.0.0.1\n  Port {}\n  User {}\n{keys}  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
            self.port, user.name
        ))
    }

    /// The turns of connection `i` (from 0) and its conversation, once the proxy has
    /// logged it (it writes a connection's line when the connection ends).
    fn connection(&self, i: usize) -> (u32, String) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.turns().len() <= i && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        self.turns()
            .get(i)
            .cloned()
            .unwrap_or_else(|| panic!("the proxy logged no connection {i}"))
    }

    /// The turns the proxy saw on each connection so far (one line per connection).
    fn turns(&self) -> Vec<(u32, String)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let (count, talk) = l.split_once(' ').unwrap_or((l, ""));
                (
                    count.trim_start_matches("turns=").parse().unwrap(),
                    talk.to_string(),
                )
            })
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Make `user` a member of the peers' group named by `peers.env` key `group` (the test
/// sshd treats its members apart).
fn join_group(user: &RemoteUser, group: &str) {
    let added = Command::new("usermod")
        .args(["-aG", crate::harness::peers().get(group), &user.name])
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
}

/// The round trips `-vv` reported for the one connection of a run.
fn reported(stderr: &str) -> u32 {
    let line = stderr
        .lines()
        .find(|l| l.contains(" round trips"))
        .unwrap_or_else(|| panic!("no round trips in {stderr:?}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "round").unwrap();
    words[i - 1].parse().unwrap()
}

/// What the proxy sees of a push and of a status through it (after the TCP handshake,
/// which it does not see): the banner, the key exchange, the authentication (the signed
/// publickey request right behind the service request), the channel, then for a push
/// the exec (OpenSSH opens a session channel with an empty window, so stdin waits for
/// its answer) and the login on stdin and the answer; a status's request travels in the
/// command, so its exec is answered at once. Lower these when a turn goes; never raise
/// them.
const PUSH_TURNS: u32 = 6;
const STATUS_TURNS: u32 = 5;

#[test]
fn push_and_status_take_as_few_round_trips_as_pinned() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let proxy = Proxy::start(&sb, 20);
    let cfg = proxy.config(&sb, &user, "  IdentityFile {key}\n");
    let cfg = cfg.to_str().unwrap();
    let key = logins::api_key("turns");
    sb.secret(&key);
    let file = sb.write("login.json", &logins::api_key_json(&key));
    let file = file.to_str().unwrap();
    // A logout's request travels in the command as a status's does.
    let runs: [(&[&str], u32); 4] = [
        (
            &["push", "--ssh", "far", "-F", cfg, "--from", file, "-vv"],
            PUSH_TURNS,
        ),
        (&["status", "--ssh", "far", "-F", cfg, "-vv"], STATUS_TURNS),
        (
            &["push", "--ssh", "far", "-F", cfg, "--from", file, "-vv"],
            PUSH_TURNS,
        ),
        (&["logout", "--ssh", "far", "-F", cfg, "-vv"], STATUS_TURNS),
    ];
    for (i, (args, pinned)) in runs.iter().enumerate() {
        let out = sb.run(args);
        assert_eq!(out.code, 0, "{out:?}");
        if args[0] == "logout" {
            assert!(!user.auth_path().exists(), "{out:?}");
        }
        let counted = reported(&out.stderr);
        let (seen, talk) = proxy.connection(i);
        assert_eq!(seen, *pinned, "{args:?}: the wire shows {talk}");
        // The binary counts the TCP handshake too, and may count the wait for the
        // server's KEXINIT, which the rig's delay separates from its banner.
        assert!(
            counted == seen + 1 || counted == seen + 2,
            "{args:?}: -vv says {counted}, the wire shows {seen}: {talk}"
        );
    }
    // A request that cannot travel in the command (a Codex home with a space in its
    // name) goes on stdin, and costs the turn the command saves.
    let spaced = format!("{}/my codex", user.home.display());
    let n = proxy.turns().len();
    let out = sb.run(&[
        "status",
        "--ssh",
        "far",
        "-F",
        cfg,
        "--codex-home",
        &spaced,
        "-vv",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let (seen, talk) = proxy.connection(n);
    assert_eq!(seen, STATUS_TURNS + 1, "the wire shows {talk}");

    // Without -vv, no word of it.
    let out = sb.run(&["status", "--ssh", "far", "-F", cfg, "-v"]);
    assert!(!out.stderr.contains("round trips"), "{out:?}");
}

/// `push --ssh far -F CFG --from FILE`.
fn push(sb: &Sandbox, cfg: &std::path::Path, file: &str) -> crate::harness::Out {
    sb.run(&[
        "push",
        "--ssh",
        "far",
        "-F",
        cfg.to_str().unwrap(),
        "--from",
        file,
    ])
}

/// A key the server refuses costs one turn and the next key is still tried (the signed
/// request went out without a query; the refusal is the answer to it); an agent's key
/// is asked about before it signs (its signature may need a person), one turn more; a
/// key refused from the agent is not offered again from its file.
#[test]
fn a_refused_key_and_an_agent_key_cost_one_turn_each() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let proxy = Proxy::start(&sb, 20);
    let stranger = sb.keygen("stranger_key", "ed25519", &[], "");
    let key = logins::api_key("refused");
    sb.secret(&key);
    let file = sb.write("login.json", &logins::api_key_json(&key));
    let file = file.to_str().unwrap();

    // A push whose config authenticates with `keys`: the turns the wire showed.
    let mut pushes = 0;
    let mut push_with = |keys: &str| {
        let cfg = proxy.config(&sb, &user, keys);
        let out = push(&sb, &cfg, file);
        assert_eq!(out.code, 0, "{keys}: {out:?}");
        pushes += 1;
        proxy.connection(pushes - 1)
    };

    // The stranger's key first, then the one the host knows.
    let shown = stranger.display();
    let (seen, talk) = push_with(&format!(
        "  IdentityFile {shown}\n  IdentityFile {{key}}\n  IdentitiesOnly yes\n"
    ));
    assert_eq!(seen, PUSH_TURNS + 1, "the wire shows {talk}");

    // The key only in an agent.
    let agent = Agent::start(&sb);
    agent.add(&sb.key_path());
    let (seen, talk) = push_with(&format!(
        "  IdentityAgent {}\n  IdentityFile {}\n",
        agent.socket.display(),
        sb.home().join("no_such_key").display()
    ));
    assert_eq!(seen, PUSH_TURNS + 1, "the wire shows {talk}");

    // The stranger's key in the agent and as a file, then the one the host knows: the
    // key the host refused from the agent is not offered again from its file.
    let other = Agent::start(&sb);
    other.add(&stranger);
    let (seen, talk) = push_with(&format!(
        "  IdentityAgent {}\n  IdentityFile {shown}\n  IdentityFile {{key}}\n",
        other.socket.display()
    ));
    assert_eq!(seen, PUSH_TURNS + 1, "the wire shows {talk}");
}

/// An RSA identity file is signed at once too, with the SHA-2 hash the server names in
/// its EXT_INFO (OpenSSH refuses SHA-1 `ssh-rsa` signatures): the push takes as many
/// turns as with an Ed25519 key.
#[test]
fn an_rsa_identity_file_is_offered_signed_with_sha2() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    let rsa = sb.keygen("rsa_key", "rsa", &["-b", "2048"], "");
    user.authorize_key(&rsa);
    let proxy = Proxy::start(&sb, 20);
    let cfg = proxy.config(
        &sb,
        &user,
        &format!("  IdentityFile {}\n  IdentitiesOnly yes\n", rsa.display()),
    );
    let key = logins::api_key("rsa");
    sb.secret(&key);
    let file = sb.write("login.json", &logins::api_key_json(&key));
    let out = push(&sb, &cfg, file.to_str().unwrap());
    assert_eq!(out.code, 0, "{out:?}");
    assert!(user.auth_path().exists());
    let (seen, talk) = proxy.connection(0);
    assert_eq!(seen, PUSH_TURNS, "the wire shows {talk}");
}

/// A host that sends a banner before login (a legal notice; sshd's `Banner`) answers the
/// pipelined authentication with the banner first: the push and the status still take
/// their pinned turns, and the banner, which reads like a report, is not read as one.
#[test]
fn a_pre_login_banner_costs_no_turn() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    join_group(&user, "PEER_BANNER_GROUP");
    let proxy = Proxy::start(&sb, 20);
    let cfg = proxy.config(&sb, &user, "  IdentityFile {key}\n");
    let key = logins::api_key("banner");
    sb.secret(&key);
    let file = sb.write("login.json", &logins::api_key_json(&key));
    let out = push(&sb, &cfg, file.to_str().unwrap());
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        std::fs::read_to_string(user.auth_path()).unwrap(),
        logins::api_key_json(&key)
    );
    let (seen, talk) = proxy.connection(0);
    assert_eq!(seen, PUSH_TURNS, "the wire shows {talk}");
    let out = sb.status_json("far", &cfg);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["places"][1]["state"], "logged-in", "{out:?}");
    let (seen, talk) = proxy.connection(1);
    assert_eq!(seen, STATUS_TURNS, "the wire shows {talk}");
    // The host did send its banner: ssh shows it.
    let seen_by_ssh = Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-F",
            cfg.to_str().unwrap(),
            "far",
            "true",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&seen_by_ssh.stderr).contains("Authorized use only"),
        "{seen_by_ssh:?}"
    );
}

/// The turns a jump host adds on the wire in front of it: its own handshake and
/// authentication (as a status's, less the channel and the exec) and the channel it
/// opens to the target. Lower it when a turn goes; never raise it.
const JUMP_TURNS: u32 = 4;

/// Through a jump host, `-vv` counts the whole (every byte crosses the first hop's
/// connection), with the target connection's own turns in brackets; the wire in front
/// of the jump host agrees with the whole, and the whole is pinned.
#[test]
fn through_a_jump_host_the_count_is_of_the_whole() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    // 50 ms each way: the target's sshd (started when the channel opens) must take
    // 100 ms to greet before its greeting shows as a turn of its own (see below).
    let proxy = Proxy::start(&sb, 50);
    // The jump host is the test sshd behind the proxy; the target is the same sshd,
    // which the jump host reaches on its loopback port.
    let sshd_port = crate::harness::peers().port();
    sb.pin_host("127.0.0.1", sshd_port);
    let cfg = sb.ssh_config(&format!(
        "Host jump\n  HostName 127.0.0.1\n  Port {}\nHost inner\n  HostName 127.0.0.1\n  Port {sshd_port}\n  ProxyJump jump\nHost *\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
        proxy.port, user.name
    ));
    let cfg = cfg.to_str().unwrap();
    let key = logins::api_key("jump");
    sb.secret(&key);
    let file = sb.write("login.json", &logins::api_key_json(&key));
    let file = file.to_str().unwrap();
    let runs: [(&[&str], u32); 2] = [
        (
            &["push", "--ssh", "inner", "-F", cfg, "--from", file, "-vv"],
            PUSH_TURNS,
        ),
        (
            &["status", "--ssh", "inner", "-F", cfg, "-vv"],
            STATUS_TURNS,
        ),
    ];
    for (i, (args, target_turns)) in runs.iter().enumerate() {
        let out = sb.run(args);
        assert_eq!(out.code, 0, "{out:?}");
        // The jump host confirms the channel as soon as its TCP connection to the
        // target is up, before the target's sshd has greeted; russh waits for that
        // greeting before its KEXINIT. So when the target's sshd is slower to start than
        // the round trip to the jump host (under this machine's load, seen once at
        // 20 ms), that wait is a turn on the wire too: a property of the target, not of
        // the protocol, allowed here as one turn more.
        let (seen, talk) = proxy.connection(i);
        let pinned = JUMP_TURNS + target_turns;
        assert!(
            seen == pinned || seen == pinned + 1,
            "{args:?}: the wire shows {seen} (pinned: {pinned}): {talk}"
        );
        // The TCP handshake, and perhaps the wait for each server's KEXINIT (the jump
        // host's and the target's), which the rig's delay separates from its banner.
        let whole = reported(&out.stderr);
        assert!(
            (seen + 1..=seen + 3).contains(&whole),
            "{args:?}: -vv says {whole}, the wire shows {seen}: {talk}"
        );
        // The target's own: no TCP handshake (a channel of the jump host's), and the
        // wait for its banner may count.
        let own = own_turns(&out.stderr);
        assert!(
            own == *target_turns || own == target_turns + 1,
            "{args:?}: -vv says {own} of the target's own ({})",
            out.stderr
        );
    }
    assert!(user.auth_path().exists());
}

/// The target connection's own round trips, from `-vv`'s line through jump hosts.
fn own_turns(stderr: &str) -> u32 {
    let line = stderr
        .lines()
        .find(|l| l.contains(" round trips through "))
        .unwrap_or_else(|| panic!("no round trips through a jump host in {stderr:?}"));
    let (_, bracket) = line.split_once('(').unwrap();
    bracket.split_whitespace().next().unwrap().parse().unwrap()
}

/// A push with `flag` (`-vv`, `--json`) to `users` on the test sshd, each reached through
/// a jump host: the test sshd behind `proxy`, logged into as `jump_user`. The output,
/// and the login pushed.
fn push_behind_one_jump(
    sb: &mut Sandbox,
    proxy: &Proxy,
    jump_user: &RemoteUser,
    users: &[RemoteUser],
    flag: &str,
) -> (crate::harness::Out, String) {
    let sshd_port = crate::harness::peers().port();
    sb.pin_host("127.0.0.1", sshd_port);
    let mut config = format!(
        "Host jump\n  HostName 127.0.0.1\n  Port {}\n  User {}\n",
        proxy.port, jump_user.name
    );
    let mut args = vec!["push".to_string()];
    for (i, user) in users.iter().enumerate() {
        config.push_str(&format!(
            "Host inner{i}\n  HostName 127.0.0.1\n  Port {sshd_port}\n  User {}\n  ProxyJump jump\n",
            user.name
        ));
        args.extend(["--ssh".to_string(), format!("inner{i}")]);
    }
    config.push_str("Host *\n  IdentityFile {key}\n  IdentitiesOnly yes\n  BatchMode yes\n  UserKnownHostsFile {known_hosts}\n  StrictHostKeyChecking yes\n");
    let cfg = sb.ssh_config(&config);
    let key = logins::api_key("behind-a-jump-host");
    sb.secret(&key);
    let login = logins::api_key_json(&key);
    let file = sb.write("login.json", &login);
    args.extend(["-F".to_string(), cfg.display().to_string()]);
    args.extend(["--from".to_string(), file.display().to_string()]);
    args.push(flag.to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (sb.run(&args), login)
}

/// Targets behind one jump host share its connection, as `ssh -J` with a ControlMaster
/// does: a push to three of them is one connection to the jump host (one handshake,
/// instead of one per target that its MaxStartups would queue), and each target's
/// count is of what it waited for: the handshake, if it waited for it, its channel
/// and its own.
#[test]
fn targets_behind_one_jump_host_share_its_connection() {
    let mut sb = Sandbox::new();
    let users = [RemoteUser::bash(), RemoteUser::bash(), RemoteUser::bash()];
    for user in &users {
        user.authorize(&sb);
    }
    let proxy = Proxy::start(&sb, 20);
    let (out, login) = push_behind_one_jump(&mut sb, &proxy, &users[0], &users, "-vv");
    assert_eq!(out.code, 0, "{out:?}");
    for user in &users {
        assert_eq!(std::fs::read_to_string(user.auth_path()).unwrap(), login);
    }
    // Each target's line: its own turns, and the whole it waited for.
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(" round trips through 1 jump host "))
        .collect();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    for line in lines {
        let whole = reported(line);
        let own = own_turns(line);
        assert!(
            whole == own + 1 || (own + JUMP_TURNS + 1..=own + JUMP_TURNS + 3).contains(&whole),
            "{line}"
        );
    }
    // One connection went to the jump host, and it has ended.
    proxy.connection(0);
    assert_eq!(proxy.turns().len(), 1, "{:?}", proxy.turns());
}

/// A jump host that cannot be reached is tried once for the run: every target behind
/// it fails with its error (exit 1, nothing installed), without a connection per target.
#[test]
fn a_jump_host_that_refuses_fails_every_target_behind_it_at_one_try() {
    let mut sb = Sandbox::new();
    let stranger = RemoteUser::bash(); // the jump host's user: our key is not theirs
    let users = [RemoteUser::bash(), RemoteUser::bash()];
    for user in &users {
        user.authorize(&sb);
    }
    let proxy = Proxy::start(&sb, 5);
    let (out, _) = push_behind_one_jump(&mut sb, &proxy, &stranger, &users, "--json");
    assert_eq!(out.code, 1, "{out:?}");
    let report = out.json();
    for i in 0..2 {
        let target = &report["targets"][i];
        assert_eq!(target["ok"], false, "{out:?}");
        assert_eq!(target["error"]["class"], "auth", "{out:?}");
        let error = target["error"]["message"].as_str().unwrap_or_default();
        assert!(
            error.contains(&format!("authentication failed for {}@", stranger.name)),
            "{out:?}"
        );
    }
    for user in &users {
        assert!(!user.auth_path().exists());
    }
    proxy.connection(0);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(proxy.turns().len(), 1, "{:?}", proxy.turns());
}

/// A jump host that will not open the channel (sshd's AllowTcpForwarding no for its
/// user) is named in the error, with the target it was asked for; nothing is installed.
#[test]
fn a_jump_host_that_forwards_nothing_is_named() {
    let mut sb = Sandbox::new();
    let jump_user = RemoteUser::bash();
    jump_user.authorize(&sb);
    join_group(&jump_user, "PEER_NOFWD_GROUP");
    let users = [RemoteUser::bash()];
    users[0].authorize(&sb);
    let proxy = Proxy::start(&sb, 5);
    let (out, _) = push_behind_one_jump(&mut sb, &proxy, &jump_user, &users, "--json");
    assert_eq!(out.code, 1, "{out:?}");
    let error = &out.json()["targets"][0]["error"];
    let sshd = format!("127.0.0.1:{}", crate::harness::peers().port());
    assert_eq!(
        error["message"],
        format!(
            "jump host 127.0.0.1:{} could not open a connection to {sshd}",
            proxy.port
        ),
        "{out:?}"
    );
    assert!(!users[0].auth_path().exists());
}
