//! The device-code login: ask the issuer for a code, show it with the URL to enter it
//! at (from any device), poll at the interval the issuer gives, stop after 15 minutes,
//! then exchange the authorization code like the browser flow does.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{http_client, tokens, Flow, LoginError, LoginUi};
use crate::auth::AuthFile;

const DEVICE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn interval_of(v: &Value) -> Duration {
    let secs = match v.get("interval") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Duration::from_secs(secs.unwrap_or(5).clamp(1, 60))
}

pub(super) async fn run(
    opts: &Flow,
    ui: &dyn LoginUi,
    for_target: Option<&str>,
) -> Result<AuthFile, LoginError> {
    let client = http_client()?;
    let base = &opts.issuer.base;
    let resp = client
        .post(format!("{base}/api/accounts/deviceauth/usercode"))
        .json(&json!({ "client_id": opts.issuer.client_id }))
        .send()
        .await
        .map_err(|e| LoginError::Network(e.without_url().to_string()))?;
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Err(LoginError::DeviceNotEnabled);
    }
    if !resp.status().is_success() {
        return Err(LoginError::Issuer(format!(
            "device code request refused (HTTP {})",
            resp.status()
        )));
    }
    let v: Value = resp
        .json()
        .await
        .map_err(|_| LoginError::Issuer("the device code answer is not JSON".into()))?;
    let device_auth_id = v
        .get("device_auth_id")
        .and_then(Value::as_str)
        .ok_or_else(|| LoginError::Issuer("no device_auth_id in the answer".into()))?
        .to_string();
    let user_code = v
        .get("user_code")
        .or_else(|| v.get("usercode"))
        .and_then(Value::as_str)
        .ok_or_else(|| LoginError::Issuer("no user_code in the answer".into()))?
        .to_string();
    let interval = interval_of(&v);
    ui.device_code(for_target, &format!("{base}/codex/device"), &user_code);

    let deadline = Instant::now() + DEVICE_TIMEOUT;
    loop {
        tokio::time::sleep(interval).await;
        if Instant::now() > deadline {
            return Err(LoginError::DeviceExpired);
        }
        let resp = client
            .post(format!("{base}/api/accounts/deviceauth/token"))
            .json(&json!({ "device_auth_id": device_auth_id, "user_code": user_code }))
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            // A dropped poll is retried at the next interval.
            Err(_) => continue,
        };
        let status = resp.status();
        if status == reqwest::StatusCode::FORBIDDEN || status == reqwest::StatusCode::NOT_FOUND {
            continue; // not yet entered
        }
        if !status.is_success() {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let what = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("refused")
                .to_string();
            if what.contains("expired") {
                return Err(LoginError::DeviceExpired);
            }
            return Err(LoginError::Issuer(format!("{what} (HTTP {status})")));
        }
        let v: Value = resp
            .json()
            .await
            .map_err(|_| LoginError::Issuer("the device token answer is not JSON".into()))?;
        let code = v.get("authorization_code").and_then(Value::as_str);
        let verifier = v.get("code_verifier").and_then(Value::as_str);
        let (Some(code), Some(verifier)) = (code, verifier) else {
            return Err(LoginError::Issuer(
                "the device token answer has no authorization code".into(),
            ));
        };
        let redirect_uri = format!("{base}/deviceauth/callback");
        return tokens::finish(&client, &opts.issuer, code, &redirect_uri, verifier).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_comes_as_string_or_number() {
        assert_eq!(
            interval_of(&json!({"interval": "3"})),
            Duration::from_secs(3)
        );
        assert_eq!(interval_of(&json!({"interval": 2})), Duration::from_secs(2));
        assert_eq!(interval_of(&json!({})), Duration::from_secs(5));
        assert_eq!(
            interval_of(&json!({"interval": "0"})),
            Duration::from_secs(1)
        );
    }
}
