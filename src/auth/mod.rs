//! The auth.json model: parse and validate what Codex reads, serialize what Codex writes,
//! decode JWT claims for display, and keep every token behind [`Secret`] so it cannot print.
//! No network I/O here; this machine's Codex home is [`local`], where a pushed login comes
//! from [`source`], the configured credential store [`store`], Codex's own verdict [`verdict`].

pub(crate) mod local;
pub(crate) mod source;
pub(crate) mod store;
pub(crate) mod verdict;

use std::fmt;

use serde_json::{Map, Value};

use crate::encoding::sha256_hex;
use crate::secret::{Secret, SecretBytes};

/// Codex's own mask for an API key: first 8 characters, `***`, last 5.
pub(crate) fn mask_api_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 13 {
        return "***".to_string();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 5..].iter().collect();
    format!("{head}***{tail}")
}

/// How the login authenticates, as `auth_mode` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthMode {
    ApiKey,
    ChatGpt,
    /// Any other mode Codex 0.147 knows (`chatgptAuthTokens`, `headers`, ...): pushed as is.
    Other(&'static str),
}

/// The `auth_mode` values Codex 0.147 accepts; any other value makes Codex treat the file as absent.
const KNOWN_MODES: &[&str] = &[
    "apikey",
    "chatgpt",
    "chatgptAuthTokens",
    "headers",
    "agentIdentity",
    "personalAccessToken",
    "bedrockApiKey",
];

impl AuthMode {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            AuthMode::ApiKey => "apikey",
            AuthMode::ChatGpt => "chatgpt",
            AuthMode::Other(s) => s,
        }
    }
}

/// Why an auth.json (or a key) cannot be used. Each message is one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum AuthError {
    #[error("not valid JSON ({0})")]
    Json(String),
    #[error("the top level is not a JSON object")]
    NotObject,
    #[error("unknown auth_mode {0:?} (Codex would ignore this file)")]
    UnknownMode(String),
    #[error("no auth_mode, no OPENAI_API_KEY and no tokens: nothing to log in with")]
    Empty,
    #[error("auth_mode is apikey but OPENAI_API_KEY is missing or empty")]
    MissingApiKey,
    #[error("ChatGPT login without {0}")]
    MissingField(&'static str),
    #[error("tokens.id_token is not a JWT ({0})")]
    BadIdToken(&'static str),
    #[error("the API key is empty")]
    EmptyKey,
    #[error("the API key contains whitespace or control characters")]
    BadKey,
}

/// What can be shown about a login without showing it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct AuthSummary {
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refresh: Option<String>,
}

/// A validated auth.json, ready to install: the exact bytes, and what it says. Its Debug
/// shows the mode and size only (no account, no email).
#[derive(Clone)]
pub(crate) struct AuthFile {
    bytes: SecretBytes,
    pub mode: AuthMode,
    pub summary: AuthSummary,
    /// Short hash of the refresh token: equal values mean one shared session.
    pub session_id: Option<String>,
    /// Every secret string inside, so output can be scrubbed as a last line of defence.
    secrets: Vec<Secret>,
    /// Who this login is (account id and email, or a hash of the key): equal for two
    /// logins of the same account.
    account_identity: String,
}

impl fmt::Debug for AuthFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AuthFile({}, {} bytes)",
            self.mode.as_str(),
            self.bytes.len()
        )
    }
}

impl AuthFile {
    pub(crate) fn bytes(&self) -> &SecretBytes {
        &self.bytes
    }

    /// sha256 of the bytes, hex: identifies the content without revealing it.
    pub(crate) fn sha256_hex(&self) -> String {
        sha256_hex(self.bytes.expose())
    }

    /// True when the login carries a refresh token, which rotates on use.
    pub(crate) fn is_rotating_session(&self) -> bool {
        self.session_id.is_some()
    }

    /// Whether two logins belong to the same account (or are the same API key).
    pub(crate) fn same_account(&self, other: &AuthFile) -> bool {
        self.mode == other.mode && self.account_identity == other.account_identity
    }

