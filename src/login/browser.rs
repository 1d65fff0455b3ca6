//! The browser login: PKCE S256 and a state, a callback server on 127.0.0.1 (port 1455,
//! nudging a stale login server off it with `/cancel`, else 1457), the authorize URL,
//! and the code exchange when the browser comes back. The listener lives only inside
//! `run`, so the port is released on success, error, timeout and Ctrl-C alike.

use std::collections::HashMap;
use std::time::Duration;

use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{http_client, random_b64, tokens, LoginError, LoginOptions, LoginUi};
use crate::auth::AuthFile;

/// The only redirect ports registered for Codex's client id.
pub const PORTS: [u16; 2] = [1455, 1457];

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = random_b64(64);
        let challenge =
            data_encoding::BASE64URL_NOPAD.encode(&sha2::Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
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

fn dec(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn query_params(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (dec(k), dec(v)),
            None => (dec(p), String::new()),
        })
        .collect()
}

pub fn authorize_url(opts: &LoginOptions, redirect_uri: &str, pkce: &Pkce, state: &str) -> String {
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
pub async fn bind_callback() -> Result<(TcpListener, u16), LoginError> {
    for attempt in 0..10 {
        match TcpListener::bind(("127.0.0.1", PORTS[0])).await {
            Ok(l) => return Ok((l, PORTS[0])),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if attempt == 0 && !send_cancel(PORTS[0]).await {
                    break; // not a login server: do not wait for it
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                return Err(LoginError::Bind {
                    port: PORTS[0],
                    detail: e.to_string(),
                })
            }
        }
    }
    match TcpListener::bind(("127.0.0.1", PORTS[1])).await {
        Ok(l) => Ok((l, PORTS[1])),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(LoginError::PortsBusy),
        Err(e) => Err(LoginError::Bind {
            port: PORTS[1],
            detail: e.to_string(),
        }),
    }
}

/// `GET /cancel` to whatever holds the port; true when it answered like a login server.
async fn send_cancel(port: u16) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(
            format!("GET /cancel HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .ok()?;
        let mut buf = vec![0u8; 512];
        let n = s.read(&mut buf).await.ok()?;
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        Some(head.starts_with("HTTP/1.") && head.contains(" 200"))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Start `$BROWSER` (colon-separated list, `%s` for the URL), else the desktop opener.
/// Returns whether one started; the URL is always printed as well.
pub fn open_browser(url: &str) -> bool {
    let candidates: Vec<String> = match std::env::var("BROWSER") {
        Ok(b) if !b.trim().is_empty() => b.split(':').map(str::to_string).collect(),
        _ if cfg!(target_os = "macos") => vec!["open".into()],
        _ => vec!["xdg-open".into()],
    };
    for c in candidates {
        let c = c.trim();
        if c.is_empty() {
            continue;
        }
        let mut parts: Vec<String> = c.split_whitespace().map(str::to_string).collect();
        if parts.iter().any(|p| p.contains("%s")) {
            for p in parts.iter_mut() {
                *p = p.replace("%s", url);
            }
        } else {
            parts.push(url.to_string());
        }
        let spawned = std::process::Command::new(&parts[0])
            .args(&parts[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if spawned.is_ok() {
            return true;
        }
    }
    false
}

struct Request {
    path: String,
    query: HashMap<String, String>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > 16 * 1024 {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next()?;
    let mut parts = line.split_whitespace();
    let (_method, target) = (parts.next()?, parts.next()?);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Some(Request {
        path: path.to_string(),
        query: query_params(query),
    })
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn page(title: &str, text: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>{t}</h1><p>{x}</p></body></html>",
        t = esc(title),
        x = esc(text)
    )
}

pub async fn run(
    opts: &LoginOptions,
    ui: &dyn LoginUi,
    for_target: Option<&str>,
) -> Result<AuthFile, LoginError> {
    let (listener, port) = bind_callback().await?;
    let pkce = Pkce::new();
    let state = random_b64(32);
    let redirect_uri = format!("http://localhost:{port}/auth/callback");
    let url = authorize_url(opts, &redirect_uri, &pkce, &state);
    let started = !opts.no_browser && open_browser(&url);
    ui.authorize_url(for_target, &url, started);
    let client = http_client()?;
    let serve = async {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let Some(req) = read_request(&mut stream).await else {
                continue;
            };
            match req.path.as_str() {
                "/auth/callback" => {
                    if req.query.get("state") != Some(&state) {
                        respond(&mut stream, "400 Bad Request", &page("State mismatch", "This answer does not belong to the login that is waiting. Start the login again from the terminal.")).await;
                        continue;
                    }
                    if let Some(err) = req.query.get("error") {
                        let why = match req.query.get("error_description") {
                            Some(d) => format!("{err}: {d}"),
                            None => err.clone(),
                        };
                        respond(&mut stream, "200 OK", &page("Sign-in failed", &format!("The sign-in was refused ({why}). You can close this tab and try again."))).await;
                        return Err(LoginError::Issuer(why));
                    }
                    let Some(code) = req.query.get("code").filter(|c| !c.is_empty()) else {
                        respond(
                            &mut stream,
                            "400 Bad Request",
                            &page(
                                "Missing code",
                                "The sign-in answer carried no authorization code.",
                            ),
                        )
                        .await;
                        continue;
                    };
                    return match tokens::finish(
                        &client,
                        &opts.issuer,
                        code,
                        &redirect_uri,
                        &pkce.verifier,
                    )
                    .await
                    {
                        Ok(auth) => {
                            respond(&mut stream, "200 OK", &page("Signed in to Codex", "You are signed in. You can close this tab and return to the terminal.")).await;
                            Ok(auth)
                        }
                        Err(e) => {
                            respond(
                                &mut stream,
                                "200 OK",
                                &page(
                                    "Sign-in failed",
                                    &format!("{e}. You can close this tab and try again."),
                                ),
                            )
                            .await;
                            Err(e)
                        }
                    };
                }
                "/success" => {
                    respond(
                        &mut stream,
                        "200 OK",
                        &page("Signed in to Codex", "You can close this tab."),
                    )
                    .await;
                }
                "/cancel" => {
                    respond(
                        &mut stream,
                        "200 OK",
                        &page(
                            "Login cancelled",
                            "The login that was waiting here has stopped.",
                        ),
                    )
                    .await;
                    return Err(LoginError::Cancelled);
                }
                _ => respond(&mut stream, "404 Not Found", &page("Not found", "")).await,
            }
        }
    };
    match tokio::time::timeout(opts.timeout, serve).await {
        Ok(r) => r,
        Err(_) => Err(LoginError::Timeout(opts.timeout.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_s256_of_the_verifier() {
        let p = Pkce::new();
        assert_eq!(p.verifier.len(), 86); // 64 bytes, base64url without padding
        let want =
            data_encoding::BASE64URL_NOPAD.encode(&sha2::Sha256::digest(p.verifier.as_bytes()));
        assert_eq!(p.challenge, want);
    }

    #[test]
    fn authorize_url_has_codex_parameters() {
        let opts = LoginOptions {
            issuer: super::super::Issuer::default(),
            device: false,
            no_browser: true,
            timeout: Duration::from_secs(1),
        };
        let p = Pkce::new();
        let url = authorize_url(&opts, "http://localhost:1455/auth/callback", &p, "st");
        let (base, q) = url.split_once('?').unwrap();
        assert_eq!(base, "https://auth.openai.com/oauth/authorize");
        let q = query_params(q);
        assert_eq!(q["redirect_uri"], "http://localhost:1455/auth/callback");
        assert_eq!(q["scope"], "openid profile email offline_access");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
        assert_eq!(q["originator"], "codex_cli_rs");
        assert_eq!(q["state"], "st");
    }

    #[test]
    fn query_decoding() {
        let q = query_params("a=b%20c&d=e+f&g=%zz&h");
        assert_eq!(q["a"], "b c");
        assert_eq!(q["d"], "e f");
        assert_eq!(q["g"], "%zz");
        assert_eq!(q["h"], "");
    }
}
