//! Producing credentials: the browser login (PKCE, a callback server on 127.0.0.1), the
//! device-code login, and the token exchanges behind both, as `codex login` does them.
//! The issuer and client id are configurable (tests run their own issuer; gateways).
//! Never prints: URLs and codes go to a [`LoginUi`].

pub mod browser;
pub mod device;
mod tokens;

use std::time::Duration;

use crate::auth::AuthFile;

pub const DEFAULT_ISSUER: &str = "https://auth.openai.com";
pub const DEFAULT_CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

#[derive(Clone, Debug)]
pub struct Issuer {
    /// Base URL without a trailing slash.
    pub base: String,
    pub client_id: String,
}

impl Default for Issuer {
    fn default() -> Self {
        Issuer {
            base: DEFAULT_ISSUER.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
        }
    }
}

/// How to log in.
#[derive(Clone, Debug)]
pub struct LoginOptions {
    pub issuer: Issuer,
    pub device: bool,
    /// Print the URL only; do not start a browser.
    pub no_browser: bool,
    /// How long the browser flow waits for the callback.
    pub timeout: Duration,
}

/// Where a login shows what the user must do.
pub trait LoginUi: Send + Sync {
    /// The URL to open (always shown, also when a browser was started).
    fn authorize_url(&self, for_target: Option<&str>, url: &str, browser_started: bool);
    /// The device code and where to enter it.
    fn device_code(&self, for_target: Option<&str>, url: &str, code: &str);
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("ports 1455 and 1457 on 127.0.0.1 are both in use, and Codex's redirect allows no other port")]
    PortsBusy,
    #[error("cannot listen on 127.0.0.1:{port}: {detail}")]
    Bind { port: u16, detail: String },
    #[error("no answer from the browser within {0} s")]
    Timeout(u64),
    #[error("the sign-in was refused: {0}")]
    Issuer(String),
    #[error("the login was cancelled (another login took over the port)")]
    Cancelled,
    #[error("token exchange failed: {0}")]
    Exchange(String),
    #[error("cannot reach the issuer: {0}")]
    Network(String),
    #[error("device-code login is not enabled for this account")]
    DeviceNotEnabled,
    #[error("the device code expired before it was entered (15 minutes)")]
    DeviceExpired,
}

impl LoginError {
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            LoginError::PortsBusy => "finish or stop the other login (`codex login`?) first",
            LoginError::Timeout(_) => "run the login again and finish it in the browser",
            LoginError::DeviceNotEnabled => {
                "enable device code login in ChatGPT: Settings > Security, then run again (or use the browser login)"
            }
            LoginError::DeviceExpired => "run the login again and enter the code sooner",
            LoginError::Network(_) => "check the network, or --issuer",
            _ => return None,
        })
    }
}

/// Run the login the options ask for and return the new credentials.
pub async fn login(
    opts: &LoginOptions,
    ui: &dyn LoginUi,
    for_target: Option<&str>,
) -> Result<AuthFile, LoginError> {
    if opts.device {
        device::run(opts, ui, for_target).await
    } else {
        browser::run(opts, ui, for_target).await
    }
}

/// An HTTP client for the issuer (rustls with ring, the system's roots).
fn http_client() -> Result<reqwest::Client, LoginError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("codex-auth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LoginError::Network(e.to_string()))
}

pub(crate) fn random_b64(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // getrandom only fails when the OS has no entropy source at all.
    let _ = getrandom::fill(&mut buf);
    data_encoding::BASE64URL_NOPAD.encode(&buf)
}

/// A short random name part for temp files.
pub(crate) fn random_suffix() -> String {
    random_b64(9)
}