    /// Build an API-key login exactly as `codex login --with-api-key` writes it.
    pub(crate) fn from_api_key(raw: &str) -> Result<AuthFile, AuthError> {
        let key = raw.trim();
        if key.is_empty() {
            return Err(AuthError::EmptyKey);
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AuthError::BadKey);
        }
        let mut obj = Map::new();
        obj.insert("auth_mode".into(), Value::String("apikey".into()));
        obj.insert("OPENAI_API_KEY".into(), Value::String(key.into()));
        let bytes = serialize_like_codex(&Value::Object(obj));
        AuthFile::parse(&bytes)
    }

    /// Parse and validate. Bytes are kept verbatim when `auth_mode` is present, so unknown
    /// fields and formatting survive; an older file without `auth_mode` gets it inferred.
    pub(crate) fn parse(bytes: &[u8]) -> Result<AuthFile, AuthError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| AuthError::Json(json_error_line(&e)))?;
        let Value::Object(mut obj) = value else {
            return Err(AuthError::NotObject);
        };
        let mut rewritten = false;
        let mode = match obj.get("auth_mode") {
            Some(Value::String(s)) => match KNOWN_MODES.iter().find(|m| **m == s.as_str()) {
                Some(&"apikey") => AuthMode::ApiKey,
                Some(&"chatgpt") => AuthMode::ChatGpt,
                Some(m) => AuthMode::Other(m),
                None => return Err(AuthError::UnknownMode(s.clone())),
            },
            Some(Value::Null) | None => {
                let mode = if obj.get("tokens").is_some_and(|t| !t.is_null()) {
                    AuthMode::ChatGpt
                } else if non_empty_str(&obj, "OPENAI_API_KEY").is_some() {
                    AuthMode::ApiKey
                } else {
                    return Err(AuthError::Empty);
                };
                obj.insert("auth_mode".into(), Value::String(mode.as_str().into()));
                rewritten = true;
                mode
            }
            Some(other) => return Err(AuthError::UnknownMode(other.to_string())),
        };

        let mut summary = AuthSummary {
            mode: mode.as_str().to_string(),
            ..Default::default()
        };
        let mut secrets = Vec::new();
        let mut session_id = None;
        let mut full_account: Option<String> = None;

        if let Some(key) = non_empty_str(&obj, "OPENAI_API_KEY") {
            summary.api_key = Some(mask_api_key(key));
            secrets.push(Secret::new(key));
        }
        match mode {
            AuthMode::ApiKey => {
                if summary.api_key.is_none() {
                    return Err(AuthError::MissingApiKey);
                }
            }
            AuthMode::ChatGpt | AuthMode::Other("chatgptAuthTokens") => {
                let tokens = obj
                    .get("tokens")
                    .and_then(Value::as_object)
                    .ok_or(AuthError::MissingField("tokens"))?;
                for field in ["id_token", "access_token", "refresh_token"] {
                    let v = non_empty_str(tokens, field).ok_or(AuthError::MissingField(
                        match field {
                            "id_token" => "tokens.id_token",
                            "access_token" => "tokens.access_token",
                            _ => "tokens.refresh_token",
                        },
                    ))?;
                    secrets.push(Secret::new(v));
                }
                let account = non_empty_str(tokens, "account_id")
                    .ok_or(AuthError::MissingField("tokens.account_id"))?;
                let last_refresh = non_empty_str(&obj, "last_refresh")
                    .ok_or(AuthError::MissingField("last_refresh"))?;
                let id_token = non_empty_str(tokens, "id_token").unwrap_or_default();
                let claims = jwt_claims(id_token).map_err(AuthError::BadIdToken)?;
                summary.email = claims
                    .get("email")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let openai = claims.get("https://api.openai.com/auth");
                summary.plan = openai
                    .and_then(|a| a.get("chatgpt_plan_type"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                summary.account = Some(shorten(account));
                full_account = Some(account.to_string());
                summary.last_refresh = Some(last_refresh.to_string());
                let access = non_empty_str(tokens, "access_token").unwrap_or_default();
                summary.access_expires = jwt_claims(access)
                    .ok()
                    .and_then(|c| c.get("exp").and_then(Value::as_i64));
                let refresh = non_empty_str(tokens, "refresh_token").unwrap_or_default();
                session_id = Some(sha256_hex(refresh.as_bytes())[..16].to_string());
            }
            AuthMode::Other(_) => {}
        }

        let account_identity = match (
            &full_account,
            &summary.email,
            non_empty_str(&obj, "OPENAI_API_KEY"),
        ) {
            (Some(acc), email, _) => format!("account:{acc}:{}", email.as_deref().unwrap_or("")),
            (None, _, Some(key)) => format!("key:{}", sha256_hex(key.as_bytes())),
            _ => String::new(),
        };
        let bytes = if rewritten {
            serialize_like_codex(&Value::Object(obj))
        } else {
            bytes.to_vec()
        };
        Ok(AuthFile {
            bytes: SecretBytes::new(bytes),
            mode,
            summary,
            session_id,
            secrets,
            account_identity,
        })
    }

    /// Replace every secret found in `text` by a mask. Output that came from a target
    /// passes through here, so a remote tool that echoes a token cannot leak it.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if s.expose().len() >= 8 && out.contains(s.expose()) {
                out = out.replace(s.expose(), "***");
            }
        }
        out
    }
}

fn non_empty_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Codex writes `serde_json::to_string_pretty` output with no trailing newline.
fn serialize_like_codex(value: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

/// serde_json's message without the input echoed back (it never echoes values, only
/// positions, but keep it to one line).
fn json_error_line(e: &serde_json::Error) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

/// Decode a JWT's payload. No signature check: this is for display and shape only.
pub(crate) fn jwt_claims(token: &str) -> Result<Map<String, Value>, &'static str> {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("expected three dot-separated parts");
    };
    let raw = data_encoding::BASE64URL_NOPAD
        .decode(payload.trim_end_matches('=').as_bytes())
        .map_err(|_| "payload is not base64url")?;
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err("payload is not a JSON object"),
    }
}

