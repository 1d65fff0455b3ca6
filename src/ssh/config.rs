//! Resolving a destination to the settings `ssh` would use: `ssh -G` when OpenSSH is
//! installed (exact semantics: Include, Match, tokens), else a small ssh_config parser.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::dest::Destination;
use super::SshError;

/// Options from the command line that apply to every ssh target, as `ssh` takes them.
#[derive(Clone, Debug, Default)]
pub(crate) struct SshOptions {
    pub config_file: Option<PathBuf>,
    /// `-o Key=Value`, in order.
    pub options: Vec<String>,
    pub identity: Option<PathBuf>,
}

/// Keepalive interval when the config sets no ServerAliveInterval: a connection that
/// dies without a word (a cable, a NAT, a suspended host) is noticed within about
/// three of these, and a long wait (a person signing in) never looks idle.
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StrictHostKeys {
    Yes,
    AcceptNew,
    Ask,
    /// `no`/`off`: new keys are learned; a changed key is still refused.
    No,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AgentSetting {
    /// `$SSH_AUTH_SOCK`
    Environment,
    Socket(PathBuf),
    None,
}

#[derive(Clone, Debug)]
pub(crate) struct HostConfig {
    pub hostname: String,
    pub user: String,
    pub port: u16,
    pub identity_files: Vec<PathBuf>,
    /// `CertificateFile`s: user certificates, paired with the identities by their key.
    pub certificate_files: Vec<PathBuf>,
    pub identities_only: bool,
    pub identity_agent: AgentSetting,
    pub proxy_jump: Vec<Destination>,
    /// `ProxyCommand`, its tokens not yet expanded (`none`: absent).
    pub proxy_command: Option<String>,
    /// The host as given (`%n`), before HostName.
    pub original_host: String,
    pub user_known_hosts: Vec<PathBuf>,
    pub global_known_hosts: Vec<PathBuf>,
    pub strict: StrictHostKeys,
    pub connect_timeout: Option<Duration>,
    pub batch_mode: bool,
    pub hash_known_hosts: bool,
    pub host_key_alias: Option<String>,
    pub password_auth: bool,
    pub kbd_interactive_auth: bool,
    pub pubkey_auth: bool,
    /// `NumberOfPasswordPrompts`: tries for a password, and for each key's passphrase
    /// (0: none asked).
    pub password_prompts: usize,
    pub server_alive_interval: Duration,
    /// Keepalives left unanswered before the connection counts as lost.
    pub server_alive_count_max: usize,
    /// `AddressFamily`: which addresses of the host name to try.
    pub address_family: AddressFamily,
    /// Environment variables to ask the server to set (`SendEnv` from this process's
    /// environment, then `SetEnv`), as `ssh` sends them before its command.
    pub env: Vec<(String, String)>,
    /// `KexAlgorithms`, `Ciphers`, `MACs`, `HostKeyAlgorithms` as the config narrows
    /// them (`None`: not given).
    pub algorithms: Algorithms,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum AddressFamily {
    #[default]
    Any,
    Inet,
    Inet6,
}

/// Algorithm lists of the config, each the names it allows, in its order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Algorithms {
    pub kex: Option<Vec<String>>,
    pub ciphers: Option<Vec<String>>,
    pub macs: Option<Vec<String>>,
    pub host_keys: Option<Vec<String>>,
}

/// ssh_config keywords that change where or how ssh connects, whom it trusts or what it
/// runs, and that codex-auth does not implement: set (to other than their default), they
/// are refused by name, never ignored. `(keyword as ssh -G prints it, its spelling, the
/// value that means "not set" (None: any value is a setting), what to do instead)`.
const REFUSED: &[(&str, &str, Option<&str>, &str)] = &[
    (
        "knownhostscommand",
        "KnownHostsCommand",
        Some("none"),
        "list the host's key (or its CA, @cert-authority) in a known_hosts file",
    ),
    (
        "revokedhostkeys",
        "RevokedHostKeys",
        Some("none"),
        "mark revoked keys with @revoked in known_hosts",
    ),
    (
        "remotecommand",
        "RemoteCommand",
        Some("none"),
        "codex-auth runs its own command; drop it for this host (-o RemoteCommand=none)",
    ),
    (
        "proxyusefdpass",
        "ProxyUseFdpass",
        Some("no"),
        "let the ProxyCommand relay on its stdin and stdout",
    ),
    (
        "pkcs11provider",
        "PKCS11Provider",
        Some("none"),
        "add the token's keys to ssh-agent (ssh-add -s LIBRARY)",
    ),
    (
        "securitykeyprovider",
        "SecurityKeyProvider",
        Some("internal"),
        "use the security key through ssh-agent",
    ),
    (
        "hostbasedauthentication",
        "HostbasedAuthentication",
        Some("no"),
        "authenticate with a key or a certificate",
    ),
    (
        "bindaddress",
        "BindAddress",
        None,
        "drop it for this host; codex-auth connects from the default address",
    ),
    (
        "bindinterface",
        "BindInterface",
        None,
        "drop it for this host; codex-auth connects from the default interface",
    ),
    (
        "permitlocalcommand",
        "PermitLocalCommand",
        Some("no"),
        "codex-auth runs no LocalCommand; set it for interactive use only (a Match block)",
    ),
    (
        "tunnel",
        "Tunnel",
        Some("false"),
        "codex-auth opens no tun device; drop it for this host",
    ),
];

/// Refuse a setting of a keyword in [`REFUSED`].
fn refuse_unsupported(host: &str, pairs: &[(String, String)]) -> Result<(), SshError> {
    for (key, value) in pairs {
        let Some((_, name, unset, instead)) = REFUSED.iter().find(|(k, ..)| k == key) else {
            continue;
        };
        let is_unset = unset.is_some_and(|u| value.eq_ignore_ascii_case(u))
            || (*key == "tunnel" && value.eq_ignore_ascii_case("no"));
        if !is_unset {
            return Err(SshError::Unsupported {
                host: host.to_string(),
                setting: format!("{name} {value}"),
                keyword: name,
                instead,
            });
        }
    }
    Ok(())
}

/// Resolve one destination, once per run: the first resolution is kept (the preflight
/// of every destination, then each connection, ask for the same). `apply_cli` is false
/// for ProxyJump hops: as with `ssh -J`, command-line `-o`/`-i` apply to the destination
/// only, `-F` to every hop.
pub(crate) async fn resolve(
    dest: &Destination,
    opts: &SshOptions,
    apply_cli: bool,
) -> Result<HostConfig, SshError> {
    type Resolved = std::sync::Mutex<std::collections::HashMap<String, HostConfig>>;
    static RESOLVED: std::sync::OnceLock<Resolved> = std::sync::OnceLock::new();
    let cache = RESOLVED.get_or_init(Default::default);
    let key = format!("{dest:?}|{opts:?}|{apply_cli}");
    if let Some(hc) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(hc);
    }
    let hc = resolve_now(dest, opts, apply_cli).await?;
    if let Ok(mut c) = cache.lock() {
        c.insert(key, hc.clone());
    }
    Ok(hc)
}

