//! The web adapter: supervisord's page URLs and warden's live dashboard.
//!
//! ```text
//! GET|POST /, /index.html   ?action=...&processname=...  supervisord's
//!                            actions, answered with its 301 and message
//!                            (actions.rs); without an action, the dashboard
//! GET  /tail.html            supervisord's tail page
//! GET  /assets/app.js|.css   the dashboard's code and style (embedded)
//! GET  /api/status           a JSON snapshot: supervisor and processes
//! GET  /api/events           server-sent events: the snapshot, then every
//!                            change from a subscription (events.rs)
//! GET  /api/log?name=|main=1 server-sent events: a log, followed live
//! POST /api/action           the dashboard's actions (JSON, same origin)
//! /api/v1/...                the documented JSON API and its event stream
//!                            (v1.rs, described by /api/v1/openapi.json)
//! ```
//!
//! # Cross-site requests
//!
//! A page elsewhere must not make a logged-in browser change anything. A
//! browser says where a request comes from (`Sec-Fetch-Site`; older ones
//! `Origin` or at least `Referer`); a request it marks as coming from
//! another site or origin is refused with 403 on every state-changing URL. Clients that are not browsers (curl,
//! scripts) send neither header and keep working. The dashboard's own
//! actions also must be `application/json`, which a cross-origin form cannot
//! send and a cross-origin script cannot send without a CORS preflight that
//! is never granted.

pub mod actions;
mod events;
pub mod v1;

use std::rc::Rc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use warden_types::Namespec;

use crate::core::api::{self, Reply};
use crate::core::handle::Handle;
use crate::http::{full, Body};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// What the pages share: the engine and when the server started.
pub struct Web {
    handle: Handle,
    started: i64,
    /// The change events kept for `/api/v1/events` resumption.
    v1: Rc<v1::Backlog>,
}

impl Web {
    /// The web adapter over `handle`; the supervisor's uptime counts from now.
    #[must_use]
    pub fn new(handle: Handle) -> Web {
        Web {
            v1: v1::Backlog::start(&handle),
            handle,
            started: unix_now(),
        }
    }
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Web {
    /// When the supervisor started, Unix seconds.
    pub(crate) fn started(&self) -> i64 {
        self.started
    }
}

/// Whether this adapter answers `method` on `path`.
pub(crate) fn serves(method: &Method, path: &str) -> bool {
    if path.starts_with("/api/v1/") {
        return v1::serves(method, path);
    }
    let get = method == Method::GET;
    match path {
        "/" | "/index.html" => get || method == Method::POST,
        "/tail.html" | "/assets/app.js" | "/assets/app.css" | "/api/status" | "/api/events"
        | "/api/log" => get,
        "/api/action" => method == Method::POST,
        _ => false,
    }
}

/// The form of a request: the query, then (for a POST) the urlencoded body
/// over it; the first value of a name wins and empty values are left out,
/// as supervisord's `parse_qs` does.
#[derive(Debug, Default, Clone)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    fn parse(query: &[u8], body: &[u8]) -> Form {
        let mut form = Form::default();
        for part in [body, query] {
            for (k, v) in form_urlencoded::parse(part) {
                if !v.is_empty() && form.get(&k).is_none() {
                    form.0.push((k.into_owned(), v.into_owned()));
                }
            }
        }
        form
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether a browser says this request comes from another site or origin
/// (see the module docs). No header at all: not a browser, not refused.
pub(crate) fn cross_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = header(headers, "sec-fetch-site") {
        // "none": typed into the address bar or a bookmark
        return !matches!(site, "same-origin" | "none");
    }
    let host = header(headers, "host").unwrap_or("");
    // the authority of an `http(s)://authority[/...]` URL
    let authority = |url: &str| {
        url.strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .map(|rest| rest.split('/').next().unwrap_or(""))
            .map(str::to_owned)
    };
    if let Some(origin) = header(headers, "origin") {
        return authority(origin).as_deref() != Some(host) || host.is_empty();
    }
    // Browsers without Sec-Fetch-Site still send a Referer with a link or
    // an image from another page (its origin at least).
    if let Some(referer) = header(headers, "referer") {
        return authority(referer).as_deref() != Some(host) || host.is_empty();
    }
    false
}

