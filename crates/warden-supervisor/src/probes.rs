//! The OS side of readiness probes and health checks: the
//! [`Prober`] that runs `tcp:`, `http:`, `exec:` and `log:` probes off the
//! engine (tasks on the current `LocalSet`), and the `$NOTIFY_SOCKET` that
//! receives `READY=1` / `WATCHDOG=1`. Results go to the driver as
//! [`ProbeEvent`]s, which feeds them to the engine.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use warden_config::Probe;

use crate::core::engine::ProcId;
use crate::core::health::Notification;
use crate::core::seams::{Check, ProbeRequest, Prober};
use crate::core::state::Exit;

/// What the prober and the notify socket tell the engine.
#[derive(Debug)]
pub enum ProbeEvent {
    /// A probe finished.
    Result {
        /// The process.
        id: ProcId,
        /// Its spawn generation.
        generation: u64,
        /// Readiness or health.
        check: Check,
        /// `Err(why)` if it failed.
        result: Result<(), String>,
    },
    /// A `$NOTIFY_SOCKET` message from the pid `chain[0]` (then its
    /// ancestors).
    Notify {
        /// The sender's pid and its ancestors'.
        chain: Vec<i32>,
        /// What it said.
        message: Notification,
    },
}

struct Exec {
    id: ProcId,
    generation: u64,
    check: Check,
    timed_out: bool,
}

struct LogWatch {
    generation: u64,
    /// (file, offset read so far, partial line carried over)
    files: Vec<(PathBuf, u64, Vec<u8>)>,
}

/// Runs probes as tasks on the current `LocalSet`.
pub struct OsProber {
    tx: UnboundedSender<ProbeEvent>,
    execs: Rc<RefCell<HashMap<i32, Exec>>>,
    logs: HashMap<ProcId, LogWatch>,
}

impl OsProber {
    /// A prober whose results go to `tx`.
    #[must_use]
    pub fn new(tx: UnboundedSender<ProbeEvent>) -> OsProber {
        OsProber {
            tx,
            execs: Rc::default(),
            logs: HashMap::new(),
        }
    }

    fn answer(&self, req: &ProbeRequest, result: Result<(), String>) {
        answer(&self.tx, req.id, req.generation, req.check, result);
    }

    fn exec(&mut self, req: &ProbeRequest, argv: &[String]) {
        let mut cmd = std::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(d) = &req.directory {
            cmd.current_dir(d);
        }
        // The child is reaped by the supervisor's waitpid(-1) loop, which
        // hands it back through `Prober::reaped`; the `Child` is dropped
        // without waiting.
        let pid = match cmd.spawn() {
            Ok(child) => i32::try_from(child.id()).unwrap_or(0),
            Err(e) => return self.answer(req, Err(format!("cannot run {}: {e}", argv[0]))),
        };
        self.execs.borrow_mut().insert(
            pid,
            Exec {
                id: req.id,
                generation: req.generation,
                check: req.check,
                timed_out: false,
            },
        );
        let execs = self.execs.clone();
        let timeout = Duration::from_millis(req.timeout);
        tokio::task::spawn_local(async move {
            tokio::time::sleep(timeout).await;
            if let Some(e) = execs.borrow_mut().get_mut(&pid) {
                e.timed_out = true;
                if let (Some(p), Some(s)) = (
                    warden_sys::Pid::from_raw(pid),
                    warden_sys::Signal::from_raw(9),
                ) {
                    let _ = warden_sys::signal::kill_process(p, s);
                }
            }
        });
    }

    fn log(&mut self, req: &ProbeRequest, pattern: &str) {
        let fresh = self
            .logs
            .get(&req.id)
            .is_none_or(|w| w.generation != req.generation);
        if fresh {
            // the first probe comes at the spawn, before any output
            let files = req
                .logs
                .iter()
                .map(|p| (p.clone(), file_len(p), Vec::new()))
                .collect();
            self.logs.insert(
                req.id,
                LogWatch {
                    generation: req.generation,
                    files,
                },
            );
            return self.answer(req, Err("no matching line yet".into()));
        }
        let Ok(re) = regex_lite::Regex::new(pattern) else {
            return self.answer(req, Err("bad regular expression".into()));
        };
        let Some(w) = self.logs.get_mut(&req.id) else {
            return;
        };
        let mut found = false;
        for (path, offset, carry) in &mut w.files {
            found |= scan(path, offset, carry, &re);
        }
        let result = if found {
            self.logs.remove(&req.id);
            Ok(())
        } else {
            Err("no matching line yet".into())
        };
        self.answer(req, result);
    }
}