/// Resolve every destination (and its ProxyJump hops) before anything connects, so
/// that a config this tool cannot honour is refused before any place is touched.
/// Other errors are left for each connection to report as its own.
pub(crate) async fn preflight(dests: &[Destination], opts: &SshOptions) -> Result<(), SshError> {
    use futures_util::StreamExt;
    let checks = dests.iter().map(|dest| async move {
        let hc = match resolve(dest, opts, true).await {
            Err(e @ SshError::Unsupported { .. }) => return Err(e),
            Err(_) => return Ok(()),
            Ok(hc) => hc,
        };
        for hop in &hc.proxy_jump {
            if let Err(e @ SshError::Unsupported { .. }) = resolve(hop, opts, false).await {
                return Err(e);
            }
        }
        Ok(())
    });
    let mut results = futures_util::stream::iter(checks).buffer_unordered(16);
    while let Some(r) = results.next().await {
        r?;
    }
    Ok(())
}

async fn resolve_now(
    dest: &Destination,
    opts: &SshOptions,
    apply_cli: bool,
) -> Result<HostConfig, SshError> {
    for o in &opts.options {
        if !o.contains('=') && !o.trim().contains(' ') {
            return Err(SshError::Config(format!(
                "bad -o option {o:?}: expected Key=Value"
            )));
        }
    }
    let lines = match ssh_g(dest, opts, apply_cli).await {
        Some(result) => result?,
        None => fallback::resolve(dest, opts, apply_cli)?,
    };
    refuse_unsupported(&dest.to_string(), &lines)?;
    let mut hc = from_pairs(&lines)?;
    hc.original_host = dest.host.clone();
    Ok(hc)
}

