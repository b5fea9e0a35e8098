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
        let envp = environment(spec, self.serverurl.as_deref());
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
        let stderr_fd = if cfg.redirect_stderr {
            out_w.as_fd()
        } else {
            err_w.as_fd()
        };
        let req = warden_sys::spawn::SpawnRequest {
            program: &program,
            argv: &cargv,
            envp: &envp,
            directory: dir.as_deref(),
            umask: cfg.umask,
            stdin: in_r.as_fd(),
            stdout: out_w.as_fd(),
            stderr: stderr_fd,
            credentials: creds.as_ref(),
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
        let stdin = tokio::net::unix::pipe::Sender::from_owned_fd(in_w)
            .ok()
            .map(|tx| Box::new(PipeStdin::Idle(Some(tx))) as Box<dyn crate::core::seams::Stdin>);
        Ok(Spawned { pid, stdin })
    }

    fn signal(&mut self, pid: i32, signal: i32, group: bool) -> std::io::Result<()> {
        let Some(pid) = warden_sys::Pid::from_raw(pid) else {
            return Ok(());
        };
        let Some(sig) = warden_sys::Signal::from_raw(signal) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("unknown signal {signal}"),
            ));
        };
        let r = if group {
            warden_sys::signal::kill_process_group(pid, sig)
        } else {
            warden_sys::signal::kill_process(pid, sig)
        };
        match r {
            Err(e) if e.raw_os_error() == Some(warden_sys::consts::ESRCH) => Ok(()),
            other => other,
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
