//! The validated, typed configuration (the second parsing level).

use std::path::PathBuf;

use crate::shlex::ShlexError;

/// supervisord's log levels (`loglevel=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `blather` (3)
    Blather,
    /// `trace` (5)
    Trace,
    /// `debug` (10)
    Debug,
    /// `info` (20), the default
    Info,
    /// `warn` (30)
    Warn,
    /// `error` (40)
    Error,
    /// `critical` (50)
    Critical,
}

/// `autorestart=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    /// false/no/off/0
    Never,
    /// `unexpected` (default): restart when the exit code is not in `exitcodes`.
    Unexpected,
    /// true/yes/on/1
    Always,
}

/// `stdout_logfile=` / `stderr_logfile=` after supervisord's `logfile_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFile {
    /// `AUTO` (default): a file in `childlogdir`.
    Auto,
    /// `NONE`/`off`, the deprecated `syslog` value, or a stderr log when `redirect_stderr` is set.
    None,
    /// A path (`~` expanded, otherwise as written).
    Path(PathBuf),
}

/// Per-stream (stdout or stderr) logging settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLog {
    /// Where the stream is logged.
    pub logfile: LogFile,
    /// Rotate at this size; 0 = never (default 50MB).
    pub logfile_maxbytes: i64,
    /// Rotated files to keep (default 10).
    pub logfile_backups: i64,
    /// > 0 turns on capture mode (default 0).
    pub capture_maxbytes: i64,
    /// Emit PROCESS_LOG events (default false).
    pub events_enabled: bool,
    /// Also log to syslog (default false; forced true by `logfile=syslog`).
    pub syslog: bool,
    /// warden: `*_logfile_timestamps`, an RFC 3339 time at each line's start.
    pub timestamps: bool,
    /// warden: `*_logfile_format`.
    pub format: LogFormat,
    /// warden: `*_logfile_rotate`, rotation by time besides by size.
    pub rotate: LogRotate,
    /// warden: `*_logfile_compress`, rotated files gzipped.
    pub compress: bool,
}

/// `*_logfile_format=`: how output is written to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// As written (default).
    #[default]
    Text,
    /// One JSON object per line: time, program, stream, message.
    Json,
}

/// `*_logfile_rotate=`: rotation by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogRotate {
    /// By size only (default).
    #[default]
    Size,
    /// Also at local midnight.
    Daily,
    /// Also at the start of every hour.
    Hourly,
}

/// `previous_run=`: what becomes of the programs a crashed supervisor left
/// running (found through the state file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PreviousRun {
    /// Stop them before starting anything (default).
    #[default]
    Stop,
    /// Take over those still in the config: they count as RUNNING with
    /// their pid instead of being started again.
    Adopt,
}

/// What kind of section produced a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessKind {
    /// `[program:x]` (or an `[fcgi-program:x]` pulled into a `[group:x]`, which
    /// supervisord then runs as a plain program).
    Program,
    /// `[eventlistener:x]`: run as supervisord runs it (the event listener protocol).
    EventListener,
    /// `[fcgi-program:x]` in its own group: run as supervisord runs it (the socket is every process's fd 0).
    FcgiProgram,
}

