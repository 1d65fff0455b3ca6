//! Client authentication in OpenSSH's order: agent keys and the certificates the agent
//! holds, identity files (asking for a passphrase on the terminal when needed), each
//! with its certificate first (`-cert.pub` beside it, or a `CertificateFile` for its
//! key), then keyboard-interactive and password when the server offers them and there
//! is a terminal to ask on.
//!
//! A key held here (an identity file) is offered signed at once: a signature costs
//! microseconds, and the server's answer to it is the same one round trip that the
//! unsigned "would you accept this key" query costs before it. Agent keys are still
//! queried first: their signature may need a person (`ssh-add -c`, a security key's
//! touch), which a key the server would refuse must not cost.

use std::path::Path;
use std::sync::Arc;

use russh::client::{AuthResult, KeyboardInteractiveAuthResponse};
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKeyWithHashAlg, PublicKey};
use russh::{MethodKind, MethodSet};

use super::config::{AgentSetting, HostConfig};
use super::{Handle, SshError};
use crate::prompt::Prompter;
use crate::secret::Secret;

const PASSWORD_ATTEMPTS: usize = 3;

/// The certificates for the private key of `identity`: `IDENTITY-cert.pub`, then each
/// `CertificateFile` whose key it is (as ssh pairs them). Unreadable ones are skipped.
fn certificates_for(
    identity: &Path,
    key: &russh::keys::PrivateKey,
    certificate_files: &[std::path::PathBuf],
) -> Vec<russh::keys::Certificate> {
    let mut beside = identity.as_os_str().to_owned();
    beside.push("-cert.pub");
    let beside = std::path::PathBuf::from(beside);
    std::iter::once(&beside)
        .chain(certificate_files.iter())
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
        .filter_map(|p| russh::keys::load_openssh_certificate(p).ok())
        .filter(|c| c.public_key() == key.public_key().key_data())
        .fold(Vec::new(), |mut all, c| {
            if !all.iter().any(|a: &russh::keys::Certificate| a == &c) {
                all.push(c);
            }
            all
        })
}

/// The hash to sign with: for an RSA key the best SHA-2 the server takes (asked once,
/// then kept in `known`), for any other key none.
async fn hash_for(
    handle: &Handle,
    known: &mut Option<Option<russh::keys::HashAlg>>,
    is_rsa: bool,
) -> Result<Option<russh::keys::HashAlg>, russh::Error> {
    if !is_rsa {
        return Ok(None);
    }
    if let Some(hash) = known {
        return Ok(*hash);
    }
    let hash = handle.best_supported_rsa_hash().await?.flatten();
    *known = Some(hash);
    Ok(hash)
}

