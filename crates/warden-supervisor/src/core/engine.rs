//! The engine: the one owner of the supervisor's state.
//!
//! It is driven from outside (see `crate::run`) by four inputs: a
//! [`Request`](crate::core::api::Request) with the channel its answer goes to, a reaped child
//! ([`Engine::reaped`]), a fired deadline ([`Engine::fire_due`]) and a
//! control signal ([`Engine::control`]). Each input goes through the pure
//! state machine ([`crate::core::state::step`]); the effects are carried out
//! through the [`Launcher`] seam, logged, published on the [`Bus`], and then
//! the waiting calls (tickets) whose processes changed are checked, in the
//! order they were made. Nothing runs on a timer except the deadlines the
//! state machine (or a stop report) asked for.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;

use tokio::sync::oneshot;
use warden_config::{Config, FcgiSocket, GroupConfig, LogFile, ProcessConfig};
use warden_types::{Namespec, SupervisorState};

use crate::core::api::{ApiError, ErrorKind, Outcome, ResultEntry};
use crate::core::events::{Bus, EventKind};
use crate::core::logs::{Level, MainLog, Sink};
use crate::core::seams::{Clock, Launcher, Loader, Prober, SpawnSpec};
use crate::core::state::{self, Ctx, Effect, Event, Exit, Fsm, Ms, Policy, State};

/// Identifies a process for the engine's lifetime.
pub type ProcId = u64;

/// The supervisor's mood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    /// Running: programs are started and restarted.
    Running,
    /// Stopping everything to start again with a fresh config.
    Restarting,
    /// Stopping everything to exit.
    Shutdown,
}

impl Mood {
    /// The supervisor state this mood shows as.
    #[must_use]
    pub fn state(self) -> SupervisorState {
        match self {
            Mood::Running => SupervisorState::Running,
            Mood::Restarting => SupervisorState::Restarting,
            Mood::Shutdown => SupervisorState::Shutdown,
        }
    }
}

/// A signal the supervisor itself received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// SIGTERM, SIGINT or SIGQUIT (the name, for the log line).
    Terminate(&'static str),
    /// SIGHUP: restart.
    Hangup,
    /// SIGUSR2: reopen the logs.
    ReopenLogs,
}

/// A process's config: a view into its (shared) group config.
#[derive(Debug, Clone)]
pub(in crate::core) struct ProcCfg {
    shared: Rc<GroupConfig>,
    at: usize,
}

impl ProcCfg {
    /// Process `at` of `shared`.
    pub(in crate::core) fn new(shared: Rc<GroupConfig>, at: usize) -> ProcCfg {
        ProcCfg { shared, at }
    }
}

impl std::ops::Deref for ProcCfg {
    type Target = ProcessConfig;
    fn deref(&self) -> &ProcessConfig {
        &self.shared.processes[self.at]
    }
}

/// A supervised process.
pub(in crate::core) struct Proc {
    pub(in crate::core) cfg: ProcCfg,
    pub(in crate::core) policy: Policy,
    pub(in crate::core) fsm: Fsm,
    /// Wall time of the last start (Unix seconds), 0 if never.
    pub(in crate::core) start_wall: i64,
    /// Wall time of the last stop, 0 if never.
    pub(in crate::core) stop_wall: i64,
    /// Spawns attempted over the supervisor's life.
    pub(in crate::core) starts: u64,
    pub(in crate::core) stdout_path: Option<PathBuf>,
    pub(in crate::core) stderr_path: Option<PathBuf>,
    pub(in crate::core) stdout: Option<Rc<Sink>>,
    pub(in crate::core) stderr: Option<Rc<Sink>>,
    pub(in crate::core) stdin: Option<Box<dyn crate::core::seams::Stdin>>,
    /// When "waiting for NAME to stop" was last logged.
    pub(in crate::core) last_stop_report: Option<Ms>,
    /// The one state machine deadline armed for it, if any (a newer one
    /// replaces it; stale heap entries are skipped when they come up).
    deadline: Option<Ms>,
    /// What an update does with it once it has stopped.
    pub(in crate::core) retire: Option<Retire>,
    /// Readiness probes and health checks (warden's `ready=`,
    /// `healthcheck=`).
    pub(in crate::core) probes: crate::core::health::Probes,
}

/// What an update does with a process once it has stopped.
#[derive(Debug)]
pub(in crate::core) enum Retire {
    /// Drop it (gone from the config).
    Remove,
    /// Give it its new config, and start it again when `restart`.
    Replace {
        /// The new config.
        cfg: ProcCfg,
        /// It was running before the update.
        restart: bool,
    },
}

/// A process group.
#[derive(Debug)]
pub(in crate::core) struct Group {
    pub(in crate::core) cfg: Rc<GroupConfig>,
    /// Its processes, in config order.
    pub(in crate::core) procs: Vec<ProcId>,
    /// For an event listener pool: what it subscribes to.
    pub(in crate::core) pool: Option<Rc<PoolSpec>>,
    /// Gone from the config: dropped once its last process is.
    pub(in crate::core) retiring: bool,
    /// For an `[fcgi-program:x]` group: its socket's config.
    pub(in crate::core) fcgi: Option<Rc<FcgiSpec>>,
    /// The socket, once created: every process of the group gets it as
    /// its fd 0. It lives as long as the group (across restarts of the
    /// processes) and is closed when the group is dropped.
    pub(in crate::core) socket: Option<std::os::fd::OwnedFd>,
}

/// An `[fcgi-program:x]` group's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcgiSpec {
    /// Where it listens.
    pub socket: FcgiSocket,
    /// `socket_backlog` (`None`: the system's maximum).
    pub backlog: Option<i64>,
    /// For a unix socket without `socket_owner`: the program's user.
    pub user: Option<u32>,
}

impl std::fmt::Display for FcgiSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.socket {
            FcgiSocket::Unix { path, .. } => write!(f, "unix://{}", path.display()),
            FcgiSocket::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

/// What an `[eventlistener:x]` pool listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    /// Event type names as configured (upper case; may be abstract types
    /// such as `PROCESS_STATE`).
    pub events: Vec<String>,
    /// `buffer_size`.
    pub buffer_size: usize,
}

