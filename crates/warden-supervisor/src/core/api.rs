//! The core's language: typed requests, replies and errors.
//!
//! Every front end (XML-RPC, the web pages, a JSON API) translates its wire
//! format into a [`Request`] and a [`Reply`] or [`ApiError`] back into its
//! own; nothing here knows about any wire format. [`ErrorKind`] has exactly
//! supervisord's fault kinds, one to one, so an adapter that speaks
//! supervisord's protocol maps them without loss.

use std::path::PathBuf;
use std::rc::Rc;

pub use warden_types::Channel;
use warden_types::{Namespec, ProcessState, SupervisorState};

/// The supervisord version this supervisor emulates.
pub const SUPERVISOR_VERSION: &str = "4.3.0";

use crate::core::logs::Sink;

/// What a process request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A process, or a whole group with `group:*` (supervisord's namespec).
    Spec(Namespec),
    /// Every process of the group with this name.
    Group(String),
    /// Every process.
    All,
}

/// One operation on the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The supervisord version this supervisor emulates.
    Version,
    /// The supervisor's identification string.
    Identification,
    /// The supervisor's state.
    State,
    /// The supervisor's pid.
    Pid,
    /// Part of the main log (supervisord's `readFile` rules).
    ReadMainLog {
        /// Start; negative counts from the end.
        offset: i64,
        /// Bytes; 0 to the end.
        length: i64,
    },
    /// Empties the main log.
    ClearMainLog,
    /// Stops everything, then exits.
    Shutdown,
    /// Stops everything, re-reads the config and starts again.
    Restart,
    /// Re-reads the config file into the pending groups.
    Reread,
    /// Adds a group of the last config read.
    AddGroup(String),
    /// Removes a stopped group.
    RemoveGroup(String),
    /// One process's state.
    ProcessInfo(Namespec),
    /// Every process's state, sorted by (group, name).
    AllProcessInfo,
    /// Every process's config of the last config read.
    AllConfigInfo,
    /// Starts processes; with `wait`, answers once they are RUNNING.
    Start {
        /// What to start.
        target: Target,
        /// Wait for RUNNING (or failure).
        wait: bool,
    },
    /// Stops processes; with `wait`, answers once they are stopped.
    Stop {
        /// What to stop.
        target: Target,
        /// Wait for a stopped state.
        wait: bool,
    },
    /// Sends a signal (a name such as `HUP` or a number, as given).
    Signal {
        /// Whom to signal.
        target: Target,
        /// The signal as the client wrote it.
        signal: String,
    },
    /// Writes to a process's stdin (queued, in order, whole).
    SendStdin {
        /// The process.
        process: Namespec,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Emits a remote communication event.
    SendRemoteComm {
        /// Its type.
        kind: String,
        /// Its data.
        data: String,
    },
    /// Part of a process's log (supervisord's `readFile` rules).
    ReadLog {
        /// The process.
        process: Namespec,
        /// Which log.
        channel: Channel,
        /// Start; negative counts from the end.
        offset: i64,
        /// Bytes; 0 to the end.
        length: i64,
    },
    /// The end of a process's log (supervisord's `tailFile` rules).
    TailLog {
        /// The process.
        process: Namespec,
        /// Which log.
        channel: Channel,
        /// Where the client is.
        offset: i64,
        /// At most this much.
        length: i64,
    },
    /// Empties the logs of processes.
    ClearLogs(Target),
    /// The log to follow: a process's channel, or the main log.
    Follow(Option<(Namespec, Channel)>),
    /// The active event listener pools.
    Pools,
    /// Re-reads the config and applies it with the fewest restarts: only
    /// processes whose config changed are restarted, unchanged ones keep
    /// running, new ones are added and removed ones stopped and dropped.
    /// Answers once every stop it needed is done.
    Update {
        /// The groups to update; empty for all.
        groups: Vec<String>,
    },
}

/// A process as the core sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessView {
    /// The process name.
    pub name: String,
    /// Its group.
    pub group: String,
    /// Last start, Unix seconds (0 if never).
    pub start: i64,
    /// Last stop, Unix seconds (0 if never).
    pub stop: i64,
    /// Now, Unix seconds.
    pub now: i64,
    /// Its state.
    pub state: ProcessState,
    /// The last spawn error, or empty.
    pub spawnerr: String,
    /// The last exit status (-1 after a signal).
    pub exitstatus: i32,
    /// The stdout log, if any.
    pub stdout_logfile: Option<PathBuf>,
    /// The stderr log, if any.
    pub stderr_logfile: Option<PathBuf>,
    /// The live pid, 0 if none.
    pub pid: i32,
    /// A note the description ends with: output is being lost (a log
    /// cannot be written), the program is unhealthy (its health checks
    /// fail).
    pub log_failure: Option<String>,
    /// Spawns attempted over the supervisor's life.
    pub starts: u64,
    /// Bytes written to its log files over the supervisor's life.
    pub log_bytes: u64,
    /// With warden's `healthcheck=`: failed checks in a row (0: healthy);
    /// `None` without health checks.
    pub health_failures: Option<i64>,
}

/// A process of the last config read, and whether its group is in use.
#[derive(Debug, Clone)]
pub struct ConfigView {
    /// The group.
    pub group: Rc<warden_config::GroupConfig>,
    /// The process's index in the group.
    pub index: usize,
    /// The group is active.
    pub inuse: bool,
    /// The resolved stdout log (AUTO resolved where the group is active).
    pub stdout_logfile: Option<PathBuf>,
    /// The resolved stderr log.
    pub stderr_logfile: Option<PathBuf>,
}

