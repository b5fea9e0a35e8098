//! HTTP front end: `POST /RPC2`, `GET /logtail/<name>[/stdout|/stderr]`,
//! `GET /mainlogtail`, and the web pages of [`crate::web`], on the unix
//! socket and the TCP port, with Basic auth (plain or `{SHA}` passwords).
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
use tokio::sync::mpsc;
use warden_config::{Config, Credentials};
use warden_types::Namespec;

use crate::core::api::{self, Channel, Reply};
use crate::core::handle::Handle;
use crate::core::logs::{Level, Sink};
use crate::xmlrpc::Rpc;

pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// One configured server section.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Section {
    Unix(warden_config::UnixHttpServer),
    Inet(warden_config::InetHttpServer),
}

/// Listening servers; dropping it stops accepting.
pub struct Servers {
    /// Each section with its accept loop.
    accept: Vec<(Section, tokio::task::JoinHandle<()>)>,
    graceful: Option<Rc<hyper_util::server::graceful::GracefulShutdown>>,
    /// What new accept loops share (None once shut down: it holds the
    /// graceful shutdown too).
    limits: Option<Rc<Limits>>,
    web: Rc<crate::web::Web>,
    rpc: Rpc,
    max_body: Rc<std::cell::Cell<usize>>,
}

impl Servers {
    /// Stops accepting, then lets every connection finish the response it
    /// is writing (the answer to a `shutdown` call, say) and closes it;
    /// returns when all are closed, or after `limit` (a `tail -f` stream
    /// never finishes by itself).
    pub async fn shutdown(mut self, limit: std::time::Duration) {
        let accept = std::mem::take(&mut self.accept);
        for (_, h) in &accept {
            h.abort();
        }
        // Once the accept loops are gone, their handles on the graceful
        // shutdown are too, and it can be taken back.
        for (_, h) in accept {
            let _ = h.await;
        }
        self.limits = None;
        if let Some(g) = self.graceful.take().and_then(|g| Rc::try_unwrap(g).ok()) {
            let _ = tokio::time::timeout(limit, g.shutdown()).await;
        }
    }

    /// The unix socket files being served (removed at exit).
    #[must_use]
    pub fn unix_sockets(&self) -> Vec<std::path::PathBuf> {
        self.accept
            .iter()
            .filter_map(|(s, _)| match s {
                Section::Unix(u) => Some(u.file.clone()),
                Section::Inet(_) => None,
            })
            .collect()
    }

    /// After a reload: stops serving the sections gone from (or changed
    /// in) `config` and starts serving its new ones; the sections that did
    /// not change keep their sockets and connections. The connections of a
    /// stopped section finish what they are doing. The HTTP limits follow
    /// the new config too.
    ///
    /// # Errors
    ///
    /// A new section could not be bound (the others are served).
    pub async fn reconcile(&mut self, config: &Config) -> Result<(), String> {
        self.set_limits(config);
        let wanted = sections(config);
        let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.accept)
            .into_iter()
            .partition(|(s, _)| wanted.contains(s));
        self.accept = keep;
        for (section, h) in gone {
            h.abort();
            // the listener is closed once its task is gone
            let _ = h.await;
            if let Section::Unix(u) = section {
                let _ = std::fs::remove_file(&u.file);
            }
        }
        let mut errors = Vec::new();
        for s in wanted {
            if self.accept.iter().any(|(have, _)| *have == s) {
                continue;
            }
            match self.serve(&s) {
                Ok(h) => self.accept.push((s, h)),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// `http_max_connections`, `http_idle_timeout` and `http_max_body` from
    /// `config`, for every server (new connections and requests).
    fn set_limits(&self, config: &Config) {
        let s = &config.supervisord;
        if let Some(l) = &self.limits {
            l.max.set(s.http_max_connections);
            l.idle.set(std::time::Duration::from_secs(u64::from(
                s.http_idle_timeout,
            )));
        }
        self.max_body
            .set(usize::try_from(s.http_max_body).unwrap_or(usize::MAX));
    }

    /// Binds one section and starts its accept loop.
    fn serve(&self, section: &Section) -> Result<tokio::task::JoinHandle<()>, String> {
        let limits = self
            .limits
            .clone()
            .ok_or("the HTTP servers are shut down")?;
        let busy = "Another program is already listening on a port that one of our HTTP servers is configured to use.  Shut this program down first before starting supervisord.";
        let shared = |creds: &Credentials| {
            Rc::new(Shared {
                rpc: self.rpc.clone(),
                creds: creds.clone(),
                max_body: self.max_body.clone(),
                web: self.web.clone(),
            })
        };
        match section {
            Section::Unix(s) => {
                let l = bind_unix(s).map_err(|e| match e {
                    BindError::Busy => busy.to_string(),
                    BindError::Other(m) => m,
                })?;
                Ok(tokio::task::spawn_local(accept_loop(
                    l,
                    shared(&s.credentials),
                    limits,
                )))
            }
            Section::Inet(s) => {
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
                Ok(tokio::task::spawn_local(accept_loop(
                    l,
                    shared(&s.credentials),
                    limits,
                )))
            }
        }
    }
}

/// The server sections of `config`, unix sockets first.
fn sections(config: &Config) -> Vec<Section> {
    config
        .unix_http_servers
        .iter()
        .cloned()
        .map(Section::Unix)
        .chain(config.inet_http_servers.iter().cloned().map(Section::Inet))
        .collect()
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (_, h) in &self.accept {
            h.abort();
        }
    }
}

struct Shared {
    rpc: Rpc,
    creds: Credentials,
    /// `http_max_body`, shared by every server (a reload may change it).
    max_body: Rc<std::cell::Cell<usize>>,
    web: Rc<crate::web::Web>,
}

/// What every listener shares: the connection count and its limit, the idle
/// timeout, and the graceful-shutdown watch.
struct Limits {
    open: std::cell::Cell<u32>,
    /// `http_max_connections` and `http_idle_timeout` (a reload may change
    /// them).
    max: std::cell::Cell<u32>,
    idle: std::cell::Cell<std::time::Duration>,
    graceful: Rc<hyper_util::server::graceful::GracefulShutdown>,
    handle: Handle,
}

/// Counts a connection while it lives.
struct Slot(Rc<Limits>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get().saturating_sub(1));
    }
}