/// What a waiting call waits for, for one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::core) enum Pending {
    /// RUNNING (or a failure).
    Start(ProcId),
    /// A stopped state.
    Stop(ProcId),
}

/// A waiting call.
#[derive(Debug)]
pub(in crate::core) enum Waiting {
    /// One process; `name` is its namespec for error details.
    One {
        /// The namespec as asked.
        name: String,
        /// The condition.
        pending: Pending,
    },
    /// A group or all: outcomes so far, then the ones still waited for, in
    /// list order.
    Group {
        /// Known outcomes, in the order they became known.
        results: Vec<ResultEntry>,
        /// (name, group, condition) still open.
        pending: Vec<(String, String, Pending)>,
    },
    /// An update: answered once the processes it stops are retired.
    Update {
        /// What the update did.
        report: crate::core::api::UpdateReport,
        /// Processes still to stop and retire.
        ids: Vec<ProcId>,
    },
}

/// An operation's answer: now, or a ticket resolved by a later event.
#[derive(Debug)]
pub(in crate::core) enum Answer {
    /// The outcome is known.
    Now(Outcome),
    /// The outcome depends on state changes to come.
    Wait(Waiting),
}

struct Ticket {
    reply: oneshot::Sender<Outcome>,
    waiting: Waiting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(in crate::core) enum Timer {
    /// A state machine deadline.
    Fsm(ProcId),
    /// Time to log "waiting for NAME to stop" again.
    StopReport(ProcId),
    /// Time to log "waiting for ... to die" again.
    ShutdownReport,
    /// Time for the next readiness probe or health check.
    Probe(ProcId),
}

/// What the engine is built from.
pub struct Parts {
    /// Starts and signals processes.
    pub launcher: Box<dyn Launcher>,
    /// Time.
    pub clock: Rc<dyn Clock>,
    /// Reads the config again.
    pub loader: Loader,
    /// Where events go.
    pub bus: Rc<Bus>,
    /// The main log.
    pub log: MainLog,
    /// The supervisor's pid, for `getPID`.
    pub pid: i32,
    /// Runs readiness probes and health checks.
    pub prober: Box<dyn Prober>,
}

/// All state.
pub struct Engine {
    pub(in crate::core) config: Config,
    /// The groups of the last config read; groups are added from these.
    pub(in crate::core) pending_groups: Vec<Rc<GroupConfig>>,
    /// The event listener pools among them.
    pub(in crate::core) pending_pools: HashMap<String, Rc<PoolSpec>>,
    /// The `[fcgi-program:x]` groups among them.
    pub(in crate::core) pending_fcgi: HashMap<String, Rc<FcgiSpec>>,
    /// Raw stdout of listener processes goes here (the listener protocol).
    listener_tap: Option<crate::core::logs::Tap>,
    /// Groups, in (priority, name) order.
    pub(in crate::core) groups: Vec<Group>,
    pub(in crate::core) procs: HashMap<ProcId, Proc>,
    next_id: ProcId,
    pids: HashMap<i32, ProcId>,
    timers: BinaryHeap<Reverse<(Ms, Timer)>>,
    pub(in crate::core) mood: Mood,
    pub(in crate::core) log: MainLog,
    queue: VecDeque<(ProcId, Event)>,
    pub(in crate::core) pid: i32,
    finished: Option<i32>,
    shutdown_report_due: Option<Ms>,
    tickets: Vec<Ticket>,
    /// Main-log lines that follow a change to RUNNING, written at the end of
    /// the input (supervisord logs every `spawned:` of a batch before the
    /// `success:` lines).
    deferred_logs: Vec<(Level, String)>,
    changed: bool,
    restarted: bool,
    /// "Increased RLIMIT_NOFILE limit to N" lines for the first start-up.
    raised_limits: Vec<String>,
    /// Processes of a crashed previous run to take over at start-up.
    adoptees: Vec<crate::core::seams::Adoptee>,
    /// Reloads done (the HTTP servers follow the config after one).
    reloads: u64,
    pub(in crate::core) launcher: Box<dyn Launcher>,
    pub(in crate::core) clock: Rc<dyn Clock>,
    pub(in crate::core) loader: Loader,
    pub(in crate::core) bus: Rc<Bus>,
    pub(in crate::core) prober: Box<dyn Prober>,
    /// A `critical=true` program failed: the exit code once stopped.
    pub(in crate::core) critical_exit: Option<i32>,
    /// Stops held until these processes' dependents (the listed ones) have
    /// stopped (see core::deps).
    pub(in crate::core) held_stops: Vec<(ProcId, Vec<ProcId>)>,
    /// Starts (of a group or all) held until what they depend on runs.
    pub(in crate::core) held_starts: Vec<ProcId>,
    /// Processes an update retires once they have stopped (see
    /// `Proc::retire`); empty almost always, so that settling after each
    /// change looks at nothing.
    pub(in crate::core) retiring: Vec<ProcId>,
    /// The programs stopped by hand (see [`crate::core::intent`]).
    pub(in crate::core) intent: crate::core::intent::Intent,
}

impl Engine {
    /// An engine for `config` (its groups are added by [`Engine::start`]).
    #[must_use]
    pub fn new(config: Config, parts: Parts) -> Engine {
        Engine {
            config,
            pending_groups: Vec::new(),
            pending_pools: HashMap::new(),
            pending_fcgi: HashMap::new(),
            listener_tap: None,
            groups: Vec::new(),
            procs: HashMap::new(),
            next_id: 1,
            pids: HashMap::new(),
            timers: BinaryHeap::new(),
            mood: Mood::Running,
            log: parts.log,
            queue: VecDeque::new(),
            pid: parts.pid,
            finished: None,
            shutdown_report_due: None,
            tickets: Vec::new(),
            deferred_logs: Vec::new(),
            changed: false,
            restarted: false,
            raised_limits: Vec::new(),
            adoptees: Vec::new(),
            reloads: 0,
            launcher: parts.launcher,
            clock: parts.clock,
            loader: parts.loader,
            bus: parts.bus,
            prober: parts.prober,
            critical_exit: None,
            held_stops: Vec::new(),
            held_starts: Vec::new(),
            retiring: Vec::new(),
            intent: crate::core::intent::Intent::default(),
        }
    }

