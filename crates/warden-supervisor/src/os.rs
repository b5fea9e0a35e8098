//! The real seams: processes forked by `warden_sys::spawn`, the system
//! clocks, log files on disk.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::core::events::Bus;
use crate::core::logs::{capture, Origin, Pipe, Sink, Stream, Tap};
use crate::core::seams::{Clock, Launcher, SpawnSpec, Spawned};
use crate::core::state::Ms;
use warden_types::Channel;

/// The monotonic clock since start, and the wall clock.
pub struct SystemClock {
    epoch: Instant,
}

impl SystemClock {
    /// A clock starting now.
    #[must_use]
    pub fn new() -> SystemClock {
        SystemClock {
            epoch: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Ms {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn wall(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
    }
}

/// Forks and execs programs; runs their capture and stdin tasks on the
/// current `LocalSet`.
pub struct OsLauncher {
    /// `SUPERVISOR_SERVER_URL` for programs whose `serverurl` is AUTO.
    pub serverurl: Option<String>,
    /// `strip_ansi`.
    pub strip_ansi: bool,
    /// `[supervisord] identifier`, for AUTO log names.
    pub identifier: String,
    /// `childlogdir`, for AUTO logs.
    pub childlogdir: PathBuf,
    /// Where output events go.
    pub bus: Rc<Bus>,
    /// The supervisor's `$NOTIFY_SOCKET`, given to programs that use
    /// `notify` (warden's `ready=notify`, `healthcheck=notify`).
    pub notify: Option<crate::probes::NotifySocket>,
    /// The programs' process trees and the state file (None: neither is
    /// kept; group signals reach the process group only).
    pub trees: Option<Rc<std::cell::RefCell<crate::trees::Trees>>>,
    /// Where the end of an adopted process is told (its pid): it is not our
    /// child, so no SIGCHLD comes for it.
    pub gone: Option<mpsc::UnboundedSender<i32>>,
    /// `pdeathsig`: what children get when the supervisor dies.
    pub death_signal: Option<warden_sys::Signal>,
}

impl OsLauncher {
    /// A launcher for `config`.
    #[must_use]
    pub fn new(config: &warden_config::Config, bus: Rc<Bus>) -> OsLauncher {
        OsLauncher {
            serverurl: config.serverurl.clone(),
            strip_ansi: config.supervisord.strip_ansi,
            identifier: config.supervisord.identifier.clone(),
            childlogdir: config.supervisord.childlogdir.clone(),
            bus,
            notify: None,
            trees: None,
            gone: None,
            death_signal: config
                .supervisord
                .pdeathsig
                .and_then(warden_sys::Signal::from_raw),
        }
    }
}

fn cstring(s: &[u8]) -> CString {
    CString::new(s).unwrap_or_default()
}

/// The child's environment: ours (bytes as they are, UTF-8 or not), then
/// supervisord's variables, then the program's `environment=`.
fn environment(spec: &SpawnSpec<'_>, serverurl: Option<&str>) -> Vec<CString> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let mut set = |k: &str, v: &OsStr| {
        if let Some(e) = env.iter_mut().find(|(ek, _)| ek == k) {
            e.1 = v.to_os_string();
        } else {
            env.push((k.into(), v.to_os_string()));
        }
    };
    let cfg = spec.config;
    set("SUPERVISOR_ENABLED", OsStr::new("1"));
    if let Some(u) = cfg.serverurl.as_deref().or(serverurl) {
        set("SUPERVISOR_SERVER_URL", OsStr::new(u));
    }
    set("SUPERVISOR_PROCESS_NAME", OsStr::new(&cfg.name));
    set("SUPERVISOR_GROUP_NAME", OsStr::new(&cfg.group));
    for (k, v) in &cfg.environment {
        set(k, OsStr::new(v));
    }
    env.into_iter()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv)
        })
        .collect()
}

