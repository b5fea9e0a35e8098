//! The builder and the daemonization steps.

use std::ffi::{CString, OsString};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use warden_sys::consts::O_NOCTTY;
use warden_sys::cred::{self, Credentials, Supplementary};
use warden_sys::lock::LockKind;
use warden_sys::process::{self, ForkResult};
use warden_sys::{fd, signal, Pid};

use crate::error::exit;
use crate::pidfile::Pidfile;
use crate::ready::{Message, NotifySocket, Reporter, Verdict, Waiter};
use crate::sdnotify::SdNotify;
use crate::Error;

/// Where a standard stream of the daemon goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stdio {
    /// `/dev/null` (the default when detaching).
    Null,
    /// Keep what the caller had (the default in foreground mode); a closed
    /// descriptor is replaced by `/dev/null`, so 0, 1 and 2 are always open.
    Inherit,
    /// A file: for stdout/stderr opened for append and created with mode 0640
    /// (minus the umask); for stdin opened for reading.
    File(PathBuf),
}

/// Whether to detach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The SysV steps: fork, setsid, fork; the original process waits for
    /// readiness and exits.
    Detach,
    /// Every step but detaching: no fork, no new session. For systemd
    /// `Type=notify` units, containers and debugging.
    Foreground,
}

/// Work that needs the original privileges, run by [`Daemonize::privileged_action`].
pub struct PrivilegedAction(Box<dyn FnOnce() -> Result<(), crate::BoxError>>);

impl std::fmt::Debug for PrivilegedAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivilegedAction(..)")
    }
}

/// Daemonization settings; [`Daemonize::start`] performs them.
///
/// ```no_run
/// let mut daemon = warden_daemon::Daemonize::new()
///     .pidfile("/run/mydaemon.pid")
///     .stdout(warden_daemon::Stdio::File("/var/log/mydaemon.log".into()))
///     .start()
///     .unwrap_or_else(|e| e.exit());
/// // Only the daemon gets here. Initialise, then release the caller:
/// daemon.notify_ready();
/// ```
#[derive(Debug)]
pub struct Daemonize {
    workdir: PathBuf,
    umask: u32,
    pidfile: Option<PathBuf>,
    lock_kind: LockKind,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    user: Option<String>,
    group: Option<String>,
    chroot: Option<PathBuf>,
    env_clear: bool,
    env_set: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    keep_fds: Vec<RawFd>,
    mode: Mode,
    ready_on_start: bool,
    ready_timeout: Option<Duration>,
    notify_socket: bool,
    name: Option<String>,
    privileged: Option<PrivilegedAction>,
}

impl Default for Daemonize {
    fn default() -> Self {
        Self::new()
    }
}

impl Daemonize {
    /// Defaults: working directory `/`, umask `0o022`, no pidfile, stdio to
    /// `/dev/null`, same user, environment kept, detach, explicit readiness.
    ///
    /// Why umask `022` and not systemd's `0`: with `0`, every file the daemon
    /// creates without an explicit mode (most libraries pass 0666) becomes
    /// world-writable. `022` is the conventional safe default (libslack,
    /// daemonocle, OpenRC); set `0` only when every open passes exact modes.
    #[must_use]
    pub fn new() -> Self {
        Daemonize {
            workdir: PathBuf::from("/"),
            umask: 0o022,
            pidfile: None,
            lock_kind: LockKind::Ofd,
            stdin: None,
            stdout: None,
            stderr: None,
            user: None,
            group: None,
            chroot: None,
            env_clear: false,
            env_set: Vec::new(),
            env_remove: Vec::new(),
            keep_fds: Vec::new(),
            mode: Mode::Detach,
            ready_on_start: false,
            ready_timeout: None,
            notify_socket: false,
            name: None,
            privileged: None,
        }
    }