/// One process, after `numprocs` expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessConfig {
    /// Expanded `process_name` (default: the program name).
    pub name: String,
    /// Name of the group it belongs to.
    pub group: String,
    /// The section name part after `program:` etc.
    pub program_name: String,
    /// The full section name, e.g. `program:web`.
    pub section: String,
    /// Section kind.
    pub kind: ProcessKind,
    /// The file the section came from.
    pub file: PathBuf,
    /// This process's number (`numprocs_start` + index).
    pub process_num: i64,
    /// `numprocs` (default 1).
    pub numprocs: i64,
    /// `numprocs_start` (default 0).
    pub numprocs_start: i64,
    /// The expanded command string, exactly as supervisord keeps it.
    pub command: String,
    /// `shlex.split(command)`; supervisord only reports a failure at spawn time.
    pub argv: Result<Vec<String>, ShlexError>,
    /// `directory=` (expanded, not checked).
    pub directory: Option<String>,
    /// `umask=` (octal).
    pub umask: Option<u32>,
    /// `priority=` (default 999; 999 for event listener processes too).
    pub priority: i64,
    /// `autostart=` (default true).
    pub autostart: bool,
    /// `autorestart=` (default unexpected).
    pub autorestart: AutoRestart,
    /// `startsecs=` (default 1).
    pub startsecs: i64,
    /// `startretries=` (default 3).
    pub startretries: i64,
    /// `exitcodes=` (default `[0]`).
    pub exitcodes: Vec<u8>,
    /// `stopsignal=` as a signal number (default SIGTERM).
    pub stopsignal: i32,
    /// `stopwaitsecs=` (default 10).
    pub stopwaitsecs: i64,
    /// `stopasgroup=` (default false).
    pub stopasgroup: bool,
    /// `killasgroup=` (default: the value of stopasgroup).
    pub killasgroup: bool,
    /// `user=` as written.
    pub user: Option<String>,
    /// The uid `user` resolves to.
    pub uid: Option<u32>,
    /// `redirect_stderr=` (default false).
    pub redirect_stderr: bool,
    /// stdout logging.
    pub stdout: StreamLog,
    /// stderr logging (`logfile` is `None` when `redirect_stderr` is set).
    pub stderr: StreamLog,
    /// `[supervisord] environment` then this program's `environment=`, in
    /// first-definition order (a later value replaces an earlier one in place).
    pub environment: Vec<(String, String)>,
    /// `serverurl=`; `None` means AUTO (use supervisord's own server URL).
    pub serverurl: Option<String>,
    /// warden's own keys (readiness, health, dependencies, backoff,
    /// fail-fast), which supervisord ignores.
    pub lifecycle: Lifecycle,
}

/// How readiness or health is checked (`ready=`, `healthcheck=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// `notify`: `READY=1` (or `WATCHDOG=1`) on `$NOTIFY_SOCKET`.
    Notify,
    /// `tcp:PORT` or `tcp:HOST:PORT`: a connection succeeds.
    Tcp {
        /// Host (default `127.0.0.1`).
        host: String,
        /// Port.
        port: u16,
    },
    /// `http:URL`: a GET answers 2xx.
    Http(String),
    /// `exec:COMMAND`: the command (split like `command=`) exits 0.
    Exec(Vec<String>),
    /// `log:REGEX`: a line of the program's output matches.
    Log(String),
}

/// `backoff=`: how the delay before a restart grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backoff {
    /// supervisord's: 1, 2, 3 s... after failed starts; exits after
    /// RUNNING restart at once.
    #[default]
    Linear,
    /// 1, 2, 4 s... up to `backoff_max`, for every restart.
    Exponential,
}

/// warden's lifecycle keys of a `[program:x]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// `ready=` (none: RUNNING after `startsecs`, as supervisord).
    pub ready: Option<Probe>,
    /// `ready_timeout=` seconds (default 60).
    pub ready_timeout: i64,
    /// `healthcheck=` (none: no health checks).
    pub healthcheck: Option<Probe>,
    /// `healthcheck_interval=` seconds (default 10).
    pub healthcheck_interval: i64,
    /// `healthcheck_timeout=` seconds (default 5).
    pub healthcheck_timeout: i64,
    /// `healthcheck_retries=` (default 3).
    pub healthcheck_retries: i64,
    /// `healthcheck_start_period=` seconds (default 0).
    pub healthcheck_start_period: i64,
    /// `depends_on=`: program names or `GROUP:*`.
    pub depends_on: Vec<String>,
    /// `backoff=` (default linear, supervisord's).
    pub backoff: Backoff,
    /// `backoff_max=` seconds (default 60).
    pub backoff_max: i64,
    /// `backoff_reset=` seconds (default 60).
    pub backoff_reset: i64,
    /// `critical=` (default false): going FATAL (or exiting for good)
    /// stops the supervisor.
    pub critical: bool,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            ready: None,
            ready_timeout: 60,
            healthcheck: None,
            healthcheck_interval: 10,
            healthcheck_timeout: 5,
            healthcheck_retries: 3,
            healthcheck_start_period: 0,
            depends_on: Vec::new(),
            backoff: Backoff::Linear,
            backoff_max: 60,
            backoff_reset: 60,
            critical: false,
        }
    }
}