impl Launcher for OsLauncher {
    fn spawn(&mut self, spec: &SpawnSpec<'_>) -> Result<Spawned, String> {
        let cfg = spec.config;
        let name = &cfg.name;
        let pipes = || -> std::io::Result<_> {
            Ok((
                warden_sys::fd::pipe_cloexec()?,
                warden_sys::fd::pipe_cloexec()?,
                warden_sys::fd::pipe_cloexec()?,
            ))
        };
        let ((in_r, in_w), (out_r, out_w), (err_r, err_w)) = pipes().map_err(|e| {
            if e.raw_os_error() == Some(24) {
                format!("too many open files to spawn '{name}'")
            } else {
                format!("unknown error making dispatchers for '{name}': {e}")
            }
        })?;
        let mut envp = environment(spec, self.serverurl.as_deref());
        let notify = match &mut self.notify {
            Some(n) => n.env_for(cfg)?,
            None => None,
        };
        if let Some(ns) = notify {
            envp.retain(|e| !e.as_bytes().starts_with(b"NOTIFY_SOCKET="));
            envp.push(cstring(ns.as_bytes()));
        }
        let cargv: Vec<CString> = spec.argv.iter().map(|a| cstring(a.as_bytes())).collect();
        let program = cstring(spec.program.as_os_str().as_bytes());
        let dir = cfg.directory.as_deref().map(|d| cstring(d.as_bytes()));
        let creds = match (&cfg.user, warden_sys::process::geteuid()) {
            (Some(u), 0) => match warden_sys::cred::lookup_user(u) {
                Ok(Some(info)) => Some(warden_sys::spawn::ChildCredentials {
                    uid: info.uid,
                    gid: info.gid,
                    // All of the user's groups, as supervisord's initgroups.
                    groups: warden_sys::cred::group_list(&info.name, info.gid)
                        .unwrap_or_else(|_| vec![info.gid]),
                }),
                _ => return Err(format!("couldn't setuid to {u}: no such user")),
            },
            _ => None,
        };
        // An fcgi-program's fd 0 is its group's listening socket.
        let stdin_fd = spec.socket.unwrap_or(in_r.as_fd());
        let stderr_fd = if cfg.redirect_stderr {
            out_w.as_fd()
        } else {
            err_w.as_fd()
        };
        let cgroup = self
            .trees
            .as_ref()
            .and_then(|t| t.borrow().cgroup_for(&cfg.group, name));
        let req = warden_sys::spawn::SpawnRequest {
            program: &program,
            argv: &cargv,
            envp: &envp,
            directory: dir.as_deref(),
            umask: cfg.umask,
            stdin: stdin_fd,
            stdout: out_w.as_fd(),
            stderr: stderr_fd,
            credentials: creds.as_ref(),
            death_signal: self.death_signal,
            cgroup_procs: cgroup.as_ref().map(|(_, f)| f.as_fd()),
        };
        let pid = warden_sys::spawn::spawn(&req)
            .map_err(|e| {
                if e.raw_os_error() == Some(11) {
                    format!("Too many processes in process table to spawn '{name}'")
                } else {
                    format!("unknown error during fork for '{name}': {e}")
                }
            })?
            .as_raw();
        drop((in_r, out_w, err_w));
        if let Some(t) = &self.trees {
            t.borrow_mut().spawned(pid, cfg, cgroup.map(|(dir, _)| dir));
        }
        let origin = Rc::new(Origin {
            bus: self.bus.clone(),
            group: cfg.group.clone(),
            name: cfg.name.clone(),
            pid,
            strip_ansi: self.strip_ansi,
            log: spec.log.clone(),
        });
        let stream = |channel, lc: &warden_config::StreamLog, tap: Option<Tap>| Stream {
            channel,
            log_events: lc.events_enabled,
            capture_maxbytes: usize::try_from(lc.capture_maxbytes).unwrap_or(0),
            tap,
            syslog: lc.syslog,
            format: crate::core::logfmt::LineFormat {
                timestamps: lc.timestamps,
                json: lc.format == warden_config::LogFormat::Json,
            },
            rotate: lc.rotate,
            compress: lc.compress,
        };
        let mut pipes = Vec::with_capacity(2);
        if let Ok(rx) = tokio::net::unix::pipe::Receiver::from_owned_fd(out_r) {
            pipes.push(Pipe {
                rx,
                sink: spec.stdout.clone(),
                stream: stream(Channel::Stdout, &cfg.stdout, spec.tap.clone()),
            });
        }
        if let Ok(rx) = tokio::net::unix::pipe::Receiver::from_owned_fd(err_r) {
            pipes.push(Pipe {
                rx,
                sink: spec.stderr.clone(),
                stream: stream(Channel::Stderr, &cfg.stderr, None),
            });
        }
        tokio::task::spawn_local(capture(origin, pipes));
        let stdin = (spec.socket.is_none())
            .then(|| tokio::net::unix::pipe::Sender::from_owned_fd(in_w).ok())
            .flatten()
            .map(|tx| Box::new(PipeStdin::Idle(Some(tx))) as Box<dyn crate::core::seams::Stdin>);
        Ok(Spawned { pid, stdin })
    }

    fn open_socket(
        &mut self,
        spec: &crate::core::engine::FcgiSpec,
    ) -> std::io::Result<std::os::fd::OwnedFd> {
        open_fcgi_socket(spec)
    }

    /// Watches the adopted process through a pidfd (readable once it has
    /// ended), on a small thread of its own blocked in poll(2) (no wake-up
    /// until it ends: tokio's `AsyncFd` would need `unsafe` here), and
    /// tracks its tree.
    fn adopt(
        &mut self,
        who: &crate::core::seams::Adoptee,
        cfg: &warden_config::ProcessConfig,
    ) -> Result<(), String> {
        let gone = self
            .gone
            .clone()
            .ok_or("nothing watches adopted processes")?;
        let pid = warden_sys::Pid::from_raw(who.pid).ok_or("not a pid")?;
        let fd = warden_sys::process::PidFd::open(pid).map_err(|e| e.to_string())?;
        // the pidfd is for whatever has this pid now: it must still be the
        // process the previous run started
        if !warden_sys::procfs::same_process(who.pid, who.start) {
            return Err("it has exited".into());
        }
        let raw = who.pid;
        std::thread::Builder::new()
            .name(format!("adopted-{raw}"))
            .stack_size(64 * 1024)
            .spawn(move || {
                let _ = fd.wait_end();
                let _ = gone.send(raw);
            })
            .map_err(|e| e.to_string())?;
        if let Some(t) = &self.trees {
            t.borrow_mut().adopted(who, cfg);
        }
        Ok(())
    }