    /// Working directory (default `/`, so no mount point is held busy). With
    /// [`chroot`](Self::chroot), it is resolved inside the new root.
    #[must_use]
    pub fn working_directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.workdir = dir.into();
        self
    }

    /// File mode creation mask (default `0o022`).
    #[must_use]
    pub fn umask(mut self, mask: u32) -> Self {
        self.umask = mask;
        self
    }

    /// A pidfile, locked for the daemon's life (see [`crate::pidfile`]).
    /// Resolved before `chroot`, created before the privilege drop.
    #[must_use]
    pub fn pidfile(mut self, path: impl Into<PathBuf>) -> Self {
        self.pidfile = Some(path.into());
        self
    }

    /// Standard input (default `/dev/null`).
    #[must_use]
    pub fn stdin(mut self, s: Stdio) -> Self {
        self.stdin = Some(s);
        self
    }

    /// Standard output (default `/dev/null`; inherited in foreground mode).
    /// File paths are resolved before `chroot` and opened before the
    /// privilege drop.
    #[must_use]
    pub fn stdout(mut self, s: Stdio) -> Self {
        self.stdout = Some(s);
        self
    }

    /// Standard error (default `/dev/null`; inherited in foreground mode).
    #[must_use]
    pub fn stderr(mut self, s: Stdio) -> Self {
        self.stderr = Some(s);
        self
    }

    /// Run as this user (name or uid). Without [`group`](Self::group), the
    /// user's primary group and all its supplementary groups are applied.
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Run with exactly this group (name or gid) and no supplementary groups.
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Change the root directory (after opening the pidfile and log files,
    /// before the privilege drop).
    #[must_use]
    pub fn chroot(mut self, dir: impl Into<PathBuf>) -> Self {
        self.chroot = Some(dir.into());
        self
    }

    /// Start the daemon's environment empty (then apply [`env`](Self::env)).
    #[must_use]
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self
    }

    /// Set an environment variable in the daemon.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env_set.push((key.into(), value.into()));
        self
    }

    /// Remove an environment variable in the daemon.
    #[must_use]
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env_remove.push(key.into());
        self
    }

    /// Keep this descriptor open (every other one >= 3 is closed). Any
    /// `File`/`OwnedFd` the program still holds for a closed descriptor becomes
    /// invalid: open what the daemon needs after [`start`](Self::start), or
    /// keep it here.
    #[must_use]
    pub fn keep_fd(mut self, fd: RawFd) -> Self {
        self.keep_fds.push(fd);
        self
    }

    /// Detach (default) or stay in the foreground.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Report ready as soon as [`start`](Self::start) has done its steps,
    /// instead of waiting for [`Daemonized::notify_ready`].
    #[must_use]
    pub fn ready_on_start(mut self, yes: bool) -> Self {
        self.ready_on_start = yes;
        self
    }

    /// How long the original process waits for readiness; past it, the daemon
    /// is stopped (TERM, then KILL after 1 s) and the start fails with
    /// [`exit::READY_TIMEOUT`]. Default: no limit.
    #[must_use]
    pub fn ready_timeout(mut self, t: Duration) -> Self {
        self.ready_timeout = Some(t);
        self
    }

    /// For [`Daemonized::exec`]: the original process creates a notification
    /// socket, passes it as `NOTIFY_SOCKET`, and treats `READY=1` from the
    /// exec'd program as readiness (instead of a successful exec).
    #[must_use]
    pub fn notify_socket(mut self, yes: bool) -> Self {
        self.notify_socket = yes;
        self
    }

    /// The name that prefixes error messages of the original process
    /// (default: the program's file name).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Runs `action` in the daemon once it holds the pidfile, before `chroot`
    /// and the privilege drop: open files or bind ports that need root (or
    /// write state beside the pidfile). An error fails the start like any
    /// setup step, with its message.
    #[must_use]
    pub fn privileged_action(
        mut self,
        action: impl FnOnce() -> Result<(), crate::BoxError> + 'static,
    ) -> Self {
        self.privileged = Some(PrivilegedAction(Box::new(action)));
        self
    }

    /// Take the pidfile lock as a per-process POSIX lock, which survives
    /// `exec` and is not inherited by children (see `warden_sys::lock`).
    /// Used when the daemon will [`exec`](Daemonized::exec) another program.
    #[must_use]
    pub fn lock_survives_exec(mut self, yes: bool) -> Self {
        self.lock_kind = if yes {
            LockKind::Process
        } else {
            LockKind::Ofd
        };
        self
    }

    /// Daemonizes. Returns only in the daemon.
    ///
    /// The original process waits until the daemon reports ready (or fails,
    /// or ends) and then exits: 0 when ready; otherwise it prints
    /// `name: message` on its stderr and exits with the code from
    /// [`crate::error::exit`] (or the daemon's own status, 128+N for a signal).
    ///
    /// # Errors
    ///
    /// Failures before the fork (more than one thread, unknown user, bad option)
    /// are returned in the original process; nothing has been started then.
    /// Use [`Error::exit`] to print and exit like the failures after the fork.
    pub fn start(self) -> Result<Daemonized, Error> {
        let name = self.display_name();
        match self.spawn()? {
            Forked::Daemon(d) => Ok(d),
            Forked::Original(Ok(_)) => std::process::exit(exit::OK),
            Forked::Original(Err(e)) => {
                let _ = writeln!(std::io::stderr(), "{name}: {e}");
                std::process::exit(e.exit_code())
            }
        }
    }

    /// Like [`start`](Self::start), but the original process gets the verdict
    /// back instead of exiting: [`Forked::Original`] with the daemon's pid or
    /// the failure ([`Error::Daemon`] carries its exit code and message;
    /// [`Error::Ended`] the status of an exec'd program that ended before it
    /// was ready).
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start), for failures before the fork.
    pub fn spawn(self) -> Result<Forked, Error> {
        let plan = self.plan()?;
        // Text buffered before the fork would otherwise come out once per
        // process (the classic triple print).
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        process::flush_c_stdio();
        if plan.mode == Mode::Foreground {
            return plan
                .setup(None, None)
                .map(Forked::Daemon)
                .map_err(|(e, _)| e);
        }
        let (read_end, write_end) =
            fd::pipe_cloexec().map_err(|e| Error::sys("create readiness pipe", e))?;
        let notify = if plan.notify_socket {
            Some(bind_notify_socket()?)
        } else {
            None
        };
        // Orphans re-parent to us, so the daemon is our child once the
        // intermediate process exits and we can learn how it ended.
        process::set_child_subreaper().map_err(|e| Error::sys("become child subreaper", e))?;
        match process::fork_single_threaded().map_err(fork_error)? {
            ForkResult::Parent(intermediate) => {
                drop(write_end);
                Ok(Forked::Original(wait_for_verdict(
                    &plan,
                    read_end,
                    notify,
                    intermediate,
                )?))
            }
            ForkResult::Child => {
                drop(read_end);
                // The socket is the parent's; the daemon only needs its path.
                let notify_path = notify.as_ref().map(|n| n.path.clone());
                std::mem::forget(notify); // the parent removes the socket file
                let mut reporter = Reporter::new(write_end);
                if let Err(e) = process::setsid() {
                    fail_in_child(&mut reporter, &Error::sys("setsid", e));
                }
                match process::fork_single_threaded() {
                    Err(e) => fail_in_child(&mut reporter, &fork_error(e)),
                    Ok(ForkResult::Parent(_)) => process::exit_immediately(0),
                    Ok(ForkResult::Child) => {}
                }
                reporter.send(&Message::Pid(Pid::this()));
                match plan.setup(Some(reporter), notify_path) {
                    Ok(d) => Ok(Forked::Daemon(d)),
                    Err((e, Some(mut reporter))) => fail_in_child(&mut reporter, &e),
                    Err((e, None)) => Err(e),
                }
            }
        }
    }

    fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            std::env::args_os()
                .next()
                .and_then(|a| {
                    Path::new(&a)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| "daemon".into())
        })
    }

    /// Everything that can be checked and resolved before forking.
    fn plan(self) -> Result<Plan, Error> {
        let threads = process::thread_count().map_err(|e| Error::sys("count threads", e))?;
        if threads > 1 {
            return Err(Error::MultiThreaded { threads });
        }
        let creds = resolve_credentials(self.user.as_deref(), self.group.as_deref())?;
        let default_stdio = match self.mode {
            Mode::Detach => Stdio::Null,
            Mode::Foreground => Stdio::Inherit,
        };
        // systemd socket activation: keep fds 3.. and re-address LISTEN_PID.
        let mut keep = self.keep_fds.clone();
        let listen_fds = listen_fds_for_us();
        keep.extend(3..3 + listen_fds);
        let sd_notify = SdNotify::from_env();
        if sd_notify.is_some() {
            // Consumed: programs the daemon runs must not notify on its behalf.
            std::env::remove_var("NOTIFY_SOCKET");
        }
        Ok(Plan {
            workdir: self.workdir,
            umask: self.umask,
            pidfile: self.pidfile,
            lock_kind: self.lock_kind,
            stdin: self.stdin.unwrap_or_else(|| default_stdio.clone()),
            stdout: self.stdout.unwrap_or_else(|| default_stdio.clone()),
            stderr: self.stderr.unwrap_or(default_stdio),
            creds,
            chroot: self.chroot,
            env_clear: self.env_clear,
            env_set: self.env_set,
            env_remove: self.env_remove,
            keep_fds: keep,
            listen_fds,
            mode: self.mode,
            ready_on_start: self.ready_on_start,
            ready_timeout: self.ready_timeout,
            notify_socket: self.notify_socket,
            sd_notify,
            privileged: std::cell::Cell::new(self.privileged),
        })
    }
}

