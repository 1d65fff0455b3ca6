//! The token endpoint: authorization code -> tokens, the best-effort id_token -> API key
//! exchange, and the auth.json that Codex writes from them.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{Issuer, LoginError};
use crate::auth::{jwt_claims, AuthFile};
use crate::secret::Secret;

/// What the token endpoint returns; every token is secret from the moment it is parsed.
#[derive(Deserialize)]
struct Tokens {
    id_token: Secret,
    access_token: Secret,
    refresh_token: Secret,
}

fn error_text(status: reqwest::StatusCode, body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let err = v.get("error").and_then(|e| {
        e.as_str()
            .map(str::to_string)
            .or_else(|| e.get("message").and_then(Value::as_str).map(str::to_string))
    });
    let desc = v.get("error_description").and_then(Value::as_str);
    match (err, desc) {
        (Some(e), Some(d)) => format!("{e}: {d} (HTTP {status})"),
        (Some(e), None) => format!("{e} (HTTP {status})"),
        _ => format!("HTTP {status}"),
    }
}

async fn exchange_code(
    client: &reqwest::Client,
    issuer: &Issuer,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<Tokens, LoginError> {
    let resp = client
        .post(format!("{}/oauth/token", issuer.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", issuer.client_id.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|e| LoginError::Network(e.without_url().to_string()))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(LoginError::Exchange(error_text(status, &body)));
    }
    serde_json::from_str(&body)
        .map_err(|_| LoginError::Exchange("the issuer's answer has no tokens".into()))
}

/// The optional exchange of the id_token for an API key; any failure means "no key".
async fn exchange_api_key(
    client: &reqwest::Client,
    issuer: &Issuer,
    id_token: &Secret,
) -> Option<Secret> {
    let resp = client
        .post(format!("{}/oauth/token", issuer.base))
        .form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("client_id", issuer.client_id.as_str()),
            ("requested_token", "openai-api-key"),
            ("subject_token", id_token.expose()),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ])
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let v: Value = resp.json().await.ok()?;
    v.get("access_token")?
        .as_str()
        .filter(|k| !k.is_empty())
        .map(Secret::new)
}

/// The code exchange, the API-key exchange, and the auth.json, in Codex's shape.
pub(super) async fn finish(
    client: &reqwest::Client,
    issuer: &Issuer,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<AuthFile, LoginError> {
    let tokens = exchange_code(client, issuer, code, redirect_uri, verifier).await?;
    let api_key = exchange_api_key(client, issuer, &tokens.id_token).await;
    auth_json(&tokens, api_key, issuer)
}

/// The auth.json Codex 0.171 writes after a sign-in: the tokens, where they came from
/// (`oauth_provenance`: Codex refreshes against that issuer) and a fresh
/// `login_owner_id`, in Codex's key order.
fn auth_json(t: &Tokens, api_key: Option<Secret>, issuer: &Issuer) -> Result<AuthFile, LoginError> {
    let claims = jwt_claims(t.id_token.expose())
        .map_err(|e| LoginError::Exchange(format!("the id_token is not a JWT ({e})")))?;
    let account = claims
        .get("https://api.openai.com/auth")
        .and_then(|a| a.get("chatgpt_account_id"))
        .and_then(Value::as_str)
        .ok_or_else(|| LoginError::Exchange("the id_token names no ChatGPT account".into()))?;
    // The one place the tokens are written out: into the auth.json they belong in.
    let doc = json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": api_key.as_ref().map(Secret::expose),
        "tokens": {
            "id_token": t.id_token.expose(),
            "access_token": t.access_token.expose(),
            "refresh_token": t.refresh_token.expose(),
            "oauth_provenance": {"issuer": issuer.base, "client_id": issuer.client_id},
            "login_owner_id": crate::encoding::random_b64url(32)?,
            "account_id": account,
        },
        "last_refresh": crate::timestamp::now_rfc3339(),
    });
    let bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    AuthFile::parse(&bytes).map_err(|e| LoginError::Exchange(format!("unusable tokens: {e}")))
}