/// How long `ssh -G` may take to print the configuration.
const SSH_G_TIMEOUT: Duration = Duration::from_secs(15);

/// Run `ssh -G`; `None` when OpenSSH is not installed.
async fn ssh_g(
    dest: &Destination,
    opts: &SshOptions,
    apply_cli: bool,
) -> Option<Result<Vec<(String, String)>, SshError>> {
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.arg("-G");
    if let Some(f) = &opts.config_file {
        cmd.arg("-F").arg(f);
    }
    if apply_cli {
        for o in &opts.options {
            cmd.arg("-o").arg(o);
        }
        if let Some(i) = &opts.identity {
            cmd.arg("-i").arg(i);
        }
    }
    if let Some(i) = &dest.identity {
        cmd.arg("-i").arg(i);
    }
    if let Some(p) = dest.port {
        cmd.arg("-p").arg(p.to_string());
    }
    if let Some(u) = &dest.user {
        cmd.arg("-l").arg(u);
    }
    cmd.arg("--").arg(&dest.host);
    cmd.stdin(std::process::Stdio::null());
    cmd.kill_on_drop(true);
    // A `Match exec` in the config runs a command, which may never end.
    let out = match tokio::time::timeout(SSH_G_TIMEOUT, cmd.output()).await {
        Err(_) => {
            return Some(Err(SshError::Config(format!(
                "`ssh -G {}` did not finish within {} s (a Match exec in the ssh config?)",
                dest.host,
                SSH_G_TIMEOUT.as_secs()
            ))))
        }
        Ok(Ok(o)) => o,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Ok(Err(e)) => return Some(Err(SshError::Config(format!("cannot run ssh -G: {e}")))),
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| !l.contains("Pseudo-terminal") && !l.trim().is_empty())
            .unwrap_or("ssh -G failed")
            .trim()
            .to_string();
        return Some(Err(SshError::Config(line)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(Ok(text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect()))
}

pub(crate) fn expand_tilde(p: &str) -> PathBuf {
    if p == "~" {
        return dirs::home_dir().unwrap_or_else(|| PathBuf::from("/"));
    }
    if let Some(rest) = p.strip_prefix("~/") {
        if let Some(h) = dirs::home_dir() {
            return h.join(rest);
        }
    }
    PathBuf::from(p)
}

fn yes(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "yes" | "true")
}

/// Build a [`HostConfig`] from lower-case `key value` pairs; for repeated keys the
/// first wins, except the list-valued ones.
fn from_pairs(pairs: &[(String, String)]) -> Result<HostConfig, SshError> {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let all = |k: &str| {
        pairs
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    let hostname = get("hostname")
        .ok_or_else(|| SshError::Config("ssh config has no hostname".into()))?
        .to_string();
    let user = get("user")
        .map(str::to_string)
        .or_else(local_user)
        .ok_or_else(|| SshError::Config("cannot tell which user to log in as".into()))?;
    let port = get("port")
        .unwrap_or("22")
        .parse::<u16>()
        .map_err(|_| SshError::Config("bad Port in ssh config".into()))?;
    let identity_files = all("identityfile").into_iter().map(expand_tilde).collect();
    let certificate_files = all("certificatefile")
        .into_iter()
        .filter(|v| !v.eq_ignore_ascii_case("none"))
        .map(expand_tilde)
        .collect();
    let identity_agent = match get("identityagent") {
        None => AgentSetting::Environment,
        Some(v) if v.eq_ignore_ascii_case("none") => AgentSetting::None,
        Some("SSH_AUTH_SOCK") | Some("$SSH_AUTH_SOCK") => AgentSetting::Environment,
        Some(v) => AgentSetting::Socket(expand_tilde(v)),
    };
    let proxy_jump = match get("proxyjump") {
        None => vec![],
        Some(v) if v.eq_ignore_ascii_case("none") => vec![],
        Some(v) => v
            .split(',')
            .map(|hop| {
                Destination::parse(hop.trim())
                    .map_err(|e| SshError::Config(format!("bad ProxyJump: {e}")))
            })
            .collect::<Result<_, _>>()?,
    };
    let files = |k: &str| -> Vec<PathBuf> {
        all(k)
            .into_iter()
            .flat_map(|v| v.split_whitespace().map(expand_tilde).collect::<Vec<_>>())
            .collect()
    };
    let strict = match get("stricthostkeychecking").map(|s| s.to_ascii_lowercase()) {
        Some(s) if s == "yes" || s == "true" => StrictHostKeys::Yes,
        Some(s) if s == "accept-new" => StrictHostKeys::AcceptNew,
        Some(s) if s == "no" || s == "off" || s == "false" => StrictHostKeys::No,
        _ => StrictHostKeys::Ask,
    };
    // Capped at a day: a larger figure means "never" anyway, and timers overflow.
    let seconds = |k: &str| {
        get(k)
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(s.min(86_400)))
    };
    Ok(HostConfig {
        hostname,
        user,
        port,
        identity_files,
        certificate_files,
        identities_only: get("identitiesonly").is_some_and(yes),
        identity_agent,
        proxy_jump,
        proxy_command: get("proxycommand")
            .filter(|v| !v.eq_ignore_ascii_case("none"))
            .map(str::to_string),
        original_host: String::new(),
        user_known_hosts: files("userknownhostsfile"),
        global_known_hosts: files("globalknownhostsfile"),
        strict,
        connect_timeout: seconds("connecttimeout"),
        batch_mode: get("batchmode").is_some_and(yes),
        hash_known_hosts: get("hashknownhosts").is_some_and(yes),
        host_key_alias: get("hostkeyalias")
            .filter(|v| !v.eq_ignore_ascii_case("none"))
            .map(str::to_string),
        password_auth: get("passwordauthentication").is_none_or(yes),
        kbd_interactive_auth: get("kbdinteractiveauthentication").is_none_or(yes),
        pubkey_auth: get("pubkeyauthentication").is_none_or(|v| v != "no" && v != "false"),
        password_prompts: get("numberofpasswordprompts")
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(3, |n| n.min(10)),
        server_alive_interval: seconds("serveraliveinterval").unwrap_or(DEFAULT_KEEPALIVE),
        server_alive_count_max: get("serveralivecountmax")
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(3),
        address_family: match get("addressfamily").map(str::to_ascii_lowercase).as_deref() {
            Some("inet") => AddressFamily::Inet,
            Some("inet6") => AddressFamily::Inet6,
            _ => AddressFamily::Any,
        },
        env: environment(&all("sendenv"), &all("setenv")),
        algorithms: Algorithms {
            kex: algorithm_list(get("kexalgorithms")),
            ciphers: algorithm_list(get("ciphers")),
            macs: algorithm_list(get("macs")),
            host_keys: algorithm_list(get("hostkeyalgorithms")),
        },
    })
}

/// An algorithm list as the config gives it: `None` when not given, or when it only
/// adds to or reorders the defaults (`+`, `^`: what ssh -G prints is always whole).
fn algorithm_list(value: Option<&str>) -> Option<Vec<String>> {
    let v = value?.trim();
    if v.is_empty() || v.starts_with(['+', '^', '-']) {
        return None;
    }
    Some(v.split(',').map(|a| a.trim().to_string()).collect())
}

/// The variables to send: those of this process's environment that a `SendEnv`
/// pattern names (`*` and `?` wildcards), then each `SetEnv NAME=VALUE`, which wins.
fn environment(send: &[&str], set: &[&str]) -> Vec<(String, String)> {
    let patterns: Vec<&str> = send.iter().flat_map(|v| v.split_whitespace()).collect();
    let mut out: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| patterns.iter().any(|p| wildcard(p, name)))
        .collect();
    out.sort();
    for line in set {
        if let Some((name, value)) = line.split_once('=') {
            let name = name.trim().to_string();
            out.retain(|(n, _)| *n != name);
            out.push((name, value.trim_matches('"').to_string()));
        }
    }
    out
}