/// The two ways [`Daemonize::spawn`] returns.
#[derive(Debug)]
pub enum Forked {
    /// In the original process, after the verdict: the daemon's pid, or why it
    /// did not start.
    Original(Result<Pid, Error>),
    /// In the daemon.
    Daemon(Daemonized),
}

impl Error {
    /// Prints `program: error` on stderr and exits with [`Error::exit_code`].
    pub fn exit(self) -> ! {
        let prog = std::env::args_os()
            .next()
            .and_then(|a| {
                Path::new(&a)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "daemon".into());
        let _ = writeln!(std::io::stderr(), "{prog}: {self}");
        std::process::exit(self.exit_code())
    }
}

struct Plan {
    workdir: PathBuf,
    umask: u32,
    pidfile: Option<PathBuf>,
    lock_kind: LockKind,
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
    creds: Option<Credentials>,
    chroot: Option<PathBuf>,
    env_clear: bool,
    env_set: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    keep_fds: Vec<RawFd>,
    listen_fds: RawFd,
    mode: Mode,
    ready_on_start: bool,
    ready_timeout: Option<Duration>,
    notify_socket: bool,
    sd_notify: Option<SdNotify>,
    privileged: std::cell::Cell<Option<PrivilegedAction>>,
}

impl Plan {
    /// The steps in the final process, in daemon(7) order. On failure the
    /// reporter is handed back so the caller can report; anything created
    /// (the pidfile) has been removed by then.
    #[allow(clippy::result_large_err)]
    fn setup(
        self,
        reporter: Option<Reporter>,
        notify_path: Option<PathBuf>,
    ) -> Result<Daemonized, (Error, Option<Reporter>)> {
        match self.setup_inner(reporter.as_ref()) {
            Ok(mut d) => {
                d.reporter = reporter;
                d.notify_path = notify_path;
                if self.ready_on_start {
                    d.notify_ready();
                }
                Ok(d)
            }
            // Foreground (no reporter): the caller gets the error directly.
            Err(e) => Err((e, reporter)),
        }
    }

