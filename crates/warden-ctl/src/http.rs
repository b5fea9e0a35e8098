//! A deliberately small, blocking HTTP/1.1 client for supervisord's RPC and
//! log-tail endpoints.
//!
//! Why hand-written and blocking: `warden ctl status` must answer in a few
//! milliseconds. A general HTTP stack (hyper, reqwest) or an async runtime
//! costs more in start-up and binary size than the whole round trip to a
//! local supervisord, and supervisord only needs a tiny subset of HTTP:
//! `POST /RPC2` with `Content-Length`, keep-alive, Basic auth, responses
//! framed by `Content-Length`, chunking or connection close, and one
//! streaming `GET` (`/logtail/...`, `/mainlogtail`). Everything here is std
//! sockets over `unix://` paths or `http://host:port`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Where the server listens, parsed from a supervisorctl `serverurl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:///path/to/socket`.
    Unix(String),
    /// `http://host[:port]` (port 80 by default, as Python's `urlparse`).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// Value of the `Host` header (`host[:port]` as written in the URL).
        authority: String,
    },
}

impl Endpoint {
    /// Parse a `serverurl`; `None` if it is neither `unix://` nor `http://`.
    pub fn parse(url: &str) -> Option<Endpoint> {
        if let Some(path) = url.strip_prefix("unix://") {
            return Some(Endpoint::Unix(path.to_string()));
        }
        let rest = url.strip_prefix("http://")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        // Strip userinfo like urlparse's .hostname does.
        let hostport = authority.rsplit('@').next().unwrap_or("");
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h.split_once(']')?;
            let port = after.strip_prefix(':').map(str::parse).transpose().ok()?;
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) if !p.is_empty() => (h.to_string(), Some(p.parse().ok()?)),
                Some((h, _)) => (h.to_string(), None),
                None => (hostport.to_string(), None),
            }
        };
        Some(Endpoint::Tcp {
            host: host.to_lowercase(),
            port: port.unwrap_or(80),
            authority: authority.to_string(),
        })
    }

    fn host_header(&self) -> &str {
        match self {
            Endpoint::Unix(_) => "localhost",
            Endpoint::Tcp { authority, .. } => authority,
        }
    }
}

/// A connected byte stream (unix or TCP).
#[derive(Debug)]
pub enum Stream {
    /// A unix-domain socket.
    Unix(UnixStream),
    /// A TCP connection.
    Tcp(TcpStream),
}

impl Stream {
    /// Connect to `ep`.
    pub fn connect(ep: &Endpoint) -> io::Result<Stream> {
        match ep {
            Endpoint::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
            Endpoint::Tcp { host, port, .. } => {
                let s = TcpStream::connect((host.as_str(), *port))?;
                // Requests are one small write each; don't let Nagle delay them.
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }
        }
    }

    /// Set the read timeout (used to poll for Ctrl-C while streaming).
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(d),
            Stream::Tcp(s) => s.set_read_timeout(d),
        }
    }

    fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

/// Errors of one HTTP exchange.
#[derive(Debug)]
pub enum HttpError {
    /// Connecting failed (the OS error is what supervisorctl reports on).
    Connect(io::Error),
    /// Reading or writing failed after connecting, or the response was not HTTP.
    Io(io::Error),
    /// The server answered with a status other than 200.
    Status(u16, String),
}

/// Base64 (standard alphabet, padded) for the Basic auth header.
pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// The `Authorization` header value for `username:password`.
pub fn basic_auth(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64(format!("{username}:{password}").as_bytes())
    )
}

/// A keep-alive connection for `POST /RPC2`, reconnecting when the server
/// closed it.
#[derive(Debug)]
pub struct RpcConnection {
    endpoint: Endpoint,
    auth: Option<String>,
    conn: Option<BufReader<Stream>>,
}

/// Parsed response head.
struct Head {
    status: u16,
    reason: String,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
}

fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<()> {
    line.clear();
    if r.read_until(b'\n', line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "Remote end closed connection without response",
        ));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(())
}

fn read_head(r: &mut impl BufRead) -> io::Result<Head> {
    let mut line = Vec::with_capacity(128);
    read_line(r, &mut line)?;
    let text = String::from_utf8_lossy(&line).into_owned();
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad status line {text:?}"),
        ));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status code"))?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut head = Head {
        status,
        reason,
        content_length: None,
        chunked: false,
        close: version == "HTTP/1.0",
    };
    loop {
        read_line(r, &mut line)?;
        if line.is_empty() {
            return Ok(head);
        }
        let l = String::from_utf8_lossy(&line);
        if let Some((k, v)) = l.split_once(':') {
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => head.content_length = v.parse().ok(),
                "transfer-encoding" => head.chunked = v.eq_ignore_ascii_case("chunked"),
                "connection" => {
                    if v.eq_ignore_ascii_case("close") {
                        head.close = true;
                    } else if v.eq_ignore_ascii_case("keep-alive") {
                        head.close = false;
                    }
                }
                _ => {}
            }
        }
    }
}

