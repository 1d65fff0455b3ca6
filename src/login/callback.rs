//! The sign-in callback server on 127.0.0.1, as `codex login` runs it: hyper serves
//! HTTP/1.1; this module only routes (`/auth/callback`, `/success`, `/cancel`) and hands
//! each callback to the login that waits for it. Pages never echo a query string.
//! Only requests addressed to loopback by name are served (a page elsewhere that
//! rebinds its DNS name to 127.0.0.1 is not), and `/cancel` only from the same origin or
//! a program: a web page the user visits cannot end the sign-in.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// A request to `/auth/callback` with the right state, waiting for its answer page.
pub(super) struct Callback {
    pub query: HashMap<String, String>,
    /// Send the page the browser should show.
    pub reply: oneshot::Sender<Page>,
}

/// What reaches the waiting login.
pub(super) enum Event {
    Callback(Callback),
    Cancelled,
}

/// A page for the browser.
pub(super) struct Page {
    pub status: StatusCode,
    pub title: &'static str,
    pub text: String,
}

impl Page {
    pub(super) fn ok(title: &'static str, text: impl Into<String>) -> Page {
        Page {
            status: StatusCode::OK,
            title,
            text: text.into(),
        }
    }
}

/// Serve `listener` until dropped; callbacks carrying `state` (and `/cancel`) go to `events`.
pub(super) async fn serve(listener: TcpListener, state: String, events: mpsc::Sender<Event>) {
    let state = Arc::new(state);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait a little rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let (state, events) = (state.clone(), events.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (state, events) = (state.clone(), events.clone());
                async move { Ok::<_, Infallible>(route(req, &state, &events).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .header_read_timeout(std::time::Duration::from_secs(10))
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(io, service)
                .await;
        });
    }
}

async fn route(
    req: Request<Incoming>,
    state: &str,
    events: &mpsc::Sender<Event>,
) -> Response<Full<Bytes>> {
    let query = query_params(req.uri().query().unwrap_or(""));
    let refused = |why: &str| Page {
        status: StatusCode::FORBIDDEN,
        title: "Refused",
        text: why.to_string(),
    };
    let page = match req.uri().path() {
        _ if !addressed_to_loopback(req.headers()) => {
            refused("This server answers requests for 127.0.0.1 or localhost only.")
        }
        "/cancel" if from_another_site(req.headers()) => {
            refused("A page of another site cannot cancel this sign-in.")
        }
        "/auth/callback" if query.get("state").map(String::as_str) != Some(state) => Page {
            status: StatusCode::BAD_REQUEST,
            title: "State mismatch",
            text: "This answer does not belong to the login that is waiting. Start the login again from the terminal.".into(),
        },
        "/auth/callback" => {
            let (reply, answer) = oneshot::channel();
            if events.send(Event::Callback(Callback { query, reply })).await.is_err() {
                Page::ok("Login ended", "The login that was waiting here has ended.")
            } else {
                answer.await.unwrap_or_else(|_| {
                    Page::ok("Login ended", "The login that was waiting here has ended.")
                })
            }
        }
        "/success" => Page::ok("Signed in to Codex", "You can close this tab."),
        "/cancel" => {
            let _ = events.send(Event::Cancelled).await;
            Page::ok(
                "Login cancelled",
                "The login that was waiting here has stopped.",
            )
        }
        _ => Page {
            status: StatusCode::NOT_FOUND,
            title: "Not found",
            text: String::new(),
        },
    };
    let mut resp = Response::new(Full::new(Bytes::from(html(page.title, &page.text))));
    *resp.status_mut() = page.status;
    let headers = resp.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    resp
}

/// The request's Host names loopback (`localhost`, `127.0.0.1`, `[::1]`, any port).
fn addressed_to_loopback(headers: &hyper::HeaderMap) -> bool {
    let Some(host) = headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1"
    )
}

/// A browser says the request comes from a page of another origin (`Sec-Fetch-Site`
/// other than `none`/`same-origin`, or an `Origin` that is not loopback). Programs
/// (Codex's own login asking a stale one to stop, ours) send neither.
fn from_another_site(headers: &hyper::HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("?"));
    let site_ok = value("sec-fetch-site").is_none_or(|s| s == "none" || s == "same-origin");
    let origin_ok = value("origin").is_none_or(|o| {
        let rest = o.strip_prefix("http://").unwrap_or("");
        let name = match rest.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => rest.split(':').next().unwrap_or(""),
        };
        matches!(name, "localhost" | "127.0.0.1" | "::1")
    });
    !(site_ok && origin_ok)
}

