//! OpenSSH certificates against real sshds that present host certificates (one valid,
//! one expired) and trust a user CA: `@cert-authority` and `@revoked` in known_hosts,
//! principals, validity, and users who have no authorized key, only a certificate.

use crate::harness::{peers, Agent, RemoteUser, Sandbox};

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

/// `KEY.pub` signed by the peers' user CA for `user`, valid `validity` (ssh-keygen -V).
fn certify_user(key_pub: &std::path::Path, user: &str, validity: &str) {
    let out = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-s",
            peers().get("PEER_USER_CA"),
            "-I",
            "cxa-test",
            "-n",
            user,
            "-V",
            validity,
        ])
        .arg(key_pub)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// A config with host `c` (the valid certificate) and `old` (the expired one), host
/// keys known only through `known_hosts` lines given.
fn config(sb: &Sandbox, user: &str, known_hosts: &str) -> String {
    std::fs::write(sb.known_hosts(), known_hosts).unwrap();
    let cfg = sb.ssh_config(&format!(
        "Host c old other\n  HostName 127.0.0.1\n  User {user}\n  IdentityFile {{key}}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\nHost c other\n  Port {c}\nHost old\n  Port {o}\nHost other\n  HostKeyAlias other.example\n",
        c = peers().get("PEER_SSH_PORT_CERT"),
        o = peers().get("PEER_SSH_PORT_CERT_OLD"),
    ));
    cfg.display().to_string()
}

