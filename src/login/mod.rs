//! Producing credentials: the browser login (PKCE, a callback server on 127.0.0.1), the
//! device-code login, and the token exchanges behind both, as `codex login` does them.
//! The issuer and client id are configurable (tests run their own issuer; gateways).
//! Never prints: URLs and codes go to a [`LoginUi`].

mod browser;
mod callback;
mod device;
mod refresh;
mod revoke;
mod tokens;

pub(crate) use callback::ask_to_cancel;
pub(crate) use refresh::{refresh, RefreshError};
pub(crate) use revoke::revoke_refresh_token;

use std::time::Duration;

use crate::auth::AuthFile;
use crate::encoding::RandomUnavailable;

pub(crate) const DEFAULT_ISSUER: &str = "https://auth.openai.com";
pub(crate) const DEFAULT_CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

/// The only callback ports registered for Codex's client id: 1455, else 1457.
pub(crate) const REDIRECT_PORTS: [u16; 2] = [1455, 1457];

#[derive(Clone, Debug)]
pub(crate) struct Issuer {
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

/// How to sign in: the issuer, browser or device code, and how long to wait.
#[derive(Clone, Debug)]
pub(crate) struct Flow {
    pub issuer: Issuer,
    pub device: bool,
    /// Print the URL only; do not start a browser.
    pub no_browser: bool,
    /// How long the browser flow waits for the callback.
    pub timeout: Duration,
}

/// Where a login shows what the user must do.
pub(crate) trait LoginUi: Send + Sync {
    /// The URL to open (always shown, also when a browser was started).
    fn authorize_url(&self, for_target: Option<&str>, url: &str, browser_started: bool);
    /// The device code and where to enter it.
    fn device_code(&self, for_target: Option<&str>, url: &str, code: &str);
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LoginError {
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
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
}

impl From<LoginError> for crate::error::AppError {
    fn from(e: LoginError) -> Self {
        crate::error::AppError::failed(e.to_string(), e.hint().map(str::to_string))
    }
}

impl LoginError {
    pub(crate) fn hint(&self) -> Option<&'static str> {
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
pub(crate) async fn login(
    opts: &Flow,
    ui: &dyn LoginUi,
    for_target: Option<&str>,
) -> Result<AuthFile, LoginError> {
    if opts.device {
        device::run(opts, ui, for_target).await
    } else {
        browser::run(opts, ui, for_target).await
    }
}

/// Why a sign-in URL another machine printed is not opened here.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UntrustedUrl {
    /// Not `{issuer}/oauth/authorize?...` of the issuer expected.
    Issuer,
    /// Its redirect is not to 127.0.0.1/localhost on one of Codex's ports.
    Redirect,
}

/// The callback port of a sign-in URL that a host's `codex login` printed, when the URL
/// may be opened here: printable ASCII only, `{issuer}/oauth/authorize?` of the issuer
/// expected (https, or http on loopback as the command line allows it), and a redirect
/// to localhost on one of Codex's ports (the one port then bound here). Anything else a
/// host prints (another scheme, another site, a port of its choosing) is refused.
pub(crate) fn trusted_sign_in_url(url: &str, issuer: &Issuer) -> Result<u16, UntrustedUrl> {
    let prefix = format!("{}/oauth/authorize?", issuer.base);
    if !url.starts_with(&prefix) || !url.chars().all(|c| c.is_ascii_graphic()) {
        return Err(UntrustedUrl::Issuer);
    }
    redirect_port(url)
        .filter(|p| REDIRECT_PORTS.contains(p))
        .ok_or(UntrustedUrl::Redirect)
}

/// The callback port an authorize URL's `redirect_uri` names (1455 or 1457), as the
/// login server that printed it listens.
pub(crate) fn redirect_port(url: &str) -> Option<u16> {
    let (_, query) = url.split_once('?')?;
    let params = callback::query_params(query);
    let redirect = params.get("redirect_uri")?;
    let after = redirect
        .strip_prefix("http://localhost:")
        .or_else(|| redirect.strip_prefix("http://127.0.0.1:"))?;
    after.split('/').next()?.parse().ok()
}

/// An HTTP client for the issuer (rustls with ring, the system's roots).
fn http_client() -> Result<reqwest::Client, LoginError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        // A token goes to the issuer named and nowhere else, whatever it answers.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("codex-auth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LoginError::Network(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_expected_issuers_urls_to_codexs_ports_are_trusted() {
        let openai = Issuer::default();
        let good = "https://auth.openai.com/oauth/authorize?response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A1457%2Fauth%2Fcallback&state=x";
        assert_eq!(trusted_sign_in_url(good, &openai), Ok(1457));
        for (url, why) in [
            ("smb://auth.openai.com/oauth/authorize?redirect_uri=http%3A%2F%2Flocalhost%3A1455%2F", UntrustedUrl::Issuer),
            ("https://auth.openai.com.evil/oauth/authorize?redirect_uri=http%3A%2F%2Flocalhost%3A1455%2F", UntrustedUrl::Issuer),
            ("https://evil/oauth/authorize?x=https://auth.openai.com/oauth/authorize?", UntrustedUrl::Issuer),
            ("http://auth.openai.com/oauth/authorize?redirect_uri=http%3A%2F%2Flocalhost%3A1455%2F", UntrustedUrl::Issuer),
            ("https://auth.openai.com/oauth/authorize?redirect_uri=http%3A%2F%2Flocalhost%3A1455%2F\u{1b}]52", UntrustedUrl::Issuer),
            ("https://auth.openai.com/oauth/authorize?redirect_uri=http%3A%2F%2Flocalhost%3A22%2F", UntrustedUrl::Redirect),
            ("https://auth.openai.com/oauth/authorize?redirect_uri=http%3A%2F%2Fevil%3A1455%2F", UntrustedUrl::Redirect),
            ("https://auth.openai.com/oauth/authorize?state=x", UntrustedUrl::Redirect),
        ] {
            assert_eq!(trusted_sign_in_url(url, &openai), Err(why), "{url}");
        }
        let test_issuer = Issuer {
            base: "http://127.0.0.1:9".into(),
            client_id: "c".into(),
        };
        let local = "http://127.0.0.1:9/oauth/authorize?redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback";
        assert_eq!(trusted_sign_in_url(local, &test_issuer), Ok(1455));
        assert_eq!(
            trusted_sign_in_url(local, &openai),
            Err(UntrustedUrl::Issuer)
        );
    }

    #[test]
    fn redirect_port_of_codex_urls() {
        let url = "https://auth.openai.com/oauth/authorize?response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A1457%2Fauth%2Fcallback&state=x";
        assert_eq!(redirect_port(url), Some(1457));
        let url = "https://i/oauth/authorize?redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fauth%2Fcallback";
        assert_eq!(redirect_port(url), Some(1455));
        assert_eq!(redirect_port("https://i/oauth/authorize?state=x"), None);
    }
}
