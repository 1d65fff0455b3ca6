//! The auth.json model: parse and validate what Codex reads, serialize what Codex writes,
//! decode JWT claims for display, and keep every token behind [`Secret`] so it cannot print.
//! No network I/O here; this machine's Codex home and its login is [`local`] (found by
//! the one resolver of Codex homes, [`home`]), the configured credential store
//! [`store`], Codex's own verdict [`verdict`], a write's compare-and-swap
//! precondition [`expect`].

pub(crate) mod expect;
pub(crate) mod home;
pub(crate) mod local;
pub(crate) mod os_keyring;
pub(crate) mod running;
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

/// How the login authenticates: the kinds Codex 0.171 writes (`auth_mode`, or the
/// fields present when a file has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthMode {
    ApiKey,
    ChatGpt,
    /// A Business/Enterprise access token (`personal_access_token`, no `auth_mode`).
    AccessToken,
    /// An agent identity (`agent_identity`, a JWT).
    AgentIdentity,
    /// Any other mode Codex knows (`chatgptAuthTokens`, `headers`, ...): pushed as is.
    Other(&'static str),
}

/// The `auth_mode` values Codex accepts; any other value makes Codex treat the file as absent.
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
            AuthMode::AccessToken => "personalAccessToken",
            AuthMode::AgentIdentity => "agentIdentity",
            AuthMode::Other(s) => s,
        }
    }

    fn from_word(word: &str) -> Option<AuthMode> {
        Some(match KNOWN_MODES.iter().find(|m| **m == word)? {
            &"apikey" => AuthMode::ApiKey,
            &"chatgpt" => AuthMode::ChatGpt,
            &"personalAccessToken" => AuthMode::AccessToken,
            &"agentIdentity" => AuthMode::AgentIdentity,
            m => AuthMode::Other(m),
        })
    }

    /// What `forced_login_method` calls this kind: Codex counts access tokens as
    /// ChatGPT logins. `None` where the setting does not decide.
    pub(crate) fn login_method(self) -> Option<&'static str> {
        match self {
            AuthMode::ApiKey => Some("api"),
            AuthMode::ChatGpt | AuthMode::AccessToken | AuthMode::Other("chatgptAuthTokens") => {
                Some("chatgpt")
            }
            _ => None,
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
    #[error(
        "no auth_mode, no OPENAI_API_KEY, no tokens and no access token: nothing to log in with"
    )]
    Empty,
    #[error("auth_mode is apikey but OPENAI_API_KEY is missing or empty")]
    MissingApiKey,
    #[error("ChatGPT login without {0}")]
    MissingField(&'static str),
    #[error("tokens.id_token is not a JWT ({0})")]
    BadIdToken(&'static str),
    #[error("an access-token login without personal_access_token")]
    MissingAccessToken,
    #[error("agent_identity is not a JWT ({0})")]
    BadAgentIdentity(&'static str),
    #[error("the {0} is empty")]
    EmptyKey(&'static str),
    #[error("the {0} contains whitespace or control characters")]
    BadKey(&'static str),
    #[error("{0} appears twice (Codex refuses such a file)")]
    DuplicateKey(String),
}

/// What can be shown about a login without showing it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// A Business/Enterprise access token, masked as Codex masks keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_expires: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refresh: Option<String>,
    /// The issuer this login refreshes against (`tokens.oauth_provenance.issuer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// A ChatGPT login whose refresh token is withheld (the empty string): usable until
    /// its access token expires, and it can never rotate or revoke the session.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub access_only: bool,
}

/// A validated auth.json, ready to install: the exact bytes, and what it says. Its Debug
/// shows the mode and size only (no account, no email).
#[derive(Clone)]
pub(crate) struct AuthFile {
    /// Shared by every clone of the login: one copy of the secret in memory.
    bytes: std::sync::Arc<SecretBytes>,
    pub mode: AuthMode,
    pub summary: AuthSummary,
    /// Short hash of the refresh token: equal values mean one shared session.
    pub session_id: Option<String>,
    /// Short hash of `tokens.login_owner_id` (new at every sign-in, kept by refreshes):
    /// equal values with different sessions mean one sign-in refreshed somewhere.
    pub lineage: Option<String>,
    /// The ChatGPT workspace (`chatgpt_account_id`), which `forced_chatgpt_workspace_id`
    /// is compared with.
    pub workspace: Option<String>,
    /// The file says one kind and carries another's credentials (an API-key login with
    /// ChatGPT tokens, as an old Codex's refresh merging into a replaced file leaves it).
    pub inconsistent: Option<&'static str>,
    /// Every secret string inside, so output can be scrubbed as a last line of defence.
    secrets: std::sync::Arc<[Secret]>,
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

    /// A login as Codex keeps it in the OS keyring (one line of compact JSON), made into
    /// the file Codex would write for it (pretty-printed): what a target's auth.json
    /// should hold.
    pub(crate) fn from_keyring_value(value: &str) -> Result<AuthFile, AuthError> {
        let parsed = AuthFile::parse(value.as_bytes())?;
        match serde_json::from_str::<Value>(value) {
            Ok(doc) => AuthFile::parse(&serialize_like_codex(&doc)),
            Err(_) => Ok(parsed),
        }
    }

    /// The document as one line of compact JSON, as Codex keeps it in the OS keyring
    /// (keys in the order of the file).
    pub(crate) fn compact_json(&self) -> Secret {
        match SecretDoc::parse(self.bytes.expose()) {
            Some(doc) => Secret::new(doc.0.to_string()),
            None => Secret::new(String::from_utf8_lossy(self.bytes.expose())),
        }
    }

    /// The refresh token of a ChatGPT login (what `--revoke` revokes).
    pub(crate) fn refresh_token(&self) -> Option<Secret> {
        let doc = SecretDoc::parse(self.bytes.expose())?;
        doc.0
            .get("tokens")?
            .get("refresh_token")?
            .as_str()
            .filter(|t| !t.is_empty())
            .map(Secret::new)
    }

    /// The issuer and client id this login was issued by (`tokens.oauth_provenance`),
    /// when the file names them.
    pub(crate) fn provenance(&self) -> (Option<String>, Option<String>) {
        let doc = SecretDoc::parse(self.bytes.expose());
        let p = doc
            .as_ref()
            .and_then(|d| d.0.get("tokens"))
            .and_then(|t| t.get("oauth_provenance"));
        let field = |k: &str| {
            p.and_then(|p| p.get(k))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        (field("issuer"), field("client_id"))
    }

    /// sha256 of the bytes, hex: identifies the content without revealing it.
    pub(crate) fn sha256_hex(&self) -> String {
        sha256_hex(self.bytes.expose())
    }

    /// True when the login carries a refresh token, which rotates on use.
    pub(crate) fn is_rotating_session(&self) -> bool {
        self.session_id.is_some()
    }

    /// Whether two logins belong to the same account (or are the same key or token).
    pub(crate) fn same_account(&self, other: &AuthFile) -> bool {
        self.mode == other.mode && self.account_identity == other.account_identity
    }

    /// Whether this is a copy of the same ChatGPT sign-in as `other`, at any generation:
    /// the same account and `login_owner_id` (which refreshes keep), or, for logins
    /// without one, the same refresh token.
    pub(crate) fn same_sign_in(&self, other: &AuthFile) -> bool {
        if !self.same_account(other) {
            return false;
        }
        match (&self.lineage, &other.lineage) {
            (Some(a), Some(b)) => a == b,
            _ => self.session_id.is_some() && self.session_id == other.session_id,
        }
    }

    /// An API-key login exactly as `codex login --with-api-key` writes it.
    pub(crate) fn from_api_key(raw: &str) -> Result<AuthFile, AuthError> {
        let key = single_token(raw, "API key")?;
        let mut obj = Map::new();
        obj.insert("auth_mode".into(), Value::String("apikey".into()));
        obj.insert("OPENAI_API_KEY".into(), Value::String(key.into()));
        AuthFile::parse(&serialize_like_codex(&Value::Object(obj)))
    }

    /// An access-token login exactly as `codex login --with-access-token` writes it.
    pub(crate) fn from_access_token(raw: &str) -> Result<AuthFile, AuthError> {
        let token = single_token(raw, "access token")?;
        let mut obj = Map::new();
        obj.insert("OPENAI_API_KEY".into(), Value::Null);
        obj.insert("personal_access_token".into(), Value::String(token.into()));
        AuthFile::parse(&serialize_like_codex(&Value::Object(obj)))
    }

    /// Parse and validate. The bytes are kept verbatim (formatting and unknown fields
    /// survive every push); a file without `auth_mode` is read as Codex reads it, by the
    /// credentials it carries.
    pub(crate) fn parse(bytes: &[u8]) -> Result<AuthFile, AuthError> {
        let value = SecretDoc(
            serde_json::from_slice(bytes).map_err(|e| AuthError::Json(json_error_line(&e)))?,
        );
        let Value::Object(obj) = &value.0 else {
            return Err(AuthError::NotObject);
        };
        // A repeated key collapses into one in `obj`; Codex's parser refuses it.
        if let Ok(keys) = serde_json::from_slice::<keys::TopKeys>(bytes) {
            if let Some(dup) = keys::first_repeated(&keys.top) {
                return Err(AuthError::DuplicateKey(dup.to_string()));
            }
            if let Some(dup) = keys::first_repeated(&keys.tokens) {
                return Err(AuthError::DuplicateKey(format!("tokens.{dup}")));
            }
        }
        let mode = match obj.get("auth_mode") {
            Some(Value::String(s)) => {
                AuthMode::from_word(s).ok_or_else(|| AuthError::UnknownMode(s.clone()))?
            }
            Some(Value::Null) | None => {
                if obj.get("tokens").is_some_and(|t| !t.is_null()) {
                    AuthMode::ChatGpt
                } else if non_empty_str(obj, "personal_access_token").is_some() {
                    AuthMode::AccessToken
                } else if non_empty_str(obj, "agent_identity").is_some() {
                    AuthMode::AgentIdentity
                } else if non_empty_str(obj, "OPENAI_API_KEY").is_some() {
                    AuthMode::ApiKey
                } else {
                    return Err(AuthError::Empty);
                }
            }
            Some(other) => return Err(AuthError::UnknownMode(other.to_string())),
        };

        let mut summary = AuthSummary {
            mode: mode.as_str().to_string(),
            ..Default::default()
        };
        let mut secrets = Vec::new();
        let mut session_id = None;
        let mut lineage = None;
        let mut workspace = None;
        let mut identity = None;

        if let Some(key) = non_empty_str(obj, "OPENAI_API_KEY") {
            summary.api_key = Some(mask_api_key(key));
            secrets.push(Secret::new(key));
        }
        if let Some(token) = non_empty_str(obj, "personal_access_token") {
            summary.access_token = Some(mask_api_key(token));
            secrets.push(Secret::new(token));
            identity = Some(format!("token:{}", sha256_hex(token.as_bytes())));
        }
        let tokens = obj.get("tokens").and_then(Value::as_object);
        for field in ["id_token", "access_token", "refresh_token"] {
            if let Some(v) = tokens.and_then(|t| non_empty_str(t, field)) {
                secrets.push(Secret::new(v));
            }
        }
        match mode {
            AuthMode::ApiKey => {
                if summary.api_key.is_none() {
                    return Err(AuthError::MissingApiKey);
                }
            }
            AuthMode::AccessToken => {
                if summary.access_token.is_none() {
                    return Err(AuthError::MissingAccessToken);
                }
            }
            AuthMode::AgentIdentity => {
                let jwt = non_empty_str(obj, "agent_identity")
                    .ok_or(AuthError::BadAgentIdentity("missing"))?;
                secrets.push(Secret::new(jwt));
                let claims = jwt_claims(jwt).map_err(AuthError::BadAgentIdentity)?;
                let claim = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
                summary.email = claim("email");
                summary.plan = claim("plan_type");
                workspace = claim("account_id");
                summary.account = workspace.as_deref().map(shorten);
                identity = Some(format!(
                    "agent:{}:{}",
                    claim("agent_runtime_id").unwrap_or_default(),
                    workspace.clone().unwrap_or_default()
                ));
            }
            AuthMode::ChatGpt | AuthMode::Other("chatgptAuthTokens") => {
                let tokens = tokens.ok_or(AuthError::MissingField("tokens"))?;
                for (field, name) in [
                    ("id_token", "tokens.id_token"),
                    ("access_token", "tokens.access_token"),
                ] {
                    non_empty_str(tokens, field).ok_or(AuthError::MissingField(name))?;
                }
                // An empty refresh token is an access-only copy (both Codex builds accept
                // it); a missing one, Codex 0.171 refuses.
                let refresh = tokens
                    .get("refresh_token")
                    .and_then(Value::as_str)
                    .ok_or(AuthError::MissingField("tokens.refresh_token"))?;
                let account = non_empty_str(tokens, "account_id")
                    .ok_or(AuthError::MissingField("tokens.account_id"))?;
                let last_refresh = non_empty_str(obj, "last_refresh")
                    .ok_or(AuthError::MissingField("last_refresh"))?;
                let id_token = non_empty_str(tokens, "id_token").unwrap_or_default();
                let claims = jwt_claims(id_token).map_err(AuthError::BadIdToken)?;
                summary.email = claims
                    .get("email")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let openai = claims.get("https://api.openai.com/auth");
                let openai_claim = |k: &str| {
                    openai
                        .and_then(|a| a.get(k))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                };
                summary.plan = openai_claim("chatgpt_plan_type");
                workspace = openai_claim("chatgpt_account_id").or(Some(account.to_string()));
                summary.account = Some(shorten(account));
                summary.last_refresh = Some(last_refresh.to_string());
                let access = non_empty_str(tokens, "access_token").unwrap_or_default();
                summary.access_expires = jwt_claims(access)
                    .ok()
                    .and_then(|c| c.get("exp").and_then(Value::as_i64));
                summary.issuer = tokens
                    .get("oauth_provenance")
                    .and_then(|p| p.get("issuer"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if refresh.is_empty() {
                    summary.access_only = true;
                } else {
                    session_id = Some(sha256_hex(refresh.as_bytes())[..16].to_string());
                }
                lineage = non_empty_str(tokens, "login_owner_id")
                    .map(|o| sha256_hex(o.as_bytes())[..16].to_string());
                identity = Some(format!(
                    "account:{account}:{}",
                    summary.email.as_deref().unwrap_or("")
                ));
            }
            AuthMode::Other(_) => {}
        }
        let inconsistent = (mode == AuthMode::ApiKey
            && tokens.is_some_and(|t| non_empty_str(t, "refresh_token").is_some()))
        .then_some("an API-key login that also carries ChatGPT tokens (a refresh merged into it?)");
        let account_identity = identity
            .or_else(|| {
                non_empty_str(obj, "OPENAI_API_KEY")
                    .map(|key| format!("key:{}", sha256_hex(key.as_bytes())))
            })
            .unwrap_or_default();
        Ok(AuthFile {
            bytes: std::sync::Arc::new(SecretBytes::new(bytes.to_vec())),
            mode,
            summary,
            session_id,
            lineage,
            workspace,
            inconsistent,
            secrets: secrets.into(),
            account_identity,
        })
    }

    /// The same login without its refresh token (the empty string) and without the API
    /// key Codex got at sign-in: a copy that can use the session until its access token
    /// expires, and can never rotate, revoke or outlive it. `None` for anything but a
    /// ChatGPT login.
    pub(crate) fn access_only_copy(&self) -> Option<AuthFile> {
        if self.mode != AuthMode::ChatGpt {
            return None;
        }
        let mut doc = SecretDoc::parse(self.bytes.expose())?;
        let obj = doc.0.as_object_mut()?;
        if obj.get("OPENAI_API_KEY").is_some() {
            obj.insert("OPENAI_API_KEY".into(), Value::Null);
        }
        let tokens = obj.get_mut("tokens")?.as_object_mut()?;
        tokens.insert("refresh_token".into(), Value::String(String::new()));
        AuthFile::parse(&serialize_like_codex(&doc.0)).ok()
    }

    /// This ChatGPT login after a refresh at its issuer: the new tokens (a refresh token
    /// only when the issuer rotated it), `last_refresh` now; everything else as it was.
    pub(crate) fn with_refreshed(
        &self,
        id_token: Option<&str>,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> Result<AuthFile, AuthError> {
        let mut doc = SecretDoc::parse(self.bytes.expose()).ok_or(AuthError::NotObject)?;
        let obj = doc.0.as_object_mut().ok_or(AuthError::NotObject)?;
        let tokens = obj
            .get_mut("tokens")
            .and_then(Value::as_object_mut)
            .ok_or(AuthError::MissingField("tokens"))?;
        if let Some(id) = id_token {
            tokens.insert("id_token".into(), Value::String(id.into()));
        }
        tokens.insert("access_token".into(), Value::String(access_token.into()));
        if let Some(r) = refresh_token {
            tokens.insert("refresh_token".into(), Value::String(r.into()));
        }
        obj.insert(
            "last_refresh".into(),
            Value::String(crate::timestamp::now_rfc3339()),
        );
        AuthFile::parse(&serialize_like_codex(&doc.0))
    }

    /// This ChatGPT login with a `tokens.login_owner_id` (as Codex 0.171 writes at every
    /// sign-in and keeps through refreshes) when it has none, so that its copies can be
    /// told from other sign-ins after any of them refreshed. `None`: it has one already.
    pub(crate) fn with_lineage(&self) -> Option<AuthFile> {
        if self.lineage.is_some() || self.mode != AuthMode::ChatGpt {
            return None;
        }
        let mut doc = SecretDoc::parse(self.bytes.expose())?;
        let tokens = doc.0.get_mut("tokens")?.as_object_mut()?;
        let owner = crate::encoding::random_b64url(32).ok()?;
        tokens.insert("login_owner_id".into(), Value::String(owner));
        AuthFile::parse(&serialize_like_codex(&doc.0)).ok()
    }

    /// How new this copy of a session is: `last_refresh` (microseconds), then the access
    /// token's expiry. A later pair is a later generation.
    pub(crate) fn generation(&self) -> (i64, i64) {
        (
            self.summary
                .last_refresh
                .as_deref()
                .and_then(crate::timestamp::parse_rfc3339_micros)
                .unwrap_or(i64::MIN),
            self.summary.access_expires.unwrap_or(i64::MIN),
        )
    }

    /// Replace every secret found in `text` by a mask, and every run of
    /// [`SCRUB_RUN`] or more characters of one (a token cut short, or half of one, is
    /// still a leak). Output that came from a target passes through here, so a remote
    /// tool that echoes a token cannot leak it.
    pub(crate) fn scrub(&self, text: &str) -> String {
        scrub_runs(text, self.secrets.iter().map(Secret::expose))
    }
}

/// A login parsed as JSON for a moment: every string in it is zeroed when it is
/// dropped (the tokens are among them).
struct SecretDoc(Value);

impl SecretDoc {
    fn parse(bytes: &[u8]) -> Option<SecretDoc> {
        serde_json::from_slice(bytes).ok().map(SecretDoc)
    }
}

impl Drop for SecretDoc {
    fn drop(&mut self) {
        fn wipe(v: &mut Value) {
            match v {
                Value::String(s) => zeroize::Zeroize::zeroize(s),
                Value::Array(a) => a.iter_mut().for_each(wipe),
                Value::Object(o) => o.values_mut().for_each(wipe),
                _ => {}
            }
        }
        wipe(&mut self.0);
    }
}

/// The shortest run of a secret's characters that [`AuthFile::scrub`] masks.
pub(crate) const SCRUB_RUN: usize = 12;

/// `text` with every run of [`SCRUB_RUN`] or more bytes that also occurs in one of
/// `secrets` replaced by `***` (secrets shorter than that: only whole).
fn scrub_runs<'a>(text: &str, secrets: impl Iterator<Item = &'a str>) -> String {
    let bytes = text.as_bytes();
    let mut masked = vec![false; bytes.len()];
    for secret in secrets {
        let s = secret.as_bytes();
        if s.len() < 8 {
            continue;
        }
        let run = SCRUB_RUN.min(s.len());
        if bytes.len() < run {
            continue;
        }
        let windows: std::collections::HashSet<&[u8]> = s.windows(run).collect();
        for start in 0..=bytes.len() - run {
            if windows.contains(&bytes[start..start + run]) {
                masked[start..start + run]
                    .iter_mut()
                    .for_each(|m| *m = true);
            }
        }
    }
    if !masked.contains(&true) {
        return text.to_string();
    }
    // Whole characters only: a masked byte masks its character.
    let mut out = String::with_capacity(text.len());
    let mut in_mask = false;
    for (i, c) in text.char_indices() {
        if masked[i..i + c.len_utf8()].contains(&true) {
            if !in_mask {
                out.push_str("***");
                in_mask = true;
            }
        } else {
            in_mask = false;
            out.push(c);
        }
    }
    out
}

/// A key or token as piped in: trimmed, one word.
fn single_token<'a>(raw: &'a str, what: &'static str) -> Result<&'a str, AuthError> {
    let token = raw.trim();
    if token.is_empty() {
        return Err(AuthError::EmptyKey(what));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AuthError::BadKey(what));
    }
    Ok(token)
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

/// The keys of auth.json's top-level object and of its `tokens`, as written (a JSON
/// map keeps only one of a repeated key). Codex reads both objects into serde structs,
/// which refuse a field named twice.
mod keys {
    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    #[derive(Default)]
    pub(super) struct TopKeys {
        pub top: Vec<String>,
        pub tokens: Vec<String>,
    }

    /// An object's keys; any other JSON value has none.
    #[derive(Default)]
    struct Keys(Vec<String>);

    pub(super) fn first_repeated(keys: &[String]) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        keys.iter()
            .find(|k| !seen.insert(k.as_str()))
            .map(String::as_str)
    }

    impl<'de> Deserialize<'de> for TopKeys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = TopKeys;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopKeys, A::Error> {
                    let mut out = TopKeys::default();
                    while let Some(key) = map.next_key::<String>()? {
                        if key == "tokens" {
                            out.tokens = map.next_value::<Keys>()?.0;
                        } else {
                            map.next_value::<IgnoredAny>()?;
                        }
                        out.top.push(key);
                    }
                    Ok(out)
                }
            }
            d.deserialize_map(V)
        }
    }

    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<IgnoredAny>()?;
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Keys, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Keys::default())
                }
                fn visit_bool<E>(self, _: bool) -> Result<Keys, E> {
                    Ok(Keys::default())
                }
                fn visit_i64<E>(self, _: i64) -> Result<Keys, E> {
                    Ok(Keys::default())
                }
                fn visit_u64<E>(self, _: u64) -> Result<Keys, E> {
                    Ok(Keys::default())
                }
                fn visit_f64<E>(self, _: f64) -> Result<Keys, E> {
                    Ok(Keys::default())
                }
                fn visit_str<E>(self, _: &str) -> Result<Keys, E> {
                    Ok(Keys::default())
                }
                fn visit_unit<E>(self) -> Result<Keys, E> {
                    Ok(Keys::default())
                }
            }
            d.deserialize_any(V)
        }
    }
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
    fn any_run_of_twelve_characters_of_a_secret_is_masked() {
        let secret = "rt-abcdefghijklmnopqrstuvwxyz0123456789";
        let scrub = |t: &str| scrub_runs(t, std::iter::once(secret));
        assert_eq!(scrub(&format!("token {secret} end")), "token *** end");
        // Cut one character short, or only its middle: still masked.
        assert_eq!(
            scrub(&format!("x {}", &secret[..secret.len() - 1])),
            "x ***"
        );
        assert_eq!(scrub("mid ghijklmnopqrstu!"), "mid ***!");
        // Eleven characters of it are not a leak worth a mask.
        assert_eq!(scrub("ghijklmnopq"), "ghijklmnopq");
        // Text around it, multi-byte characters included, stays whole.
        assert_eq!(scrub("✓ abcdefghijklmnop ✓"), "✓ *** ✓");
    }

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
            AuthError::EmptyKey("API key")
        );
        assert_eq!(
            AuthFile::from_api_key("sk-a b").unwrap_err(),
            AuthError::BadKey("API key")
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
    fn missing_auth_mode_is_read_by_content_and_the_bytes_stay() {
        let raw = br#"{"OPENAI_API_KEY":"sk-abcdefghijklmnop"}"#;
        let a = AuthFile::parse(raw).unwrap();
        assert_eq!(a.mode, AuthMode::ApiKey);
        assert_eq!(a.bytes().expose(), raw);
    }

    #[test]
    fn access_token_is_written_as_codex_writes_it() {
        let a = AuthFile::from_access_token("at-test-000000000000\n").unwrap();
        assert_eq!(
            std::str::from_utf8(a.bytes().expose()).unwrap(),
            "{\n  \"OPENAI_API_KEY\": null,\n  \"personal_access_token\": \"at-test-000000000000\"\n}"
        );
        assert_eq!(a.mode, AuthMode::AccessToken);
        assert_eq!(a.summary.access_token.as_deref(), Some("at-test-***00000"));
        assert!(!a.is_rotating_session());
        assert_eq!(a.mode.login_method(), Some("chatgpt"));
        assert_eq!(a.scrub("x at-test-000000000000"), "x ***");
    }

    #[test]
    fn agent_identity_shows_its_claims() {
        let jwt = testdata::jwt(&serde_json::json!({
            "email": "bot@example.test", "plan_type": "team", "account_id": "acct-9999999999",
            "agent_runtime_id": "rt-1", "agent_private_key": "k"
        }));
        let raw = format!(
            "{{\"auth_mode\":\"agentIdentity\",\"OPENAI_API_KEY\":null,\"agent_identity\":\"{jwt}\"}}"
        );
        let a = AuthFile::parse(raw.as_bytes()).unwrap();
        assert_eq!(a.mode, AuthMode::AgentIdentity);
        assert_eq!(a.summary.email.as_deref(), Some("bot@example.test"));
        assert_eq!(a.workspace.as_deref(), Some("acct-9999999999"));
        assert_eq!(a.scrub(&jwt), "***");
        let bad = raw.replace(&jwt, "not-a-jwt");
        assert!(matches!(
            AuthFile::parse(bad.as_bytes()),
            Err(AuthError::BadAgentIdentity(_))
        ));
    }

    #[test]
    fn new_chatgpt_fields_and_a_merged_file() {
        let json = testdata::chatgpt_json("rt-lineage-1");
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["tokens"]["oauth_provenance"] =
            serde_json::json!({"issuer": "http://127.0.0.1:9", "client_id": "app_x"});
        v["tokens"]["login_owner_id"] = serde_json::json!("owner-abc");
        let a = AuthFile::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(a.summary.issuer.as_deref(), Some("http://127.0.0.1:9"));
        assert!(a.lineage.is_some());
        assert_eq!(a.workspace.as_deref(), Some("acct-1234567890"));
        assert!(a.inconsistent.is_none());
        v["auth_mode"] = serde_json::json!("apikey");
        v["OPENAI_API_KEY"] = serde_json::json!("sk-test-merged-000000000000");
        let merged = AuthFile::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(merged.mode, AuthMode::ApiKey);
        assert!(merged.inconsistent.is_some());
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

    #[test]
    fn a_key_named_twice_is_refused_as_codex_refuses_it() {
        let top = br#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-a","OPENAI_API_KEY":"sk-b"}"#;
        assert_eq!(
            AuthFile::parse(top).unwrap_err(),
            AuthError::DuplicateKey("OPENAI_API_KEY".into())
        );
        let json = testdata::chatgpt_json("rt-1").replacen(
            "\"account_id\":",
            "\"account_id\": \"acct-other\", \"account_id\":",
            1,
        );
        assert_eq!(
            AuthFile::parse(json.as_bytes()).unwrap_err(),
            AuthError::DuplicateKey("tokens.account_id".into())
        );
        // Deeper objects are Codex's to read as it likes: a repeat there is no refusal.
        let deep = br#"{"OPENAI_API_KEY":"sk-a","extra":{"x":1,"x":2}}"#;
        assert!(AuthFile::parse(deep).is_ok());
    }

    #[test]
    fn auth_json_takes_the_odd_inputs() {
        for (name, bytes) in crate::test_inputs::odd_inputs() {
            let parsed = AuthFile::parse(&bytes);
            match name {
                "a BOM" | "empty" | "not UTF-8" | "deep nesting (arrays)" => {
                    assert!(parsed.is_err(), "{name}")
                }
                _ => {}
            }
            let _ = jwt_claims(&String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 20)]));
        }
    }

    const AUTH_WORDS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"",
        "null",
        "true",
        "7",
        "-1e999",
        "\"auth_mode\"",
        "\"apikey\"",
        "\"chatgpt\"",
        "\"chatgptAuthTokens\"",
        "\"agentIdentity\"",
        "\"OPENAI_API_KEY\"",
        "\"sk-x\"",
        "\"tokens\"",
        "\"id_token\"",
        "\"access_token\"",
        "\"refresh_token\"",
        "\"account_id\"",
        "\"last_refresh\"",
        "\"personal_access_token\"",
        "\"agent_identity\"",
        "\"a.eyJlbWFpbCI6MX0.c\"",
        "\"e30.e30.e30\"",
        "\"\\u0000\"",
        "\"\\ud800\"",
    ];

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn auth_json_never_panics(text in crate::test_inputs::text_from(AUTH_WORDS, 80)) {
            if let Ok(auth) = AuthFile::parse(text.as_bytes()) {
                // What parses is whole: it serializes and reads back the same.
                let again = AuthFile::parse(auth.bytes().expose()).unwrap();
                proptest::prop_assert_eq!(again.mode, auth.mode);
            }
        }

        #[test]
        fn auth_bytes_never_panic(bytes in crate::test_inputs::bytes(512)) {
            let _ = AuthFile::parse(&bytes);
        }

        #[test]
        fn jwt_claims_never_panic(text in crate::test_inputs::text_from(&["a", ".", "e30", "eyJ", "=", "-", "_"], 30)) {
            let _ = jwt_claims(&text);
        }
    }
}