/// Binds every configured server and starts serving.
///
/// # Errors
///
/// A message for the main log when a socket cannot be bound.
pub fn start(config: &Config, handle: Handle) -> Result<Servers, String> {
    let graceful = Rc::new(hyper_util::server::graceful::GracefulShutdown::new());
    let limits = Rc::new(Limits {
        open: std::cell::Cell::new(0),
        max: std::cell::Cell::new(0),
        idle: std::cell::Cell::new(std::time::Duration::ZERO),
        graceful: graceful.clone(),
        handle: handle.clone(),
    });
    let web = Rc::new(crate::web::Web::new(handle.clone()));
    let rpc = Rpc {
        handle,
        main_interface: config.rpcinterfaces.iter().any(|r| {
            r.factory == "supervisor.rpcinterface:make_main_rpcinterface" && r.name == "supervisor"
        }),
    };
    let mut servers = Servers {
        accept: Vec::new(),
        graceful: Some(graceful),
        limits: Some(limits),
        web,
        rpc,
        max_body: Rc::new(std::cell::Cell::new(0)),
    };
    servers.set_limits(config);
    for s in sections(config) {
        let h = servers.serve(&s)?;
        servers.accept.push((s, h));
    }
    Ok(servers)
}

enum BindError {
    Busy,
    Other(String),
}

/// Binds the unix socket under a temporary name, sets its mode and owner,
/// then renames it into place: it is never reachable with the wrong mode.
fn bind_unix(s: &warden_config::UnixHttpServer) -> Result<tokio::net::UnixListener, BindError> {
    if std::os::unix::net::UnixStream::connect(&s.file).is_ok() {
        return Err(BindError::Busy);
    }
    let name = s
        .file
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    // bind() fails on an existing path, so a planted file only refuses the
    // start; it is never written through.
    let tmp = s
        .file
        .with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let bind = || -> Result<std::os::unix::net::UnixListener, String> {
        let l = std::os::unix::net::UnixListener::bind(&tmp)
            .map_err(|e| format!("Cannot open an HTTP server: socket.error reported {e}"))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(s.chmod))
            .map_err(|e| format!("Could not change permissions of socket file: {e}"))?;
        if let Some((uid, gid)) = s.chown {
            std::os::unix::fs::lchown(&tmp, Some(uid), gid)
                .map_err(|e| format!("Could not change ownership of socket file: {e}"))?;
        }
        // rename() replaces a stale socket (or a planted symlink) as a
        // directory entry; it never follows it.
        std::fs::rename(&tmp, &s.file)
            .map_err(|e| format!("Cannot open an HTTP server: socket.error reported {e}"))?;
        Ok(l)
    };
    let l = bind().map_err(|m| {
        let _ = std::fs::remove_file(&tmp);
        BindError::Other(m)
    })?;
    l.set_nonblocking(true)
        .map_err(|e| BindError::Other(e.to_string()))?;
    tokio::net::UnixListener::from_std(l).map_err(|e| BindError::Other(e.to_string()))
}