#[test]
fn a_host_certificate_from_a_known_ca_is_checked_as_ssh_checks_it() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    user.authorize(&sb);
    let ca = read(peers().get("PEER_HOST_CA_PUB"));
    let host_key = read(peers().get("PEER_HOST_CERT_KEY_PUB"));
    let (c, o) = (
        peers().get("PEER_SSH_PORT_CERT"),
        peers().get("PEER_SSH_PORT_CERT_OLD"),
    );
    let authorities =
        format!("@cert-authority [127.0.0.1]:{c},[127.0.0.1]:{o},other.example {ca}\n");
    let cfg = config(&sb, &user.name, &authorities);
    // Known only through its CA: accepted.
    let (out, _) = sb.push_key("hostcert", &["--ssh", "c", "-F", &cfg, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(user.auth_path().exists());
    // Expired: refused, and said so.
    let (out, _) = sb.push_key("hostcert-old", &["--ssh", "old", "-F", &cfg, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "host-certificate-invalid", "{out:?}");
    assert!(
        e["message"].as_str().unwrap().contains("expired"),
        "{out:?}"
    );
    // For other names than the one connected as: refused.
    let (out, _) = sb.push_key("hostcert-name", &["--ssh", "other", "-F", &cfg, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let e = &out.json()["targets"][0]["error"];
    assert_eq!(e["class"], "host-certificate-invalid", "{out:?}");
    assert!(
        e["message"].as_str().unwrap().contains("not other.example"),
        "{out:?}"
    );
    // The certified key @revoked, or the CA itself: refused.
    for revoked in [&host_key, &ca] {
        let cfg = config(
            &sb,
            &user.name,
            &format!("{authorities}@revoked * {revoked}\n"),
        );
        let (out, _) = sb.push_key("hostcert-rev", &["--ssh", "c", "-F", &cfg, "--json"]);
        assert_eq!(out.code, 1, "{out:?}");
        assert_eq!(
            out.json()["targets"][0]["error"]["class"],
            "host-key-revoked",
            "{out:?}"
        );
    }
    // No CA for the host: its key is checked as a plain key (unknown here).
    let cfg = config(&sb, &user.name, "");
    let (out, _) = sb.push_key("hostcert-noca", &["--ssh", "c", "-F", &cfg, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "host-key-unknown",
        "{out:?}"
    );
}

#[test]
fn a_user_with_only_a_certificate_gets_in_and_an_expired_one_does_not() {
    let mut sb = Sandbox::new();
    // No authorized_keys: only the user CA lets this user in.
    let user = RemoteUser::bash();
    let ca = read(peers().get("PEER_HOST_CA_PUB"));
    let c = peers().get("PEER_SSH_PORT_CERT");
    let cfg = config(
        &sb,
        &user.name,
        &format!("@cert-authority [127.0.0.1]:{c} {ca}\n"),
    );
    let key_pub = sb.home().join(".ssh/test_key.pub");
    let beside = sb.home().join(".ssh/test_key-cert.pub");
    // Without a certificate: no way in.
    let (out, _) = sb.push_key("usercert-none", &["--ssh", "c", "-F", &cfg, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "auth",
        "{out:?}"
    );
    // A certificate beside the key, as ssh loads it.
    certify_user(&key_pub, &user.name, "-5m:+1h");
    assert!(beside.exists());
    let (out, _) = sb.push_key("usercert", &["--ssh", "c", "-F", &cfg, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(user.auth_path().exists());
    // The same certificate named by CertificateFile instead.
    let elsewhere = sb.home().join("user-cert.pub");
    std::fs::rename(&beside, &elsewhere).unwrap();
    let named = format!("{cfg}.certfile");
    std::fs::write(
        &named,
        std::fs::read_to_string(&cfg).unwrap().replace(
            "Host c old other\n",
            &format!(
                "Host c old other\n  CertificateFile {}\n",
                elsewhere.display()
            ),
        ),
    )
    .unwrap();
    let (out, _) = sb.push_key("usercert-file", &["--ssh", "c", "-F", &named, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    // Expired: refused by the server, reported as an authentication failure.
    std::fs::remove_file(&elsewhere).unwrap();
    certify_user(&key_pub, &user.name, "20200101:20200102");
    let (out, _) = sb.push_key("usercert-old", &["--ssh", "c", "-F", &cfg, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.json()["targets"][0]["error"]["class"],
        "auth",
        "{out:?}"
    );
}

#[test]
fn a_certificate_held_by_the_agent_is_offered_as_a_certificate() {
    let mut sb = Sandbox::new();
    let user = RemoteUser::bash();
    let ca = read(peers().get("PEER_HOST_CA_PUB"));
    let c = peers().get("PEER_SSH_PORT_CERT");
    let cfg = config(
        &sb,
        &user.name,
        &format!("@cert-authority [127.0.0.1]:{c} {ca}\n"),
    );
    let key = sb.key_path();
    certify_user(&key.with_extension("pub"), &user.name, "-5m:+1h");
    // An agent of this test's own, holding the key and its certificate; then the files
    // go, so only the agent can sign (and the user has no authorized key).
    let agent = Agent::start(&sb);
    let added = agent.add(&key);
    assert!(
        String::from_utf8_lossy(&added.stderr).contains("Certificate added"),
        "{added:?}"
    );
    let kept = sb.home().join("kept-away");
    std::fs::create_dir_all(&kept).unwrap();
    for f in ["test_key", "test_key.pub", "test_key-cert.pub"] {
        std::fs::rename(sb.home().join(".ssh").join(f), kept.join(f)).unwrap();
    }
    sb.env
        .push(("SSH_AUTH_SOCK".into(), agent.socket.display().to_string()));
    let (out, _) = sb.push_key("agentcert", &["--ssh", "c", "-F", &cfg, "--json"]);
    drop(agent);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(user.auth_path().exists());
}

#[test]
fn a_passphrase_protected_key_with_a_certificate_asks_once_at_the_terminal() {
    let sb = Sandbox::new();
    // No authorized key: only the certificate of the locked key lets this user in.
    let user = RemoteUser::bash();
    let ca = read(peers().get("PEER_HOST_CA_PUB"));
    let c = peers().get("PEER_SSH_PORT_CERT");
    config(
        &sb,
        &user.name,
        &format!("@cert-authority [127.0.0.1]:{c} {ca}\n"),
    );
    let locked = sb.keygen("locked", "ed25519", &[], "charlie");
    certify_user(&locked.with_extension("pub"), &user.name, "-5m:+1h");
    let cfg = sb.ssh_config(&format!(
        "Host c\n  HostName 127.0.0.1\n  Port {c}\n  User {}\n  IdentityFile {}\n  UserKnownHostsFile {{known_hosts}}\n  StrictHostKeyChecking yes\n",
        user.name,
        sb.home().join("locked").display()
    ));
    let out = sb.run_in_tty(
        &["status", "--ssh", "c", "-F", cfg.to_str().unwrap()],
        "charlie\n",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.matches("Enter passphrase").count(), 1, "{out:?}");
}