/// `name` matches `pattern` (`*` any run, `?` one character), as ssh matches SendEnv.
fn wildcard(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// The local user name, as ssh defaults the remote user to it.
fn local_user() -> Option<String> {
    let from_env = |k: &str| std::env::var(k).ok().filter(|u| !u.is_empty());
    from_env("USER")
        .or_else(|| from_env("USERNAME"))
        .or_else(user_from_passwd)
}

/// The name of this process's uid in /etc/passwd.
#[cfg(unix)]
fn user_from_passwd() -> Option<String> {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() }.to_string();
    std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
        })
    })
}

#[cfg(not(unix))]
fn user_from_passwd() -> Option<String> {
    None
}

/// The ssh_config parser used when `ssh` is not installed: Host blocks with patterns,
/// first value wins, Include, `Match all`; another `Match` is refused (OpenSSH's client
/// resolves those).
mod fallback {
    use super::*;

    pub(crate) fn resolve(
        dest: &Destination,
        opts: &SshOptions,
        apply_cli: bool,
    ) -> Result<Vec<(String, String)>, SshError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(u) = &dest.user {
            pairs.push(("user".into(), u.clone()));
        }
        if let Some(p) = dest.port {
            pairs.push(("port".into(), p.to_string()));
        }
        if apply_cli {
            for o in &opts.options {
                if let Some((k, v)) = split_kv(o) {
                    pairs.push((k, v));
                }
            }
            if let Some(i) = &opts.identity {
                pairs.push(("identityfile".into(), i.display().to_string()));
            }
        }
        if let Some(i) = &dest.identity {
            pairs.push(("identityfile".into(), i.display().to_string()));
        }
        let files: Vec<PathBuf> = match &opts.config_file {
            Some(f) => vec![f.clone()],
            None => {
                let mut v = vec![];
                if let Some(h) = dirs::home_dir() {
                    v.push(h.join(".ssh/config"));
                }
                v.push(PathBuf::from("/etc/ssh/ssh_config"));
                v
            }
        };
        for (i, f) in files.iter().enumerate() {
            if i == 0 && opts.config_file.is_some() && !f.exists() {
                return Err(SshError::Config(format!(
                    "cannot read ssh config {}",
                    f.display()
                )));
            }
            parse_file(f, &dest.host, &mut pairs, 0)?;
        }
        if !pairs.iter().any(|(k, _)| k == "hostname") {
            pairs.push(("hostname".into(), dest.host.clone()));
        } else {
            for (k, v) in pairs.iter_mut() {
                if k == "hostname" {
                    *v = v.replace("%h", &dest.host);
                }
            }
        }
        if !pairs.iter().any(|(k, _)| k == "identityfile") {
            for n in ["id_rsa", "id_ecdsa", "id_ed25519"] {
                pairs.push(("identityfile".into(), format!("~/.ssh/{n}")));
            }
        }
        if !pairs.iter().any(|(k, _)| k == "userknownhostsfile") {
            pairs.push((
                "userknownhostsfile".into(),
                "~/.ssh/known_hosts ~/.ssh/known_hosts2".into(),
            ));
        }
        if !pairs.iter().any(|(k, _)| k == "globalknownhostsfile") {
            pairs.push((
                "globalknownhostsfile".into(),
                "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2".into(),
            ));
        }
        Ok(pairs)
    }

    fn split_kv(line: &str) -> Option<(String, String)> {
        let line = line.trim();
        let idx = line.find(|c: char| c == '=' || c.is_whitespace())?;
        let key = line[..idx].to_ascii_lowercase();
        let value = line[idx..]
            .trim_start_matches(|c: char| c == '=' || c.is_whitespace())
            .trim()
            .trim_matches('"')
            .to_string();
        (!key.is_empty()).then_some((key, value))
    }

    fn parse_file(
        path: &Path,
        host: &str,
        pairs: &mut Vec<(String, String)>,
        depth: u8,
    ) -> Result<(), SshError> {
        if depth > 8 {
            return Err(SshError::Config(
                "ssh config Include nested too deep".into(),
            ));
        }
        // Regular files only: an Include of a FIFO or a device would never end.
        if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
            return Ok(());
        }
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(());
        };
        parse_text(&text, host, pairs, depth)
    }

    /// One config file's text: the pairs that apply to `host`, in order.
    pub(super) fn parse_text(
        text: &str,
        host: &str,
        pairs: &mut Vec<(String, String)>,
        depth: u8,
    ) -> Result<(), SshError> {
        let mut active = true;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = split_kv(line) else {
                continue;
            };
            match key.as_str() {
                "host" => active = host_matches(host, &value),
                "match" if value.trim().eq_ignore_ascii_case("all") => active = true,
                // Its criteria (exec, user, originalhost, ...) need OpenSSH itself:
                // never skipped as if it did not apply.
                "match" => {
                    return Err(SshError::Unsupported {
                        host: host.to_string(),
                        keyword: "Match",
                        setting: format!("Match {}", value.trim()),
                        instead: "install OpenSSH's client (ssh -G resolves Match blocks exactly), or use Host blocks",
                    })
                }
                "include" if active => {
                    for pattern in value.split_whitespace() {
                        let p = expand_tilde(pattern);
                        let p = if p.is_relative() {
                            dirs::home_dir().unwrap_or_default().join(".ssh").join(p)
                        } else {
                            p
                        };
                        for f in glob_files(&p) {
                            parse_file(&f, host, pairs, depth + 1)?;
                        }
                    }
                }
                _ if active => {
                    let multi = matches!(
                        key.as_str(),
                        "identityfile" | "certificatefile" | "sendenv" | "setenv"
                    );
                    // ProxyJump and ProxyCommand: the first of the two given wins.
                    let other = match key.as_str() {
                        "proxyjump" => "proxycommand",
                        "proxycommand" => "proxyjump",
                        _ => "",
                    };
                    let taken = pairs.iter().any(|(k, _)| *k == key || *k == other);
                    if multi || !taken {
                        pairs.push((key, value));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn glob_files(p: &Path) -> Vec<PathBuf> {
        let s = p.to_string_lossy();
        if !s.contains('*') && !s.contains('?') {
            return vec![p.to_path_buf()];
        }
        let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
            return vec![];
        };
        let name = name.to_string_lossy().to_string();
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| glob(&name, &e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        out.sort();
        out
    }

    pub(super) fn host_matches(host: &str, patterns: &str) -> bool {
        let mut matched = false;
        for p in patterns.split_whitespace() {
            if let Some(neg) = p.strip_prefix('!') {
                if glob(neg, host) {
                    return false;
                }
            } else if glob(p, host) {
                matched = true;
            }
        }
        matched
    }

    /// `*` and `?` wildcards, case-insensitive, as ssh_config patterns. Iterative, and
    /// at most pattern x text steps: a pattern from a file (known_hosts) can be long
    /// and full of `*`, and must neither recurse deep nor backtrack exponentially.
    pub(crate) fn glob(pattern: &str, text: &str) -> bool {
        let (p, t) = (pattern.as_bytes(), text.as_bytes());
        let (mut pi, mut ti) = (0, 0);
        // Where the last `*` was, and how much text it has taken so far.
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if p.get(pi) == Some(&b'*') {
                pi += 1;
                star = Some((pi, ti));
            } else if p
                .get(pi)
                .is_some_and(|c| *c == b'?' || c.eq_ignore_ascii_case(&t[ti]))
            {
                pi += 1;
                ti += 1;
            } else if let Some((after, taken)) = star {
                // Let the last `*` take one more byte, and try again after it.
                pi = after;
                ti = taken + 1;
                star = Some((after, taken + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == b'*')
    }
}

pub(super) use fallback::glob;

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keywords_not_implemented_are_refused_by_name_unless_unset() {
        let refused = |list: &[(&str, &str)]| match refuse_unsupported("h", &pairs(list)) {
            Err(SshError::Unsupported { keyword, .. }) => Some(keyword),
            _ => None,
        };
        assert_eq!(
            refused(&[("knownhostscommand", "/bin/x %H")]),
            Some("KnownHostsCommand")
        );
        assert_eq!(refused(&[("remotecommand", "ls")]), Some("RemoteCommand"));
        assert_eq!(
            refused(&[("pkcs11provider", "/usr/lib/p11.so")]),
            Some("PKCS11Provider")
        );
        assert_eq!(refused(&[("bindaddress", "10.0.0.1")]), Some("BindAddress"));
        assert_eq!(
            refused(&[("proxyusefdpass", "yes")]),
            Some("ProxyUseFdpass")
        );
        // What ssh -G prints for a host that sets none of them.
        assert_eq!(
            refused(&[
                ("proxyusefdpass", "no"),
                ("securitykeyprovider", "internal"),
                ("hostbasedauthentication", "no"),
                ("permitlocalcommand", "no"),
                ("tunnel", "false"),
                ("remotecommand", "none"),
                ("gssapiauthentication", "yes"),
            ]),
            None
        );
    }

    #[test]
    fn sendenv_and_setenv_make_the_environment_asked_for() {
        assert!(wildcard("LC_*", "LC_ALL") && wildcard("LANG", "LANG"));
        assert!(!wildcard("LC_*", "LANG") && wildcard("A?C", "ABC") && !wildcard("A?C", "AC"));
        let env = environment(&[], &["CODEX_HOME=/srv/c", "FOO=a b"]);
        assert_eq!(
            env,
            vec![
                ("CODEX_HOME".to_string(), "/srv/c".to_string()),
                ("FOO".to_string(), "a b".to_string())
            ]
        );
        std::env::set_var("CXA_TEST_SENDENV", "sent");
        let env = environment(&["CXA_TEST_SEND*"], &["CXA_TEST_SENDENV=set"]);
        assert_eq!(
            env,
            vec![("CXA_TEST_SENDENV".to_string(), "set".to_string())]
        );
    }

    #[test]
    fn algorithm_lists_narrow_only_when_whole() {
        assert_eq!(
            algorithm_list(Some("aes256-ctr,aes128-ctr")),
            Some(vec!["aes256-ctr".to_string(), "aes128-ctr".to_string()])
        );
        assert_eq!(algorithm_list(Some("+ssh-rsa")), None);
        assert_eq!(algorithm_list(None), None);
    }

    #[test]
    fn fallback_parser_first_value_wins_and_host_star_adds_identities() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        std::fs::write(
            &cfg,
            "Host devbox\n  HostName 10.0.0.5\n  User alice\n  Port 2222\n  IdentityFile /k/one\n\
             Host !other *\n  User nobody\n  IdentityFile /k/two\n  StrictHostKeyChecking accept-new\n",
        )
        .unwrap();
        let opts = SshOptions {
            config_file: Some(cfg),
            ..Default::default()
        };
        let dest = Destination::parse("devbox").unwrap();
        let pairs = fallback::resolve(&dest, &opts, true).unwrap();
        let hc = from_pairs(&pairs).unwrap();
        assert_eq!(hc.hostname, "10.0.0.5");
        assert_eq!(hc.user, "alice");
        assert_eq!(hc.port, 2222);
        assert_eq!(
            hc.identity_files,
            vec![PathBuf::from("/k/one"), PathBuf::from("/k/two")]
        );
        assert_eq!(hc.strict, StrictHostKeys::AcceptNew);
        assert!(fallback::host_matches("a.example", "*.example !b.example"));
        assert!(!fallback::host_matches("b.example", "*.example !b.example"));
        // A Match it cannot evaluate is refused, not skipped; ProxyJump and
        // ProxyCommand: the first given wins; SetEnv adds up.
        let mut pairs = Vec::new();
        let r = fallback::parse_text("Match exec \"true\"\n  User x\n", "devbox", &mut pairs, 0);
        assert!(matches!(
            r,
            Err(SshError::Unsupported {
                keyword: "Match",
                ..
            })
        ));
        let mut pairs = Vec::new();
        fallback::parse_text(
            "Host *\n  ProxyCommand nc %h %p\n  ProxyJump j\n  SetEnv A=1\n  SetEnv B=2\n",
            "devbox",
            &mut pairs,
            0,
        )
        .unwrap();
        let hc =
            from_pairs(&[pairs.clone(), vec![("hostname".into(), "h".into())]].concat()).unwrap();
        assert_eq!(hc.proxy_command.as_deref(), Some("nc %h %p"));
        assert!(hc.proxy_jump.is_empty());
        assert_eq!(hc.env.len(), 2);
    }

    const CONFIG_WORDS: &[&str] = &[
        "Host",
        "host",
        "Match",
        "all",
        "Include",
        "HostName",
        "User",
        "Port",
        "IdentityFile",
        "ProxyJump",
        "ServerAliveInterval",
        "ConnectTimeout",
        "StrictHostKeyChecking",
        "=",
        " ",
        "\n",
        "*",
        "?",
        "!",
        "\"",
        "#",
        "devbox",
        "~/",
        "%h",
        ",",
        "18446744073709551616",
        "-1",
        "0",
        "yes",
        "none",
    ];

    fn pairs_of(text: &str) -> Vec<(String, String)> {
        let mut pairs = vec![("hostname".to_string(), "devbox".to_string())];
        let _ = fallback::parse_text(text, "devbox", &mut pairs, 0);
        pairs
    }

    #[test]
    fn fallback_parser_and_host_config_take_the_odd_inputs() {
        for (name, text) in crate::test_inputs::odd_texts() {
            let pairs = pairs_of(&text);
            let _ = from_pairs(&pairs);
            // Patterns come from the file; the host is what the user typed.
            let _ = fallback::host_matches("devbox.example", &text);
            assert!(!name.is_empty());
        }
    }

    #[test]
    fn glob_is_linear_on_patterns_that_backtrack() {
        // Exponential for a backtracking matcher, and 2 MB deep for a recursive one.
        let pattern = "*a".repeat(30) + "b";
        assert!(!fallback::glob(&pattern, &"a".repeat(60)));
        let long = "*a".repeat(1 << 20);
        assert!(fallback::glob(&long, &"a".repeat(1 << 20)));
        assert!(!fallback::glob(&long, &"a".repeat((1 << 20) - 1)));
    }

    #[test]
    fn glob_matches_as_ssh_does() {
        for (p, t, want) in [
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*", "A", true),
            ("*.example", "b.example", true),
            ("*.example", "example", false),
            ("?", "", false),
            ("??", "ab", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("**", "x", true),
            ("10.0.0.?", "10.0.0.5", true),
        ] {
            assert_eq!(fallback::glob(p, t), want, "{p:?} {t:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn fallback_parser_never_panics(text in crate::test_inputs::text_from(CONFIG_WORDS, 200)) {
            let pairs = pairs_of(&text);
            let _ = from_pairs(&pairs);
        }

        #[test]
        fn glob_agrees_with_a_simple_matcher(
            p in "[ab*?]{0,8}",
            t in "[abAB]{0,8}",
        ) {
            fn slow(p: &[u8], t: &[u8]) -> bool {
                match (p.first(), t.first()) {
                    (None, None) => true,
                    (Some(b'*'), _) => slow(&p[1..], t) || (!t.is_empty() && slow(p, &t[1..])),
                    (Some(b'?'), Some(_)) => slow(&p[1..], &t[1..]),
                    (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => slow(&p[1..], &t[1..]),
                    _ => false,
                }
            }
            proptest::prop_assert_eq!(fallback::glob(&p, &t), slow(p.as_bytes(), t.as_bytes()));
        }
    }
}