/// A listening socket of either family.
trait Listener {
    type Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    async fn next(&self) -> std::io::Result<Self::Io>;
}

impl Listener for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    async fn next(&self) -> std::io::Result<Self::Io> {
        self.accept().await.map(|(s, _)| s)
    }
}

impl Listener for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;
    async fn next(&self) -> std::io::Result<Self::Io> {
        let (s, _) = self.accept().await?;
        let _ = s.set_nodelay(true);
        Ok(s)
    }
}

/// Accepts until the server is shut down. An accept error (EMFILE when
/// descriptors run out, ENOBUFS, ...) never ends the loop: it is logged once
/// per episode and retried after a short pause, since the pending connection
/// would otherwise make the listener ready again at once. Connections beyond
/// `http_max_connections` get a 503 and are closed.
async fn accept_loop<L: Listener>(l: L, shared: Rc<Shared>, limits: Rc<Limits>) {
    let mut failing = false;
    loop {
        match l.next().await {
            Ok(io) => {
                if failing {
                    failing = false;
                    limits
                        .handle
                        .log(Level::Info, "HTTP server accepts connections again".into());
                }
                if limits.open.get() >= limits.max.get() {
                    tokio::task::spawn_local(refuse(io));
                    continue;
                }
                limits.open.set(limits.open.get() + 1);
                serve(io, shared.clone(), Slot(limits.clone()));
            }
            Err(e) => {
                if !failing {
                    failing = true;
                    limits.handle.log(
                        Level::Warn,
                        format!("HTTP server cannot accept a connection: {e}; retrying"),
                    );
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Answers a connection over the limit with 503 and closes it, giving a
/// slow client one second.
async fn refuse<S: tokio::io::AsyncWrite + Unpin>(mut io: S) {
    use tokio::io::AsyncWriteExt as _;
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 42\r\nConnection: close\r\nRetry-After: 1\r\n\r\ntoo many connections: try again in a while";
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        let _ = io.write_all(BUSY).await;
        let _ = io.shutdown().await;
    })
    .await;
}

fn serve<S>(io: S, shared: Rc<Shared>, slot: Slot)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let watcher = slot.0.graceful.watcher();
    let idle = slot.0.idle.get();
    tokio::task::spawn_local(async move {
        let _slot = slot;
        let svc = hyper::service::service_fn(move |req| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(handle(req, &shared).await) }
        });
        // The header timeout also covers an idle keep-alive connection:
        // hyper arms it whenever it waits for the next request's head.
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(idle)
            .serve_connection(hyper_util::rt::TokioIo::new(io), svc);
        let _ = watcher.watch(conn).await;
    });
}

pub(crate) fn full(status: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", ctype)
        .body(Full::new(body.into()).boxed_unsync())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed_unsync()))
}

/// Whether the request's Basic credentials match `creds`. The scheme name
/// is case-insensitive (RFC 7617); the password is compared in constant time.
pub fn authorized(creds: &Credentials, header: Option<&str>) -> bool {
    use base64::Engine as _;
    use subtle::ConstantTimeEq as _;
    let Some(user) = &creds.username else {
        return true;
    };
    let Some((scheme, b64)) = header.map(str::trim_start).and_then(|h| h.split_once(' ')) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let raw = String::from_utf8_lossy(&raw);
    let Some((u, p)) = raw.split_once(':') else {
        return false;
    };
    let want = creds.password.clone().unwrap_or_default();
    let pass_ok: bool = match want.strip_prefix("{SHA}") {
        Some(hex) => {
            let got = sha1_smol::Sha1::from(p.as_bytes()).digest().to_string();
            got.as_bytes()
                .ct_eq(hex.to_ascii_lowercase().as_bytes())
                .into()
        }
        None => p.as_bytes().ct_eq(want.as_bytes()).into(),
    };
    let user_ok: bool = u.as_bytes().ct_eq(user.as_bytes()).into();
    user_ok & pass_ok
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
        // The body is read up to the limit only: a client cannot make the
        // supervisor buffer more than `http_max_body` bytes.
        let limited = http_body_util::Limited::new(req.into_body(), shared.max_body.get());
        let body = match limited.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return full(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "text/plain",
                    "request body too large",
                )
            }
            Err(_) => return full(StatusCode::BAD_REQUEST, "text/plain", "bad request"),
        };
        return rpc(&body, shared).await;
    }
    if req.method() == hyper::Method::GET {
        if path == "/mainlogtail" {
            return tail(None, shared).await;
        }
        if let Some(rest) = path.strip_prefix("/logtail/") {
            // A name that is not UTF-8 once decoded names no process.
            let Some(rest) = percent_decode(rest) else {
                return full(StatusCode::NOT_FOUND, "text/html", "Not Found");
            };
            let (name, channel) = match rest.rsplit_once('/') {
                Some((n, "stderr")) => (n, Channel::Stderr),
                Some((n, "stdout")) => (n, Channel::Stdout),
                _ => (rest.as_str(), Channel::Stdout),
            };
            return tail(Some((Namespec::parse(name), channel)), shared).await;
        }
    }
    if path == "/metrics" && req.method() == hyper::Method::GET {
        return match crate::metrics::render(&shared.rpc.handle, shared.web.started()).await {
            Some(text) => full(StatusCode::OK, "text/plain; version=0.0.4", text),
            None => full(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "shutting down",
            ),
        };
    }
    if crate::web::serves(req.method(), &path) {
        return crate::web::answer(req, &shared.web, shared.max_body.get()).await;
    }
    full(StatusCode::NOT_FOUND, "text/html", "Not Found")
}

