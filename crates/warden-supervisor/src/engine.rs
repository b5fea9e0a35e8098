//! The engine: the one owner of all state.
//!
//! It runs as a single task on a `current_thread` runtime and reacts to
//! events only: SIGCHLD (then it reaps with `waitpid(-1, WNOHANG)` until no
//! child is left to reap and dispatches each status to the program owning the
//! pid), its own signals, commands from the HTTP handlers, and the earliest
//! armed deadline. Each event goes through [`crate::state::step`]; the effects
//! are carried out here. Deferred RPCs ([`Waiter`]) are re-checked after every
//! event, never on a timer.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::ffi::CString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use warden_config::{Config, GroupConfig, LogFile, ProcessConfig};
use warden_xmlrpc::{Fault, Value};

use crate::logs::{MainLog, Sink};
use crate::state::{self, Ctx, Effect, Event, Exit, Fsm, Level, Ms, Policy, State};
use crate::Options;

/// Identifies a process for the engine's lifetime.
pub type ProcId = u64;

/// The daemon's mood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    /// RUNNING (1)
    Running,
    /// RESTARTING (0)
    Restarting,
    /// SHUTDOWN (-1)
    Shutdown,
}

/// A process's config: a view into its (shared) group config.
#[derive(Debug, Clone)]
pub struct ProcCfg {
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
#[derive(Debug)]
pub struct Proc {
    /// Its config.
    pub cfg: ProcCfg,
    /// Policy for the state machine.
    pub policy: Policy,
    /// State machine data.
    pub fsm: Fsm,
    /// Wall time of the last start (Unix seconds), 0 if never.
    pub start_wall: i64,
    /// Wall time of the last stop, 0 if never.
    pub stop_wall: i64,
    /// Resolved stdout log path (AUTO resolved), if logged.
    pub stdout_path: Option<PathBuf>,
    /// Resolved stderr log path.
    pub stderr_path: Option<PathBuf>,
    /// Open stdout sink.
    pub stdout: Option<Rc<Sink>>,
    /// Open stderr sink.
    pub stderr: Option<Rc<Sink>>,
    /// Write end of the child's stdin.
    pub stdin: Option<Rc<tokio::net::unix::pipe::Sender>>,
}

/// A process group.
#[derive(Debug)]
pub struct Group {
    /// Its config (shared with `pending_groups`).
    pub cfg: Rc<GroupConfig>,
    /// Its processes, in config order.
    pub procs: Vec<ProcId>,
}

/// A deferred RPC result: polled after every event until it returns `Some`.
pub type Poll = Box<dyn FnMut(&mut Engine) -> Option<Result<Value, Fault>>>;

/// A deferred RPC and where its answer goes.
pub struct Waiter {
    /// The check.
    pub poll: Poll,
    /// The reply channel.
    pub reply: oneshot::Sender<Result<Value, Fault>>,
}

/// Requests from the HTTP layer.
pub enum Cmd {
    /// An XML-RPC call.
    Call(
        warden_xmlrpc::methods::ResolvedCall,
        oneshot::Sender<Result<Value, Fault>>,
    ),
    /// The log sink to follow for `/logtail/<name>[/channel]` (None: main log).
    Tail(Option<(String, bool)>, oneshot::Sender<Option<Rc<Sink>>>),
}

/// All state.
pub struct Engine {
    /// Config path.
    pub path: PathBuf,
    /// Command-line options.
    pub opts: Options,
    /// The active config; its `groups` are moved into [`Engine::groups`].
    pub config: Config,
    /// The groups of the last config read (reloadConfig); groups are added
    /// from these. Shared with the active groups until a re-read.
    pub pending_groups: Vec<Rc<GroupConfig>>,
    /// Groups, in config (priority) order.
    pub groups: Vec<Group>,
    /// Processes.
    pub procs: HashMap<ProcId, Proc>,
    next_id: ProcId,
    pids: HashMap<i32, ProcId>,
    timers: BinaryHeap<Reverse<(Ms, ProcId)>>,
    /// The mood.
    pub mood: Mood,
    /// The main log.
    pub log: MainLog,
    epoch: Instant,
    waiters: Vec<Waiter>,
    queue: VecDeque<(ProcId, Event)>,
    stop_groups: Option<Vec<String>>,
    /// Our pid.
    pub pid: i32,
    exit: bool,
    report_at: Option<Ms>,
    waiters_due: Option<Ms>,
    restarted: bool,
}

fn now_wall() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn main_log(config: &Config, echo: bool) -> MainLog {
    let s = &config.supervisord;
    let sink = if s.logfile.as_os_str() == "syslog" {
        None
    } else {
        Sink::open(&s.logfile, s.logfile_maxbytes, s.logfile_backups).ok()
    };
    let level = match s.loglevel {
        warden_config::LogLevel::Blather
        | warden_config::LogLevel::Trace
        | warden_config::LogLevel::Debug => Level::Debug,
        warden_config::LogLevel::Info => Level::Info,
        warden_config::LogLevel::Warn => Level::Warn,
        warden_config::LogLevel::Error | warden_config::LogLevel::Critical => Level::Critical,
    };
    MainLog { sink, level, echo }
}

/// Runs the daemon: daemonize, runtime, engine. Returns the exit code.
pub fn run(path: PathBuf, opts: Options, loaded: warden_config::Loaded) -> i32 {
    let config = loaded.config;
    let s = &config.supervisord;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut d = warden_daemon::Daemonize::new()
        .umask(s.umask)
        .pidfile(s.pidfile.clone())
        .working_directory(s.directory.clone().unwrap_or(cwd))
        .name("supervisord");
    if s.nodaemon {
        d = d
            .mode(warden_daemon::Mode::Foreground)
            .stdin(warden_daemon::Stdio::Inherit)
            .stdout(warden_daemon::Stdio::Inherit)
            .stderr(warden_daemon::Stdio::Inherit);
    }
    if let Some(u) = &s.user {
        if warden_sys::process::geteuid() == 0 {
            d = d.user(u.clone());
        }
    }
    let mut daemon = match d.start() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Error: {e}");
            return e.exit_code();
        }
    };
    // Daemonizing resets every signal to its default; a client that hangs up
    // must give EPIPE, not kill us. (Children get SIG_DFL back before exec.)
    if let Some(pipe) = warden_sys::Signal::from_raw(13) {
        let _ = warden_sys::signal::ignore(pipe);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => daemon.fail(1, &e),
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let echo = config.supervisord.nodaemon && !config.supervisord.silent;
        let log = main_log(&config, echo);
        let (tx, rx) = mpsc::unbounded_channel();
        let servers = match crate::http::start(&config, tx.clone()) {
            Ok(s) => s,
            Err(e) => {
                log.log(Level::Critical, &e);
                daemon.fail(2, &e)
            }
        };
        let mut engine = Engine {
            path,
            opts,
            pending_groups: Vec::new(),
            config,
            groups: Vec::new(),
            procs: HashMap::new(),
            next_id: 1,
            pids: HashMap::new(),
            timers: BinaryHeap::new(),
            mood: Mood::Running,
            log,
            epoch: Instant::now(),
            waiters: Vec::new(),
            queue: VecDeque::new(),
            stop_groups: None,
            pid: warden_sys::Pid::this().as_raw(),
            exit: false,
            report_at: None,
            waiters_due: None,
            restarted: false,
        };
        for w in &loaded.warnings {
            engine.log.log(Level::Warn, &w.to_string());
        }
        engine.startup_messages();
        daemon.notify_ready();
        let code = engine.run(rx).await;
        daemon.notify_stopping();
        // Let the answer to a `shutdown` call reach its client, then close.
        servers
            .shutdown(std::time::Duration::from_millis(500))
            .await;
        for s in &engine.config.unix_http_servers {
            let _ = std::fs::remove_file(&s.file);
        }
        code
    })
}