pub(super) async fn authenticate(
    handle: &mut Handle,
    hc: &HostConfig,
    prompter: &Arc<dyn Prompter>,
    addr: &str,
) -> Result<(), SshError> {
    let user = hc.user.clone();
    let lost = |e: russh::Error| SshError::Disconnected {
        addr: addr.to_string(),
        detail: format!("closed while authenticating ({e})"),
    };
    let can_ask = prompter.available() && !hc.batch_mode;
    let mut tried: Vec<String> = Vec::new();
    let mut remaining: Option<MethodSet> = None;
    let mut skipped_encrypted = false;
    // Which SHA-2 signature the server takes for RSA keys; asked only when an RSA key
    // is tried (it waits for the server's EXT_INFO, up to a second if none comes).
    let mut rsa_hash: Option<Option<russh::keys::HashAlg>> = None;

    let configured: Vec<(std::path::PathBuf, Option<PublicKey>)> = hc
        .identity_files
        .iter()
        .filter(|p| p.exists())
        .map(|p| (p.clone(), public_key_of(p)))
        .collect();

    if hc.pubkey_auth {
        // 1. ssh-agent
        if let Some(mut agent) = connect_agent(&hc.identity_agent).await {
            let ids = agent.request_identities().await.unwrap_or_default();
            let mut n = 0;
            for id in ids {
                let key = id.public_key().into_owned();
                let certificate = match &id {
                    russh::keys::agent::AgentIdentity::Certificate { certificate, .. } => {
                        Some(certificate.clone())
                    }
                    _ => None,
                };
                if hc.identities_only
                    && !configured
                        .iter()
                        .any(|(_, k)| k.as_ref().is_some_and(|k| k.key_data() == key.key_data()))
                {
                    continue;
                }
                n += 1;
                let hash = hash_for(handle, &mut rsa_hash, key.algorithm().is_rsa())
                    .await
                    .map_err(lost)?;
                let attempt = match certificate {
                    Some(cert) => {
                        handle
                            .authenticate_certificate_with(user.clone(), cert, hash, &mut agent)
                            .await
                    }
                    None => {
                        handle
                            .authenticate_publickey_with(user.clone(), key, hash, &mut agent)
                            .await
                    }
                };
                match attempt {
                    Ok(AuthResult::Success) => return Ok(()),
                    Ok(AuthResult::Failure {
                        remaining_methods, ..
                    }) => remaining = Some(remaining_methods),
                    Err(_) => continue,
                }
            }
            if n > 0 {
                tried.push(format!("{n} agent key{}", if n == 1 { "" } else { "s" }));
            }
        }

        // 2. identity files
        for (path, _) in &configured {
            if remaining
                .as_ref()
                .is_some_and(|m| !m.contains(&MethodKind::PublicKey))
            {
                break;
            }
            let key = match russh::keys::load_secret_key(path, None) {
                Ok(k) => k,
                Err(russh::keys::Error::KeyIsEncrypted) => {
                    if !can_ask {
                        skipped_encrypted = true;
                        continue;
                    }
                    let prompt = format!("Enter passphrase for key '{}': ", path.display());
                    let Some(pass) = ask_secret(prompter, prompt).await else {
                        continue;
                    };
                    match russh::keys::load_secret_key(path, Some(pass.expose())) {
                        Ok(k) => k,
                        Err(_) => {
                            tried.push(format!("{} (wrong passphrase)", path.display()));
                            continue;
                        }
                    }
                }
                Err(_) => continue,
            };
            let hash = hash_for(handle, &mut rsa_hash, key.algorithm().is_rsa())
                .await
                .map_err(lost)?;
            let key = Arc::new(key);
            // Its certificate first, as ssh offers it. (An RSA certificate is left out:
            // russh would name it ssh-rsa-cert, which OpenSSH refuses since 8.8.)
            if !key.algorithm().is_rsa() {
                for cert in certificates_for(path, &key, &hc.certificate_files) {
                    tried.push(format!("{} (certificate)", path.display()));
                    match handle
                        .authenticate_openssh_cert_direct(user.clone(), key.clone(), cert)
                        .await
                        .map_err(lost)?
                    {
                        AuthResult::Success => return Ok(()),
                        // (the plain key is tried next, and tells what remains)
                        AuthResult::Failure { .. } => {}
                    }
                }
            }
            let key = PrivateKeyWithHashAlg::new(key, hash);
            tried.push(path.display().to_string());
            match handle
                .authenticate_publickey_direct(user.clone(), key)
                .await
                .map_err(lost)?
            {
                AuthResult::Success => return Ok(()),
                AuthResult::Failure {
                    remaining_methods, ..
                } => remaining = Some(remaining_methods),
            }
        }
    }

    // Learn what the server offers if no key attempt told us.
    let offered = match remaining {
        Some(m) => m,
        None => match handle.authenticate_none(user.clone()).await.map_err(lost)? {
            AuthResult::Success => return Ok(()),
            AuthResult::Failure {
                remaining_methods, ..
            } => remaining_methods,
        },
    };
    let wants_password = (hc.password_auth && offered.contains(&MethodKind::Password))
        || (hc.kbd_interactive_auth && offered.contains(&MethodKind::KeyboardInteractive));

    if wants_password && can_ask {
        if hc.kbd_interactive_auth && offered.contains(&MethodKind::KeyboardInteractive) {
            if keyboard_interactive(handle, &user, prompter, &lost).await? {
                return Ok(());
            }
            tried.push("keyboard-interactive".into());
        }
        if hc.password_auth && offered.contains(&MethodKind::Password) {
            for _ in 0..PASSWORD_ATTEMPTS {
                let prompt = format!("{user}@{}'s password: ", hc.hostname);
                let Some(pw) = ask_secret(prompter, prompt).await else {
                    break;
                };
                if let AuthResult::Success = handle
                    .authenticate_password(user.clone(), pw.expose())
                    .await
                    .map_err(lost)?
                {
                    return Ok(());
                }
            }
            tried.push("password".into());
        }
    }

    // russh answers an attempt the connection died under as a plain failure with no
    // methods left: that is a lost connection, not a refused login.
    if handle.is_closed() {
        return Err(SshError::Disconnected {
            addr: addr.to_string(),
            detail: "closed while authenticating".into(),
        });
    }
    let mut detail = if tried.is_empty() {
        "no key was accepted (none found: no agent keys, no identity files)".to_string()
    } else {
        format!("tried {}", tried.join(", "))
    };
    let methods: Vec<&str> = offered
        .iter()
        .map(|m| match m {
            MethodKind::PublicKey => "publickey",
            MethodKind::Password => "password",
            MethodKind::KeyboardInteractive => "keyboard-interactive",
            MethodKind::HostBased => "hostbased",
            _ => "other",
        })
        .collect();
    if !methods.is_empty() {
        detail.push_str(&format!("; server accepts {}", methods.join(",")));
    }
    if skipped_encrypted {
        detail.push_str("; passphrase-protected keys skipped");
    }
    Err(SshError::Auth {
        user,
        host: hc.hostname.clone(),
        detail,
        no_terminal: !can_ask && (wants_password || skipped_encrypted),
    })
}