    pub(in crate::core) fn now(&self) -> Ms {
        self.clock.now()
    }

    /// The engine clock's now, for drivers computing sleeps.
    #[must_use]
    pub fn clock_now(&self) -> Ms {
        self.clock.now()
    }

    /// Writes a main-log line.
    pub fn log(&self, level: Level, msg: &str) {
        self.log.log(level, msg);
    }

    /// The active config (its `groups` are empty: they live in the engine).
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The mood.
    #[must_use]
    pub fn mood(&self) -> Mood {
        self.mood
    }

    /// Where the raw stdout of event listener processes goes.
    pub fn set_listener_tap(&mut self, tap: crate::core::logs::Tap) {
        self.listener_tap = Some(tap);
    }

    /// The limits raised before the start (`minfds`, `minprocs`): logged at
    /// the first start-up only, as supervisord raises them only then.
    pub fn set_raised_limits(&mut self, lines: Vec<String>) {
        self.raised_limits = lines;
    }

    /// How many reloads have read a new config (the HTTP servers are made
    /// to follow it after each).
    #[must_use]
    pub fn reloads(&self) -> u64 {
        self.reloads
    }

    /// Processes a crashed previous run left running, to take over at
    /// start-up instead of starting their programs (`previous_run=adopt`).
    pub fn set_adoptees(&mut self, adoptees: Vec<crate::core::seams::Adoptee>) {
        self.adoptees = adoptees;
    }

    /// Logs the start-up lines, builds the groups and autostarts them.
    pub fn start(&mut self) {
        self.startup_messages();
        self.populate();
        self.adopt_all();
        // supervisord's order: groups added, the supervisor RUNNING, then
        // the processes start
        self.bus
            .publish(EventKind::SupervisorState(SupervisorState::Running));
        self.tick_all();
        self.settle();
    }

    fn startup_messages(&mut self) {
        if warden_sys::process::geteuid() == 0 && self.config.supervisord.user.is_none() {
            self.log.log(Level::Critical, "Supervisor is running as root.  Privileges were not dropped because no user is specified in the config file.  If you intend to run as root, you can set user=root in the config file to avoid this message.");
        }
        for f in &self.config.included_files {
            self.log.log(
                Level::Info,
                &format!("Included extra file \"{}\" during parsing", f.display()),
            );
        }
        for line in std::mem::take(&mut self.raised_limits) {
            self.log.log(Level::Info, &line);
        }
        for r in &self.config.rpcinterfaces {
            if r.factory == "supervisor.rpcinterface:make_main_rpcinterface" {
                self.log.log(
                    Level::Info,
                    &format!("RPC interface '{}' initialized", r.name),
                );
            } else {
                self.log.log(
                    Level::Warn,
                    &format!(
                        "RPC interface '{}' ({}) is a Python factory: not supported, not loaded",
                        r.name, r.factory
                    ),
                );
            }
        }
        let servers = self
            .config
            .unix_http_servers
            .iter()
            .map(|s| ("unix_http_server", s.credentials.username.is_some()))
            .chain(
                self.config
                    .inet_http_servers
                    .iter()
                    .map(|s| ("inet_http_server", s.credentials.username.is_some())),
            );
        for (name, auth) in servers {
            if !auth {
                self.log.log(
                    Level::Critical,
                    &format!("Server '{name}' running without any HTTP authentication checking"),
                );
            }
        }
        if !self.config.supervisord.nodaemon && !self.restarted {
            self.log
                .log(Level::Info, "daemonizing the supervisord process");
        }
        self.log.log(
            Level::Info,
            &format!("supervisord started with pid {}", self.pid),
        );
    }

