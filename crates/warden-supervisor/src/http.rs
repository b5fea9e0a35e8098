//! HTTP front end: `POST /RPC2`, `GET /logtail/<name>[/stdout|/stderr]`,
//! `GET /mainlogtail`, on the unix socket and the TCP port, with Basic auth
//! (plain or `{SHA}` passwords).
//!
//! Every connection is a local task; calls go to the engine over a channel
//! and wait for their answer there, so a deferred call never blocks another
//! request. Log tails wake only when the sink reports new bytes.

use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use tokio::sync::{mpsc, oneshot};
use warden_config::{Config, Credentials};

use crate::engine::Cmd;
use crate::logs::Sink;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Listening servers; dropping it stops accepting.
pub struct Servers {
    accept: Vec<tokio::task::JoinHandle<()>>,
    graceful: Option<Rc<hyper_util::server::graceful::GracefulShutdown>>,
}

impl Servers {
    /// Stops accepting, then lets every connection finish the response it
    /// is writing (the answer to a `shutdown` call, say) and closes it;
    /// returns when all are closed, or after `limit` (a `tail -f` stream
    /// never finishes by itself).
    pub async fn shutdown(mut self, limit: std::time::Duration) {
        let accept = std::mem::take(&mut self.accept);
        for h in &accept {
            h.abort();
        }
        // Once the accept loops are gone, their handles on the graceful
        // shutdown are too, and it can be taken back.
        for h in accept {
            let _ = h.await;
        }
        if let Some(g) = self.graceful.take().and_then(|g| Rc::try_unwrap(g).ok()) {
            let _ = tokio::time::timeout(limit, g.shutdown()).await;
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for h in &self.accept {
            h.abort();
        }
    }
}

struct Shared {
    tx: mpsc::UnboundedSender<Cmd>,
    creds: Credentials,
}

/// Binds every configured server and starts serving.
///
/// # Errors
///
/// A message for the main log when a socket cannot be bound.
pub fn start(config: &Config, tx: mpsc::UnboundedSender<Cmd>) -> Result<Servers, String> {
    let busy = "Another program is already listening on a port that one of our HTTP servers is configured to use.  Shut this program down first before starting supervisord.";
    let mut handles = Vec::new();
    let graceful = Rc::new(hyper_util::server::graceful::GracefulShutdown::new());
    for s in &config.unix_http_servers {
        if std::os::unix::net::UnixStream::connect(&s.file).is_ok() {
            return Err(busy.into());
        }
        let _ = std::fs::remove_file(&s.file);
        let l = std::os::unix::net::UnixListener::bind(&s.file)
            .map_err(|e| format!("Cannot open an HTTP server: socket.error reported {e}"))?;
        std::fs::set_permissions(&s.file, std::fs::Permissions::from_mode(s.chmod))
            .map_err(|e| format!("Could not change permissions of socket file: {e}"))?;
        if let Some((uid, gid)) = s.chown {
            std::os::unix::fs::chown(&s.file, Some(uid), gid)
                .map_err(|e| format!("Could not change ownership of socket file: {e}"))?;
        }
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        let l = tokio::net::UnixListener::from_std(l).map_err(|e| e.to_string())?;
        let shared = Rc::new(Shared {
            tx: tx.clone(),
            creds: s.credentials.clone(),
        });
        let g = graceful.clone();
        handles.push(tokio::task::spawn_local(async move {
            while let Ok((stream, _)) = l.accept().await {
                serve(
                    hyper_util::rt::TokioIo::new(stream),
                    shared.clone(),
                    g.watcher(),
                );
            }
        }));
    }
    for s in &config.inet_http_servers {
        let host = if s.host.is_empty() || s.host == "*" {
            "0.0.0.0"
        } else {
            s.host.as_str()
        };
        let l = std::net::TcpListener::bind((host, s.port)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                busy.to_string()
            } else {
                format!("Cannot open an HTTP server: socket.error reported {e}")
            }
        })?;
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        let l = tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string())?;
        let shared = Rc::new(Shared {
            tx: tx.clone(),
            creds: s.credentials.clone(),
        });
        let g = graceful.clone();
        handles.push(tokio::task::spawn_local(async move {
            while let Ok((stream, _)) = l.accept().await {
                let _ = stream.set_nodelay(true);
                serve(
                    hyper_util::rt::TokioIo::new(stream),
                    shared.clone(),
                    g.watcher(),
                );
            }
        }));
    }
    Ok(Servers {
        accept: handles,
        graceful: Some(graceful),
    })
}

fn serve<I>(io: I, shared: Rc<Shared>, watcher: hyper_util::server::graceful::Watcher)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    tokio::task::spawn_local(async move {
        let svc = hyper::service::service_fn(move |req| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(handle(req, &shared).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, svc);
        let _ = watcher.watch(conn).await;
    });
}

fn full(status: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", ctype)
        .body(Full::new(body.into()).boxed_unsync())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed_unsync()))
}