fn answer(
    tx: &UnboundedSender<ProbeEvent>,
    id: ProcId,
    generation: u64,
    check: Check,
    result: Result<(), String>,
) {
    let _ = tx.send(ProbeEvent::Result {
        id,
        generation,
        check,
        result,
    });
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// Reads `path` from `offset`; true if a complete new line matches `re`.
fn scan(path: &Path, offset: &mut u64, carry: &mut Vec<u8>, re: &regex_lite::Regex) -> bool {
    use std::io::{Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    if file_len(path) < *offset {
        *offset = 0; // rotated
    }
    if f.seek(SeekFrom::Start(*offset)).is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let Ok(n) = f.take(1 << 20).read_to_end(&mut buf) else {
        return false;
    };
    *offset += n as u64;
    carry.extend_from_slice(&buf);
    let mut found = false;
    while let Some(nl) = carry.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = carry.drain(..=nl).collect();
        found |= re.is_match(&String::from_utf8_lossy(&line));
    }
    found
}

impl Prober for OsProber {
    fn probe(&mut self, req: ProbeRequest) {
        match &req.probe {
            Probe::Notify => {}
            Probe::Log(pattern) => {
                let pattern = pattern.clone();
                self.log(&req, &pattern);
            }
            Probe::Exec(argv) => {
                let argv = argv.clone();
                self.exec(&req, &argv);
            }
            Probe::Tcp { host, port } => {
                let (host, port, tx) = (host.clone(), *port, self.tx.clone());
                tokio::task::spawn_local(async move {
                    let result = within(req.timeout, async {
                        tokio::net::TcpStream::connect((host.as_str(), port))
                            .await
                            .map(drop)
                            .map_err(|e| e.kind().to_string())
                    })
                    .await;
                    answer(&tx, req.id, req.generation, req.check, result);
                });
            }
            Probe::Http(url) => {
                let (url, tx) = (url.clone(), self.tx.clone());
                tokio::task::spawn_local(async move {
                    let result = within(req.timeout, http_get(&url)).await;
                    answer(&tx, req.id, req.generation, req.check, result);
                });
            }
        }
    }

    fn reaped(&mut self, pid: i32, exit: Exit) -> bool {
        let Some(e) = self.execs.borrow_mut().remove(&pid) else {
            return false;
        };
        let result = match exit {
            _ if e.timed_out => Err("timed out".into()),
            Exit::Code(0) => Ok(()),
            other => Err(crate::core::state::decode(other).1),
        };
        answer(&self.tx, e.id, e.generation, e.check, result);
        true
    }
}

async fn within(
    ms: u64,
    f: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    tokio::time::timeout(Duration::from_millis(ms), f)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
}

/// A GET that must answer 2xx.
async fn http_get(url: &str) -> Result<(), String> {
    use http_body_util::Empty;
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let host = uri.host().ok_or("no host in the URL")?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| e.kind().to_string())?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", res.status().as_u16()))
    }
}

/// The supervisor's `$NOTIFY_SOCKET`: one unix datagram socket for every
/// program that uses `notify`, bound when the first of them starts (also
/// after a reload brought it in).
pub struct NotifySocket {
    path: PathBuf,
    tx: UnboundedSender<ProbeEvent>,
    bound: bool,
}

impl NotifySocket {
    /// A socket to be bound at `path`, its messages sent to `tx`.
    #[must_use]
    pub fn new(path: PathBuf, tx: UnboundedSender<ProbeEvent>) -> NotifySocket {
        NotifySocket {
            path,
            tx,
            bound: false,
        }
    }

    /// `NOTIFY_SOCKET=PATH` for a program that uses `notify` (binding the
    /// socket the first time), `None` for the others.
    ///
    /// # Errors
    ///
    /// The socket could not be bound (a spawn error).
    pub fn env_for(
        &mut self,
        cfg: &warden_config::ProcessConfig,
    ) -> Result<Option<String>, String> {
        let l = &cfg.lifecycle;
        if l.ready != Some(Probe::Notify) && l.healthcheck != Some(Probe::Notify) {
            return Ok(None);
        }
        if !self.bound {
            serve_notify(&self.path, self.tx.clone())
                .map_err(|e| format!("cannot open NOTIFY_SOCKET {}: {e}", self.path.display()))?;
            self.bound = true;
        }
        Ok(Some(format!("NOTIFY_SOCKET={}", self.path.display())))
    }
}

/// Binds the supervisor's `$NOTIFY_SOCKET` at `path` and forwards every
/// message, with its sender's pid chain, to `tx` (a task on the current
/// `LocalSet`).
///
/// # Errors
///
/// The socket could not be bound or set up.
pub fn serve_notify(path: &Path, tx: UnboundedSender<ProbeEvent>) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let sock = tokio::net::UnixDatagram::bind(path)?;
    warden_sys::notify::pass_credentials(sock.as_fd())?;
    tokio::task::spawn_local(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let got = sock
                .async_io(tokio::io::Interest::READABLE, || {
                    warden_sys::notify::recv_with_pid(sock.as_fd(), &mut buf)
                })
                .await;
            let Ok((n, Some(pid))) = got else {
                continue;
            };
            let message = Notification::parse(&buf[..n]);
            let event = ProbeEvent::Notify {
                chain: ancestors(pid),
                message,
            };
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// `pid` and its ancestors (up to 16), from `/proc/PID/stat`.
fn ancestors(pid: i32) -> Vec<i32> {
    let mut chain = vec![pid];
    let mut cur = pid;
    for _ in 0..16 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{cur}/stat")) else {
            break;
        };
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            break;
        };
        if ppid <= 1 {
            break;
        }
        chain.push(ppid);
        cur = ppid;
    }
    chain
}

/// Hands a probe event to the engine.
pub fn deliver(engine: &mut crate::core::engine::Engine, ev: ProbeEvent) {
    match ev {
        ProbeEvent::Result {
            id,
            generation,
            check,
            result,
        } => engine.probed(id, generation, check, result),
        ProbeEvent::Notify { chain, message } => engine.notified(&chain, &message),
    }
}