/// supervisord's `SERVER_URL`: `http://` and the `Host` header, without a
/// default port.
fn server_url(headers: &HeaderMap) -> String {
    let host = header(headers, "host").map_or("localhost", str::trim);
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && (p.is_empty() || p == "80") => h,
        _ => host,
    };
    format!("http://{host}")
}

/// Python's `urllib.parse.quote` with its default `safe='/'`.
const QUOTE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

pub(crate) fn quote(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUOTE).to_string()
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = full(status, ctype, body);
    let h = r.headers_mut();
    h.insert(
        "Cache-Control",
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    h.insert(
        "X-Content-Type-Options",
        hyper::header::HeaderValue::from_static("nosniff"),
    );
    r
}

fn forbidden() -> Response<Body> {
    page(
        StatusCode::FORBIDDEN,
        "text/plain;charset=utf-8",
        "refused: this request comes from another site (Origin / Sec-Fetch-Site)",
    )
}

/// Answers a request that [`serves`] accepted.
pub(crate) async fn answer(
    req: Request<Incoming>,
    web: &Rc<Web>,
    max_body: usize,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").as_bytes().to_vec();
    let body = if parts.method == Method::POST {
        match http_body_util::Limited::new(body, max_body).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "text/plain",
                    "request body too large",
                )
            }
        }
    } else {
        Bytes::new()
    };
    let h = &parts.headers;
    if path.starts_with("/api/v1/") {
        return v1::answer(web, &parts.method, &path, &query, h, &body).await;
    }
    match path.as_str() {
        "/" | "/index.html" => {
            let form = Form::parse(&query, if is_json(h) { b"" } else { &body });
            if form.get("action").is_none() {
                return dashboard();
            }
            if cross_origin(h) {
                return forbidden();
            }
            match actions::legacy(&web.handle, &form).await {
                Ok(message) => {
                    let location = format!("{}/?message={}", server_url(h), quote(&message));
                    let mut r = page(
                        StatusCode::MOVED_PERMANENTLY,
                        "text/html",
                        format!(
                            "<html><body><a href=\"{0}\">{0}</a></body></html>",
                            html_escape(&location)
                        ),
                    );
                    if let Ok(v) = location.parse() {
                        r.headers_mut().insert("Location", v);
                    }
                    r
                }
                Err(why) => page(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", why),
            }
        }
        "/tail.html" => tail_page(&web.handle, &Form::parse(&query, b"")).await,
        "/assets/app.js" => page(StatusCode::OK, "text/javascript;charset=utf-8", APP_JS),
        "/assets/app.css" => page(StatusCode::OK, "text/css;charset=utf-8", APP_CSS),
        "/api/status" => match events::snapshot(web).await {
            Some(v) => page(StatusCode::OK, "application/json", v.to_string()),
            None => page(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "shutting down",
            ),
        },
        "/api/events" => events::status_stream(web.clone()),
        "/api/log" => events::log_stream(&web.handle, &Form::parse(&query, b"")).await,
        "/api/action" => {
            if cross_origin(h) {
                return forbidden();
            }
            if !is_json(h) {
                return page(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "text/plain",
                    "actions are JSON: Content-Type: application/json",
                );
            }
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
                return page(
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    "the body is not JSON",
                );
            };
            let (status, reply) = actions::dashboard(&web.handle, &v).await;
            page(status, "application/json", reply.to_string())
        }
        _ => page(StatusCode::NOT_FOUND, "text/html", "Not Found"),
    }
}

fn is_json(h: &HeaderMap) -> bool {
    header(h, "content-type")
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"))
}