fn html(title: &str, text: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>{t}</h1><p>{x}</p></body></html>",
        t = esc(title),
        x = esc(text)
    )
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parameters of a query string (`a=b&c=d`), percent-decoded; the first of a
/// repeated key wins.
pub(crate) fn query_params(query: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    for p in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        params
            .entry(percent_decode(k))
            .or_insert_with(|| percent_decode(v));
    }
    params
}

/// Ask the login server on the other end of `stream` (a local socket, or a tunnel to a
/// host's) to stop: `GET /cancel`, as Codex's own login does to a stale one. True when
/// it answered like a login server.
pub(crate) async fn ask_to_cancel<S>(mut stream: S, port: u16) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request =
        format!("GET /cancel HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = vec![0u8; 512];
    let Ok(n) = stream.read(&mut buf).await else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..n]);
    head.starts_with("HTTP/1.") && head.contains(" 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> hyper::HeaderMap {
        let mut h = hyper::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_loopback_hosts_are_served() {
        for ok in [
            "localhost:1455",
            "127.0.0.1:1455",
            "[::1]:1457",
            "LOCALHOST:1455",
            "localhost",
        ] {
            assert!(addressed_to_loopback(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in [
            "evil.example:1455",
            "127.0.0.1.evil:1455",
            "localhost.evil",
            "[::2]:1455",
            "",
        ] {
            assert!(!addressed_to_loopback(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(!addressed_to_loopback(&headers(&[])));
    }

    #[test]
    fn cancel_is_refused_to_other_sites_only() {
        assert!(!from_another_site(&headers(&[])));
        assert!(!from_another_site(&headers(&[("sec-fetch-site", "none")])));
        assert!(!from_another_site(&headers(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://localhost:1455")
        ])));
        assert!(from_another_site(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        assert!(from_another_site(&headers(&[(
            "sec-fetch-site",
            "same-site"
        )])));
        assert!(from_another_site(&headers(&[(
            "origin",
            "https://evil.example"
        )])));
        assert!(from_another_site(&headers(&[("origin", "null")])));
        assert!(from_another_site(&headers(&[(
            "origin",
            "http://localhost.evil:1455"
        )])));
    }

    #[test]
    fn query_decoding() {
        let q = query_params("a=b%20c&d=e+f&g=%zz&h&a=second&t=%e2%9c%93&x=%4");
        assert_eq!(q["a"], "b c");
        assert_eq!(q["d"], "e f");
        assert_eq!(q["g"], "%zz");
        assert_eq!(q["h"], "");
        assert_eq!(q["t"], "✓");
        assert_eq!(q["x"], "%4");
    }

    #[test]
    fn queries_take_the_odd_inputs() {
        for (_, text) in crate::test_inputs::odd_texts() {
            let _ = query_params(crate::test_inputs::head(&text, 1 << 20));
            let _ = crate::login::redirect_port(crate::test_inputs::head(&text, 1 << 20));
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_inputs::config())]
        #[test]
        fn queries_never_panic(
            text in crate::test_inputs::text_from(
                &["%", "%4", "%41", "%zz", "%e2%9c", "&", "=", "+", "?", "redirect_uri", "http://localhost:", "1455", "/auth/callback", "é"],
                40,
            )
        ) {
            let _ = query_params(&text);
            let _ = crate::login::redirect_port(&text);
        }
    }

    /// Send `raw` to the server and read until it closes; how the answer starts.
    async fn exchange(port: u16, raw: &[u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (mut rd, mut wr) = s.split();
        let send = async {
            let _ = wr.write_all(raw).await;
            let _ = wr.shutdown().await;
        };
        let mut answer = Vec::new();
        let read = async {
            let mut buf = [0u8; 4096];
            while let Ok(n) = rd.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
            }
        };
        let bounded = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            tokio::join!(send, read)
        });
        assert!(bounded.await.is_ok(), "the server held the connection");
        String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned()
    }

    #[tokio::test]
    async fn the_server_answers_or_closes_on_any_request_and_keeps_serving() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (events, mut waiting) = mpsc::channel(4);
        let server = tokio::spawn(serve(listener, "st".into(), events));
        let mut odd: Vec<Vec<u8>> = crate::test_inputs::odd_inputs()
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        odd.push(
            b"GET /auth/callback?state=\xff\x00%zz&code=%00 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        );
        odd.push(format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(1 << 20)).into_bytes());
        odd.push(format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "b".repeat(1 << 20)).into_bytes());
        odd.push(b"GET /success HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nabc".to_vec());
        for raw in &odd {
            let head = String::from_utf8_lossy(&raw[..raw.len().min(40)]).into_owned();
            let answer = exchange(port, raw).await;
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 "),
                "{head:?}: {answer:?}"
            );
        }
        // None of that reached the login; a real answer still does.
        assert!(waiting.try_recv().is_err());
        let answer = exchange(port, b"GET /success HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        server.abort();
    }
}