async fn keyboard_interactive(
    handle: &mut Handle,
    user: &str,
    prompter: &Arc<dyn Prompter>,
    lost: &impl Fn(russh::Error) -> SshError,
) -> Result<bool, SshError> {
    let mut reply = handle
        .authenticate_keyboard_interactive_start(user.to_string(), None)
        .await
        .map_err(lost)?;
    for _ in 0..8 {
        match reply {
            KeyboardInteractiveAuthResponse::Success => return Ok(true),
            KeyboardInteractiveAuthResponse::Failure { .. } => return Ok(false),
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                let mut answers = Vec::new();
                for p in prompts {
                    match ask_secret(prompter, p.prompt.clone()).await {
                        Some(a) => answers.push(a.expose().to_string()),
                        None => return Ok(false),
                    }
                }
                reply = handle
                    .authenticate_keyboard_interactive_respond(answers)
                    .await
                    .map_err(lost)?;
            }
        }
    }
    Ok(false)
}

async fn ask_secret(prompter: &Arc<dyn Prompter>, prompt: String) -> Option<Secret> {
    let _guard = super::prompt_lock().lock().await;
    let p = prompter.clone();
    tokio::task::spawn_blocking(move || p.secret(&prompt))
        .await
        .ok()
        .flatten()
}

async fn connect_agent(
    setting: &AgentSetting,
) -> Option<AgentClient<Box<dyn russh::keys::agent::client::AgentStream + Send + Unpin>>> {
    let path = match setting {
        AgentSetting::None => return None,
        AgentSetting::Socket(p) => p.clone(),
        AgentSetting::Environment => std::path::PathBuf::from(std::env::var_os("SSH_AUTH_SOCK")?),
    };
    let client = AgentClient::connect_uds(&path).await.ok()?;
    Some(client.dynamic())
}

/// The public half of an identity file: from `FILE.pub`, else from an unencrypted key.
fn public_key_of(path: &Path) -> Option<PublicKey> {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    if let Ok(text) = std::fs::read_to_string(&pub_path) {
        if let Some(b64) = text.split_whitespace().nth(1) {
            if let Ok(k) = russh::keys::parse_public_key_base64(b64) {
                return Some(k);
            }
        }
    }
    russh::keys::load_secret_key(path, None)
        .ok()
        .map(|k| k.public_key().clone())
}
