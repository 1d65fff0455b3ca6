//! Many targets at once: a fleet of 256 hosts (users on the loopback sshds), reached
//! through sshd's default MaxStartups (10:30:100, where connections beyond 10
//! unauthenticated ones are dropped at random) and a raised one. Every push and every
//! status must reach every one of them.

use crate::harness::{logins, peers, RemoteUser, Sandbox};

const FLEET: usize = 256;

#[test]
fn push_and_status_reach_256_hosts_through_both_maxstartups() {
    let mut sb = Sandbox::new();
    let users = RemoteUser::many(FLEET, &sb);
    let (default_port, wide_port) = (
        peers().port(),
        peers().get("PEER_SSH_PORT_WIDE").parse::<u16>().unwrap(),
    );
    sb.pin_host("127.0.0.1", default_port);
    sb.pin_host("127.0.0.1", wide_port);
    let mut config = String::new();
    for (i, u) in users.iter().enumerate() {
        for (prefix, port) in [("d", default_port), ("w", wide_port)] {
            config.push_str(&format!(
                "Host {prefix}{i}\n  HostName 127.0.0.1\n  Port {port}\n  User {}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
                u.name
            ));
        }
    }
    let cfg = sb.ssh_config(&config);
    let cfg = cfg.to_str().unwrap().to_string();
    for (round, prefix) in ["d", "w"].into_iter().enumerate() {
        let key = logins::api_key(&format!("fleet{round}"));
        sb.secret(&key);
        let mut args: Vec<String> = vec!["push".into()];
        for i in 0..FLEET {
            args.push("--ssh".into());
            args.push(format!("{prefix}{i}"));
        }
        args.extend([
            "-F".into(),
            cfg.clone(),
            "--api-key-stdin".into(),
            "--json".into(),
        ]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sb.cmd(&argv).stdin(&key).out();
        assert_eq!(out.code, 0, "push via {prefix}: {}", out.stderr);
        let doc = out.json();
        assert_eq!(doc["summary"]["ok"], FLEET, "{prefix}");
        for u in &users {
            assert_eq!(
                std::fs::read_to_string(u.auth_path()).unwrap(),
                logins::api_key_json(&key),
                "{}",
                u.name
            );
        }
        args[0] = "status".into();
        args.retain(|a| a != "--api-key-stdin");
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = sb.cmd(&argv).out();
        assert_eq!(out.code, 0, "status via {prefix}: {}", out.stderr);
        let doc = out.json();
        let places = doc["places"].as_array().unwrap();
        assert_eq!(places.len(), FLEET + 1);
        for p in &places[1..] {
            assert_eq!(p["login"]["mode"], "apikey", "{p}");
        }
    }
}