    fn setup_inner(&self, reporter: Option<&Reporter>) -> Result<Daemonized, Error> {
        let mut keep = self.keep_fds.clone();
        if let Some(r) = reporter {
            keep.push(r.as_fd().as_raw_fd());
        }
        fd::close_all_except(&keep).map_err(|e| Error::sys("close inherited descriptors", e))?;
        signal::reset_all().map_err(|e| Error::sys("reset signal dispositions and mask", e))?;
        process::umask(self.umask);
        let streams = [
            open_stdio(&self.stdin, false)?,
            open_stdio(&self.stdout, true)?,
            open_stdio(&self.stderr, true)?,
        ];
        let pidfile = match &self.pidfile {
            Some(p) => Some(Pidfile::acquire(&absolute(p), self.lock_kind)?),
            None => None,
        };
        for (target, file) in streams.into_iter().enumerate() {
            let target = target as RawFd;
            let file = match file {
                Some(f) => f,
                // Inherited but closed: 0, 1 and 2 must always be open, or the
                // next file the daemon opens becomes its stdout.
                None if !fd::is_open(target) => open_stdio(&Stdio::Null, target != 0)?
                    .expect("UNWRAP: Null always opens a file"),
                None => continue,
            };
            fd::dup2(file.as_fd(), target)
                .map_err(|e| Error::sys("redirect standard streams", e))?;
        }
        if let Some(PrivilegedAction(action)) = self.privileged.take() {
            action().map_err(|e| Error::Privileged(e.to_string()))?;
        }
        if let Some(root) = &self.chroot {
            std::os::unix::fs::chroot(root).map_err(|e| Error::path("chroot to", root, e))?;
        }
        std::env::set_current_dir(&self.workdir)
            .map_err(|e| Error::path("change directory to", &self.workdir, e))?;
        self.apply_env();
        if let Some(c) = &self.creds {
            cred::drop_privileges(c).map_err(|e| Error::sys("drop privileges", e))?;
        }
        Ok(Daemonized {
            reporter: None,
            pidfile,
            sd_notify: self.sd_notify.clone(),
            detached: self.mode == Mode::Detach,
            ready: false,
            notify_path: None,
        })
    }