    fn signal(&mut self, pid: i32, signal: i32, group: bool) -> std::io::Result<()> {
        crate::trees::kill(pid, signal, group)
    }

    fn stop_signal(&mut self, pid: i32, signal: i32, group: bool) -> std::io::Result<()> {
        match &self.trees {
            Some(t) => t.borrow_mut().stop_signal(pid, signal, group),
            None => self.signal(pid, signal, group),
        }
    }

    fn remember(&mut self, intent: &crate::core::intent::Intent) {
        if let Some(t) = &self.trees {
            t.borrow_mut().remember(intent);
        }
    }

    fn auto_log(&mut self, process: &str, channel: &str) -> std::io::Result<PathBuf> {
        // mkstemp's contract: a new file (O_EXCL, so never through a planted
        // link), mode 0600, an unpredictable name.
        let file = tempfile::Builder::new()
            .prefix(&format!("{process}-{channel}---{}-", self.identifier))
            .suffix(".log")
            .rand_bytes(8)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .tempfile_in(&self.childlogdir)?;
        let (_, path) = file.keep().map_err(|e| e.error)?;
        Ok(path)
    }

    fn open_log(&mut self, path: &Path, maxbytes: i64, backups: i64) -> std::io::Result<Rc<Sink>> {
        Sink::open(path, maxbytes, backups)
    }
}

/// A child's stdin. The queue and its writer task exist only once something
/// was sent: most programs are never written to, and each would cost a task
/// and a channel.
enum PipeStdin {
    /// Nothing sent yet: just the pipe.
    Idle(Option<tokio::net::unix::pipe::Sender>),
    /// The writer task's queue.
    Queue(mpsc::UnboundedSender<Vec<u8>>),
}

impl crate::core::seams::Stdin for PipeStdin {
    fn send(&mut self, data: Vec<u8>) -> Result<(), std::io::Error> {
        if let PipeStdin::Idle(pipe) = self {
            let Some(pipe) = pipe.take() else {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            };
            let (q, rx) = mpsc::unbounded_channel();
            tokio::task::spawn_local(write_stdin(pipe, rx));
            *self = PipeStdin::Queue(q);
        }
        match self {
            PipeStdin::Queue(q) => q
                .send(data)
                .map_err(|_| std::io::ErrorKind::BrokenPipe.into()),
            PipeStdin::Idle(_) => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }
}

/// Writes queued chunks to a child's stdin in order, each whole, as fast
/// as the child reads; ends when the child closes its end or the process
/// is gone (the queue's sender is dropped).
async fn write_stdin(tx: tokio::net::unix::pipe::Sender, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    use tokio::io::AsyncWriteExt as _;
    let mut tx = tx;
    while let Some(chunk) = rx.recv().await {
        if tx.write_all(&chunk).await.is_err() {
            return;
        }
    }
}

/// Reaps every child that has exited.
pub fn reap() -> Vec<(i32, warden_sys::process::ExitStatus)> {
    let mut out = Vec::new();
    while let Ok(Some((pid, status))) = warden_sys::process::try_wait_any() {
        out.push((pid.as_raw(), status));
    }
    out
}

/// Creates, binds and listens on an `[fcgi-program:x]` socket, as
/// supervisord's socket manager does: TCP with `SO_REUSEADDR`; a unix
/// socket replaces a stale file at its path, then gets `socket_mode` and
/// `socket_owner` (default: the program's user). Close on exec.
fn open_fcgi_socket(spec: &crate::core::engine::FcgiSpec) -> std::io::Result<std::os::fd::OwnedFd> {
    use socket2::{Domain, SockAddr, Socket, Type};
    use warden_config::FcgiSocket;
    // The kernel caps the backlog at net.core.somaxconn.
    let backlog = spec
        .backlog
        .and_then(|b| i32::try_from(b).ok())
        .unwrap_or(4096);
    match &spec.socket {
        FcgiSocket::Tcp { host, port } => {
            let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), *port))?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("{host} has no address")))?;
            let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            sock.set_reuse_address(true)?;
            sock.bind(&addr.into())?;
            sock.listen(backlog)?;
            Ok(sock.into())
        }
        FcgiSocket::Unix { path, mode, owner } => {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            let sock = Socket::new(Domain::UNIX, Type::STREAM, None)?;
            sock.bind(&SockAddr::unix(path)?)?;
            let ready = || -> std::io::Result<()> {
                std::os::unix::fs::chown(
                    path,
                    owner.map(|o| o.0).or(spec.user),
                    owner.and_then(|o| o.1),
                )?;
                std::fs::set_permissions(
                    path,
                    std::os::unix::fs::PermissionsExt::from_mode(*mode),
                )?;
                sock.listen(backlog)
            };
            if let Err(e) = ready() {
                // No half-made socket file is left behind.
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
            Ok(sock.into())
        }
    }
}