impl ConfigView {
    /// The process's config.
    #[must_use]
    pub fn process(&self) -> &warden_config::ProcessConfig {
        &self.group.processes[self.index]
    }
}

/// The outcome for one process of a group or all request, in the order the
/// outcomes were known (supervisord's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultEntry {
    /// The process.
    pub name: String,
    /// Its group.
    pub group: String,
    /// Success or the error.
    pub result: Result<(), ApiError>,
}

/// What [`Request::Update`] did, group by group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateReport {
    /// Affected groups, in the order they were handled: removed groups,
    /// then changed ones, then added ones.
    pub groups: Vec<GroupUpdate>,
}

/// What an update did to one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUpdate {
    /// The group.
    pub group: String,
    /// What happened to it as a whole.
    pub action: GroupAction,
    /// What happened to its processes (for a changed group: only the
    /// processes that were touched).
    pub processes: Vec<ProcessUpdate>,
}

/// What an update did to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAction {
    /// New in the config: added (and autostarted).
    Added,
    /// Gone from the config: its processes stopped, the group dropped.
    Removed,
    /// Changed: only the changed processes were touched.
    Changed,
    /// Named in the request but neither active nor in the config: nothing
    /// was done to it.
    Unknown,
}

/// What an update did to one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessUpdate {
    /// The process name.
    pub name: String,
    /// What happened.
    pub action: ProcessAction,
}

/// What an update did to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessAction {
    /// New in its group: added, started if `autostart`.
    Added,
    /// Gone from its group: stopped and dropped.
    Removed,
    /// Its config changed while it ran: stopped, then started again with
    /// the new config.
    Restarted,
    /// Its config changed while it was not running: the new config is in
    /// place, and it stays as it was (stopped, exited or fatal).
    Replaced,
    /// Only settings that apply without a restart changed (priority,
    /// autostart, autorestart, start and stop policy): applied in place.
    Updated,
}

impl ProcessAction {
    /// The word clients print.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessAction::Added => "added",
            ProcessAction::Removed => "removed",
            ProcessAction::Restarted => "restarted",
            ProcessAction::Replaced => "replaced",
            ProcessAction::Updated => "updated",
        }
    }
}

impl GroupAction {
    /// The word clients print.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GroupAction::Added => "added",
            GroupAction::Removed => "removed",
            GroupAction::Changed => "changed",
            GroupAction::Unknown => "unknown",
        }
    }
}

/// What a re-read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Groups only in the new config.
    pub added: Vec<String>,
    /// Groups whose config changed.
    pub changed: Vec<String>,
    /// Groups no longer in the config.
    pub removed: Vec<String>,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone)]
pub enum Reply {
    /// Done.
    Ok,
    /// A text (identification, log contents as text).
    Text(String),
    /// A number (pid).
    Int(i64),
    /// The supervisor's state.
    State(SupervisorState),
    /// Log bytes.
    Bytes(Vec<u8>),
    /// One process.
    Process(ProcessView),
    /// Processes.
    Processes(Vec<ProcessView>),
    /// Configs.
    Configs(Vec<ConfigView>),
    /// Per-process outcomes of a group or all request.
    Results(Vec<ResultEntry>),
    /// A log tail: bytes, the next offset, whether data was skipped.
    Tail {
        /// The bytes.
        data: Vec<u8>,
        /// The offset to ask from next time.
        offset: i64,
        /// Bytes were skipped.
        overflow: bool,
    },
    /// What a re-read found.
    Changes(Changes),
    /// A log to follow (`None`: there is nothing to follow).
    Follow(Option<Rc<Sink>>),
    /// Event listener pools.
    Pools(Vec<PoolView>),
    /// What an update did.
    Update(UpdateReport),
}

/// An active event listener pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolView {
    /// The pool (group) name.
    pub name: String,
    /// Event type names it subscribes to (may be abstract types).
    pub events: Vec<String>,
    /// How many events it buffers.
    pub buffer_size: usize,
    /// Its listener processes, in config order.
    pub processes: Vec<String>,
}

/// supervisord's fault kinds, one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// INCORRECT_PARAMETERS
    IncorrectParameters,
    /// BAD_ARGUMENTS
    BadArguments,
    /// SHUTDOWN_STATE
    ShutdownState,
    /// BAD_NAME
    BadName,
    /// BAD_SIGNAL
    BadSignal,
    /// NO_FILE
    NoFile,
    /// NOT_EXECUTABLE
    NotExecutable,
    /// FAILED
    Failed,
    /// ABNORMAL_TERMINATION
    AbnormalTermination,
    /// SPAWN_ERROR
    SpawnError,
    /// ALREADY_STARTED
    AlreadyStarted,
    /// NOT_RUNNING
    NotRunning,
    /// ALREADY_ADDED
    AlreadyAdded,
    /// STILL_RUNNING
    StillRunning,
    /// CANT_REREAD
    CantReread,
}

/// A refused or failed request: the kind and supervisord's detail text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct ApiError {
    /// The kind.
    pub kind: ErrorKind,
    /// The detail (a name, a message), if any.
    pub detail: Option<String>,
}

impl ApiError {
    /// An error with a detail.
    pub fn new(kind: ErrorKind, detail: impl std::fmt::Display) -> ApiError {
        ApiError {
            kind,
            detail: Some(detail.to_string()),
        }
    }

    /// An error without a detail.
    #[must_use]
    pub fn bare(kind: ErrorKind) -> ApiError {
        ApiError { kind, detail: None }
    }
}

/// The result of a request.
pub type Outcome = Result<Reply, ApiError>;