/// A group of processes that are started and stopped together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// Group name (program name for homogeneous groups).
    pub name: String,
    /// Group priority (default 999).
    pub priority: i64,
    /// True when defined by a `[group:x]` section.
    pub heterogeneous: bool,
    /// The processes, in supervisord's order.
    pub processes: Vec<ProcessConfig>,
}

/// An `[eventlistener:x]` pool (run by the supervisor as a pool of listeners).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventListenerPool {
    /// Pool name.
    pub name: String,
    /// Pool priority (default -1).
    pub priority: i64,
    /// `buffer_size=` (default 10, >= 1).
    pub buffer_size: i64,
    /// Upper-cased event type names, deduplicated, sorted.
    pub events: Vec<String>,
    /// `result_handler=` (default `supervisor.dispatchers:default_handler`).
    pub result_handler: String,
    /// The listener processes.
    pub processes: Vec<ProcessConfig>,
}

/// An `[fcgi-program:x]` socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FcgiSocket {
    /// `unix:///absolute/path`.
    Unix {
        /// Normalized path.
        path: PathBuf,
        /// `socket_mode=` (default 0700).
        mode: u32,
        /// `socket_owner=` as (uid, gid); `None` = the program's user if it differs.
        owner: Option<(u32, Option<u32>)>,
    },
    /// `tcp://host:port`.
    Tcp {
        /// Lower-cased host.
        host: String,
        /// Port.
        port: u16,
    },
}

/// An `[fcgi-program:x]` group (its socket is created by the supervisor and is every process's fd 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcgiGroup {
    /// Group (program) name.
    pub name: String,
    /// Priority (default 999).
    pub priority: i64,
    /// The socket.
    pub socket: FcgiSocket,
    /// `socket_backlog=` (1..=65535; default SOMAXCONN).
    pub socket_backlog: Option<i64>,
    /// The processes.
    pub processes: Vec<ProcessConfig>,
}

/// `[supervisord]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisordSection {
    /// Normalized absolute path (default `$CWD/supervisord.log`), or `syslog`.
    pub logfile: PathBuf,
    /// Default 50MB.
    pub logfile_maxbytes: i64,
    /// Default 10.
    pub logfile_backups: i64,
    /// Default info.
    pub loglevel: LogLevel,
    /// Normalized absolute path (default `$CWD/supervisord.pid`).
    pub pidfile: PathBuf,
    /// Default 022.
    pub umask: u32,
    /// Default false.
    pub nodaemon: bool,
    /// Default false.
    pub silent: bool,
    /// Default 1024.
    pub minfds: i64,
    /// Default 200.
    pub minprocs: i64,
    /// warden: at most this many HTTP connections at once, over all servers;
    /// more are answered 503 and closed (default 512).
    pub http_max_connections: u32,
    /// warden: an HTTP connection that sends no request for this many seconds
    /// is closed (default 60).
    pub http_idle_timeout: u32,
    /// warden: the largest request body accepted, in bytes; a larger one is
    /// answered 413 (default 4MB).
    pub http_max_body: u64,
    /// warden: seconds a shutdown may take before what is left is SIGKILLed
    /// (default: none, or 9 as a container's init).
    pub shutdown_timeout: Option<u32>,
    /// warden: signals (numbers) the supervisor passes on to its programs
    /// (HUP, USR1, USR2, WINCH: instead of acting on them; TERM, INT, QUIT:
    /// to every program at once, then the shutdown; default none).
    pub forward_signals: Vec<i32>,
    /// warden: the signal children get when the supervisor dies
    /// (`PR_SET_PDEATHSIG`; default SIGKILL, `none` for nothing).
    pub pdeathsig: Option<i32>,
    /// warden: give each program its own cgroup v2 when the supervisor's
    /// cgroup is delegated to it (default true).
    pub cgroups: bool,
    /// warden: what becomes of the programs a crashed previous run left
    /// running (default: stop them).
    pub previous_run: PreviousRun,
    /// Default false.
    pub nocleanup: bool,
    /// Default: the system temp dir.
    pub childlogdir: PathBuf,
    /// `user=` as written.
    pub user: Option<String>,
    /// Resolved uid of `user`.
    pub uid: Option<u32>,
    /// Must exist when set.
    pub directory: Option<PathBuf>,
    /// Default false.
    pub strip_ansi: bool,
    /// `environment=` pairs in order.
    pub environment: Vec<(String, String)>,
    /// Default `supervisor`.
    pub identifier: String,
}