    fn apply_env(&self) {
        if self.env_clear {
            for (k, _) in std::env::vars_os() {
                std::env::remove_var(k);
            }
        }
        for k in &self.env_remove {
            std::env::remove_var(k);
        }
        for (k, v) in &self.env_set {
            std::env::set_var(k, v);
        }
        if self.listen_fds > 0 {
            std::env::set_var("LISTEN_PID", Pid::this().to_string());
        }
    }
}

/// Opens a stdio target. `None` means "leave the descriptor as it is".
fn open_stdio(s: &Stdio, write: bool) -> Result<Option<File>, Error> {
    let mut opts = OpenOptions::new();
    opts.custom_flags(O_NOCTTY);
    if write {
        opts.append(true).create(true).mode(0o640);
    } else {
        opts.read(true);
    }
    match s {
        Stdio::Inherit => Ok(None),
        Stdio::Null => {
            let mut o = OpenOptions::new();
            o.read(!write).write(write).custom_flags(O_NOCTTY);
            o.open("/dev/null")
                .map(Some)
                .map_err(|e| Error::path("open", "/dev/null", e))
        }
        Stdio::File(p) => {
            let op = if write {
                "open log file"
            } else {
                "open input file"
            };
            // A symlink planted in a shared directory is not followed.
            warden_sys::fs::open_protected(p, &opts, O_NOCTTY)
                .map(Some)
                .map_err(|e| Error::path(op, p, e))
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| p.to_path_buf(), |d| d.join(p))
    }
}

fn resolve_credentials(
    user: Option<&str>,
    group: Option<&str>,
) -> Result<Option<Credentials>, Error> {
    let lookup = |e| Error::sys("look up user or group", e);
    let gid = match group {
        Some(g) => Some(
            cred::lookup_group(g)
                .map_err(lookup)?
                .ok_or_else(|| Error::UnknownGroup(g.to_string()))?,
        ),
        None => None,
    };
    let creds = match user {
        Some(u) => {
            let info = cred::lookup_user(u)
                .map_err(lookup)?
                .ok_or_else(|| Error::UnknownUser(u.to_string()))?;
            let groups = match gid {
                Some(g) => Supplementary::Exactly(vec![g]),
                None => Supplementary::OfUser(
                    CString::new(info.name.as_bytes()).map_err(|_| Error::UnknownUser(u.into()))?,
                ),
            };
            Credentials {
                uid: info.uid,
                gid: gid.unwrap_or(info.gid),
                groups,
            }
        }
        None => match gid {
            Some(g) => Credentials {
                uid: process::geteuid(),
                gid: g,
                groups: Supplementary::Exactly(vec![g]),
            },
            None => return Ok(None),
        },
    };
    if process::geteuid() != 0 {
        let same = creds.uid == process::geteuid() && creds.gid == process::getegid();
        if !same {
            let who = match (user, group) {
                (Some(u), Some(g)) => format!("{u}:{g}"),
                (Some(u), None) => u.to_string(),
                (None, g) => format!(":{}", g.unwrap_or_default()),
            };
            return Err(Error::NotPermitted(who));
        }
        // Already that user: nothing to change (setgroups would need root).
        return Ok(None);
    }
    Ok(Some(creds))
}

/// `LISTEN_FDS` if `LISTEN_PID` names this process (systemd socket activation).
fn listen_fds_for_us() -> RawFd {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    if !for_us {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<RawFd>().ok())
        .filter(|n| (1..=4096).contains(n))
        .unwrap_or(0)
}

fn bind_notify_socket() -> Result<NotifySocket, Error> {
    let base = std::env::temp_dir();
    let dir = warden_sys::fs::create_temp_dir_in(&base, ".warden-notify-")
        .map_err(|e| Error::path("create notify socket directory in", &base, e))?;
    let path = dir.join("notify");
    let sock = std::os::unix::net::UnixDatagram::bind(&path)
        .map_err(|e| Error::path("bind notify socket", &path, e))?;
    Ok(NotifySocket { sock, path })
}

fn fork_error(e: process::ForkError) -> Error {
    match e {
        process::ForkError::MultiThreaded(threads) => Error::MultiThreaded { threads },
        process::ForkError::Os(e) => Error::sys("fork", e),
    }
}

/// In the original process: reaps the intermediate process, then waits for
/// the daemon's verdict on the readiness pipe.
fn wait_for_verdict(
    plan: &Plan,
    read_end: OwnedFd,
    notify: Option<NotifySocket>,
    intermediate: Pid,
) -> Result<Result<Pid, Error>, Error> {
    let first = process::wait(intermediate)
        .map_err(|e| Error::sys("wait for the intermediate process", e))?;
    let verdict = Waiter {
        pipe: read_end,
        notify,
        timeout: plan.ready_timeout,
        pidfile: plan.pidfile.clone(),
    }
    .wait(first);
    Ok(match verdict {
        Verdict::Ready { pid: Some(pid) } => Ok(pid),
        Verdict::Ready { pid: None } => Err(Error::Daemon {
            code: exit::INIT_FAILED,
            message: "ready reported without a pid".into(),
        }),
        Verdict::Failed { code, message } => Err(Error::Daemon { code, message }),
        Verdict::Ended {
            pid,
            status,
            message,
        } => Err(Error::Ended {
            pid,
            status,
            message,
        }),
        Verdict::AlreadyRunning { pid } => Err(Error::AlreadyRunning {
            pid,
            path: plan.pidfile.clone().unwrap_or_default(),
        }),
    })
}

/// Daemonization for a host that must fork by itself: an interpreter whose
/// own fork path has to run (CPython's `os.fork()` runs `os.register_at_fork`
/// hooks and resets the interpreter's state in the child), made by
/// [`Daemonize::prepare_host_fork`].
///
/// The host does the forks and `setsid`; everything else is the same code as
/// [`Daemonize::start`]:
///
/// ```text
/// original: prepare_host_fork() ── fork ──► intermediate: setsid, fork, _exit(0)
///    └─ wait(intermediate pid) → daemon pid or Error     └──► daemon: setup()
/// ```
pub struct HostFork {
    plan: Plan,
    read_end: OwnedFd,
    write_end: OwnedFd,
}

impl fmt::Debug for HostFork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFork")
            .field("pidfile", &self.plan.pidfile)
            .finish_non_exhaustive()
    }
}

