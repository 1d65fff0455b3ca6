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
//! touch), which a key the server would refuse must not cost. So are passphrase-protected
//! identity files whose public key is known (`FILE.pub`, or the public half an OpenSSH
//! key file keeps unencrypted): as with ssh, the passphrase is asked only for the key
//! the server would take.

use std::path::Path;
use std::sync::Arc;

use russh::client::{AuthResult, KeyboardInteractiveAuthResponse};
use russh::keys::agent::client::AgentClient;
use russh::keys::agent::AgentIdentity;
use russh::keys::ssh_key::public::KeyData;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use russh::{AgentAuthError, MethodKind, MethodSet};

use super::config::{AgentSetting, HostConfig};
use super::{Handle, SshError};
use crate::prompt::Prompter;
use crate::secret::Secret;

/// The certificates for the private key of `identity`: `IDENTITY-cert.pub`, then each
/// `CertificateFile` whose key it is (as ssh pairs them). Unreadable ones are skipped.
fn certificates_for(
    identity: &Path,
    key: &KeyData,
    certificate_files: &[std::path::PathBuf],
) -> Vec<russh::keys::Certificate> {
    let mut beside = identity.as_os_str().to_owned();
    beside.push("-cert.pub");
    let beside = std::path::PathBuf::from(beside);
    std::iter::once(&beside)
        .chain(certificate_files.iter())
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
        .filter_map(|p| russh::keys::load_openssh_certificate(p).ok())
        .filter(|c| c.public_key() == key)
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
    let can_ask = prompter.available() && !hc.batch_mode && hc.password_prompts > 0;
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

    // Plain keys the host refused from the agent: their files are not offered again.
    let mut refused: Vec<KeyData> = Vec::new();

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
                let plain = certificate.is_none().then(|| key.key_data().clone());
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
                    }) => {
                        remaining = Some(remaining_methods);
                        refused.extend(plain);
                    }
                    Err(_) => continue,
                }
            }
            if n > 0 {
                tried.push(format!("{n} agent key{}", if n == 1 { "" } else { "s" }));
            }
        }

        // 2. identity files
        for (path, public) in &configured {
            if remaining
                .as_ref()
                .is_some_and(|m| !m.contains(&MethodKind::PublicKey))
            {
                break;
            }
            // The agent's copy of this key was refused: not offered again, as ssh does
            // not (unless a certificate of it is still to try).
            if let Some(public) = public {
                let data = public.key_data();
                if refused.contains(data)
                    && certificates_for(path, data, &hc.certificate_files).is_empty()
                {
                    continue;
                }
            }
            let key = match russh::keys::load_secret_key(path, None) {
                Ok(k) => k,
                Err(russh::keys::Error::KeyIsEncrypted) => {
                    if let Some(public) = public {
                        // Offered without a terminal too: the report can then name
                        // the key the host would take, locked.
                        let mut signer = PassphraseSigner {
                            path,
                            ask: can_ask.then_some((prompter, hc.password_prompts)),
                            failed: None,
                        };
                        let hash = hash_for(handle, &mut rsa_hash, public.algorithm().is_rsa())
                            .await
                            .map_err(lost)?;
                        let offer = (path.as_path(), public, hash);
                        let answer =
                            offer_locked(handle, &user, offer, hc, &mut signer, &mut tried)
                                .await
                                .map_err(lost)?;
                        match answer {
                            Some(AuthResult::Success) => return Ok(()),
                            Some(AuthResult::Failure {
                                remaining_methods, ..
                            }) => remaining = Some(remaining_methods),
                            None => skipped_encrypted |= !can_ask,
                        }
                        continue;
                    }
                    if !can_ask {
                        skipped_encrypted = true;
                        continue;
                    }
                    // A legacy PEM key keeps no public half: asked for before it is offered.
                    match unlock(path, (prompter, hc.password_prompts), None).await {
                        Ok(k) => k,
                        Err(why) => {
                            tried.push(format!("{} ({why})", path.display()));
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
                let data = key.public_key().key_data();
                for cert in certificates_for(path, data, &hc.certificate_files) {
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
            for _ in 0..hc.password_prompts {
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

/// Offer a passphrase-protected identity file by its public key, its certificates first
/// (as the plain key, RSA certificates left out), each signed by `signer` only if the
/// server says it would take it. `None` when the key could not sign what the server
/// would take (no passphrase opened it); each offer is added to `tried`.
async fn offer_locked(
    handle: &mut Handle,
    user: &str,
    (path, public, hash): (&Path, &PublicKey, Option<HashAlg>),
    hc: &HostConfig,
    signer: &mut PassphraseSigner<'_>,
    tried: &mut Vec<String>,
) -> Result<Option<AuthResult>, russh::Error> {
    let certificates = match public.algorithm().is_rsa() {
        true => Vec::new(),
        false => certificates_for(path, public.key_data(), &hc.certificate_files),
    };
    for cert in certificates {
        tried.push(format!("{} (certificate)", path.display()));
        let answer = handle
            .authenticate_certificate_with(user, cert, None, signer)
            .await;
        if !matches!(answer, Ok(AuthResult::Failure { .. })) {
            return signer.answer(answer, tried, handle);
        }
    }
    tried.push(path.display().to_string());
    let answer = handle
        .authenticate_publickey_with(user, public.clone(), hash, signer)
        .await;
    signer.answer(answer, tried, handle)
}

/// Signs for a passphrase-protected identity file: the passphrase is asked when a
/// signature is needed, that is once the server has said it would take the key
/// ([`unlock`] keeps what it came to, so a certificate then the plain key ask once).
struct PassphraseSigner<'a> {
    path: &'a Path,
    /// Where to ask, and how many tries (None: no terminal to ask on; the host taking
    /// the key is then only noted).
    ask: Option<(&'a Arc<dyn Prompter>, usize)>,
    /// Why no signature could be made.
    failed: Option<&'static str>,
}

impl PassphraseSigner<'_> {
    /// What an offer signed by this signer came to: the server's answer, or `None` when
    /// the signer could not sign (the last offer in `tried` then says why), or the
    /// connection lost.
    fn answer(
        &self,
        answer: Result<AuthResult, AgentAuthError>,
        tried: &mut [String],
        handle: &Handle,
    ) -> Result<Option<AuthResult>, russh::Error> {
        if handle.is_closed() {
            return Err(russh::Error::Disconnect);
        }
        if let (Some(why), Some(last)) = (self.failed, tried.last_mut()) {
            *last = format!("{} ({why})", self.path.display());
        }
        Ok(answer.ok())
    }
}

/// Open a passphrase-protected key file, asking on the terminal as ssh asks (so many
/// tries: NumberOfPasswordPrompts, 3 unless the config says); with `wanted`, the key
/// must be that one (the public key that was offered). Why not, when it cannot.
///
/// What the questions came to is kept for the run, by file: a fleet reached with one
/// locked key asks for its passphrase once, not once per host, and a key the person
/// gave up on is not asked for again (the opened key stays in this process's memory
/// only, as long as it runs, as an agent would hold it).
async fn unlock(
    path: &Path,
    (prompter, tries): (&Arc<dyn Prompter>, usize),
    wanted: Option<&KeyData>,
) -> Result<PrivateKey, &'static str> {
    type Unlocked = std::sync::Mutex<Vec<(std::path::PathBuf, Result<PrivateKey, &'static str>)>>;
    static UNLOCKED: Unlocked = std::sync::Mutex::new(Vec::new());
    let recall = || {
        let unlocked = UNLOCKED.lock().unwrap_or_else(|e| e.into_inner());
        unlocked
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, k)| k.clone())
    };
    let check = |key: PrivateKey| match wanted {
        Some(w) if key.public_key().key_data() != w => Err("its .pub is of another key"),
        _ => Ok(key),
    };
    // One question at a time; who waited behind another connection's may find its
    // answer here.
    let _turn = super::prompt_lock().lock().await;
    if let Some(known) = recall() {
        return known.and_then(check);
    }
    let mut outcome = Err("no passphrase given");
    for attempt in 0..tries {
        let prompt = match attempt {
            0 => format!("Enter passphrase for key '{}': ", path.display()),
            _ => format!("Bad passphrase, try again for {}: ", path.display()),
        };
        let p = prompter.clone();
        let pass = tokio::task::spawn_blocking(move || p.secret(&prompt))
            .await
            .ok()
            .flatten();
        // An empty one skips the key, as in ssh.
        let Some(pass) = pass.filter(|p| !p.expose().is_empty()) else {
            break;
        };
        outcome =
            russh::keys::load_secret_key(path, Some(pass.expose())).map_err(|_| "wrong passphrase");
        if outcome.is_ok() {
            break;
        }
    }
    UNLOCKED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((path.to_path_buf(), outcome.clone()));
    outcome.and_then(check)
}

impl russh::Signer for PassphraseSigner<'_> {
    type Error = AgentAuthError;

    async fn auth_sign(
        &mut self,
        identity: &AgentIdentity,
        hash: Option<HashAlg>,
        mut to_sign: Vec<u8>,
    ) -> Result<Vec<u8>, AgentAuthError> {
        use russh::keys::signature::Signer as _;
        use russh::keys::ssh_encoding::Encode as _;
        use russh::keys::ssh_key::private::KeypairData;
        let wanted = identity.public_key().key_data().clone();
        let opened = match self.ask {
            Some(ask) => unlock(self.path, ask, Some(&wanted)).await,
            None => Err("the host would take it"),
        };
        let key = opened.map_err(|why| {
            self.failed = Some(why);
            AgentAuthError::Key(russh::keys::Error::KeyIsEncrypted)
        })?;
        let signature = match key.key_data() {
            KeypairData::Rsa(rsa) => (rsa, hash).try_sign(&to_sign),
            _ => key.try_sign(&to_sign),
        }
        .map_err(|_| AgentAuthError::Key(russh::keys::Error::CouldNotReadKey))?;
        let blob = signature
            .encode_vec()
            .map_err(|_| AgentAuthError::Key(russh::keys::Error::CouldNotReadKey))?;
        blob.encode(&mut to_sign)
            .map_err(|_| AgentAuthError::Key(russh::keys::Error::CouldNotReadKey))?;
        Ok(to_sign)
    }
}

/// The public half of an identity file: from `FILE.pub`, else from the key file (an
/// OpenSSH key file keeps it unencrypted even when the key is protected).
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
    if let Ok(k) = russh::keys::load_secret_key(path, None) {
        return Some(k.public_key().clone());
    }
    let text = std::fs::read_to_string(path).ok()?;
    PrivateKey::from_openssh(text.trim())
        .ok()
        .map(|k| k.public_key().clone())
}
