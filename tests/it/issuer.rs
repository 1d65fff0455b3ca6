//! A strict in-process OAuth issuer standing in for OpenAI's (which cannot be reached
//! from here): it checks the client id, the redirect URI, PKCE (S256 of the verifier
//! against the challenge) and single-use codes, and issues JWTs with the claims Codex
//! reads. Plus a tiny HTTP client that plays the browser.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use crate::harness::logins;

pub const CLIENT_ID: &str = "app_test_client";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceMode {
    /// Answer "pending" this many times, then approve.
    Approve { pending: usize },
    /// The usercode endpoint answers 404, as when device login is off for the account.
    Disabled,
    /// Polls fail with an expired code.
    Expired,
}

struct Grant {
    redirect_uri: String,
    challenge: String,
    used: bool,
    account: usize,
}

struct Device {
    user_code: String,
    polls: usize,
    account: usize,
}

struct State {
    deny: Option<String>,
    device: DeviceMode,
    api_key_exchange: bool,
    grants: HashMap<String, Grant>,
    devices: HashMap<String, Device>,
    issued: Vec<String>,
    next: usize,
    log: Vec<String>,
}

pub struct FakeIssuer {
    pub base: String,
    state: Arc<Mutex<State>>,
}

fn b64(data: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(data)
}

fn sha256_b64(s: &str) -> String {
    use sha2::Digest;
    b64(&sha2::Sha256::digest(s.as_bytes()))
}

pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn params(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl FakeIssuer {
    pub fn start() -> FakeIssuer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State {
            deny: None,
            device: DeviceMode::Approve { pending: 1 },
            api_key_exchange: true,
            grants: HashMap::new(),
            devices: HashMap::new(),
            issued: Vec::new(),
            next: 0,
            log: Vec::new(),
        }));
        let (st, b) = (state.clone(), base.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (st, b) = (st.clone(), b.clone());
                std::thread::spawn(move || serve(conn, &st, &b));
            }
        });
        FakeIssuer { base, state }
    }

    pub fn deny_with(&self, error: &str) {
        self.state.lock().unwrap().deny = Some(error.to_string());
    }
    pub fn device_mode(&self, mode: DeviceMode) {
        self.state.lock().unwrap().device = mode;
    }
    pub fn no_api_key_exchange(&self) {
        self.state.lock().unwrap().api_key_exchange = false;
    }
    /// Every token and key it issued (tests check none of them is ever printed).
    pub fn issued(&self) -> Vec<String> {
        self.state.lock().unwrap().issued.clone()
    }
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
    pub fn args(&self) -> Vec<String> {
        vec![
            "--issuer".into(),
            self.base.clone(),
            "--client-id".into(),
            CLIENT_ID.into(),
        ]
    }
}

fn serve(mut conn: TcpStream, st: &Mutex<State>, base: &str) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    let _ = reader.read_exact(&mut body);
    let body = String::from_utf8_lossy(&body).into_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    st.lock().unwrap().log.push(format!("{method} {path}"));
    let (status, headers, text) = route(&method, path, query, &body, st, base);
    let resp = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = conn.write_all(resp.as_bytes());
}

fn json_reply(status: &str, v: serde_json::Value) -> (String, String, String) {
    (
        status.into(),
        "Content-Type: application/json\r\n".into(),
        v.to_string(),
    )
}

fn tokens_for(s: &mut State, account: usize) -> serde_json::Value {
    s.next += 1;
    let n = s.next;
    let email = format!("user{account}@example.test");
    let id = logins::jwt(&serde_json::json!({
        "email": email,
        "https://api.openai.com/auth": {
            "chatgpt_plan_type": "plus",
            "chatgpt_account_id": format!("acct-{account:04}-0000-0000-0000-000000000000"),
            "chatgpt_user_id": format!("user-{account}")
        }
    }));
    let access = logins::jwt(&serde_json::json!({"exp": 4_000_000_000u64, "n": n}));
    let refresh = format!("rt-issued-{n}-{}", b64(format!("refresh{n}").as_bytes()));
    s.issued
        .extend([id.clone(), access.clone(), refresh.clone()]);
    serde_json::json!({"id_token": id, "access_token": access, "refresh_token": refresh, "expires_in": 3600})
}

