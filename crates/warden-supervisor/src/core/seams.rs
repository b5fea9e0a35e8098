//! The engine's only ways to touch the world, so it can be tested without
//! real processes: a [`Launcher`] (spawn, signal, log file names), a
//! [`Clock`] and a config [`Loader`].

use std::path::PathBuf;
use std::rc::Rc;

use crate::core::logs::{MainLog, Sink, Tap};
use crate::core::state::Ms;

/// What the launcher needs to start one process.
pub struct SpawnSpec<'a> {
    /// The process's config.
    pub config: &'a warden_config::ProcessConfig,
    /// The resolved executable.
    pub program: PathBuf,
    /// Its arguments, `argv[0]` first.
    pub argv: Vec<String>,
    /// Where its stdout goes (None: discarded).
    pub stdout: Option<Rc<Sink>>,
    /// Where its stderr goes (None: discarded, or stdout's with
    /// `redirect_stderr`).
    pub stderr: Option<Rc<Sink>>,
    /// The main log (lost output is reported there; at `loglevel=debug`
    /// every chunk is echoed to it).
    pub log: MainLog,
    /// Raw stdout for the event listener protocol (listener processes only).
    pub tap: Option<Tap>,
    /// An `[fcgi-program:x]` process's listening socket: its fd 0 instead of
    /// a stdin pipe.
    pub socket: Option<std::os::fd::BorrowedFd<'a>>,
}

impl std::fmt::Debug for SpawnSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnSpec")
            .field("program", &self.program)
            .field("argv", &self.argv)
            .finish_non_exhaustive()
    }
}

/// A started process.
pub struct Spawned {
    /// Its pid (and process group).
    pub pid: i32,
    /// Its stdin.
    pub stdin: Option<Box<dyn Stdin>>,
}

/// A process a crashed previous run left running, to be taken over
/// (`previous_run=adopt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoptee {
    /// Its group.
    pub group: String,
    /// Its process name.
    pub name: String,
    /// Its pid.
    pub pid: i32,
    /// Its start time (`/proc/PID/stat` field 22), so a reused pid is
    /// never taken for it.
    pub start: u64,
    /// Its cgroup, if the previous run gave it one.
    pub cgroup: Option<PathBuf>,
    /// When it started (seconds since the epoch), for its uptime.
    pub started_wall: i64,
}

/// A process's stdin: chunks sent are written in order, each whole,
/// however slowly the process reads.
pub trait Stdin {
    /// Queues `data`.
    ///
    /// # Errors
    ///
    /// The process closed its stdin.
    fn send(&mut self, data: Vec<u8>) -> Result<(), std::io::Error>;
}

/// Starts and signals processes.
pub trait Launcher {
    /// Starts `spec`; `Err` carries supervisord's spawn error text.
    ///
    /// # Errors
    ///
    /// The spawn error message (fork, pipes, user lookup).
    fn spawn(&mut self, spec: &SpawnSpec<'_>) -> Result<Spawned, String>;

    /// Sends `signal` to `pid`, or to its process group with `group`.
    /// A process that is already gone (ESRCH) is not an error.
    ///
    /// # Errors
    ///
    /// Any other failure of kill(2).
    fn signal(&mut self, pid: i32, signal: i32, group: bool) -> std::io::Result<()>;

    /// A stop's signal (the stop signal, then SIGKILL): like
    /// [`Launcher::signal`], but a launcher that tracks whole process trees
    /// also reaches the descendants that left the process group.
    ///
    /// # Errors
    ///
    /// Any failure of kill(2) other than ESRCH.
    fn stop_signal(&mut self, pid: i32, signal: i32, group: bool) -> std::io::Result<()> {
        self.signal(pid, signal, group)
    }

    /// Takes over `who` (not a child of ours): its end must come back as a
    /// reaped pid with [`Exit::Unknown`](crate::core::state::Exit::Unknown).
    /// The default cannot.
    ///
    /// # Errors
    ///
    /// It is gone, or its end cannot be watched.
    fn adopt(
        &mut self,
        who: &Adoptee,
        _config: &warden_config::ProcessConfig,
    ) -> Result<(), String> {
        Err(format!("cannot watch pid {}", who.pid))
    }

    /// Keeps the programs stopped by hand for the next run (the default
    /// keeps nothing).
    fn remember(&mut self, _intent: &crate::core::intent::Intent) {}

    /// Creates a new AUTO log file for `process`'s `channel` and returns
    /// its path (supervisord names them `NAME-CHANNEL---IDENT-RANDOM.log`).
    ///
    /// # Errors
    ///
    /// The file could not be created.
    fn auto_log(&mut self, process: &str, channel: &str) -> std::io::Result<PathBuf>;

    /// Creates an `[fcgi-program:x]` group's listening socket (close on
    /// exec; a child gets it as its fd 0).
    ///
    /// # Errors
    ///
    /// It could not be created, bound or listened on.
    fn open_socket(
        &mut self,
        spec: &crate::core::engine::FcgiSpec,
    ) -> std::io::Result<std::os::fd::OwnedFd>;

    /// Opens (creates) a log file.
    ///
    /// # Errors
    ///
    /// The file could not be opened.
    fn open_log(
        &mut self,
        path: &std::path::Path,
        maxbytes: i64,
        backups: i64,
    ) -> std::io::Result<Rc<Sink>>;
}

/// Time, as the engine sees it.
pub trait Clock {
    /// Monotonic milliseconds since some start.
    fn now(&self) -> Ms;
    /// Wall time, Unix seconds.
    fn wall(&self) -> i64;
}

/// Reads the config file again (reread, reload).
pub type Loader = Box<dyn Fn() -> Result<warden_config::Config, String>>;

/// What a probe checks for: readiness (`ready=`) or health
/// (`healthcheck=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// `ready=`, while STARTING.
    Ready,
    /// `healthcheck=`, while RUNNING.
    Health,
}

/// One probe to run off the engine; its result comes back through
/// [`Engine::probed`](crate::core::engine::Engine::probed) with the same
/// `id`, `generation` and `check`.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    /// The process.
    pub id: crate::core::engine::ProcId,
    /// Its spawn generation (a result for an older spawn is dropped).
    pub generation: u64,
    /// Readiness or health.
    pub check: Check,
    /// What to probe (never `Notify`: those come as messages).
    pub probe: warden_config::Probe,
    /// Give up after this long (milliseconds).
    pub timeout: Ms,
    /// The program's log files (for `log:`).
    pub logs: Vec<PathBuf>,
    /// The program's working directory (for `exec:`).
    pub directory: Option<String>,
}

/// Runs probes off the engine (connections, HTTP requests, commands, log
/// reads) and reports back as events; never blocks the engine.
pub trait Prober {
    /// Starts `req`; the result comes later as an event.
    fn probe(&mut self, req: ProbeRequest);

    /// A reaped child that the engine does not know: a probe's command?
    /// `true` if it was one (its result then follows as an event).
    fn reaped(&mut self, _pid: i32, _exit: crate::core::state::Exit) -> bool {
        false
    }
}
