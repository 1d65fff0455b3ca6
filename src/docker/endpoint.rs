//! Which Docker engine to reach and how, decided as the docker CLI decides it: `DOCKER_HOST`
//! with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, else the current context with its TLS
//! material, else the default socket. Reads the environment and the CLI's files; never
//! connects, and never lets a login go unencrypted to another machine unless told to.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::DockerError;

/// The default engine when nothing names one.
const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";
/// The CLI's default engine when TLS is asked for without `DOCKER_HOST`.
const DEFAULT_TLS_HOST: &str = "tcp://localhost:2376";

/// Where the engine is, and the TLS it is spoken to with.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// `unix://`, `tcp://` or `ssh://`, as the user named it (a `tcp://` one with its port).
    pub host: String,
    /// TLS for a `tcp://` engine: its certificate checked against the CA given, and no
    /// other; a client certificate when one was given.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Endpoint {
    /// An engine reached without TLS (a socket).
    pub(crate) fn plain(host: impl Into<String>) -> Self {
        Endpoint {
            host: host.into(),
            tls: None,
        }
    }

    /// Where the docker CLI would connect, with its TLS: a non-empty `$DOCKER_HOST` (and
    /// the TLS the environment asks for), else the current context (`$DOCKER_CONTEXT` or
    /// `currentContext` in the CLI config) with its own TLS material, else the default.
    /// Plain TCP to an engine on another machine is refused unless `allow_plaintext`.
    pub(crate) fn resolve(allow_plaintext: bool) -> Result<Endpoint, DockerError> {
        let from_env = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
        let endpoint = match from_env {
            Some(host) => from_environment(Some(host))?,
            None => match current_context() {
                Some(ctx) => from_context(&ctx)?,
                None => from_environment(None)?,
            },
        };
        if endpoint.tls.is_none() && !allow_plaintext {
            if let Some(authority) = tcp_authority(&endpoint.host) {
                if !is_loopback(host_of(authority)) {
                    return Err(DockerError::Plaintext {
                        host: endpoint.host,
                    });
                }
            }
        }
        Ok(endpoint)
    }
}

/// `host:port` of a `tcp://` (or `http://`) engine; `None` for any other kind.
pub(crate) fn tcp_authority(host: &str) -> Option<&str> {
    let rest = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// The host part of `host:port`, `[v6]:port` or a bare host.
fn host_of(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    match authority.rsplit_once(':') {
        Some((h, _)) if !h.contains(':') => h,
        _ => authority,
    }
}

/// Whether `host` is this machine's loopback (`localhost`, 127.0.0.0/8, `::1`): plain
/// TCP there never leaves the machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// `tcp://host` without a port gets the CLI's 2375.
fn with_port(host: String) -> String {
    let needs_port = tcp_authority(&host).is_some_and(|authority| {
        !authority.is_empty()
            && (authority.ends_with(']')
                || (!authority.starts_with('[') && host_of(authority) == authority))
    });
    if needs_port {
        format!("{host}:2375")
    } else {
        host
    }
}

/// The docker CLI's configuration directory: `$DOCKER_CONFIG`, else `~/.docker`.
fn docker_config_dir() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => dirs::home_dir().map(|h| h.join(".docker")),
    }
}

fn env_set(key: &str) -> bool {
    std::env::var_os(key).is_some_and(|v| !v.is_empty())
}

/// `DOCKER_HOST` (or the default) with the TLS of the environment: any non-empty
/// `DOCKER_TLS_VERIFY` checks the engine against `ca.pem` in `DOCKER_CERT_PATH` (else the
/// CLI's config directory), with `cert.pem` and `key.pem` as the client certificate when
/// both are there. Sockets and ssh:// never use TLS.
fn from_environment(host: Option<String>) -> Result<Endpoint, DockerError> {
    let verify = env_set("DOCKER_TLS_VERIFY");
    let tls = verify || env_set("DOCKER_TLS");
    let host = with_port(host.unwrap_or_else(|| {
        if tls {
            DEFAULT_TLS_HOST
        } else {
            DEFAULT_SOCKET
        }
        .to_string()
    }));
    if !tls || tcp_authority(&host).is_none() {
        return Ok(Endpoint::plain(host));
    }
    if !verify {
        return Err(DockerError::Unverified {
            what: "DOCKER_TLS is set without DOCKER_TLS_VERIFY".into(),
        });
    }
    let dir = match std::env::var_os("DOCKER_CERT_PATH") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => docker_config_dir().ok_or_else(|| DockerError::TlsMaterial {
            message: "DOCKER_TLS_VERIFY is set, but there is no DOCKER_CERT_PATH and no home directory for ~/.docker".into(),
            context: None,
        })?,
    };
    let tls = client_config(&dir, None)?;
    Ok(Endpoint {
        host,
        tls: Some(tls),
    })
}