fn route(
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    st: &Mutex<State>,
    base: &str,
) -> (String, String, String) {
    let mut s = st.lock().unwrap();
    match (method, path) {
        ("GET", "/oauth/authorize") => {
            let q = params(query);
            let want = |k: &str, v: &str| q.get(k).map(String::as_str) == Some(v);
            let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
            let redirect_ok = redirect == "http://localhost:1455/auth/callback"
                || redirect == "http://localhost:1457/auth/callback";
            let scope_ok = q.get("scope").is_some_and(|sc| {
                ["openid", "profile", "email", "offline_access"]
                    .iter()
                    .all(|w| sc.split(' ').any(|x| x == *w))
            });
            if !(want("response_type", "code")
                && want("client_id", CLIENT_ID)
                && redirect_ok
                && scope_ok
                && want("code_challenge_method", "S256")
                && q.get("code_challenge").is_some_and(|c| c.len() == 43)
                && q.get("state").is_some_and(|c| !c.is_empty()))
            {
                return (
                    "400 Bad Request".into(),
                    String::new(),
                    format!("bad authorize request: {query}"),
                );
            }
            let state = q["state"].clone();
            if let Some(err) = s.deny.clone() {
                let loc = format!(
                    "{redirect}?error={}&error_description={}&state={}",
                    enc(&err),
                    enc("the user said no"),
                    enc(&state)
                );
                return (
                    "302 Found".into(),
                    format!("Location: {loc}\r\n"),
                    String::new(),
                );
            }
            s.next += 1;
            let code = format!("code-{}-{}", s.next, b64(b"c"));
            let account = s.next;
            s.grants.insert(
                code.clone(),
                Grant {
                    redirect_uri: redirect.clone(),
                    challenge: q["code_challenge"].clone(),
                    used: false,
                    account,
                },
            );
            let loc = format!("{redirect}?code={}&state={}", enc(&code), enc(&state));
            (
                "302 Found".into(),
                format!("Location: {loc}\r\n"),
                String::new(),
            )
        }
        ("POST", "/oauth/token") => {
            let f = params(body);
            match f.get("grant_type").map(String::as_str) {
                Some("authorization_code") => {
                    let code = f.get("code").cloned().unwrap_or_default();
                    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                    let ok_client = f.get("client_id").map(String::as_str) == Some(CLIENT_ID);
                    let Some(g) = s.grants.get_mut(&code) else {
                        return json_reply(
                            "400 Bad Request",
                            serde_json::json!({"error": "invalid_grant", "error_description": "unknown code"}),
                        );
                    };
                    if g.used {
                        return json_reply(
                            "400 Bad Request",
                            serde_json::json!({"error": "invalid_grant", "error_description": "code already used"}),
                        );
                    }
                    g.used = true;
                    let redirect_ok = f.get("redirect_uri") == Some(&g.redirect_uri);
                    let pkce_ok = sha256_b64(&verifier) == g.challenge;
                    let account = g.account;
                    if !(ok_client && redirect_ok && pkce_ok) {
                        return json_reply(
                            "400 Bad Request",
                            serde_json::json!({"error": "invalid_grant", "error_description": format!("client {ok_client} redirect {redirect_ok} pkce {pkce_ok}")}),
                        );
                    }
                    json_reply("200 OK", tokens_for(&mut s, account))
                }
                Some("urn:ietf:params:oauth:grant-type:token-exchange") => {
                    let subject = f.get("subject_token").cloned().unwrap_or_default();
                    if !s.api_key_exchange || !s.issued.contains(&subject) {
                        return json_reply(
                            "400 Bad Request",
                            serde_json::json!({"error": "invalid_request"}),
                        );
                    }
                    s.next += 1;
                    let key = format!(
                        "sk-proj-issued{:04}-{}",
                        s.next,
                        b64(b"api-key-material-0123")
                    );
                    s.issued.push(key.clone());
                    json_reply("200 OK", serde_json::json!({"access_token": key}))
                }
                _ => json_reply(
                    "400 Bad Request",
                    serde_json::json!({"error": "unsupported_grant_type"}),
                ),
            }
        }
        ("POST", "/api/accounts/deviceauth/usercode") => {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            if v["client_id"] != CLIENT_ID {
                return json_reply(
                    "400 Bad Request",
                    serde_json::json!({"error": "bad client"}),
                );
            }
            if s.device == DeviceMode::Disabled {
                return json_reply("404 Not Found", serde_json::json!({"error": "not enabled"}));
            }
            s.next += 1;
            let id = format!("dev-{}", s.next);
            let user_code = format!("ABCD-{:04}", s.next);
            let pending = match s.device {
                DeviceMode::Approve { pending } => pending,
                _ => usize::MAX,
            };
            let account = s.next;
            s.devices.insert(
                id.clone(),
                Device {
                    user_code: user_code.clone(),
                    polls: pending,
                    account,
                },
            );
            json_reply(
                "200 OK",
                serde_json::json!({"device_auth_id": id, "user_code": user_code, "interval": "1"}),
            )
        }
        ("POST", "/api/accounts/deviceauth/token") => {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let id = v["device_auth_id"].as_str().unwrap_or("").to_string();
            let expired = s.device == DeviceMode::Expired;
            let Some(d) = s.devices.get_mut(&id) else {
                return json_reply(
                    "400 Bad Request",
                    serde_json::json!({"error": "unknown device"}),
                );
            };
            if v["user_code"].as_str() != Some(d.user_code.as_str()) {
                return json_reply(
                    "400 Bad Request",
                    serde_json::json!({"error": "wrong user code"}),
                );
            }
            if expired {
                return json_reply(
                    "400 Bad Request",
                    serde_json::json!({"error": "expired_token"}),
                );
            }
            if d.polls > 0 {
                d.polls -= 1;
                return json_reply(
                    "403 Forbidden",
                    serde_json::json!({"error": "authorization_pending"}),
                );
            }
            let account = d.account;
            s.devices.remove(&id);
            let verifier =
                b64(format!("device-verifier-{account}-0123456789abcdef0123456789").as_bytes());
            let challenge = sha256_b64(&verifier);
            s.next += 1;
            let code = format!("dcode-{}", s.next);
            s.grants.insert(
                code.clone(),
                Grant {
                    redirect_uri: format!("{base}/deviceauth/callback"),
                    challenge: challenge.clone(),
                    used: false,
                    account,
                },
            );
            json_reply(
                "200 OK",
                serde_json::json!({"authorization_code": code, "code_verifier": verifier, "code_challenge": challenge}),
            )
        }
        _ => ("404 Not Found".into(), String::new(), "not found".into()),
    }
}

/// One HTTP/1.1 GET on 127.0.0.1 (as the browser does); returns status, headers, body.
pub fn http_get(url: &str) -> (u16, HashMap<String, String>, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (hostport, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let port: u16 = hostport
        .rsplit_once(':')
        .map(|(_, p)| p.parse().unwrap())
        .unwrap_or(80);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}