    fn clear_autochildlogdir(&self) {
        if self.config.supervisord.nocleanup {
            return;
        }
        let dir = &self.config.supervisord.childlogdir;
        let ident = &self.config.supervisord.identifier;
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let prefixes: Vec<String> = self
            .config
            .processes()
            .flat_map(|p| ["stdout", "stderr"].map(|c| format!("{}-{c}---{ident}-", p.name)))
            .collect();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = e.metadata().is_ok_and(|m| m.is_file());
            if ours && prefixes.iter().any(|p| name.starts_with(p)) && name.contains(".log") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    pub(in crate::core) fn add_group(&mut self, cfg: Rc<GroupConfig>) {
        let ids = (0..cfg.processes.len())
            .map(|at| self.make_proc(ProcCfg::new(cfg.clone(), at)))
            .collect();
        let pos = self
            .groups
            .iter()
            .position(|g| (g.cfg.priority, &g.cfg.name) > (cfg.priority, &cfg.name))
            .unwrap_or(self.groups.len());
        let name = cfg.name.clone();
        let pool = self.pending_pools.get(&name).cloned();
        let fcgi = self.pending_fcgi.get(&name).cloned();
        self.groups.insert(
            pos,
            Group {
                cfg,
                procs: ids,
                pool,
                retiring: false,
                fcgi,
                socket: None,
            },
        );
        if let Err(e) = self.group_socket(pos) {
            self.log.log(Level::Error, &e);
        }
        self.bus.publish(EventKind::GroupAdded(name));
    }

    /// Creates group `gi`'s `[fcgi-program:x]` socket if it has none yet.
    ///
    /// # Errors
    ///
    /// The socket could not be created (the message names it).
    pub(in crate::core) fn group_socket(&mut self, gi: usize) -> Result<(), String> {
        let g = &mut self.groups[gi];
        let Some(spec) = &g.fcgi else {
            return Ok(());
        };
        if g.socket.is_none() {
            self.log
                .log(Level::Info, &format!("Creating socket {spec}"));
            let fd = self
                .launcher
                .open_socket(spec)
                .map_err(|e| format!("Could not create FastCGI socket {spec}: {e}"))?;
            g.socket = Some(fd);
        }
        Ok(())
    }

    /// Whether `new` differs from active group `g`: its processes, or what
    /// it listens to (a pool's events, an fcgi group's socket).
    pub(in crate::core) fn group_differs(&self, g: &Group, new: &GroupConfig) -> bool {
        *g.cfg != *new
            || g.pool != self.pending_pools.get(&new.name).cloned()
            || g.fcgi != self.pending_fcgi.get(&new.name).cloned()
    }

    /// A new, never started process for `cfg`.
    pub(in crate::core) fn make_proc(&mut self, cfg: ProcCfg) -> ProcId {
        let id = self.next_id;
        self.next_id += 1;
        let (stdout_path, stderr_path) = self.log_paths(&cfg, None);
        self.procs.insert(
            id,
            Proc {
                policy: self.policy_for(&cfg),
                cfg,
                fsm: Fsm::default(),
                start_wall: 0,
                starts: 0,
                stop_wall: 0,
                stdout_path,
                stderr_path,
                stdout: None,
                stderr: None,
                stdin: None,
                last_stop_report: None,
                deadline: None,
                retire: None,
                probes: crate::core::health::Probes::default(),
            },
        );
        id
    }

    /// A process's policy: its config's, except that a program stopped by
    /// hand is not autostarted until started by hand.
    pub(in crate::core) fn policy_for(&self, cfg: &ProcessConfig) -> Policy {
        let mut policy = Policy::from_config(cfg);
        policy.autostart &= !self.intent.stopped_by_hand(&cfg.group, &cfg.name);
        policy
    }

    /// Gives a stopped process a new config: policy, log paths (an AUTO
    /// log stays the file it was) and log files, which reopen at the next
    /// spawn. Its state and history stay.
    pub(in crate::core) fn reconfigure(&mut self, id: ProcId, cfg: ProcCfg) {
        let Some(old) = self.procs.get(&id) else {
            return;
        };
        let keep = (
            (old.cfg.stdout.logfile == LogFile::Auto)
                .then(|| old.stdout_path.clone())
                .flatten(),
            (old.cfg.stderr.logfile == LogFile::Auto)
                .then(|| old.stderr_path.clone())
                .flatten(),
        );
        let (stdout_path, stderr_path) = self.log_paths(&cfg, Some(keep));
        let policy = self.policy_for(&cfg);
        let Some(p) = self.procs.get_mut(&id) else {
            return;
        };
        for s in [&p.stdout, &p.stderr].into_iter().flatten() {
            s.release();
        }
        p.policy = policy;
        p.cfg = cfg;
        p.stdout_path = stdout_path;
        p.stderr_path = stderr_path;
        p.stdout = None;
        p.stderr = None;
    }

    /// The stdout and stderr log paths of `p`; `keep` has AUTO paths to
    /// reuse.
    fn log_paths(
        &mut self,
        p: &ProcessConfig,
        keep: Option<(Option<PathBuf>, Option<PathBuf>)>,
    ) -> (Option<PathBuf>, Option<PathBuf>) {
        let (keep_out, keep_err) = keep.unwrap_or_default();
        let stdout = match (&p.stdout.logfile, keep_out) {
            (LogFile::Auto, Some(path)) => Some(path),
            (lf, _) => self.log_path(p, lf, "stdout"),
        };
        let stderr = match (&p.stderr.logfile, keep_err) {
            _ if p.redirect_stderr => None,
            (LogFile::Auto, Some(path)) => Some(path),
            (lf, _) => self.log_path(p, lf, "stderr"),
        };
        (stdout, stderr)
    }

    fn log_path(&mut self, p: &ProcessConfig, lf: &LogFile, channel: &str) -> Option<PathBuf> {
        match lf {
            LogFile::None => None,
            LogFile::Path(p) => Some(p.clone()),
            LogFile::Auto => match self.launcher.auto_log(&p.name, channel) {
                Ok(path) => Some(path),
                Err(e) => {
                    self.log.log(
                        Level::Warn,
                        &format!("cannot create the AUTO {channel} log of '{}': {e}", p.name),
                    );
                    None
                }
            },
        }
    }

    /// Builds the groups (programs and listener pools) of the active config.
    fn populate(&mut self) {
        self.clear_autochildlogdir();
        let config = std::mem::take(&mut self.config.groups);
        let pools = std::mem::take(&mut self.config.eventlisteners);
        let fcgis = std::mem::take(&mut self.config.fcgi_programs);
        let groups = self.take_pending(config, pools, fcgis);
        for g in groups {
            self.add_group(g);
        }
    }

    /// Takes over the adoptees whose process is in the config (before the
    /// autostart, which would start a second one). One that cannot be
    /// watched is left alone, logged, and its program starts as usual.
    fn adopt_all(&mut self) {
        for who in std::mem::take(&mut self.adoptees) {
            let Some(id) = self
                .procs
                .iter()
                .find(|(_, p)| p.cfg.group == who.group && p.cfg.name == who.name)
                .map(|(id, _)| *id)
            else {
                continue;
            };
            let cfg = self.procs[&id].cfg.clone();
            match self.launcher.adopt(&who, &cfg) {
                Ok(()) => {
                    if let Some(p) = self.procs.get_mut(&id) {
                        p.start_wall = who.started_wall;
                        p.starts += 1;
                    }
                    self.pids.insert(who.pid, id);
                    self.feed(id, Event::Adopted(who.pid));
                }
                Err(e) => self.log.log(
                    Level::Warn,
                    &format!("cannot adopt '{}' (pid {}): {e}", who.name, who.pid),
                ),
            }
        }
    }

    /// Makes `groups` and `pools` the pending (last read) groups; returns
    /// them in (priority, name) order.
    pub(in crate::core) fn take_pending(
        &mut self,
        groups: Vec<GroupConfig>,
        pools: Vec<warden_config::EventListenerPool>,
        fcgis: Vec<warden_config::FcgiGroup>,
    ) -> Vec<Rc<GroupConfig>> {
        self.pending_pools.clear();
        self.pending_fcgi.clear();
        let mut all: Vec<Rc<GroupConfig>> = groups.into_iter().map(Rc::new).collect();
        for p in pools {
            self.pending_pools.insert(
                p.name.clone(),
                Rc::new(PoolSpec {
                    events: p.events,
                    buffer_size: usize::try_from(p.buffer_size).unwrap_or(1).max(1),
                }),
            );
            all.push(Rc::new(GroupConfig {
                name: p.name,
                priority: p.priority,
                heterogeneous: false,
                processes: p.processes,
            }));
        }
        for f in fcgis {
            self.pending_fcgi.insert(
                f.name.clone(),
                Rc::new(FcgiSpec {
                    socket: f.socket,
                    backlog: f.socket_backlog,
                    user: f.processes.first().and_then(|p| p.uid),
                }),
            );
            all.push(Rc::new(GroupConfig {
                name: f.name,
                priority: f.priority,
                heterogeneous: false,
                processes: f.processes,
            }));
        }
        all.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        self.pending_groups.clone_from(&all);
        all
    }

    pub(in crate::core) fn tick_all(&mut self) {
        for id in self.ordered_procs() {
            self.queue.push_back((id, Event::Tick));
        }
        self.drain();
    }

    /// Processes in start order: groups by priority, then processes by
    /// (priority, name).
    pub(in crate::core) fn ordered_procs(&self) -> Vec<ProcId> {
        (0..self.groups.len())
            .flat_map(|gi| self.group_procs(gi))
            .collect()
    }

    /// A group's processes by (priority, name).
    pub(in crate::core) fn group_procs(&self, gi: usize) -> Vec<ProcId> {
        let mut ids = self.groups[gi].procs.clone();
        ids.sort_by(|a, b| {
            let (pa, pb) = (&self.procs[a].cfg, &self.procs[b].cfg);
            (pa.priority, &pa.name).cmp(&(pb.priority, &pb.name))
        });
        ids
    }

    /// Feeds one event to a process and carries out the effects.
    pub(in crate::core) fn feed(&mut self, id: ProcId, ev: Event) {
        self.queue.push_back((id, ev));
        self.drain();
    }

    fn ctx_parts(&self) -> (Ms, bool) {
        (self.now(), self.mood == Mood::Running)
    }

    /// Arms a timer (probes and health checks).
    pub(in crate::core) fn arm(&mut self, at: Ms, timer: Timer) {
        self.timers.push(Reverse((at, timer)));
    }

    /// Queues a re-evaluation of `id` (a dependency became RUNNING).
    pub(in crate::core) fn poke(&mut self, id: ProcId) {
        self.queue.push_back((id, Event::Tick));
    }

    /// The process a pid belongs to.
    pub(in crate::core) fn proc_of_pid(&self, pid: i32) -> Option<ProcId> {
        self.pids.get(&pid).copied()
    }

    fn drain(&mut self) {
        while let Some((id, ev)) = self.queue.pop_front() {
            let (now, running) = self.ctx_parts();
            let Some(p) = self.procs.get(&id) else {
                continue;
            };
            let (fsm, effects) = state::step(
                &p.fsm,
                &ev,
                &Ctx {
                    now,
                    running,
                    policy: &p.policy,
                    deps_ready: self.deps_ready(id),
                },
            );
            self.apply(id, fsm, effects, &ev);
        }
    }

    /// An administrative stop; `Some(msg)` when there was nothing to signal.
    pub(in crate::core) fn stop_proc(&mut self, id: ProcId) -> Option<String> {
        let (now, running) = self.ctx_parts();
        let p = self.procs.get(&id)?;
        let (fsm, effects, refusal) = state::step_stop(
            &p.fsm,
            &Ctx {
                now,
                running,
                policy: &p.policy,
                deps_ready: self.deps_ready(id),
            },
        );
        self.apply(id, fsm, effects, &Event::Stop);
        self.drain();
        refusal
    }

    fn apply(&mut self, id: ProcId, fsm: Fsm, effects: Vec<Effect>, ev: &Event) {
        let wall = self.clock.wall();
        let Some(p) = self.procs.get_mut(&id) else {
            return;
        };
        let old_pid = p.fsm.pid;
        p.fsm = fsm;
        if !matches!(
            p.fsm.state,
            State::Starting | State::Backoff | State::Stopping
        ) {
            // only these states wait for a deadline
            p.deadline = None;
        }
        if let Event::Exited(_) = ev {
            p.stop_wall = wall;
            p.stdin = None;
            // A process that is not running keeps no log open.
            for s in [&p.stdout, &p.stderr].into_iter().flatten() {
                s.release();
            }
            if let Some(pid) = old_pid {
                self.pids.remove(&pid);
            }
        }
        let mut running = false;
        for e in effects {
            match e {
                Effect::Spawn => {
                    if let Some(p) = self.procs.get_mut(&id) {
                        p.start_wall = wall;
                        p.starts += 1;
                    }
                    match self.spawn(id) {
                        Ok(pid) => {
                            self.pids.insert(pid, id);
                            self.queue.push_front((id, Event::Spawned(pid)));
                            self.spawned_probes(id);
                        }
                        Err(msg) => self.queue.push_front((id, Event::SpawnFailed(msg))),
                    }
                }
                Effect::Signal { signal, group } => {
                    if let Err(msg) = self.send_signal(id, signal, group) {
                        self.queue.push_front((id, Event::KillFailed(msg)));
                    }
                }
                Effect::Log(l, m) if running => self.deferred_logs.push((l, m)),
                Effect::Log(l, m) => self.log.log(l, &m),
                Effect::Timer(t) => {
                    if let Some(p) = self.procs.get_mut(&id) {
                        if p.deadline != Some(t) {
                            p.deadline = Some(t);
                            self.timers.push(Reverse((t, Timer::Fsm(id))));
                        }
                    }
                }
                Effect::Changed(from, to, tries) => {
                    running |= to == State::Running;
                    self.changed = true;
                    self.lifecycle_changed(id, to);
                    if let Some(p) = self.procs.get(&id) {
                        let pid = p.fsm.pid.or(old_pid);
                        self.bus.publish(EventKind::ProcessState {
                            group: p.cfg.group.clone(),
                            name: p.cfg.name.clone(),
                            from,
                            to,
                            tries,
                            expected: (to == State::Exited).then_some(p.fsm.expected),
                            pid,
                            spawnerr: p.fsm.spawnerr.clone(),
                        });
                    }
                }
            }
        }
        self.check_critical(id);
    }

    fn send_signal(&mut self, id: ProcId, signal: i32, group: bool) -> Result<(), String> {
        let Some(p) = self.procs.get(&id) else {
            return Ok(());
        };
        let Some(pid) = p.fsm.pid else {
            return Ok(());
        };
        let name = p.cfg.name.clone();
        self.launcher
            .stop_signal(pid, signal, group)
            .map_err(|e| format!("unknown problem killing {name} ({pid}):{e}"))
    }

    /// Opens the logs and starts the process; supervisord's spawn errors.
    fn spawn(&mut self, id: ProcId) -> Result<i32, String> {
        let group = &self.procs.get(&id).ok_or("no such process")?.cfg.group;
        if let Some(gi) = self.groups.iter().position(|g| g.cfg.name == *group) {
            self.group_socket(gi)?;
        }
        let p = self.procs.get_mut(&id).ok_or("no such process")?;
        let (program, argv) = execv_args(&p.cfg).map_err(|e| e.detail.unwrap_or_default())?;
        let name = p.cfg.name.clone();
        let dispatchers = |e: std::io::Error| {
            format!(
                "unknown error making dispatchers for '{name}': {}",
                errno_name(&e)
            )
        };
        for (path, slot, lc) in [
            (&p.stdout_path, &mut p.stdout, &p.cfg.stdout),
            (&p.stderr_path, &mut p.stderr, &p.cfg.stderr),
        ] {
            // supervisord: a log that cannot be opened is a spawn error, at
            // every spawn (its directory may have vanished since the last).
            match (path, &slot) {
                (Some(_), Some(sink)) => sink.reopen().map_err(dispatchers)?,
                (Some(path), None) => {
                    let sink = self
                        .launcher
                        .open_log(path, lc.logfile_maxbytes, lc.logfile_backups)
                        .map_err(dispatchers)?;
                    *slot = Some(sink);
                }
                (None, _) => {}
            }
        }
        let stderr = if p.cfg.redirect_stderr {
            p.stdout.clone()
        } else {
            p.stderr.clone()
        };
        let group = self.groups.iter().find(|g| g.cfg.name == p.cfg.group);
        let listener = group.is_some_and(|g| g.pool.is_some());
        let socket = group
            .and_then(|g| g.socket.as_ref())
            .map(std::os::fd::AsFd::as_fd);
        let spawned = self.launcher.spawn(&SpawnSpec {
            config: &p.cfg,
            program,
            argv,
            stdout: p.stdout.clone(),
            stderr,
            log: self.log.clone(),
            tap: if listener {
                self.listener_tap.clone()
            } else {
                None
            },
            socket,
        })?;
        p.stdin = spawned.stdin;
        Ok(spawned.pid)
    }

    /// Children were reaped (all that were, at once: waiting calls then see
    /// the processes that ended together in list order).
    pub fn reaped(&mut self, exits: impl IntoIterator<Item = (i32, Exit)>) {
        for (pid, exit) in exits {
            match self.pids.get(&pid).copied() {
                Some(id) => self.feed(id, Event::Exited(exit)),
                None if self.prober.reaped(pid, exit) => {}
                None => {
                    let (_, msg) = state::decode(exit);
                    self.log
                        .log(Level::Info, &format!("reaped unknown pid {pid} ({msg})"));
                }
            }
        }
        self.settle();
    }

    /// The earliest deadline, if any.
    #[must_use]
    pub fn next_deadline(&mut self) -> Option<Ms> {
        // Drop stale state machine deadlines first, so that nothing wakes
        // the supervisor up for a deadline that was replaced.
        while let Some(Reverse((t, Timer::Fsm(id)))) = self.timers.peek().copied() {
            if self.procs.get(&id).is_some_and(|p| p.deadline == Some(t)) {
                break;
            }
            self.timers.pop();
        }
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// How many state machine deadlines are armed (one per process at most).
    #[cfg(test)]
    pub(in crate::core) fn armed_deadlines(&self) -> usize {
        self.procs.values().filter(|p| p.deadline.is_some()).count()
    }

    /// Delivers the deadlines that are due.
    pub fn fire_due(&mut self) {
        let now = self.now();
        while let Some(Reverse((t, timer))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Fsm(id) => {
                    if let Some(p) = self.procs.get_mut(&id) {
                        if p.deadline == Some(t) {
                            p.deadline = None;
                            self.queue.push_back((id, Event::Tick));
                        }
                    }
                }
                Timer::StopReport(id) => self.stop_report(id),
                Timer::ShutdownReport => {
                    self.shutdown_report_due = None;
                    self.changed = true;
                }
                Timer::Probe(id) => self.probe_due(id, t),
            }
        }
        self.drain();
        self.settle();
    }

    /// A signal to the supervisor.
    pub fn control(&mut self, c: Control) {
        match c {
            Control::Terminate(name) => {
                self.log.log(
                    Level::Warn,
                    &format!("received {name} indicating exit request"),
                );
                self.request_mood(Mood::Shutdown);
            }
            Control::Hangup if self.mood == Mood::Shutdown => {
                self.log.log(
                    Level::Warn,
                    "ignored SIGHUP indicating restart request (shutdown in progress)",
                );
            }
            Control::Hangup => {
                self.log
                    .log(Level::Warn, "received SIGHUP indicating restart request");
                self.request_mood(Mood::Restarting);
            }
            Control::ReopenLogs => {
                self.log.log(
                    Level::Info,
                    "received SIGUSR2 indicating log reopen request",
                );
                self.reopen_logs();
            }
        }
        self.settle();
    }

    pub(in crate::core) fn request_mood(&mut self, mood: Mood) {
        if self.mood == Mood::Running {
            self.mood = mood;
            self.changed = true;
            self.bus
                .publish(EventKind::SupervisorState(SupervisorState::Shutdown));
        }
    }

    fn reopen_logs(&mut self) {
        // supervisord says so before reopening (into the old file).
        self.log.log(Level::Info, "supervisord logreopen");
        if let Some(s) = &self.log.sink {
            let _ = s.reopen();
        }
        for p in self.procs.values() {
            if p.fsm.pid.is_some() {
                for s in [&p.stdout, &p.stderr].into_iter().flatten() {
                    let _ = s.reopen();
                }
            }
        }
    }

    /// Answers now, or registers a ticket that the state changes it waits
    /// for will resolve.
    pub(in crate::core) fn submit(&mut self, answer: Answer, reply: oneshot::Sender<Outcome>) {
        match answer {
            Answer::Now(outcome) => {
                let _ = reply.send(outcome);
            }
            Answer::Wait(waiting) => {
                self.arm_reports(&waiting);
                self.tickets.push(Ticket { reply, waiting });
            }
        }
        self.settle();
    }

    /// `Some(exit code)` once the supervisor is done.
    #[must_use]
    pub fn finished(&self) -> Option<i32> {
        self.finished
    }

    /// Tickets must be checked again (a held start was dropped).
    pub(in crate::core) fn touch(&mut self) {
        self.changed = true;
    }

    /// [`Engine::settle`] for inputs handled in other modules.
    pub(in crate::core) fn settle_now(&mut self) {
        self.settle();
    }

    /// After each input: shutdown progress, a reload when everything has
    /// stopped, and the tickets whose processes changed.
    fn settle(&mut self) {
        for (level, msg) in std::mem::take(&mut self.deferred_logs) {
            self.log.log(level, &msg);
        }
        loop {
            self.shutdown_progress();
            self.release_held_stops();
            self.release_held_starts();
            if self.finished.is_some() || !self.changed {
                return;
            }
            self.retire_stopped();
            self.changed = false;
            self.check_tickets();
            if !self.changed {
                return;
            }
        }
    }

    fn check_tickets(&mut self) {
        let mut tickets = std::mem::take(&mut self.tickets);
        tickets.retain_mut(|t| {
            if t.reply.is_closed() {
                return false;
            }
            match self.resolve(&mut t.waiting) {
                Some(outcome) => {
                    let (tx, _) = oneshot::channel();
                    let reply = std::mem::replace(&mut t.reply, tx);
                    let _ = reply.send(outcome);
                    false
                }
                None => true,
            }
        });
        tickets.append(&mut self.tickets);
        self.tickets = tickets;
    }

    /// A ticket's outcome, once it is known.
    fn resolve(&self, w: &mut Waiting) -> Option<Outcome> {
        match w {
            Waiting::One { name, pending } => self
                .check(*pending, name)
                .map(|r| r.map(|()| crate::core::api::Reply::Ok)),
            Waiting::Group { results, pending } => {
                pending.retain(|(name, group, p)| {
                    let spec = Namespec::process(group, name).to_string();
                    match self.check(*p, &spec) {
                        Some(result) => {
                            results.push(ResultEntry {
                                name: name.clone(),
                                group: group.clone(),
                                result,
                            });
                            false
                        }
                        None => true,
                    }
                });
                pending
                    .is_empty()
                    .then(|| Ok(crate::core::api::Reply::Results(std::mem::take(results))))
            }
            Waiting::Update { report, ids } => {
                ids.retain(|id| self.procs.get(id).is_some_and(|p| p.retire.is_some()));
                ids.is_empty()
                    .then(|| Ok(crate::core::api::Reply::Update(std::mem::take(report))))
            }
        }
    }

    /// supervisord's `onwait` checks of a waiting start or stop.
    pub(in crate::core) fn check(&self, p: Pending, name: &str) -> Option<Result<(), ApiError>> {
        match p {
            Pending::Start(id) if self.held_starts.contains(&id) => None,
            Pending::Start(id) => {
                let Some(p) = self.procs.get(&id) else {
                    return Some(Err(ApiError::new(ErrorKind::AbnormalTermination, name)));
                };
                if p.fsm.spawnerr.is_some() {
                    return Some(Err(ApiError::new(ErrorKind::SpawnError, name)));
                }
                match p.fsm.state {
                    State::Running => Some(Ok(())),
                    State::Starting => None,
                    _ => Some(Err(ApiError::new(ErrorKind::AbnormalTermination, name))),
                }
            }
            Pending::Stop(id) => self
                .procs
                .get(&id)
                .is_none_or(|p| p.fsm.state.is_stopped())
                .then_some(Ok(())),
        }
    }

    /// Stop reports for the processes a new ticket waits to stop.
    fn arm_reports(&mut self, w: &Waiting) {
        let ids: Vec<ProcId> = match w {
            Waiting::One {
                pending: Pending::Stop(id),
                ..
            } => vec![*id],
            Waiting::Group { pending, .. } => pending
                .iter()
                .filter_map(|(_, _, p)| match p {
                    Pending::Stop(id) => Some(*id),
                    Pending::Start(_) => None,
                })
                .collect(),
            Waiting::One { .. } | Waiting::Update { .. } => Vec::new(),
        };
        for id in ids {
            self.stop_report(id);
        }
    }

    /// supervisord's `stop_report`: "waiting for NAME to stop", at most
    /// every 2 s while a waiting stop is pending and the process is STOPPING.
    fn stop_report(&mut self, id: ProcId) {
        let now = self.now();
        let waited = self.tickets.iter().any(|t| match &t.waiting {
            Waiting::One { pending, .. } => *pending == Pending::Stop(id),
            Waiting::Group { pending, .. } => {
                pending.iter().any(|(_, _, p)| *p == Pending::Stop(id))
            }
            Waiting::Update { .. } => false,
        });
        let Some(p) = self.procs.get_mut(&id) else {
            return;
        };
        if p.fsm.state != State::Stopping {
            return;
        }
        let due = p.last_stop_report.map_or(0, |t| t.saturating_add(2001));
        if now >= due {
            p.last_stop_report = Some(now);
            let msg = format!("waiting for {} to stop", p.cfg.name);
            self.log.log(Level::Info, &msg);
            self.timers
                .push(Reverse((now.saturating_add(2001), Timer::StopReport(id))));
        } else if waited {
            self.timers.push(Reverse((due, Timer::StopReport(id))));
        }
    }

    /// Resolves a namespec to (group index, process): `Err` is BAD_NAME.
    pub(in crate::core) fn find(
        &self,
        spec: &Namespec,
    ) -> Result<(usize, Option<ProcId>), ApiError> {
        let bad = || ApiError::new(ErrorKind::BadName, spec);
        let gi = self
            .groups
            .iter()
            .position(|g| g.cfg.name == spec.group)
            .ok_or_else(bad)?;
        match &spec.process {
            None => Ok((gi, None)),
            Some(pn) => self.groups[gi]
                .procs
                .iter()
                .copied()
                .find(|id| self.procs[id].cfg.name == *pn)
                .map(|id| (gi, Some(id)))
                .ok_or_else(bad),
        }
    }

    /// Removes a group (the caller checked that it is stopped).
    pub(in crate::core) fn remove_group(&mut self, gi: usize) {
        let g = self.groups.remove(gi);
        for id in g.procs {
            // a removed group forgets its stops by hand (see core::intent)
            self.by_hand(id, false);
            self.procs.remove(&id);
        }
        if let (Some(spec), Some(_)) = (&g.fcgi, &g.socket) {
            self.log.log(Level::Info, &format!("Closing socket {spec}"));
        }
        self.bus
            .publish(EventKind::GroupRemoved(g.cfg.name.clone()));
    }

    /// Shutdown/restart progress: stop groups one after another, from the
    /// highest priority down; finish (or reload) when nothing is left.
    fn shutdown_progress(&mut self) {
        if self.mood == Mood::Running || self.finished.is_some() {
            return;
        }
        // tiers: dependents before their dependencies, then priorities
        // from the highest down, each tier at once (see core::deps)
        while let Some(ids) = self.stop_tier() {
            for id in &ids {
                match self.procs[id].fsm.state {
                    State::Running | State::Starting => {
                        let _ = self.stop_proc(*id);
                    }
                    State::Backoff => self.feed(*id, Event::GiveUp),
                    _ => {}
                }
            }
            if !ids.iter().all(|id| self.procs[id].fsm.state.is_stopped()) {
                break;
            }
        }
        let unstopped: Vec<String> = self
            .ordered_procs()
            .into_iter()
            .filter(|id| !self.procs[id].fsm.state.is_stopped())
            .map(|id| self.procs[&id].cfg.name.clone())
            .collect();
        if unstopped.is_empty() {
            self.all_stopped();
            return;
        }
        let now = self.now();
        if self.shutdown_report_due.is_none() {
            self.log.log(
                Level::Info,
                &format!("waiting for {} to die", unstopped.join(", ")),
            );
            let due = now.saturating_add(3000);
            self.shutdown_report_due = Some(due);
            self.timers.push(Reverse((due, Timer::ShutdownReport)));
        }
    }

    /// Everything stopped: exit, or read the config again and start over.
    fn all_stopped(&mut self) {
        self.shutdown_report_due = None;
        self.timers.clear();
        if self.mood == Mood::Restarting {
            match (self.loader)() {
                Ok(config) => {
                    self.config = config;
                    self.groups.clear();
                    self.procs.clear();
                    self.pids.clear();
                    self.mood = Mood::Running;
                    match MainLog::for_config(&self.config, self.log.echo) {
                        Ok(log) => self.log = log,
                        Err(e) => self.log.log(Level::Critical, &e),
                    }
                    self.restarted = true;
                    self.reloads += 1;
                    self.startup_messages();
                    self.populate();
                    self.bus
                        .publish(EventKind::SupervisorState(SupervisorState::Running));
                    self.tick_all();
                    self.changed = true;
                }
                Err(e) => {
                    self.log.log(Level::Critical, &format!("Error: {e}"));
                    self.finished = Some(2);
                }
            }
            return;
        }
        self.log.log(Level::Debug, "exiting");
        self.finished = Some(self.critical_exit.unwrap_or(0));
    }
}

/// `ENOENT`-style name of an I/O error, as Python's `errno.errorcode`.
pub(in crate::core) fn errno_name(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(2) => "ENOENT".into(),
        Some(13) => "EACCES".into(),
        Some(20) => "ENOTDIR".into(),
        Some(21) => "EISDIR".into(),
        Some(24) => "EMFILE".into(),
        Some(28) => "ENOSPC".into(),
        Some(30) => "EROFS".into(),
        Some(40) => "ELOOP".into(),
        _ => e.to_string(),
    }
}

/// supervisord's `get_execv_args` checks: the resolved file and argv, or
/// NO_FILE / NOT_EXECUTABLE with supervisord's message.
pub(in crate::core) fn execv_args(cfg: &ProcessConfig) -> Result<(PathBuf, Vec<String>), ApiError> {
    use std::os::unix::fs::PermissionsExt;
    use warden_config::expand::repr;
    let argv = match &cfg.argv {
        Ok(a) if !a.is_empty() => a.clone(),
        Ok(_) => return Err(ApiError::new(ErrorKind::NotExecutable, "command is empty")),
        Err(e) => {
            return Err(ApiError::new(
                ErrorKind::NotExecutable,
                format!("can't parse command {}: {e}", repr(&cfg.command)),
            ))
        }
    };
    let program = &argv[0];
    let (filename, meta) = if program.contains('/') {
        (PathBuf::from(program), std::fs::metadata(program).ok())
    } else {
        let path =
            std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin:/usr/local/bin".into());
        // supervisord's rule: the first candidate that exists, executable or
        // not (execvp would skip to the next executable one). A match found
        // through a relative PATH entry is made absolute: the child changes
        // directory before exec.
        let cwd = std::env::current_dir().unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| cwd.join(dir).join(program))
            .find_map(|cand| std::fs::metadata(&cand).ok().map(|m| (cand, Some(m))))
            .unwrap_or_else(|| (PathBuf::from(program), None))
    };
    let shown = repr(&filename.to_string_lossy());
    let Some(meta) = meta else {
        return Err(ApiError::new(
            ErrorKind::NoFile,
            format!("can't find command {shown}"),
        ));
    };
    if meta.is_dir() {
        return Err(ApiError::new(
            ErrorKind::NotExecutable,
            format!("command at {shown} is a directory"),
        ));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(ApiError::new(
            ErrorKind::NotExecutable,
            format!("command at {shown} is not executable"),
        ));
    }
    Ok((filename, argv))
}