/// The context the CLI would use when `DOCKER_HOST` is empty, unless it is `default`.
fn current_context() -> Option<String> {
    let name = match std::env::var("DOCKER_CONTEXT") {
        Ok(n) if !n.is_empty() => n,
        _ => {
            let dir = docker_config_dir()?;
            let cfg: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("config.json")).ok()?).ok()?;
            cfg.get("currentContext")?.as_str()?.to_string()
        }
    };
    (!name.is_empty() && name != "default").then_some(name)
}

/// A context's endpoint: the host of its meta.json and the TLS material the CLI keeps
/// for it (`contexts/tls/<sha256 of the name>/docker/`); the environment's TLS settings
/// do not apply to it, as for the CLI. A context whose meta.json cannot be read is
/// passed over for the default, as before.
fn from_context(name: &str) -> Result<Endpoint, DockerError> {
    let Some(dir) = docker_config_dir() else {
        return from_environment(None);
    };
    let id = crate::encoding::sha256_hex(name.as_bytes());
    let meta: Option<serde_json::Value> =
        std::fs::read(dir.join("contexts/meta").join(&id).join("meta.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(docker) = meta.as_ref().and_then(|m| m.pointer("/Endpoints/docker")) else {
        return from_environment(None);
    };
    let Some(host) = docker.get("Host").and_then(|h| h.as_str()) else {
        return from_environment(None);
    };
    let host = with_port(host.to_string());
    let skip_verify = docker
        .get("SkipTLSVerify")
        .and_then(|s| s.as_bool())
        .unwrap_or(false);
    let tls_dir = dir.join("contexts/tls").join(&id).join("docker");
    let has_material = ["ca.pem", "cert.pem", "key.pem"]
        .iter()
        .any(|f| tls_dir.join(f).exists());
    if tcp_authority(&host).is_none() || !(has_material || skip_verify) {
        return Ok(Endpoint::plain(host));
    }
    if skip_verify {
        return Err(DockerError::Unverified {
            what: format!("docker context {name} sets SkipTLSVerify"),
        });
    }
    let tls = client_config(&tls_dir, Some(name))?;
    Ok(Endpoint {
        host,
        tls: Some(tls),
    })
}

/// A TLS client trusting only `dir/ca.pem`, with `dir/cert.pem` and `dir/key.pem` as the
/// client certificate when both exist (TLS 1.2 at least, as the CLI).
fn client_config(
    dir: &Path,
    context: Option<&str>,
) -> Result<Arc<rustls::ClientConfig>, DockerError> {
    let bad = |message: String| DockerError::TlsMaterial {
        message,
        context: context.map(str::to_string),
    };
    let ca_path = dir.join("ca.pem");
    let ca = std::fs::read(&ca_path).map_err(|e| {
        bad(format!(
            "cannot read the engine's CA certificate {}: {e}",
            ca_path.display()
        ))
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        let cert = cert.map_err(|e| bad(format!("{}: {e}", ca_path.display())))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("{}: {e}", ca_path.display())))?;
    }
    if roots.is_empty() {
        return Err(bad(format!(
            "{} holds no PEM certificate",
            ca_path.display()
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    let config = if cert_path.exists() && key_path.exists() {
        let certs = CertificateDer::pem_file_iter(&cert_path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| bad(format!("{}: {e}", cert_path.display())))?;
        if certs.is_empty() {
            return Err(bad(format!(
                "{} holds no PEM certificate",
                cert_path.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
            bad(format!(
                "{} holds no usable private key (an unencrypted PEM key, as the docker CLI needs): {e}",
                key_path.display()
            ))
        })?;
        builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| bad(format!("{}: {e}", cert_path.display())))?
    } else {
        builder.with_no_client_auth()
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_told_apart() {
        for local in [
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "localhost",
            "LocalHost",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback(local), "{local}");
        }
        for remote in [
            "10.0.0.5",
            "docker.example",
            "::2",
            "0.0.0.0",
            "127.0.0.1.example",
        ] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }

    #[test]
    fn host_and_port_are_read_as_the_cli_reads_them() {
        assert_eq!(tcp_authority("tcp://10.0.0.5:2376"), Some("10.0.0.5:2376"));
        assert_eq!(tcp_authority("http://h:1/x"), Some("h:1"));
        assert_eq!(tcp_authority("unix:///var/run/docker.sock"), None);
        assert_eq!(host_of("[::1]:2376"), "::1");
        assert_eq!(host_of("127.0.0.1:2376"), "127.0.0.1");
        assert_eq!(host_of("docker.example"), "docker.example");
        assert_eq!(with_port("tcp://10.0.0.5".into()), "tcp://10.0.0.5:2375");
        assert_eq!(with_port("tcp://[::1]".into()), "tcp://[::1]:2375");
        assert_eq!(with_port("tcp://h:2376".into()), "tcp://h:2376");
        assert_eq!(with_port("unix:///s".into()), "unix:///s");
    }
}