impl Engine {
    fn now(&self) -> Ms {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn startup_messages(&mut self) {
        if warden_sys::process::geteuid() == 0 && self.config.supervisord.user.is_none() {
            self.log.log(Level::Critical, "Supervisor is running as root.  Privileges were not dropped because no user is specified in the config file.  If you intend to run as root, you can set user=root in the config file to avoid this message.");
        }
        for f in self.config.included_files.clone() {
            self.log.log(
                Level::Info,
                &format!("Included extra file \"{}\" during parsing", f.display()),
            );
        }
        for r in self.config.rpcinterfaces.clone() {
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
        let servers: Vec<(String, bool)> = self
            .config
            .unix_http_servers
            .iter()
            .map(|s| ("unix_http_server", s.credentials.username.is_some()))
            .chain(
                self.config
                    .inet_http_servers
                    .iter()
                    .map(|s| ("inet_http_server", s.credentials.username.is_some())),
            )
            .map(|(n, a)| (n.to_string(), a))
            .collect();
        for (name, auth) in servers {
            if !auth {
                self.log.log(
                    Level::Critical,
                    &format!("Server '{name}' running without any HTTP authentication checking"),
                );
            }
        }
        for e in self.config.eventlisteners.clone() {
            self.log.log(
                Level::Warn,
                &format!("[eventlistener:{}] is parsed but not run by warden", e.name),
            );
        }
        for f in self.config.fcgi_programs.clone() {
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
            if prefixes.iter().any(|p| name.starts_with(p)) && name.contains(".log") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn add_group(&mut self, cfg: Rc<GroupConfig>) {
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
                    stop_wall: 0,
                    stdout_path,
                    stderr_path,
                    stdout: None,
                    stderr: None,
                    stdin: None,
                },
            );
            ids.push(id);
        }
        let pos = self
            .groups
            .iter()
            .position(|g| (g.cfg.priority, &g.cfg.name) > (cfg.priority, &cfg.name))
            .unwrap_or(self.groups.len());
        self.groups.insert(pos, Group { cfg, procs: ids });
    }

    fn log_path(&self, p: &ProcessConfig, lf: &LogFile, channel: &str) -> Option<PathBuf> {
        match lf {
            LogFile::None => None,
            LogFile::Path(p) => Some(p.clone()),
            LogFile::Auto => {
                let ident = &self.config.supervisord.identifier;
                let seed = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
                    ^ (u128::from(self.next_id) << 64);
                let mut x = (seed as u64) | 1;
                let chars = b"abcdefghijklmnopqrstuvwxyz0123456789_";
                let rand: String = (0..8)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        chars[(x % chars.len() as u64) as usize] as char
                    })
                    .collect();
                Some(
                    self.config
                        .supervisord
                        .childlogdir
                        .join(format!("{}-{channel}---{ident}-{rand}.log", p.name)),
                )
            }
        }
    }

    /// Builds the groups of the active config and autostarts.
    fn populate(&mut self) {
        self.clear_autochildlogdir();
        let groups: Vec<Rc<GroupConfig>> = std::mem::take(&mut self.config.groups)
            .into_iter()
            .map(Rc::new)
            .collect();
        self.pending_groups.clone_from(&groups);
        for g in groups {
            self.add_group(g);
        }
        self.tick_all();
    }

    fn tick_all(&mut self) {
        let ids: Vec<ProcId> = self.ordered_procs().into_iter().map(|(_, id)| id).collect();
        for id in ids {
            self.queue.push_back((id, Event::Tick));
        }
        self.drain();
    }

    /// (group index, proc id) in start order: groups by priority, then
    /// processes by (priority, name).
    pub fn ordered_procs(&self) -> Vec<(usize, ProcId)> {
        let mut out = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            let mut ids = g.procs.clone();
            ids.sort_by(|a, b| {
                let (pa, pb) = (&self.procs[a].cfg, &self.procs[b].cfg);
                (pa.priority, &pa.name).cmp(&(pb.priority, &pb.name))
            });
            out.extend(ids.into_iter().map(|id| (gi, id)));
        }
        out
    }

    /// Feeds one event to a process and carries out the effects.
    pub fn feed(&mut self, id: ProcId, ev: Event) {
        self.queue.push_back((id, ev));
        self.drain();
    }

    fn drain(&mut self) {
        while let Some((id, ev)) = self.queue.pop_front() {
            let now = self.now();
            let running = self.mood == Mood::Running;
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

    fn apply(&mut self, id: ProcId, fsm: Fsm, effects: Vec<Effect>, ev: &Event) {
        let old_pid = self.procs.get(&id).and_then(|p| p.fsm.pid);
        if let Some(p) = self.procs.get_mut(&id) {
            p.fsm = fsm;
            if let Event::Exited(_) = ev {
                p.stop_wall = now_wall();
                p.stdin = None;
            }
        }
        if let (Some(pid), Event::Exited(_)) = (old_pid, ev) {
            self.pids.remove(&pid);
        }
        for e in effects {
            match e {
                Effect::Spawn => {
                    if let Some(p) = self.procs.get_mut(&id) {
                        p.start_wall = now_wall();
                    }
                    match self.spawn_child(id) {
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
                Effect::Log(l, m) => self.log.log(l, &m),
                Effect::Timer(t) => self.timers.push(Reverse((t, id))),
                Effect::Changed(_, _) => {}
            }
        }
    }

    fn send_signal(&mut self, id: ProcId, signal: i32, group: bool) -> Result<(), String> {
        let Some(p) = self.procs.get(&id) else {
            return Ok(());
        };
        let Some(pid) = p.fsm.pid.and_then(warden_sys::Pid::from_raw) else {
            return Ok(());
        };
        let Some(sig) = warden_sys::Signal::from_raw(signal) else {
            return Err(format!("unknown signal {signal}"));
        };
        let r = if group {
            warden_sys::signal::kill_process_group(pid, sig)
        } else {
            warden_sys::signal::kill_process(pid, sig)
        };
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(warden_sys::consts::ESRCH) => Ok(()),
            Err(e) => Err(format!(
                "unknown problem killing {} ({}):{e}",
                p.cfg.name,
                pid.as_raw()
            )),
        }
    }

    /// supervisord's `get_execv_args` checks: the resolved file and argv, or
    /// the fault (NO_FILE / NOT_EXECUTABLE) and message.
    pub fn execv_args(cfg: &ProcessConfig) -> Result<(PathBuf, Vec<String>), (i32, String)> {
        use warden_config::expand::repr;
        let argv = match &cfg.argv {
            Ok(a) if !a.is_empty() => a.clone(),
            Ok(_) => return Err((21, "command is empty".into())),
            Err(e) => {
                return Err((
                    21,
                    format!("can't parse command {}: {e}", repr(&cfg.command)),
                ))
            }
        };
        let program = &argv[0];
        let (filename, meta) = if program.contains('/') {
            (PathBuf::from(program), std::fs::metadata(program).ok())
        } else {
            let path =
                std::env::var("PATH").unwrap_or_else(|_| "/bin:/usr/bin:/usr/local/bin".into());
            let mut found = None;
            for dir in path.split(':') {
                let cand = Path::new(dir).join(program);
                if let Ok(m) = std::fs::metadata(&cand) {
                    found = Some((cand, m));
                    break;
                }
            }
            match found {
                Some((c, m)) => (c, Some(m)),
                None => (PathBuf::from(program), None),
            }
        };
        let shown = repr(&filename.to_string_lossy());
        let Some(meta) = meta else {
            return Err((20, format!("can't find command {shown}")));
        };
        use std::os::unix::fs::PermissionsExt;
        if meta.is_dir() {
            return Err((21, format!("command at {shown} is a directory")));
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err((21, format!("command at {shown} is not executable")));
        }
        Ok((filename, argv))
    }

    fn sink_for(path: &Option<PathBuf>, slot: &mut Option<Rc<Sink>>, maxbytes: i64, backups: i64) {
        if slot.is_none() {
            if let Some(p) = path {
                *slot = Sink::open(p, maxbytes, backups).ok();
            }
        }
    }

    fn spawn_child(&mut self, id: ProcId) -> Result<i32, String> {
        let serverurl = self.config.serverurl.clone();
        let euid = warden_sys::process::geteuid();
        let strip = self.config.supervisord.strip_ansi;
        let p = self.procs.get_mut(&id).ok_or("no such process")?;
        let (filename, argv) = Self::execv_args(&p.cfg).map_err(|(_, m)| m)?;
        let name = p.cfg.name.clone();
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
        Self::sink_for(
            &p.stdout_path,
            &mut p.stdout,
            p.cfg.stdout.logfile_maxbytes,
            p.cfg.stdout.logfile_backups,
        );
        Self::sink_for(
            &p.stderr_path,
            &mut p.stderr,
            p.cfg.stderr.logfile_maxbytes,
            p.cfg.stderr.logfile_backups,
        );
        let cstr = |s: &str| CString::new(s.as_bytes()).unwrap_or_default();
        // `vars_os`: the child gets the supervisor's environment byte for
        // byte, UTF-8 or not (`vars` would panic on a non-UTF-8 variable).
        let mut env: Vec<(std::ffi::OsString, std::ffi::OsString)> = std::env::vars_os().collect();
        let mut set = |k: &str, v: &str| {
            if let Some(e) = env.iter_mut().find(|(ek, _)| ek == k) {
                e.1 = v.into();
            } else {
                env.push((k.into(), v.into()));
            }
        };
        set("SUPERVISOR_ENABLED", "1");
        if let Some(u) = p.cfg.serverurl.clone().or(serverurl) {
            set("SUPERVISOR_SERVER_URL", &u);
        }
        set("SUPERVISOR_PROCESS_NAME", &p.cfg.name);
        set("SUPERVISOR_GROUP_NAME", &p.cfg.group);
        for (k, v) in &p.cfg.environment {
            set(k, v);
        }
        let envp: Vec<CString> = env
            .iter()
            .map(|(k, v)| {
                use std::os::unix::ffi::OsStrExt;
                CString::new([k.as_bytes(), b"=", v.as_bytes()].concat()).unwrap_or_default()
            })
            .collect();
        let cargv: Vec<CString> = argv.iter().map(|a| cstr(a)).collect();
        let program = cstr(&filename.to_string_lossy());
        let dir = p.cfg.directory.as_deref().map(cstr);
        let creds = match (&p.cfg.user, euid) {
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
        let stderr_fd = if p.cfg.redirect_stderr {
            out_w.as_fd()
        } else {
            err_w.as_fd()
        };
        let req = warden_sys::spawn::SpawnRequest {
            program: &program,
            argv: &cargv,
            envp: &envp,
            directory: dir.as_deref(),
            umask: p.cfg.umask,
            stdin: in_r.as_fd(),
            stdout: out_w.as_fd(),
            stderr: stderr_fd,
            credentials: creds.as_ref(),
        };
        let pid = warden_sys::spawn::spawn(&req).map_err(|e| {
            if e.raw_os_error() == Some(11) {
                format!("Too many processes in process table to spawn '{name}'")
            } else {
                format!("unknown error during fork for '{name}': {e}")
            }
        })?;
        drop((in_r, out_w, err_w));
        if let Ok(rx) = tokio::net::unix::pipe::Receiver::from_owned_fd(out_r) {
            tokio::task::spawn_local(crate::logs::capture(rx, p.stdout.clone(), strip));
        }
        if let Ok(rx) = tokio::net::unix::pipe::Receiver::from_owned_fd(err_r) {
            tokio::task::spawn_local(crate::logs::capture(rx, p.stderr.clone(), strip));
        }
        p.stdin = tokio::net::unix::pipe::Sender::from_owned_fd(in_w)
            .ok()
            .map(Rc::new);
        Ok(pid.as_raw())
    }

    fn reap(&mut self) {
        while let Ok(Some((pid, status))) = warden_sys::process::try_wait_any() {
            let exit = match status {
                warden_sys::process::ExitStatus::Code(c) => Exit::Code(c),
                warden_sys::process::ExitStatus::Signaled {
                    signal,
                    core_dumped,
                } => Exit::Signal {
                    signal,
                    core: core_dumped,
                },
            };
            match self.pids.get(&pid.as_raw()).copied() {
                Some(id) => self.feed(id, Event::Exited(exit)),
                None => {
                    let (_, msg) = exit.decode();
                    self.log.log(
                        Level::Info,
                        &format!("reaped unknown pid {} ({msg})", pid.as_raw()),
                    );
                }
            }
        }
    }

    /// Delivers due process deadlines; false when none was due (the wake-up
    /// was only for deferred calls).
    fn fire_timers(&mut self) -> bool {
        let now = self.now();
        let mut fired = self.report_at.is_some_and(|t| t <= now);
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            self.queue.push_back((id, Event::Tick));
            fired = true;
        }
        self.drain();
        fired
    }

    fn next_deadline(&self) -> Option<Ms> {
        let t = self.timers.peek().map(|Reverse((t, _))| *t);
        [t, self.report_at, self.waiters_due]
            .into_iter()
            .flatten()
            .min()
    }

    /// Answers an RPC now or registers a waiter.
    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Call(call, reply) => match crate::rpc::dispatch(self, call) {
                crate::rpc::Outcome::Done(r) => {
                    let _ = reply.send(r);
                }
                crate::rpc::Outcome::Wait(poll) => self.waiters.push(Waiter { poll, reply }),
            },
            Cmd::Tail(target, reply) => {
                let sink = match target {
                    None => self.log.sink.clone(),
                    Some((name, stderr)) => self.find(&name).ok().and_then(|(_, id)| {
                        id.and_then(|id| {
                            let p = &self.procs[&id];
                            if stderr {
                                p.stderr.clone()
                            } else {
                                p.stdout.clone()
                            }
                        })
                    }),
                };
                let _ = reply.send(sink);
            }
        }
    }

    fn poll_waiters(&mut self) {
        let mut waiters = std::mem::take(&mut self.waiters);
        waiters.retain_mut(|w| {
            if w.reply.is_closed() {
                return false;
            }
            match (w.poll)(self) {
                Some(r) => {
                    let (tx, _) = oneshot::channel();
                    let reply = std::mem::replace(&mut w.reply, tx);
                    let _ = reply.send(r);
                    false
                }
                None => true,
            }
        });
        waiters.append(&mut self.waiters);
        self.waiters = waiters;
    }

    /// Resolves `name` (`proc`, `group:proc`, `group:*`, `group:`) to
    /// (group index, process): `Err` is BAD_NAME.
    pub fn find(&self, name: &str) -> Result<(usize, Option<ProcId>), Fault> {
        let bad = || Fault::with_detail(warden_xmlrpc::FaultCode::BadName, name);
        let (gname, pname) = match name.split_once(':') {
            Some((g, p)) if p.is_empty() || p == "*" => (g, None),
            Some((g, p)) => (g, Some(p)),
            None => (name, Some(name)),
        };
        let gi = self
            .groups
            .iter()
            .position(|g| g.cfg.name == gname)
            .ok_or_else(bad)?;
        match pname {
            None => Ok((gi, None)),
            Some(pn) => self.groups[gi]
                .procs
                .iter()
                .copied()
                .find(|id| self.procs[id].cfg.name == pn)
                .map(|id| (gi, Some(id)))
                .ok_or_else(bad),
        }
    }

    /// An administrative stop; `Some(msg)` when there was nothing to signal.
    pub fn stop_proc(&mut self, id: ProcId) -> Option<String> {
        let now = self.now();
        let running = self.mood == Mood::Running;
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

    /// Microseconds-free monotonic now, for RPC helpers.
    pub fn now_ms(&self) -> Ms {
        self.now()
    }

    /// Removes a group (caller checked that it is stopped).
    pub fn remove_group(&mut self, gi: usize) {
        let g = self.groups.remove(gi);
        for id in g.procs {
            self.procs.remove(&id);
        }
    }

    /// Adds a group from the pending config and autostarts it.
    pub fn add_group_from_pending(&mut self, name: &str) -> Result<(), Fault> {
        use warden_xmlrpc::FaultCode;
        let Some(cfg) = self.pending_groups.iter().find(|g| g.name == name).cloned() else {
            return Err(Fault::with_detail(FaultCode::BadName, name));
        };
        if self.groups.iter().any(|g| g.cfg.name == name) {
            return Err(Fault::with_detail(FaultCode::AlreadyAdded, name));
        }
        self.add_group(cfg);
        self.tick_all();
        Ok(())
    }

    /// Re-reads the config file.
    pub fn read_config(&self) -> Result<Config, String> {
        let env = warden_config::host_env();
        Ok(crate::load(&self.path, &env, &self.opts)?.config)
    }

    /// Re-reads the config's groups into `pending_groups`.
    pub fn reread(&mut self) -> Result<(), String> {
        let config = self.read_config()?;
        self.pending_groups = config.groups.into_iter().map(Rc::new).collect();
        Ok(())
    }

    fn request_stop(&mut self, mood: Mood) {
        if self.mood == Mood::Running {
            self.mood = mood;
        }
    }

    /// Shutdown/restart progress: stop groups serially, from the highest
    /// priority down; finish when nothing is left running.
    fn shutdown_progress(&mut self) {
        if self.mood == Mood::Running {
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
            let mut ids = self.groups[gi].procs.clone();
            ids.sort_by(|a, b| {
                let (pa, pb) = (&self.procs[a].cfg, &self.procs[b].cfg);
                (pb.priority, &pb.name).cmp(&(pa.priority, &pa.name))
            });
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
            .filter(|(_, id)| !self.procs[id].fsm.state.is_stopped())
            .map(|(_, id)| self.procs[&id].cfg.name.clone())
            .collect();
        if unstopped.is_empty() {
            self.exit = true;
            self.report_at = None;
            return;
        }
        let now = self.now();
        if self.report_at.is_none_or(|t| now >= t) {
            self.log.log(
                Level::Info,
                &format!("waiting for {} to die", unstopped.join(", ")),
            );
            self.report_at = Some(now + 3000);
        }
    }

    fn reopen_logs(&mut self) {
        if let Some(s) = &self.log.sink {
            let _ = s.reopen();
        }
        for p in self.procs.values() {
            for s in [&p.stdout, &p.stderr].into_iter().flatten() {
                let _ = s.reopen();
            }
        }
    }

    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) -> i32 {
        let sig = |k| signal(k).expect("UNWRAP: installing a signal handler on a live runtime");
        let mut chld = sig(SignalKind::child());
        let mut term = sig(SignalKind::terminate());
        let mut int = sig(SignalKind::interrupt());
        let mut quit = sig(SignalKind::quit());
        let mut hup = sig(SignalKind::hangup());
        let mut usr2 = sig(SignalKind::user_defined2());
        self.populate();
        loop {
            let deadline = self.next_deadline();
            let mut changed = true;
            let sleep_for = deadline.map(|d| d.saturating_sub(self.now()));
            tokio::select! {
                _ = chld.recv() => {
                    self.log.log(Level::Debug, "received SIGCHLD indicating a child quit");
                    self.reap();
                }
                _ = term.recv() => {
                    self.log.log(Level::Warn, "received SIGTERM indicating exit request");
                    self.request_stop(Mood::Shutdown);
                }
                _ = int.recv() => {
                    self.log.log(Level::Warn, "received SIGINT indicating exit request");
                    self.request_stop(Mood::Shutdown);
                }
                _ = quit.recv() => {
                    self.log.log(Level::Warn, "received SIGQUIT indicating exit request");
                    self.request_stop(Mood::Shutdown);
                }
                _ = hup.recv() => {
                    if self.mood == Mood::Shutdown {
                        self.log.log(Level::Warn, "ignored SIGHUP indicating restart request (shutdown in progress)");
                    } else {
                        self.log.log(Level::Warn, "received SIGHUP indicating restart request");
                        self.request_stop(Mood::Restarting);
                    }
                }
                _ = usr2.recv() => {
                    self.log.log(Level::Info, "received SIGUSR2 indicating log reopen request");
                    self.reopen_logs();
                }
                Some(cmd) = rx.recv() => self.handle(cmd),
                () = tokio::time::sleep(std::time::Duration::from_millis(sleep_for.unwrap_or(0))), if sleep_for.is_some() => {
                    changed = self.fire_timers();
                }
            }
            // a child may have exited before we were told (signal coalescing)
            self.reap();
            self.shutdown_progress();
            // Deferred calls are re-checked 50 ms after a change (upstream
            // re-checks every loop): results of processes that end together
            // keep list order. While nothing changes, a pending call is
            // re-checked every 2 s, for its "waiting for x to stop" report.
            let now = self.now();
            if self.waiters_due.is_some_and(|t| t <= now) {
                self.waiters_due = None;
                self.poll_waiters();
            }
            if !self.waiters.is_empty() {
                let next = now + if changed { 50 } else { 2000 };
                self.waiters_due = Some(self.waiters_due.map_or(next, |d| d.min(next)));
            }
            if self.exit {
                if self.mood == Mood::Restarting {
                    match self.read_config() {
                        Ok(config) => {
                            self.config = config;
                            self.groups.clear();
                            self.procs.clear();
                            self.pids.clear();
                            self.timers.clear();
                            self.stop_groups = None;
                            self.exit = false;
                            self.mood = Mood::Running;
                            self.log = main_log(&self.config, self.log.echo);
                            self.restarted = true;
                            self.startup_messages();
                            self.populate();
                            continue;
                        }
                        Err(e) => {
                            self.log.log(Level::Critical, &format!("Error: {e}"));
                            return 2;
                        }
                    }
                }
                self.log.log(Level::Debug, "exiting");
                return 0;
            }
        }
    }
}