/// Credentials of an HTTP server or client section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// `username=`.
    pub username: Option<String>,
    /// `password=` (plaintext or `{SHA}` + hex SHA-1).
    pub password: Option<String>,
}

/// `[unix_http_server]` (any section whose name starts with that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixHttpServer {
    /// The part after `:` in the section name, if any.
    pub name: Option<String>,
    /// Normalized socket path.
    pub file: PathBuf,
    /// `chmod=` (default 0700).
    pub chmod: u32,
    /// `chown=` as (uid, gid); `None` = leave as created.
    pub chown: Option<(u32, Option<u32>)>,
    /// Authentication.
    pub credentials: Credentials,
}

/// `[inet_http_server]` (any section whose name starts with that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetHttpServer {
    /// The part after `:` in the section name, if any.
    pub name: Option<String>,
    /// Lower-cased host; empty = all interfaces.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Authentication.
    pub credentials: Credentials,
}

/// `[supervisorctl]` (read the way supervisorctl reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorctlSection {
    /// Default `http://localhost:9001`; `unix://` paths normalized.
    pub serverurl: String,
    /// Credentials.
    pub credentials: Credentials,
    /// Default `supervisor`.
    pub prompt: String,
    /// Normalized path.
    pub history_file: Option<PathBuf>,
}

/// `[rpcinterface:x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcInterface {
    /// The part after `rpcinterface:`.
    pub name: String,
    /// `supervisor.rpcinterface_factory=`.
    pub factory: String,
    /// All other keys (including `[DEFAULT]` ones), expanded, in order.
    pub extras: Vec<(String, String)>,
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The main config file (or the `here`-based pseudo path for `parse_str`).
    pub file: PathBuf,
    /// Files pulled in by `[include]`, in reading order.
    pub included_files: Vec<PathBuf>,
    /// `[supervisord]`.
    pub supervisord: SupervisordSection,
    /// Unix HTTP servers (normally zero or one).
    pub unix_http_servers: Vec<UnixHttpServer>,
    /// TCP HTTP servers (normally zero or one).
    pub inet_http_servers: Vec<InetHttpServer>,
    /// `[supervisorctl]`, if present and readable.
    pub supervisorctl: Option<SupervisorctlSection>,
    /// `[rpcinterface:x]` sections.
    pub rpcinterfaces: Vec<RpcInterface>,
    /// Program groups sorted by (priority, name): homogeneous and heterogeneous.
    pub groups: Vec<GroupConfig>,
    /// Event listener pools, sorted by (priority, name). Not run by warden.
    pub eventlisteners: Vec<EventListenerPool>,
    /// FastCGI groups, sorted by (priority, name). Not run by warden.
    pub fcgi_programs: Vec<FcgiGroup>,
    /// The URL children get as `SUPERVISOR_SERVER_URL` when their
    /// `serverurl` is AUTO: the first unix server, else the first inet one.
    pub serverurl: Option<String>,
}

impl Config {
    /// The first `[unix_http_server]`.
    pub fn unix_http_server(&self) -> Option<&UnixHttpServer> {
        self.unix_http_servers.first()
    }

    /// The first `[inet_http_server]`.
    pub fn inet_http_server(&self) -> Option<&InetHttpServer> {
        self.inet_http_servers.first()
    }

    /// Look up a program group by name.
    pub fn group(&self, name: &str) -> Option<&GroupConfig> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// All processes of all program groups, in group order.
    pub fn processes(&self) -> impl Iterator<Item = &ProcessConfig> {
        self.groups.iter().flat_map(|g| g.processes.iter())
    }
}

/// A successful load: the model plus non-fatal findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Unknown keys and sections, include misses, deprecations, ...
    pub warnings: Vec<crate::error::Warning>,
}
