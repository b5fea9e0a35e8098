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
