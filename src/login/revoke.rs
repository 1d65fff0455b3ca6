//! Ending a ChatGPT session at the issuer, as `codex logout` does: the refresh token is
//! revoked (`POST {issuer}/oauth/revoke`, JSON with the token, `token_type_hint` =
//! `refresh_token` and the client id), which signs out every place holding a copy.

use crate::secret::Secret;

use super::{http_client, Issuer, LoginError};

/// Revoke `refresh_token` at `issuer`.
pub(crate) async fn revoke_refresh_token(
    issuer: &Issuer,
    refresh_token: &Secret,
) -> Result<(), LoginError> {
    let client = http_client()?;
    let body = serde_json::json!({
        "token": refresh_token.expose(),
        "token_type_hint": "refresh_token",
        "client_id": issuer.client_id,
    });
    let response = client
        .post(format!("{}/oauth/revoke", issuer.base))
        .json(&body)
        .send()
        .await
        .map_err(|e| LoginError::Network(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let first = text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect::<String>();
    Err(LoginError::Issuer(format!(
        "the issuer answered {status} to the revocation: {first}"
    )))
}
