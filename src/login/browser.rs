//! The browser login: PKCE S256 and a state, the callback server on 127.0.0.1 (port
//! 1455, nudging a stale login server off it with `/cancel`, else 1457), the authorize
//! URL, and the code exchange when the browser comes back. The listener lives only
//! inside `run`, so the port is released on success, error, timeout and Ctrl-C alike.

use std::time::Duration;

use sha2::Digest;
use tokio::net::{TcpListener, TcpStream};

use super::callback::{self, Event, Page};
use super::{http_client, tokens, Flow, LoginError, LoginUi, REDIRECT_PORTS};
use crate::auth::AuthFile;
use crate::encoding::{b64url, random_b64url};

pub(super) struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub(super) fn new() -> Result<Pkce, LoginError> {
        let verifier = random_b64url(64)?;
        let challenge = b64url(&sha2::Sha256::digest(verifier.as_bytes()));
        Ok(Pkce {
            verifier,
            challenge,
        })
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(super) fn authorize_url(opts: &Flow, redirect_uri: &str, pkce: &Pkce, state: &str) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", opts.issuer.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", "openid profile email offline_access"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("state", state),
        ("originator", "codex_cli_rs"),
    ];
    let q: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    format!("{}/oauth/authorize?{}", opts.issuer.base, q.join("&"))
}

/// Bind 127.0.0.1:1455, asking a stale login server there to stop first; else 1457.
async fn bind_callback() -> Result<(TcpListener, u16), LoginError> {
    for attempt in 0..10 {
        match TcpListener::bind(("127.0.0.1", REDIRECT_PORTS[0])).await {
            Ok(l) => return Ok((l, REDIRECT_PORTS[0])),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if attempt == 0 && !send_cancel(REDIRECT_PORTS[0]).await {
                    break; // not a login server: do not wait for it
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                return Err(LoginError::Bind {
                    port: REDIRECT_PORTS[0],
                    detail: e.to_string(),
                })
            }
        }
    }
    match TcpListener::bind(("127.0.0.1", REDIRECT_PORTS[1])).await {
        Ok(l) => Ok((l, REDIRECT_PORTS[1])),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(LoginError::PortsBusy),
        Err(e) => Err(LoginError::Bind {
            port: REDIRECT_PORTS[1],
            detail: e.to_string(),
        }),
    }
}

/// `GET /cancel` to whatever holds the port; true when it answered like a login server.
async fn send_cancel(port: u16) -> bool {
    let attempt = async {
        let s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        Some(callback::ask_to_cancel(s, port).await)
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

pub(super) async fn run(
    opts: &Flow,
    ui: &dyn LoginUi,
    for_target: Option<&str>,
) -> Result<AuthFile, LoginError> {
    let (listener, port) = bind_callback().await?;
    let pkce = Pkce::new()?;
    let state = random_b64url(32)?;
    // Codex 0.171 names the loopback address (0.147 said localhost); the callback server
    // listens on 127.0.0.1 either way.
    let redirect_uri = format!("http://127.0.0.1:{port}/auth/callback");
    let url = authorize_url(opts, &redirect_uri, &pkce, &state);
    let started = !opts.no_browser && crate::browser::open(&url);
    ui.authorize_url(for_target, &url, started);
    let client = http_client()?;
    let (events_tx, mut events) = tokio::sync::mpsc::channel(4);
    let server = tokio::spawn(callback::serve(listener, state, events_tx));
    let wait = async {
        loop {
            let callback = match events.recv().await {
                Some(Event::Callback(c)) => c,
                Some(Event::Cancelled) | None => return Err(LoginError::Cancelled),
            };
            if let Some(err) = callback.query.get("error") {
                let why = match callback.query.get("error_description") {
                    Some(d) => format!("{err}: {d}"),
                    None => err.clone(),
                };
                let _ = callback.reply.send(Page::ok(
                    "Sign-in failed",
                    format!(
                        "The sign-in was refused ({why}). You can close this tab and try again."
                    ),
                ));
                return Err(LoginError::Issuer(why));
            }
            let Some(code) = callback.query.get("code").filter(|c| !c.is_empty()) else {
                let _ = callback.reply.send(Page {
                    status: hyper::StatusCode::BAD_REQUEST,
                    title: "Missing code",
                    text: "The sign-in answer carried no authorization code.".into(),
                });
                continue;
            };
            let result =
                tokens::finish(&client, &opts.issuer, code, &redirect_uri, &pkce.verifier).await;
            let page = match &result {
                Ok(_) => Page::ok(
                    "Signed in to Codex",
                    "You are signed in. You can close this tab and return to the terminal.",
                ),
                Err(e) => Page::ok(
                    "Sign-in failed",
                    format!("{e}. You can close this tab and try again."),
                ),
            };
            let _ = callback.reply.send(page);
            return result;
        }
    };
    let result = match tokio::time::timeout(opts.timeout, wait).await {
        Ok(r) => r,
        Err(_) => Err(LoginError::Timeout(opts.timeout.as_secs())),
    };
    // Let the last page reach the browser, then release the port.
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.abort();
    let _ = server.await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_s256_of_the_verifier() {
        let p = Pkce::new().unwrap();
        assert_eq!(p.verifier.len(), 86); // 64 bytes, base64url without padding
        let want = b64url(&sha2::Sha256::digest(p.verifier.as_bytes()));
        assert_eq!(p.challenge, want);
    }

    #[test]
    fn authorize_url_has_codex_parameters() {
        let opts = Flow {
            issuer: super::super::Issuer::default(),
            device: false,
            no_browser: true,
            timeout: Duration::from_secs(1),
        };
        let p = Pkce::new().unwrap();
        let url = authorize_url(&opts, "http://127.0.0.1:1455/auth/callback", &p, "st");
        let (base, q) = url.split_once('?').unwrap();
        assert_eq!(base, "https://auth.openai.com/oauth/authorize");
        let q = callback::query_params(q);
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:1455/auth/callback");
        assert_eq!(q["scope"], "openid profile email offline_access");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
        assert_eq!(q["originator"], "codex_cli_rs");
        assert_eq!(q["state"], "st");
    }
}