fn dashboard() -> Response<Body> {
    let mut r = page(StatusCode::OK, "text/html;charset=utf-8", INDEX_HTML);
    let h = r.headers_mut();
    // The page runs only its own script and style, and cannot be framed.
    h.insert(
        "Content-Security-Policy",
        hyper::header::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(
        "X-Frame-Options",
        hyper::header::HeaderValue::from_static("DENY"),
    );
    r
}

/// supervisord's `tail.html`: the last `limit` bytes (at least 1024) of a
/// process's stdout log, on a page with a refresh link.
async fn tail_page(handle: &Handle, form: &Form) -> Response<Body> {
    let name = form.get("processname");
    let limit = form
        .get("limit")
        .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(1024)
        .max(1024);
    let text = match name {
        None => "No process name found".to_string(),
        Some(name) => {
            let req = api::Request::ReadLog {
                process: Namespec::parse(name),
                channel: api::Channel::Stdout,
                offset: -limit,
                length: 0,
            };
            match handle.call(req).await {
                Ok(Ok(Reply::Bytes(b))) => String::from_utf8_lossy(&b).into_owned(),
                Ok(Ok(Reply::Text(t))) => t,
                Ok(Ok(_)) => String::new(),
                Ok(Err(e)) if e.kind == api::ErrorKind::NoFile => format!("No file for {name}"),
                Ok(Err(e)) => {
                    let f = crate::xmlrpc::fault(e, name);
                    format!("ERROR: unexpected rpc fault [{}] {}", f.code, f.string)
                }
                Err(_) => "ERROR: the supervisor is shutting down".to_string(),
            }
        }
    };
    let title = format!("Supervisor tail of process {}", name.unwrap_or("None"));
    let refresh = name.map_or_else(String::new, |n| {
        format!(
            "<p><a href=\"tail.html?processname={}&amp;limit={limit}\">Refresh</a> · <a href=\"./\">Dashboard</a></p>",
            html_escape(&quote(n))
        )
    });
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title><link rel=\"stylesheet\" href=\"assets/app.css\"></head><body class=\"tailpage\"><h1>{t}</h1><pre class=\"log\">{}</pre>{refresh}</body></html>\n",
        html_escape(&text),
        t = html_escape(&title),
    );
    page(StatusCode::OK, "text/html;charset=utf-8", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn cross_origin_rules() {
        assert!(!cross_origin(&headers(&[])), "curl sends neither header");
        assert!(!cross_origin(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!cross_origin(&headers(&[("sec-fetch-site", "none")])));
        assert!(cross_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(cross_origin(&headers(&[("sec-fetch-site", "same-site")])));
        let same = headers(&[
            ("host", "127.0.0.1:9001"),
            ("origin", "http://127.0.0.1:9001"),
        ]);
        assert!(!cross_origin(&same));
        let other = headers(&[
            ("host", "127.0.0.1:9001"),
            ("origin", "http://evil.example"),
        ]);
        assert!(cross_origin(&other));
        assert!(cross_origin(&headers(&[("origin", "null")])));
        let link = headers(&[("host", "h:9001"), ("referer", "http://evil.example/page")]);
        assert!(cross_origin(&link));
        let own = headers(&[("host", "h:9001"), ("referer", "http://h:9001/?message=x")]);
        assert!(!cross_origin(&own));
    }

    #[test]
    fn form_first_value_wins_and_blanks_are_dropped() {
        let f = Form::parse(b"action=stop&processname=a%3Ab&action=start&x=", b"");
        assert_eq!(f.get("action"), Some("stop"));
        assert_eq!(f.get("processname"), Some("a:b"));
        assert_eq!(f.get("x"), None);
        let f = Form::parse(b"action=stop", b"action=start");
        assert_eq!(f.get("action"), Some("start"), "the body wins");
    }

    #[test]
    fn quote_and_server_url_as_supervisord() {
        assert_eq!(quote("Process a:b stopped"), "Process%20a%3Ab%20stopped");
        assert_eq!(quote("x/y_z.-~"), "x/y_z.-~");
        assert_eq!(server_url(&headers(&[("host", "h:80")])), "http://h");
        assert_eq!(server_url(&headers(&[("host", "h:9001")])), "http://h:9001");
        assert_eq!(server_url(&headers(&[])), "http://localhost");
    }
}