fn shorten(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        id.to_string()
    } else {
        format!("{}…", chars[..8].iter().collect::<String>())
    }
}

#[cfg(test)]
pub(crate) mod testdata {
    //! Well-formed but fake logins for unit tests.

    pub(crate) fn jwt(claims: &serde_json::Value) -> String {
        let e = data_encoding::BASE64URL_NOPAD;
        format!(
            "{}.{}.{}",
            e.encode(br#"{"alg":"none","typ":"JWT"}"#),
            e.encode(claims.to_string().as_bytes()),
            e.encode(b"test-signature")
        )
    }

    pub(crate) fn chatgpt_json(refresh: &str) -> String {
        let id = jwt(&serde_json::json!({
            "email": "dev@example.test",
            "https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": "acct-1234567890"}
        }));
        let access = jwt(&serde_json::json!({"exp": 1_900_000_000}));
        serde_json::to_string_pretty(&serde_json::json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": null,
            "tokens": {"id_token": id, "access_token": access, "refresh_token": refresh, "account_id": "acct-1234567890"},
            "last_refresh": "2026-11-27T10:00:00.123456Z",
            "future_field": {"kept": true}
        }))
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_is_serialized_like_codex() {
        let a = AuthFile::from_api_key("  sk-test-0000000000000000000000abcde\n").unwrap();
        assert_eq!(
            std::str::from_utf8(a.bytes().expose()).unwrap(),
            "{\n  \"auth_mode\": \"apikey\",\n  \"OPENAI_API_KEY\": \"sk-test-0000000000000000000000abcde\"\n}"
        );
        assert_eq!(a.summary.api_key.as_deref(), Some("sk-test-***abcde"));
        assert!(!a.is_rotating_session());
    }

    #[test]
    fn empty_and_spaced_keys_are_refused() {
        assert_eq!(
            AuthFile::from_api_key(" \n").unwrap_err(),
            AuthError::EmptyKey
        );
        assert_eq!(
            AuthFile::from_api_key("sk-a b").unwrap_err(),
            AuthError::BadKey
        );
    }

    #[test]
    fn chatgpt_login_keeps_bytes_and_unknown_fields() {
        let json = testdata::chatgpt_json("rt-secret-value-1");
        let a = AuthFile::parse(json.as_bytes()).unwrap();
        assert_eq!(a.bytes().expose(), json.as_bytes());
        assert_eq!(a.mode, AuthMode::ChatGpt);
        assert_eq!(a.summary.email.as_deref(), Some("dev@example.test"));
        assert_eq!(a.summary.plan.as_deref(), Some("plus"));
        assert_eq!(a.summary.access_expires, Some(1_900_000_000));
        assert!(a.is_rotating_session());
        assert!(!format!("{a:?}").contains("rt-secret-value-1"));
        assert!(!format!("{a:?}").contains("dev@example.test"));
        assert!(!format!("{a:?}").contains("acct-"));
        assert_eq!(a.scrub("x rt-secret-value-1 y"), "x *** y");
    }

    #[test]
    fn missing_auth_mode_is_inferred() {
        let a = AuthFile::parse(br#"{"OPENAI_API_KEY":"sk-abcdefghijklmnop"}"#).unwrap();
        assert_eq!(a.mode, AuthMode::ApiKey);
        assert!(std::str::from_utf8(a.bytes().expose())
            .unwrap()
            .contains("\"auth_mode\": \"apikey\""));
    }

    #[test]
    fn malformed_files_are_refused_with_a_reason() {
        let cases: &[(&[u8], AuthError)] = &[
            (b"{", AuthError::Json(String::new())),
            (b"[]", AuthError::NotObject),
            (
                br#"{"auth_mode":"bogus"}"#,
                AuthError::UnknownMode("bogus".into()),
            ),
            (br#"{}"#, AuthError::Empty),
            (
                br#"{"auth_mode":"apikey","OPENAI_API_KEY":""}"#,
                AuthError::MissingApiKey,
            ),
            (
                br#"{"auth_mode":"chatgpt"}"#,
                AuthError::MissingField("tokens"),
            ),
        ];
        for (input, want) in cases {
            let got = AuthFile::parse(input).unwrap_err();
            match (want, &got) {
                (AuthError::Json(_), AuthError::Json(_)) => {}
                _ => assert_eq!(&got, want),
            }
        }
        let bad_jwt = testdata::chatgpt_json("rt").replace("\"id_token\": \"", "\"id_token\": \"x");
        let bad_jwt = bad_jwt.replacen('.', "", 2);
        assert_eq!(
            AuthFile::parse(bad_jwt.as_bytes()).unwrap_err(),
            AuthError::BadIdToken("expected three dot-separated parts")
        );
    }
}