impl Daemonize {
    /// The steps before the first fork when the caller forks by itself (see
    /// [`HostFork`]): checks the settings and that the process has one thread,
    /// resolves the user, flushes C stdio, creates the readiness pipe and makes
    /// the process a child subreaper (so it can reap a daemon that dies before
    /// it is ready). Only [`Mode::Detach`], without a notify socket.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start), for failures before the fork.
    pub fn prepare_host_fork(self) -> Result<HostFork, Error> {
        let plan = self.plan()?;
        if plan.mode != Mode::Detach || plan.notify_socket {
            return Err(Error::Invalid {
                what: "host fork",
                detail: "only detaching without a notify socket is supported".into(),
            });
        }
        process::flush_c_stdio();
        let (read_end, write_end) =
            fd::pipe_cloexec().map_err(|e| Error::sys("create readiness pipe", e))?;
        process::set_child_subreaper().map_err(|e| Error::sys("become child subreaper", e))?;
        Ok(HostFork {
            plan,
            read_end,
            write_end,
        })
    }
}

impl HostFork {
    /// In the original process, after the first fork made `intermediate`:
    /// reaps it and waits for the daemon's verdict (its pid when ready), like
    /// [`Daemonize::spawn`]. The process stays a child subreaper.
    ///
    /// # Errors
    ///
    /// The outer error when waiting itself failed; the inner one is the
    /// start's verdict ([`Error::Daemon`] with the daemon's code and message,
    /// [`Error::AlreadyRunning`]).
    pub fn wait(self, intermediate: Pid) -> Result<Result<Pid, Error>, Error> {
        drop(self.write_end);
        wait_for_verdict(&self.plan, self.read_end, None, intermediate)
    }