/// Decodes `%XX` escapes; `None` when the result is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

async fn rpc(body: &[u8], shared: &Shared) -> Response<Body> {
    match crate::xmlrpc::answer(&shared.rpc, body).await {
        Ok(doc) => full(StatusCode::OK, "text/xml", doc),
        Err(_) => full(StatusCode::BAD_REQUEST, "text/plain", "Bad Request"),
    }
}

/// A body fed by a channel (endless log tail).
pub(crate) struct ChanBody(pub(crate) mpsc::Receiver<Bytes>);

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

async fn tail(target: Option<(Namespec, Channel)>, shared: &Shared) -> Response<Body> {
    let Ok(Ok(Reply::Follow(Some(sink)))) =
        shared.rpc.handle.call(api::Request::Follow(target)).await
    else {
        return full(StatusCode::NOT_FOUND, "text/html", "Not Found");
    };
    if !sink.path().exists() {
        return full(StatusCode::NOT_FOUND, "text/html", "Not Found");
    }
    let (btx, brx) = mpsc::channel::<Bytes>(4);
    tokio::task::spawn_local(follow(sink, btx, 1024));
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "text/plain;charset=utf-8")
        // supervisord's hint to nginx: pass the stream on as it comes
        .header("X-Accel-Buffering", "no")
        .body(ChanBody(brx).boxed_unsync())
        .unwrap_or_else(|_| full(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", ""))
}

/// Sends the last `back` bytes of `sink`'s log, then every byte written to
/// it, to `tx` until the receiver is gone.
pub(crate) async fn follow(sink: Rc<Sink>, tx: mpsc::Sender<Bytes>, back: u64) {
    let mut pos = sink.len().saturating_sub(back);
    loop {
        let notified = sink.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let len = sink.len();
        if len < pos {
            pos = 0;
        }
        if len > pos {
            // At most 64 KiB at a time: a slow reader of a flooding program
            // costs one chunk of memory, not the whole backlog.
            let chunk = (len - pos).min(64 * 1024);
            match sink.read_chunk(pos, chunk) {
                Ok(data) if !data.is_empty() => {
                    pos += data.len() as u64;
                    if tx.send(Bytes::from(data)).await.is_err() {
                        return;
                    }
                    if pos < len {
                        continue; // the rest of the backlog, without waiting
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
        // the scheme name is case-insensitive (RFC 7617)
        for scheme in ["basic", "BASIC", "bAsIc"] {
            let h = enc("u:p").replacen("Basic", scheme, 1);
            assert!(authorized(&plain, Some(&h)), "{scheme}");
        }
        assert!(!authorized(
            &plain,
            Some(&enc("u:p").replacen("Basic", "Bearer", 1))
        ));
        assert!(!authorized(&plain, Some(&enc("v:p"))));
        assert!(authorized(&Credentials::default(), None));
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("a%3Ab").as_deref(), Some("a:b"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        // an escape that splits a UTF-8 sequence, and stray '%'s
        assert_eq!(percent_decode("%a\u{e9}").as_deref(), Some("%a\u{e9}"));
        assert_eq!(percent_decode("%c3").as_deref(), None);
        assert_eq!(percent_decode("%").as_deref(), Some("%"));
        assert_eq!(
            percent_decode("%%%zz%c3%a9").as_deref(),
            Some("%%%zz\u{e9}")
        );
    }
}
