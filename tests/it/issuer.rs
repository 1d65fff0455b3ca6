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
/// The client id the real Codex sends when it is not told another (device logins run by
/// a host's own Codex use it).
pub const CODEX_CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceMode {
    /// Answer "pending" this many times, then approve.
    Approve { pending: usize },
    /// The usercode endpoint answers 404, as when device login is off for the account.
    Disabled,
    /// Polls fail with an expired code.
    Expired,
    /// Codes stay pending until `after` have been asked for; then they are approved in
    /// the reverse order of their issue (the newest first), as people entering several
    /// codes on their phones would, out of order.
    ApproveReversed { after: usize },
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
    /// Seconds from now to the `exp` of the access tokens it issues.
    access_lifetime: u64,
    /// Seconds refreshed access tokens live (else: far in the future).
    refreshed_lifetime: Option<u64>,
    /// How long a refresh answer is held back (so a test can act meanwhile).
    refresh_delay: std::time::Duration,
    grants: HashMap<String, Grant>,
    devices: HashMap<String, Device>,
    /// Device codes in the order they were issued, and those approved, in order.
    device_order: Vec<String>,
    approved: Vec<String>,
    /// Refresh tokens it issued and has not seen used or revoked, with their account.
    refresh_tokens: HashMap<String, usize>,
    /// Every refresh token it ever issued, with its family (one sign-in and every
    /// token rotated from it). A token sent twice revokes its whole family, as the real
    /// issuer is reported to do.
    families: HashMap<String, usize>,
    revoked_families: std::collections::HashSet<usize>,
    issued: Vec<String>,
    next: usize,
    log: Vec<String>,
    /// Bodies of the refresh and revoke requests, in order.
    bodies: Vec<String>,
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
        FakeIssuer::start_on("127.0.0.1")
    }

    /// An issuer listening on `ip` (a veth address, for a host in a network namespace).
    pub fn start_on(ip: &str) -> FakeIssuer {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let base = format!("http://{ip}:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State {
            deny: None,
            device: DeviceMode::Approve { pending: 1 },
            api_key_exchange: true,
            access_lifetime: 4_000_000_000,
            refreshed_lifetime: None,
            refresh_delay: std::time::Duration::ZERO,
            grants: HashMap::new(),
            devices: HashMap::new(),
            device_order: Vec::new(),
            approved: Vec::new(),
            refresh_tokens: HashMap::new(),
            families: HashMap::new(),
            revoked_families: std::collections::HashSet::new(),
            issued: Vec::new(),
            next: 0,
            log: Vec::new(),
            bodies: Vec::new(),
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
    /// Issue access tokens that expire `secs` from now (Codex refreshes within 5 minutes).
    pub fn access_tokens_expire_in(&self, secs: u64) {
        self.state.lock().unwrap().access_lifetime = secs;
    }
    /// Refreshed access tokens live `secs`. Codex 0.171 refreshes a token with less
    /// than 300 s left (measured: 290 s refreshes, 310 s does not), so 303 s is not due
    /// at once, and is a few seconds later: no refresh loop, and the next use refreshes.
    pub fn refreshed_tokens_expire_in(&self, secs: u64) {
        self.state.lock().unwrap().refreshed_lifetime = Some(secs);
    }
    /// Hold every refresh answer back for this long.
    pub fn delay_refresh(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().refresh_delay = delay;
    }
    /// The bodies of the refresh and revoke requests it got, in order.
    /// The device codes approved, in the order of approval (`dev-N`).
    pub fn approved(&self) -> Vec<String> {
        self.state.lock().unwrap().approved.clone()
    }
    pub fn bodies(&self) -> Vec<String> {
        self.state.lock().unwrap().bodies.clone()
    }
    /// A ChatGPT login it issued, as auth.json (Codex 0.171's shape, with the provenance
    /// naming this issuer), and its refresh token.
    pub fn login_json(&self) -> (String, String) {
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        let account = s.next;
        let t = tokens_for(&mut s, account);
        let refresh = t["refresh_token"].as_str().unwrap().to_string();
        let owner = b64(format!("owner-{account}-0123456789abcdef0123456789").as_bytes());
        let doc = serde_json::json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": null,
            "tokens": {
                "id_token": t["id_token"],
                "access_token": t["access_token"],
                "refresh_token": refresh,
                "oauth_provenance": {"issuer": self.base, "client_id": CLIENT_ID},
                "login_owner_id": owner,
                "account_id": format!("acct-{account:04}-0000-0000-0000-000000000000"),
            },
            "last_refresh": "2026-11-30T09:00:00.000000Z"
        });
        (serde_json::to_string_pretty(&doc).unwrap(), refresh)
    }
    /// Every token and key it issued (tests check none of them is ever printed).
    pub fn issued(&self) -> Vec<String> {
        self.state.lock().unwrap().issued.clone()
    }
    /// Whether `refresh` would still be honoured (issued, and not yet used or revoked).
    pub fn is_live(&self, refresh: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .refresh_tokens
            .contains_key(refresh)
    }
    /// The refresh tokens sent to it, in order (an empty one: an access-only copy's).
    pub fn refreshes(&self) -> Vec<String> {
        self.bodies()
            .iter()
            .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            .filter(|v| v["grant_type"] == "refresh_token")
            .map(|v| v["refresh_token"].as_str().unwrap_or("").to_string())
            .collect()
    }
    /// Whether the sign-in `refresh` belongs to was ended for a reused token.
    pub fn family_revoked(&self, refresh: &str) -> bool {
        let s = self.state.lock().unwrap();
        s.families
            .get(refresh)
            .is_some_and(|f| s.revoked_families.contains(f))
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
    if body.contains("refresh_token") && path == "/oauth/token" {
        let delay = st.lock().unwrap().refresh_delay;
        std::thread::sleep(delay);
    }
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

/// New tokens for `account`; their access token expires as `access_tokens_expire_in`
/// says (a refresh, `refreshed`, gets a long-lived one: Codex would refresh again at
/// once otherwise).
fn tokens_for(s: &mut State, account: usize) -> serde_json::Value {
    tokens_for_(s, account, false)
}

fn tokens_for_(s: &mut State, account: usize, refreshed: bool) -> serde_json::Value {
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = if let (true, Some(secs)) = (refreshed, s.refreshed_lifetime) {
        now + secs
    } else if refreshed || s.access_lifetime >= 1_000_000_000 {
        4_000_000_000
    } else if s.access_lifetime >= 1_000_000_000 {
        s.access_lifetime
    } else {
        now + s.access_lifetime
    };
    let access = logins::jwt(&serde_json::json!({"exp": exp, "n": n}));
    let refresh = format!("rt-issued-{n}-{}", b64(format!("refresh{n}").as_bytes()));
    s.refresh_tokens.insert(refresh.clone(), account);
    // A new family (a refresh puts its token in the old one's).
    s.families.insert(refresh.clone(), n);
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
            // Codex 0.171 names 127.0.0.1 (0.147 said localhost).
            let redirect_ok = redirect == "http://127.0.0.1:1455/auth/callback"
                || redirect == "http://127.0.0.1:1457/auth/callback";
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
        ("POST", "/oauth/token") if body.trim_start().starts_with('{') => {
            // A refresh, as Codex sends it: JSON with the refresh token, which rotates.
            s.bodies.push(body.to_string());
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let token = v["refresh_token"].as_str().unwrap_or("").to_string();
            // 0.147 always sends Codex's own client id (it does not read the provenance).
            let client_ok = v["client_id"] == CLIENT_ID || v["client_id"] == CODEX_CLIENT_ID;
            if v["grant_type"] != "refresh_token" || !client_ok {
                return json_reply(
                    "400 Bad Request",
                    serde_json::json!({"error": "invalid_request"}),
                );
            }
            let Some(&family) = s.families.get(&token) else {
                return json_reply(
                    "401 Unauthorized",
                    serde_json::json!({"error": {"code": "invalid_grant", "message": "unknown refresh token"}}),
                );
            };
            if s.revoked_families.contains(&family) {
                return json_reply(
                    "401 Unauthorized",
                    serde_json::json!({"error": {"code": "refresh_token_invalidated", "message": "Your refresh token has been invalidated"}}),
                );
            }
            let Some(account) = s.refresh_tokens.remove(&token) else {
                // Sent twice: the whole sign-in ends.
                s.revoked_families.insert(family);
                let dead: Vec<String> = s
                    .families
                    .iter()
                    .filter(|(_, f)| **f == family)
                    .map(|(t, _)| t.clone())
                    .collect();
                for t in dead {
                    s.refresh_tokens.remove(&t);
                }
                return json_reply(
                    "401 Unauthorized",
                    serde_json::json!({"error": {"code": "refresh_token_reused", "message": "Your refresh token has already been used"}}),
                );
            };
            let tokens = tokens_for_(&mut s, account, true);
            if let Some(next) = tokens["refresh_token"].as_str() {
                s.families.insert(next.to_string(), family);
            }
            json_reply("200 OK", tokens)
        }
        ("POST", "/oauth/revoke") => {
            s.bodies.push(body.to_string());
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let token = v["token"].as_str().unwrap_or("").to_string();
            s.refresh_tokens.remove(&token);
            // A revocation ends the sign-in: every token of its family.
            if let Some(&family) = s.families.get(&token) {
                s.revoked_families.insert(family);
                let dead: Vec<String> = s
                    .families
                    .iter()
                    .filter(|(_, f)| **f == family)
                    .map(|(t, _)| t.clone())
                    .collect();
                for t in dead {
                    s.refresh_tokens.remove(&t);
                }
            }
            json_reply("200 OK", serde_json::json!({}))
        }
        ("POST", "/oauth/token") => {
            let f = params(body);
            match f.get("grant_type").map(String::as_str) {
                Some("authorization_code") => {
                    let code = f.get("code").cloned().unwrap_or_default();
                    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                    let ok_client = matches!(
                        f.get("client_id").map(String::as_str),
                        Some(CLIENT_ID) | Some(CODEX_CLIENT_ID)
                    );
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
            if v["client_id"] != CLIENT_ID && v["client_id"] != CODEX_CLIENT_ID {
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
            s.device_order.push(id.clone());
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
            let pending = match s.device {
                DeviceMode::ApproveReversed { after } => {
                    // Every code issued after this one must have been approved first.
                    let pos = s.device_order.iter().position(|x| *x == id).unwrap_or(0);
                    s.device_order.len() < after
                        || s.device_order[pos + 1..]
                            .iter()
                            .any(|later| !s.approved.contains(later))
                }
                _ => {
                    let d = s.devices.get_mut(&id).unwrap();
                    if d.polls > 0 {
                        d.polls -= 1;
                        true
                    } else {
                        false
                    }
                }
            };
            if pending {
                return json_reply(
                    "403 Forbidden",
                    serde_json::json!({"error": "authorization_pending"}),
                );
            }
            let d = s.devices.remove(&id).unwrap();
            s.approved.push(id.clone());
            let account = d.account;
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