    /// After the first fork and before [`setup`](Self::setup) (in the
    /// intermediate process when `setsid` or the second fork failed, or in the
    /// daemon when the host's own preparation failed): reports `error` to the
    /// original process as a setup failure (exit code 3) and `_exit`s.
    pub fn fail(self, error: &dyn fmt::Display) -> ! {
        drop(self.read_end);
        let e = Error::Daemon {
            code: exit::SETUP_FAILED,
            message: error.to_string(),
        };
        fail_in_child(&mut Reporter::new(self.write_end), &e)
    }

    /// In the final daemon process (after the host's fork, `setsid`, fork):
    /// every step of [`Daemonize::start`] in the daemon (descriptors, signals,
    /// umask, stdio, pidfile, chdir, environment, privilege drop). On failure
    /// the error is reported to the original process and this process
    /// `_exit`s; it never returns an error.
    pub fn setup(self) -> Daemonized {
        drop(self.read_end);
        let mut reporter = Reporter::new(self.write_end);
        reporter.send(&Message::Pid(Pid::this()));
        match self.plan.setup(Some(reporter), None) {
            Ok(d) => d,
            Err((e, Some(mut reporter))) => fail_in_child(&mut reporter, &e),
            Err((_, None)) => process::exit_immediately(exit::SETUP_FAILED),
        }
    }
}