/// Read one chunk of a chunked body; `Ok(None)` at the last chunk.
fn read_chunk(r: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        read_line(r, &mut line)?;
        if !line.is_empty() {
            break;
        }
    }
    let text = String::from_utf8_lossy(&line);
    let size_text = text.split([';', ' ']).next().unwrap_or("");
    let size = usize::from_str_radix(size_text.trim(), 16)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
    if size == 0 {
        // Trailer lines up to the empty one.
        loop {
            match read_line(r, &mut line) {
                Ok(()) if line.is_empty() => break,
                Ok(()) => {}
                Err(_) => break,
            }
        }
        return Ok(None);
    }
    let mut buf = vec![0; size];
    r.read_exact(&mut buf)?;
    // The CRLF that ends the chunk data, so that a caller polling for
    // "more data" sees only the next chunk.
    read_line(r, &mut line)?;
    Ok(Some(buf))
}

impl RpcConnection {
    /// A connection to `endpoint` (connects lazily).
    pub fn new(endpoint: Endpoint, auth: Option<String>) -> Self {
        RpcConnection {
            endpoint,
            auth,
            conn: None,
        }
    }

    /// Replace the credentials (after an interactive 401 prompt).
    pub fn set_auth(&mut self, auth: Option<String>) {
        self.auth = auth;
        self.conn = None;
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `POST /RPC2` with `body`; returns the response body.
    pub fn post(&mut self, body: &[u8]) -> Result<Vec<u8>, HttpError> {
        self.exchange(Some(body), "/RPC2")
    }

    /// `GET path` (warden's JSON API); returns the response body.
    pub fn get(&mut self, path: &str) -> Result<Vec<u8>, HttpError> {
        self.exchange(None, path)
    }

    /// A `POST` of `body` (or a `GET` without one) to `path`.
    fn exchange(&mut self, body: Option<&[u8]>, path: &str) -> Result<Vec<u8>, HttpError> {
        let reused = self.conn.is_some();
        match self.exchange_once(body, path) {
            // A kept-alive connection the server has since closed: retry
            // once on a fresh one, as http.client does.
            Err(HttpError::Io(_)) if reused => {
                self.conn = None;
                self.exchange_once(body, path)
            }
            r => r,
        }
    }

    fn exchange_once(&mut self, body: Option<&[u8]>, path: &str) -> Result<Vec<u8>, HttpError> {
        if self.conn.is_none() {
            let s = Stream::connect(&self.endpoint).map_err(HttpError::Connect)?;
            self.conn = Some(BufReader::with_capacity(64 * 1024, s));
        }
        let conn = self.conn.as_mut().expect("connected above");
        let mut req = Vec::with_capacity(body.map_or(0, <[u8]>::len) + 256);
        req.extend_from_slice(if body.is_some() { b"POST " } else { b"GET " });
        req.extend_from_slice(path.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        req.extend_from_slice(self.endpoint.host_header().as_bytes());
        req.extend_from_slice(b"\r\nAccept-Encoding: identity\r\nUser-Agent: warden-ctl\r\n");
        if body.is_some() {
            req.extend_from_slice(b"Content-Type: text/xml\r\nAccept: text/xml\r\n");
        } else {
            req.extend_from_slice(b"Accept: application/json\r\n");
        }
        if let Some(a) = &self.auth {
            req.extend_from_slice(b"Authorization: ");
            req.extend_from_slice(a.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        if let Some(body) = body {
            req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            req.extend_from_slice(body);
        } else {
            req.extend_from_slice(b"\r\n");
        }
        let result = (|| -> io::Result<(Head, Vec<u8>)> {
            conn.get_mut().write_all(&req)?;
            let head = read_head(conn)?;
            let mut out = Vec::new();
            if head.chunked {
                while let Some(c) = read_chunk(conn)? {
                    out.extend_from_slice(&c);
                }
            } else if let Some(n) = head.content_length {
                out.resize(n, 0);
                conn.read_exact(&mut out)?;
            } else {
                conn.read_to_end(&mut out)?;
            }
            Ok((head, out))
        })();
        match result {
            Err(e) => {
                self.conn = None;
                Err(HttpError::Io(e))
            }
            Ok((head, body)) => {
                if head.close || (head.content_length.is_none() && !head.chunked) {
                    self.conn = None;
                }
                if head.status != 200 {
                    self.conn = None;
                    return Err(HttpError::Status(head.status, head.reason));
                }
                Ok(body)
            }
        }
    }
}

/// An open streaming `GET` (for `/logtail/...` and `/mainlogtail`).
pub struct TailStream {
    reader: BufReader<Stream>,
    chunked: bool,
    remaining: Option<usize>,
    done: bool,
    interrupt: Option<Box<dyn Fn() -> bool + Send>>,
    raw: Stream,
}

impl std::fmt::Debug for TailStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailStream").finish_non_exhaustive()
    }
}

/// Start `GET path` on `ep`, the way supervisorctl's `http_client` does.
/// `interrupt` is polled while waiting for data; when it returns true,
/// [`TailStream::next_data`] returns `Ok(None)`.
pub fn get_stream(
    ep: &Endpoint,
    path: &str,
    auth: Option<&str>,
    interrupt: Option<Box<dyn Fn() -> bool + Send>>,
) -> Result<TailStream, HttpError> {
    let mut s = Stream::connect(ep).map_err(HttpError::Connect)?;
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: chunked\r\nAccept: */*\r\nUser-agent: Supervisor HTTP Client\r\n",
        ep.host_header()
    );
    if let Some(a) = auth {
        req.push_str("Authorization: ");
        req.push_str(a);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(HttpError::Io)?;
    let raw = s.try_clone().map_err(HttpError::Io)?;
    if interrupt.is_some() {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(HttpError::Io)?;
    }
    let mut reader = BufReader::new(s);
    let head = loop {
        match read_head(&mut reader) {
            Ok(h) => break h,
            Err(e) if is_timeout(&e) => {
                if interrupt.as_ref().is_some_and(|f| f()) {
                    return Err(HttpError::Io(io::Error::new(
                        io::ErrorKind::Interrupted,
                        "interrupted",
                    )));
                }
            }
            Err(e) => return Err(HttpError::Io(e)),
        }
    };
    if head.status != 200 {
        return Err(HttpError::Status(head.status, head.reason));
    }
    Ok(TailStream {
        reader,
        chunked: head.chunked,
        remaining: head.content_length,
        done: false,
        interrupt,
        raw,
    })
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl TailStream {
    /// The next piece of the body; `Ok(None)` at the end or on interrupt.
    pub fn next_data(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if self.done {
                return Ok(None);
            }
            if self.interrupt.as_ref().is_some_and(|f| f()) {
                return Ok(None);
            }
            // Wait for data with the poll timeout before committing to a
            // (blocking) framed read.
            match self.reader.fill_buf() {
                Ok([]) => {
                    self.done = true;
                    return Ok(None);
                }
                Ok(_) => {}
                Err(e) if is_timeout(&e) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if self.chunked {
                // Once a chunk has started, read it without timeouts.
                let _ = self.reader.get_ref().set_read_timeout(None);
                let r = read_chunk(&mut self.reader);
                if self.interrupt.is_some() {
                    let _ = self
                        .reader
                        .get_ref()
                        .set_read_timeout(Some(Duration::from_millis(100)));
                }
                return match r? {
                    Some(c) => Ok(Some(c)),
                    None => {
                        self.done = true;
                        Ok(None)
                    }
                };
            }
            let buf = self.reader.fill_buf()?;
            let mut n = buf.len();
            if let Some(rem) = self.remaining {
                n = n.min(rem);
                self.remaining = Some(rem - n);
                if rem - n == 0 {
                    self.done = true;
                }
            }
            let out = buf[..n].to_vec();
            self.reader.consume(n);
            return Ok(Some(out));
        }
    }

    /// Close the connection (unblocks a reader in another thread).
    pub fn shutdown(&self) {
        match &self.raw {
            Stream::Unix(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            Stream::Tcp(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_python() {
        assert_eq!(base64(b"user:123"), "dXNlcjoxMjM=");
        assert_eq!(base64(b"a:b"), "YTpi");
        assert_eq!(base64(b"ab:cd"), "YWI6Y2Q=");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            Endpoint::parse("unix:///tmp/s.sock"),
            Some(Endpoint::Unix("/tmp/s.sock".into()))
        );
        assert_eq!(
            Endpoint::parse("http://localhost:9001"),
            Some(Endpoint::Tcp {
                host: "localhost".into(),
                port: 9001,
                authority: "localhost:9001".into()
            })
        );
        assert_eq!(
            Endpoint::parse("http://Example.com/RPC2"),
            Some(Endpoint::Tcp {
                host: "example.com".into(),
                port: 80,
                authority: "Example.com".into()
            })
        );
        assert_eq!(Endpoint::parse("ftp://x"), None);
    }
}
