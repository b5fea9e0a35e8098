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
use warden_config::{Config, GroupConfig, LogFile, ProcessConfig};
use warden_types::{Namespec, SupervisorState};

use crate::core::api::{ApiError, ErrorKind, Outcome, ResultEntry};
use crate::core::events::{Bus, EventKind};
use crate::core::logs::{Level, MainLog, Sink};
use crate::core::seams::{Clock, Launcher, Loader, SpawnSpec};
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
}

/// A process group.
#[derive(Debug)]
pub(in crate::core) struct Group {
    pub(in crate::core) cfg: Rc<GroupConfig>,
    /// Its processes, in config order.
    pub(in crate::core) procs: Vec<ProcId>,
    /// For an event listener pool: what it subscribes to.
    pub(in crate::core) pool: Option<Rc<PoolSpec>>,
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
enum Timer {
    /// A state machine deadline.
    Fsm(ProcId),
    /// Time to log "waiting for NAME to stop" again.
    StopReport(ProcId),
    /// Time to log "waiting for ... to die" again.
    ShutdownReport,
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
}

/// All state.
pub struct Engine {
    pub(in crate::core) config: Config,
    /// The groups of the last config read; groups are added from these.
    pub(in crate::core) pending_groups: Vec<Rc<GroupConfig>>,
    /// The event listener pools among them.
    pub(in crate::core) pending_pools: HashMap<String, Rc<PoolSpec>>,
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
    stop_groups: Option<Vec<String>>,
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
    pub(in crate::core) launcher: Box<dyn Launcher>,
    pub(in crate::core) clock: Rc<dyn Clock>,
    pub(in crate::core) loader: Loader,
    pub(in crate::core) bus: Rc<Bus>,
}

impl Engine {
    /// An engine for `config` (its groups are added by [`Engine::start`]).
    #[must_use]
    pub fn new(config: Config, parts: Parts) -> Engine {
        Engine {
            config,
            pending_groups: Vec::new(),
            pending_pools: HashMap::new(),
            listener_tap: None,
            groups: Vec::new(),
            procs: HashMap::new(),
            next_id: 1,
            pids: HashMap::new(),
            timers: BinaryHeap::new(),
            mood: Mood::Running,
            log: parts.log,
            queue: VecDeque::new(),
            stop_groups: None,
            pid: parts.pid,
            finished: None,
            shutdown_report_due: None,
            tickets: Vec::new(),
            deferred_logs: Vec::new(),
            changed: false,
            restarted: false,
            launcher: parts.launcher,
            clock: parts.clock,
            loader: parts.loader,
            bus: parts.bus,
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

    /// Logs the start-up lines, builds the groups and autostarts them.
    pub fn start(&mut self) {
        self.startup_messages();
        self.populate();
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
        for f in &self.config.fcgi_programs {
            self.log.log(
                Level::Warn,
                &format!("[fcgi-program:{}] is parsed but not run by warden", f.name),
            );
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
        let mut ids = Vec::new();
        for (index, p) in cfg.processes.iter().enumerate() {
            let id = self.next_id;
            self.next_id += 1;
            let stdout_path = self.log_path(p, &p.stdout.logfile, "stdout");
            let stderr_path = if p.redirect_stderr {
                None
            } else {
                self.log_path(p, &p.stderr.logfile, "stderr")
            };
            self.procs.insert(
                id,
                Proc {
                    policy: Policy::from_config(p),
                    cfg: ProcCfg {
                        shared: cfg.clone(),
                        at: index,
                    },
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
                },
            );
            ids.push(id);
        }
        let pos = self
            .groups
            .iter()
            .position(|g| (g.cfg.priority, &g.cfg.name) > (cfg.priority, &cfg.name))
            .unwrap_or(self.groups.len());
        let name = cfg.name.clone();
        let pool = self.pending_pools.get(&name).cloned();
        self.groups.insert(
            pos,
            Group {
                cfg,
                procs: ids,
                pool,
            },
        );
        self.bus.publish(EventKind::GroupAdded(name));
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
        let groups = self.take_pending(config, pools);
        for g in groups {
            self.add_group(g);
        }
    }

    /// Makes `groups` and `pools` the pending (last read) groups; returns
    /// them in (priority, name) order.
    pub(in crate::core) fn take_pending(
        &mut self,
        groups: Vec<GroupConfig>,
        pools: Vec<warden_config::EventListenerPool>,
    ) -> Vec<Rc<GroupConfig>> {
        self.pending_pools.clear();
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
            .signal(pid, signal, group)
            .map_err(|e| format!("unknown problem killing {name} ({pid}):{e}"))
    }

    /// Opens the logs and starts the process; supervisord's spawn errors.
    fn spawn(&mut self, id: ProcId) -> Result<i32, String> {
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
        let listener = self
            .groups
            .iter()
            .any(|g| g.pool.is_some() && g.cfg.name == p.cfg.group);
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

    /// After each input: shutdown progress, a reload when everything has
    /// stopped, and the tickets whose processes changed.
    fn settle(&mut self) {
        for (level, msg) in std::mem::take(&mut self.deferred_logs) {
            self.log.log(level, &msg);
        }
        loop {
            self.shutdown_progress();
            if self.finished.is_some() || !self.changed {
                return;
            }
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
        }
    }

    /// supervisord's `onwait` checks of a waiting start or stop.
    pub(in crate::core) fn check(&self, p: Pending, name: &str) -> Option<Result<(), ApiError>> {
        match p {
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
            Waiting::One { .. } => Vec::new(),
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
            self.procs.remove(&id);
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
        if self.stop_groups.is_none() {
            self.stop_groups = Some(self.groups.iter().map(|g| g.cfg.name.clone()).collect());
        }
        while let Some(gname) = self.stop_groups.as_ref().and_then(|s| s.last().cloned()) {
            let Some(gi) = self.groups.iter().position(|g| g.cfg.name == gname) else {
                self.stop_groups.as_mut().map(Vec::pop);
                continue;
            };
            let mut ids = self.group_procs(gi);
            ids.reverse();
            for id in &ids {
                match self.procs[id].fsm.state {
                    State::Running | State::Starting => {
                        let _ = self.stop_proc(*id);
                    }
                    State::Backoff => self.feed(*id, Event::GiveUp),
                    _ => {}
                }
            }
            if ids.iter().all(|id| self.procs[id].fsm.state.is_stopped()) {
                self.stop_groups.as_mut().map(Vec::pop);
            } else {
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
                    self.stop_groups = None;
                    self.mood = Mood::Running;
                    match MainLog::for_config(&self.config, self.log.echo) {
                        Ok(log) => self.log = log,
                        Err(e) => self.log.log(Level::Critical, &e),
                    }
                    self.restarted = true;
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
        self.finished = Some(0);
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