/// Whether the request's Basic credentials match `creds`.
pub fn authorized(creds: &Credentials, header: Option<&str>) -> bool {
    use base64::Engine as _;
    let Some(user) = &creds.username else {
        return true;
    };
    let Some(b64) = header.and_then(|h| h.strip_prefix("Basic ")) else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let raw = String::from_utf8_lossy(&raw);
    let Some((u, p)) = raw.split_once(':') else {
        return false;
    };
    let want = creds.password.clone().unwrap_or_default();
    let pass_ok = match want.strip_prefix("{SHA}") {
        Some(hex) => {
            sha1_smol::Sha1::from(p.as_bytes()).digest().to_string() == hex.to_ascii_lowercase()
        }
        None => p == want,
    };
    u == user && pass_ok
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Body> {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if !authorized(&shared.creds, auth) {
        let mut r = full(StatusCode::UNAUTHORIZED, "text/html", "Unauthorized");
        if let Ok(v) = "Basic realm=\"default\"".parse() {
            r.headers_mut().insert("WWW-Authenticate", v);
        }
        return r;
    }
    let path = req.uri().path().to_string();
    if path == "/RPC2" && req.method() == hyper::Method::POST {
        let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
            return full(StatusCode::BAD_REQUEST, "text/plain", "bad request");
        };
        return rpc(&body, shared).await;
    }
    if req.method() == hyper::Method::GET {
        if path == "/mainlogtail" {
            return tail(None, shared).await;
        }
        if let Some(rest) = path.strip_prefix("/logtail/") {
            let rest = percent_decode(rest);
            let (name, stderr) = match rest.rsplit_once('/') {
                Some((n, "stderr")) => (n.to_string(), true),
                Some((n, "stdout")) => (n.to_string(), false),
                _ => (rest.clone(), false),
            };
            return tail(Some((name, stderr)), shared).await;
        }
        if path == "/" || path == "/index.html" {
            return full(
                StatusCode::OK,
                "text/html",
                "<html><body><h1>warden supervise</h1><p>Use supervisorctl or XML-RPC at /RPC2.</p></body></html>",
            );
        }
    }
    full(StatusCode::NOT_FOUND, "text/html", "Not Found")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn rpc(body: &[u8], shared: &Shared) -> Response<Body> {
    let call = match warden_xmlrpc::parse_call(body) {
        Ok(c) => c,
        Err(_) => return full(StatusCode::BAD_REQUEST, "text/plain", "Bad Request"),
    };
    let result = match warden_xmlrpc::methods::resolve_call(call) {
        Err(f) => Err(f),
        Ok(call) => {
            let (tx, rx) = oneshot::channel();
            if shared.tx.send(Cmd::Call(call, tx)).is_err() {
                return full(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    "shutting down",
                );
            }
            match rx.await {
                Ok(r) => r,
                Err(_) => {
                    return full(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "text/plain",
                        "internal error",
                    )
                }
            }
        }
    };
    full(
        StatusCode::OK,
        "text/xml",
        warden_xmlrpc::write_result(&result),
    )
}

/// A body fed by a channel (endless log tail).
struct ChanBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChanBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

async fn tail(target: Option<(String, bool)>, shared: &Shared) -> Response<Body> {
    let (tx, rx) = oneshot::channel();
    if shared.tx.send(Cmd::Tail(target, tx)).is_err() {
        return full(StatusCode::NOT_FOUND, "text/html", "Not Found");
    }
    let Ok(Some(sink)) = rx.await else {
        return full(StatusCode::NOT_FOUND, "text/html", "Not Found");
    };
    if !sink.path().exists() {
        return full(StatusCode::NOT_FOUND, "text/html", "Not Found");
    }
    let (btx, brx) = mpsc::channel::<Bytes>(4);
    tokio::task::spawn_local(follow(sink, btx));
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "text/plain;charset=utf-8")
        .body(ChanBody(brx).boxed_unsync())
        .unwrap_or_else(|_| full(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", ""))
}

async fn follow(sink: Rc<Sink>, tx: mpsc::Sender<Bytes>) {
    let mut pos = sink.len().saturating_sub(1024);
    loop {
        let notified = sink.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let len = sink.len();
        if len < pos {
            pos = 0;
        }
        if len > pos {
            match crate::logs::read_at(sink.path(), pos, Some(len - pos)) {
                Ok(data) if !data.is_empty() => {
                    pos += data.len() as u64;
                    if tx.send(Bytes::from(data)).await.is_err() {
                        return;
                    }
                }
                _ => {}
            }
        }
        tokio::select! {
            () = &mut notified => {}
            () = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_plain_and_sha() {
        use base64::Engine as _;
        let enc = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        let plain = Credentials {
            username: Some("u".into()),
            password: Some("p".into()),
        };
        assert!(authorized(&plain, Some(&enc("u:p"))));
        assert!(!authorized(&plain, Some(&enc("u:x"))));
        assert!(!authorized(&plain, None));
        let sha = Credentials {
            username: Some("u".into()),
            password: Some("{SHA}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3".into()),
        };
        assert!(authorized(&sha, Some(&enc("u:test"))));
        assert!(authorized(&Credentials::default(), None));
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("a%3Ab"), "a:b");
        assert_eq!(percent_decode("plain"), "plain");
    }
}
