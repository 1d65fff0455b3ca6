//! Refreshing a ChatGPT session at its issuer, as Codex does it (`POST
//! {issuer}/oauth/token`, JSON with the refresh token), and what the answer means. The
//! refresh token rotates: once this request has left, the token sent is spent whatever
//! comes back, so the caller learns whether it left ([`RefreshError::NotSent`] is the
//! only outcome after which the same token may be sent again).

use serde::Deserialize;
use serde_json::Value;

use super::{http_client, Issuer};
use crate::secret::Secret;

/// The new tokens of a refresh; every one secret from the moment it is parsed.
#[derive(Deserialize)]
pub(crate) struct Refreshed {
    pub id_token: Option<Secret>,
    pub access_token: Secret,
    /// The next refresh token (the issuer rotates it; `None` if it kept the old one).
    pub refresh_token: Option<Secret>,
}

/// Why an issuer refused a refresh token, as the real one says it (Codex's source names
/// these); each is permanent for that token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Refusal {
    /// Sent before (by a copy somewhere, or a replay): the issuer revokes the session.
    Reused,
    Expired,
    /// Ended by a sign-out, a password change or a new sign-in that replaced it.
    Invalidated,
    Revoked,
    /// Any other refusal of the token (`invalid_grant`, a 4xx).
    Other,
}

impl Refusal {
    /// What a person does about it.
    pub(crate) fn what_to_do(self) -> &'static str {
        match self {
            Refusal::Reused => {
                "the refresh token was used twice (a copy refreshed on its own, or a replay), so the issuer ended the session: sign in again (`codex-auth login`) and push the new login"
            }
            Refusal::Expired => "the session expired: sign in again (`codex-auth login`)",
            Refusal::Invalidated | Refusal::Revoked => {
                "the session was signed out or replaced: sign in again (`codex-auth login`)"
            }
            Refusal::Other => "the issuer refused the refresh token: sign in again (`codex-auth login`)",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum RefreshError {
    /// The request never left this machine (no connection): the token is unspent.
    #[error("could not reach the issuer: {0}")]
    NotSent(String),
    /// The issuer refused the token.
    #[error("the issuer refused the refresh ({detail})")]
    Refused { refusal: Refusal, detail: String },
    /// The request left, and no usable answer came (a cut, a timeout, a server error,
    /// an answer without tokens): whether the token was spent is unknown.
    #[error("the refresh was sent and its outcome is unknown ({0})")]
    Unknown(String),
}

/// The issuer's error code, from `{"error": "code"}`, `{"error": {"code": ...}}` or
/// `{"error": {"message": ...}}`.
fn error_code(body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let e = v.get("error");
    let code = e
        .and_then(|e| {
            e.as_str()
                .map(str::to_string)
                .or_else(|| e.get("code").and_then(Value::as_str).map(str::to_string))
        })
        .unwrap_or_default();
    let message = e
        .and_then(|e| e.get("message"))
        .or_else(|| v.get("error_description"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(160)
        .collect();
    (code, message)
}

fn classify(status: reqwest::StatusCode, body: &str) -> RefreshError {
    let (code, message) = error_code(body);
    let refusal = match code.as_str() {
        "refresh_token_reused" => Some(Refusal::Reused),
        "refresh_token_expired" => Some(Refusal::Expired),
        "refresh_token_invalidated" => Some(Refusal::Invalidated),
        "token_revoked" | "refresh_token_revoked" => Some(Refusal::Revoked),
        _ if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS => {
            Some(Refusal::Other)
        }
        _ => None,
    };
    let detail = match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{code}: {message}; HTTP {}", status.as_u16()),
        (false, true) => format!("{code}; HTTP {}", status.as_u16()),
        _ => format!("HTTP {}", status.as_u16()),
    };
    match refusal {
        Some(refusal) => RefreshError::Refused { refusal, detail },
        None => RefreshError::Unknown(detail),
    }
}

/// Refresh at `issuer` with `refresh_token`. Call only after the journal says it is
/// about to be sent.
pub(crate) async fn refresh(
    issuer: &Issuer,
    refresh_token: &Secret,
) -> Result<Refreshed, RefreshError> {
    let client = http_client().map_err(|e| RefreshError::NotSent(e.to_string()))?;
    let body = Secret::new(
        serde_json::json!({
            "client_id": issuer.client_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.expose(),
        })
        .to_string(),
    );
    let response = client
        .post(format!("{}/oauth/token", issuer.base))
        .header("content-type", "application/json")
        .body(body.expose().to_string())
        .send()
        .await
        .map_err(|e| {
            let e = e.without_url();
            if e.is_connect() || e.is_builder() {
                RefreshError::NotSent(e.to_string())
            } else {
                RefreshError::Unknown(e.to_string())
            }
        })?;
    let status = response.status();
    let text = Secret::new(
        response
            .text()
            .await
            .map_err(|e| RefreshError::Unknown(e.without_url().to_string()))?,
    );
    if !status.is_success() {
        return Err(classify(status, text.expose()));
    }
    serde_json::from_str::<Refreshed>(text.expose())
        .map_err(|_| RefreshError::Unknown("the issuer's answer has no tokens".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuers_refusals_are_classified() {
        let s = |n| reqwest::StatusCode::from_u16(n).unwrap();
        for (status, body, want) in [
            (
                401,
                r#"{"error":{"code":"refresh_token_reused","message":"used"}}"#,
                Some(Refusal::Reused),
            ),
            (
                401,
                r#"{"error":"refresh_token_expired"}"#,
                Some(Refusal::Expired),
            ),
            (
                401,
                r#"{"error":{"code":"refresh_token_invalidated"}}"#,
                Some(Refusal::Invalidated),
            ),
            (400, r#"{"error":"invalid_grant"}"#, Some(Refusal::Other)),
            (429, r#"{"error":"slow_down"}"#, None),
            (502, "<html>bad gateway</html>", None),
        ] {
            match classify(s(status), body) {
                RefreshError::Refused { refusal, .. } => assert_eq!(Some(refusal), want, "{body}"),
                RefreshError::Unknown(_) => assert_eq!(None, want, "{body}"),
                RefreshError::NotSent(_) => panic!("an answer means it was sent"),
            }
        }
    }
}
