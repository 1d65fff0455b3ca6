//! The sign-in callback server on 127.0.0.1, as `codex login` runs it: hyper serves
//! HTTP/1.1; this module only routes (`/auth/callback`, `/success`, `/cancel`) and hands
//! each callback to the login that waits for it. Pages never echo a query string.

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
    let page = match req.uri().path() {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
