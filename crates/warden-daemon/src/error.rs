//! Typed errors and the exit codes they map to.

use std::path::PathBuf;

use warden_sys::Pid;

/// Documented exit codes of a start, shared by the library's parent process
/// and the `warden` CLI (start-stop-daemon compatible where scripts test them).
pub mod exit {
    /// Started (or, for stop: stopped; for status: running).
    pub const OK: i32 = 0;
    /// Start: already running. Stop: not running.
    pub const ALREADY_RUNNING: i32 = 1;
    /// Stop: still running when the signal schedule ran out.
    pub const STILL_RUNNING: i32 = 2;
    /// Start: a setup step failed (option, chdir, chroot, user, pidfile, log file).
    pub const SETUP_FAILED: i32 = 3;
    /// The program to exec was found but is not executable.
    pub const NOT_EXECUTABLE: i32 = 126;
    /// The program to exec was not found.
    pub const NOT_FOUND: i32 = 127;
    /// The daemon's own initialisation failed, or it ended before it was ready
    /// with status 0 (otherwise its own status, or 128+signal, is used).
    pub const INIT_FAILED: i32 = 1;
    /// Readiness (`READY=1` with a notify socket) did not come within the
    /// ready timeout; the daemon was stopped. As GNU `timeout`.
    pub const READY_TIMEOUT: i32 = 124;
    /// `warden start`: the command ended within its start window with a
    /// status that would read as one of warden's own codes (0 to 3), or it
    /// left another process running in its place.
    pub const START_WINDOW: i32 = 125;
}

/// Everything that can go wrong while daemonizing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `fork` would copy only the calling thread.
    #[error(
        "refusing to daemonize a process with {threads} threads (fork copies only the calling \
         thread): daemonize before spawning threads or building a tokio runtime"
    )]
    MultiThreaded {
        /// How many threads the process had.
        threads: usize,
    },
    /// A file system operation on a path failed.
    #[error("{op} {path:?}: {source}")]
    Path {
        /// What was being done ("change directory to", "open log file", ...).
        op: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{op}: {source}")]
    Sys {
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// No such user.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    /// No such group.
    #[error("unknown group {0:?}")]
    UnknownGroup(String),
    /// A user or group change was asked for without the privilege to do it.
    #[error("switching to user/group {0:?} needs root")]
    NotPermitted(String),
    /// The pidfile is locked by a live daemon.
    #[error("already running{} (pidfile {path:?})", pid.map(|p| format!(" as pid {p}")).unwrap_or_default())]
    AlreadyRunning {
        /// The running daemon's pid, if the pidfile names one.
        pid: Option<Pid>,
        /// The pidfile.
        path: PathBuf,
    },
    /// The pidfile is a symlink or, for root, writable by others.
    #[error("refusing pidfile {path:?}: {why}")]
    InsecurePidfile {
        /// The pidfile.
        path: PathBuf,
        /// Why it is refused.
        why: &'static str,
    },
    /// The pidfile exists but does not hold a pid.
    #[error("pidfile {path:?} does not contain a process id")]
    BadPidfile {
        /// The pidfile.
        path: PathBuf,
    },
    /// An invalid option value.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// The option.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The daemon reported a failure after the fork, or ended before ready.
    /// Only seen by callers of [`crate::Daemonize::spawn`].
    #[error("{message}")]
    Daemon {
        /// The exit code the original process should use.
        code: i32,
        /// The daemon's message.
        message: String,
    },
    /// The exec'd program ended before it was ready (with a notify socket).
    #[error("{message}")]
    Ended {
        /// Its pid.
        pid: Pid,
        /// How it ended.
        status: warden_sys::process::ExitStatus,
        /// What happened, for people.
        message: String,
    },
    /// The caller's [`crate::Daemonize::privileged_action`] failed.
    #[error("{0}")]
    Privileged(String),
    /// The program to exec could not be run.
    #[error("cannot execute {program:?}: {source}")]
    Exec {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Error {
    /// The exit code a start that failed this way ends with (see [`exit`]).
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::AlreadyRunning { .. } => exit::ALREADY_RUNNING,
            Error::Daemon { code, .. } => *code,
            Error::Ended { status, .. } => match status.shell_code() {
                0 => exit::INIT_FAILED,
                c => c,
            },
            Error::Exec { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => exit::NOT_FOUND,
                _ => exit::NOT_EXECUTABLE,
            },
            _ => exit::SETUP_FAILED,
        }
    }

    pub(crate) fn path(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Path {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sys(op: &'static str, source: std::io::Error) -> Self {
        Error::Sys { op, source }
    }
}

/// A boxed error for user code (`Daemon::init`, `Daemon::run`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