/// Reports `e` to the original process and ends this (post-fork) process.
fn fail_in_child(reporter: &mut Reporter, e: &Error) -> ! {
    match e {
        Error::AlreadyRunning { pid, .. } => {
            reporter.send(&Message::AlreadyRunning(pid.map_or(0, Pid::as_raw)));
        }
        _ => reporter.send(&Message::Failed {
            code: e.exit_code(),
            message: e.to_string(),
        }),
    }
    process::exit_immediately(e.exit_code())
}

/// The daemon's handle, returned by [`Daemonize::start`] in the daemon.
///
/// Keep it alive for the daemon's whole life: dropping it removes the pidfile.
#[derive(Debug)]
pub struct Daemonized {
    reporter: Option<Reporter>,
    pidfile: Option<Pidfile>,
    sd_notify: Option<SdNotify>,
    detached: bool,
    ready: bool,
    notify_path: Option<PathBuf>,
}

impl Daemonized {
    /// Tells the original process (and systemd, under `NOTIFY_SOCKET`) that
    /// the daemon is ready; the original process then exits 0. Idempotent.
    pub fn notify_ready(&mut self) {
        if self.ready {
            return;
        }
        self.ready = true;
        if let Some(mut r) = self.reporter.take() {
            r.send(&Message::Ready);
        }
        if let Some(sd) = &self.sd_notify {
            let mut msg = String::from("READY=1");
            if self.detached {
                msg.push_str(&format!("\nMAINPID={}", Pid::this()));
            }
            let _ = sd.send(&msg);
        }
    }

    /// Tells systemd (if any) that the daemon is stopping.
    pub fn notify_stopping(&self) {
        if let Some(sd) = &self.sd_notify {
            let _ = sd.send("STOPPING=1");
        }
    }

    /// Whether readiness was reported.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The held pidfile, if one was configured.
    #[must_use]
    pub fn pidfile(&self) -> Option<&Pidfile> {
        self.pidfile.as_ref()
    }

    /// Initialisation failed: removes the pidfile, reports `error` to the
    /// original process (which prints it and exits with `code`) and exits.
    /// After readiness the message goes to stderr instead.
    pub fn fail(mut self, code: i32, error: &dyn fmt::Display) -> ! {
        if let Some(p) = self.pidfile.take() {
            p.remove();
        }
        match self.reporter.take() {
            Some(mut r) => {
                r.send(&Message::Failed {
                    code,
                    message: error.to_string(),
                });
                process::exit_immediately(code)
            }
            None => {
                let _ = writeln!(std::io::stderr(), "{error}");
                std::process::exit(code)
            }
        }
    }

    /// Replaces the daemon with `cmd` (no shell), keeping the pidfile lock
    /// across the exec. Readiness is the exec itself, or `READY=1` on the
    /// notify socket when [`Daemonize::notify_socket`] was set. Returns only by
    /// failing: exit 127 (not found) or 126 (cannot execute), reported to the
    /// original process.
    pub fn exec(mut self, cmd: &mut std::process::Command) -> ! {
        if let Some(t) = &self.notify_path {
            cmd.env("NOTIFY_SOCKET", t);
        } else if let Some(sd) = &self.sd_notify {
            // Foreground under systemd: the program notifies for itself.
            cmd.env("NOTIFY_SOCKET", sd.target());
        }
        let program = cmd.get_program().as_bytes().to_vec();
        if let Some(p) = self.pidfile.take() {
            if let Err(e) = p.keep_across_exec() {
                self.fail(
                    exit::SETUP_FAILED,
                    &Error::sys("keep pidfile across exec", e),
                );
            }
        }
        if let Some(r) = self.reporter.as_mut() {
            r.send(&Message::ExecArmed);
        }
        let err = cmd.exec();
        let e = Error::Exec {
            program: String::from_utf8_lossy(&program).into_owned(),
            source: err,
        };
        self.fail(e.exit_code(), &e)
    }
}
