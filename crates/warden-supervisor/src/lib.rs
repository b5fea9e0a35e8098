#![forbid(unsafe_code)]
//! `warden supervise`: a drop-in replacement for supervisord 4.3.0.
//!
//! Same config files (parsed by `warden-config`), same XML-RPC API (encoded
//! by `warden-xmlrpc`), same main-log texts and state machine, so the real
//! `supervisorctl` works against it.
//!
//! # Theory of operation
//!
//! ```text
//! main(args) ─ parse flags, load + validate config (errors: exit 2)
//!    │
//!    ├─ daemonize (warden-daemon) unless nodaemon ── BEFORE any thread
//!    └─ run.rs: tokio current_thread runtime + LocalSet
//!          │
//!          ├─ the engine (core/engine.rs): the one owner of all state, fed by
//!          │     SIGCHLD → waitpid(-1, WNOHANG) → trees.rs (sweeps) →
//!          │       Engine::reaped
//!          │     TERM/INT/QUIT/HUP/USR2 → Engine::control
//!          │     Command::Call(Request) from the front ends → Engine::request
//!          │     the earliest armed deadline → Engine::fire_due
//!          │   every input → core::state::step (pure) → effects through the
//!          │   Launcher seam (os.rs) → events on the Bus → tickets of waiting
//!          │   calls resolved by the state changes they wait for
//!          ├─ front ends, each an adapter over core::api (Request, Reply,
//!          │     ApiError): http.rs routes bytes; xmlrpc.rs translates
//!          │     supervisord's XML-RPC; web/ serves supervisord's page
//!          │     URLs and the live dashboard (server-sent events from a
//!          │     subscription); web/v1.rs is the JSON API /api/v1 and
//!          │     its resumable event stream; metrics.rs answers /metrics
//!          │     (read at scrape time); /logtail follows a log
//!          ├─ capture tasks (core/logs.rs): one per child pipe, into the log
//!          │     sinks (warden's line formats: core/logfmt.rs; a ring of
//!          │     recent output when the log is no file: core/ring.rs), and
//!          │     output events while somebody subscribes
//!          ├─ probes.rs (only with warden's `ready=`/`healthcheck=`): probe
//!          │     tasks and the $NOTIFY_SOCKET, results fed back as
//!          │     Engine::probed / Engine::notified (core/health.rs)
//!          └─ ticks.rs: TICK_* events, only while somebody wants them
//! ```
//!
//! Module dependencies point one way: the adapters (`http`, `xmlrpc`) and
//! the driver (`run`, `os`) use `core`; inside `core`, `ops` use `engine`,
//! which uses `state`, `events`, `logs` and `seams`; nothing in `core`
//! imports a wire format.
//!
//! Children are forked by `warden_sys::spawn::spawn`, whose child side runs
//! only async-signal-safe calls (own process group, dup2 of the capture
//! pipes, close_range, signal reset, setgroups/setgid/setuid, chdir, umask,
//! execve). `tokio::process` is not used: it would reap on its own.
//! Idle, nothing wakes up: there is no periodic tick.
//!
//! # Known deviations from supervisord 4.3.0
//!
//! Each is deliberate; the reason follows the dash.
//!
//! - Help texts (`-h`, `supervisorctl help`) are warden's own words, not
//!   copies; option names and behaviour are supervisord's.
//! - Deadlines fire when due instead of on supervisord's 1 s poll: RUNNING
//!   comes right after `startsecs`, FATAL right after the last failure,
//!   exits are noticed at once (the documented rules, without the latency).
//!   Waiting calls answer as soon as the change they wait for happens. —
//!   an idle supervisor never wakes up, and scripts wait less.
//! - Non-default `[rpcinterface:x]` factories and event listener
//!   `result_handler`s are parsed but not run (a warning is logged). — they
//!   are Python code, which a Rust binary cannot load.
//! - Output sent to syslog that is not UTF-8 has its bad bytes replaced;
//!   supervisord drops the whole chunk with a traceback. — nothing a
//!   program writes is lost.
//! - A config error at start lists every error with its file and line; the
//!   same error on `reread`/`update` is worded as supervisord words it
//!   (`CANT_REREAD`), for scripts that match it. — one round of fixes
//!   instead of one per error.
//! - `GET /` is warden's live dashboard, not supervisord's status table;
//!   supervisord's action URLs (`/index.html?action=...`) and
//!   `/tail.html` behave as supervisord's, but answer 403 when a browser
//!   says the request comes from another site. — cross-site requests could
//!   otherwise stop programs from any web page the operator opens.
//! - `reload`/SIGHUP re-reads the config and restarts the programs in the
//!   same process; HTTP server sections that did not change keep their
//!   sockets (changed, new and removed ones follow the new config, as in
//!   supervisord). — no window in which clients (the one that asked for
//!   the reload included) are refused.
//! - AUTO child logs are created (mode 0600, `O_EXCL`) when their group is
//!   added, as `mkstemp` would; supervisord only picks a name. — no other
//!   user can plant or read the file in between.
//! - An unusable main log refuses the start (supervisord runs without it).
//!   — a supervisor that cannot log fails silently.
//! - An `[fcgi-program:x]` socket lives as long as its group; supervisord
//!   closes it whenever no process of the group runs. — connections wait
//!   in the backlog across a restart instead of being refused.
//! - `warden.update` (used by `warden ctl update`, not listed by
//!   `system.listMethods`) restarts only the processes whose config changed;
//!   supervisorctl's `update` keeps supervisord's whole-group behaviour.
//! - Shutdown and reload stop the groups of one priority at the same time
//!   (supervisord stops one group after another), tiers from the highest
//!   priority down, and programs with dependents after those (warden's
//!   `depends_on`).
//! - warden's own `[program:x]` keys (`ready`, `healthcheck*`,
//!   `depends_on`, `backoff*`, `critical`; see `docs/config.md`) change
//!   nothing when absent; `startretries=-1` retries forever.
//! - Whole process trees and a container's init (see [`pid1`] and
//!   [`trees`]): the supervisor is a child subreaper (or PID 1) and reaps
//!   the orphans of its programs (`reaped unknown pid N` lines); children
//!   get `pdeathsig` (default SIGKILL); `stopasgroup`/`killasgroup` reach
//!   every descendant (a cgroup per program when cgroup v2 is delegated)
//!   and sweep what is left once the main process exited from a stop; a
//!   state file next to the pidfile lets the next run stop what a crashed
//!   run left behind (or adopt it, with `previous_run=adopt`). `shutdown_timeout` (default none, 9 s as init) bounds
//!   a shutdown (then SIGKILL, exit 4); `forward_signals` passes signals
//!   on to the programs.
//! - A program stopped by hand stays stopped across `reload` and a restart
//!   (see [`core::intent`]); supervisord autostarts it again.

pub mod core;
pub mod http;
pub mod listeners;
pub mod metrics;
pub mod os;
pub mod pid1;
pub mod probes;
mod run;
mod ticks;
pub mod trees;
pub mod web;
pub mod xmlrpc;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

/// supervisord's command line.
#[derive(Debug, Parser)]
#[command(
    name = "supervisord",
    disable_version_flag = true,
    disable_help_flag = true,
    about = "supervisord -- run a set of applications as daemons."
)]
pub struct Options {
    /// configuration file path (searches if not given)
    #[arg(short = 'c', long = "configuration")]
    pub configuration: Option<PathBuf>,
    /// run in the foreground (same as 'nodaemon=true' in config file)
    #[arg(short = 'n', long = "nodaemon")]
    pub nodaemon: bool,
    /// no logs to stdout (maps to 'silent=true' in config file)
    #[arg(short = 's', long = "silent")]
    pub silent: bool,
    /// run supervisord as this user
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// use this umask for daemon subprocess (default is 022)
    #[arg(short = 'm', long = "umask")]
    pub umask: Option<String>,
    /// directory to chdir to when daemonized
    #[arg(short = 'd', long = "directory")]
    pub directory: Option<PathBuf>,
    /// use FILENAME as logfile path
    #[arg(short = 'l', long = "logfile")]
    pub logfile: Option<PathBuf>,
    /// use BYTES to limit the max size of logfile
    #[arg(short = 'y', long = "logfile_maxbytes")]
    pub logfile_maxbytes: Option<String>,
    /// number of backups to keep when max bytes reached
    #[arg(short = 'z', long = "logfile_backups")]
    pub logfile_backups: Option<i64>,
    /// use LEVEL as log level (debug,info,warn,error,critical)
    #[arg(short = 'e', long = "loglevel")]
    pub loglevel: Option<String>,
    /// write a pid file for the daemon process to FILENAME
    #[arg(short = 'j', long = "pidfile")]
    pub pidfile: Option<PathBuf>,
    /// identifier used for this instance of supervisord
    #[arg(short = 'i', long = "identifier")]
    pub identifier: Option<String>,
    /// the log directory for child process logs
    #[arg(short = 'q', long = "childlogdir")]
    pub childlogdir: Option<PathBuf>,
    /// prevent the process from performing cleanup
    #[arg(short = 'k', long = "nocleanup")]
    pub nocleanup: bool,
    /// the minimum number of file descriptors for start success
    #[arg(short = 'a', long = "minfds")]
    pub minfds: Option<i64>,
    /// strip ansi escape codes from process output
    #[arg(short = 't', long = "strip_ansi")]
    pub strip_ansi: bool,
    /// the minimum number of processes available for start success
    #[arg(long = "minprocs")]
    pub minprocs: Option<i64>,
    /// run as a container's init: reap every orphan, never daemonize, end a
    /// shutdown within shutdown_timeout (implied when running as PID 1)
    #[arg(long = "init")]
    pub init: bool,
    /// print supervisord version number and exit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// validate the config, print the expanded process list and exit
    #[arg(long = "check-config")]
    pub check_config: bool,
    /// print this help and exit (`-?` too, as supervisord accepts)
    #[arg(short = 'h', long = "help", short_alias = '?', action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// The version supervisord reports.
pub use crate::core::api::SUPERVISOR_VERSION;

/// Runs supervisord with `args` (argv, including argv\[0\]); returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let opts = match Options::try_parse_from(&args) {
        Ok(o) => o,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    if opts.version {
        // The first line is supervisord's answer, for tools that parse it;
        // as `warden supervise` (not as a `supervisord` link), a second line
        // says which warden this is.
        println!("{SUPERVISOR_VERSION}");
        if argv0(&args).ends_with(" supervise") {
            println!("warden {}", env!("CARGO_PKG_VERSION"));
        }
        return 0;
    }
    let env = warden_config::host_env();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let path = match &opts.configuration {
        Some(p) => p.clone(),
        None => {
            let exe_dir = args
                .first()
                .map(|a| {
                    PathBuf::from(a)
                        .parent()
                        .map(PathBuf::from)
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            match warden_config::find_default_config(&cwd, &exe_dir) {
                Some(p) => p,
                None => {
                    eprintln!(
                        "Error: No config file found at default paths ({}); use the -c option to specify a config file at a different path\nFor help, use {} -h",
                        warden_config::default_config_candidates(&cwd, &exe_dir)
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        argv0(&args)
                    );
                    return 2;
                }
            }
        }
    };
    // absolute, so that reread/reload still find it after `directory=` chdir
    let path = cwd.join(path);
    let loaded = match load(&path, &env, &opts) {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("Error: {msg}\nFor help, use {} -h", argv0(&args));
            return 2;
        }
    };
    if opts.check_config {
        return check_config(&loaded);
    }
    let raised = match set_rlimits(&loaded.config.supervisord) {
        Ok(raised) => raised,
        Err(msg) => {
            eprintln!("Error: {msg}\nFor help, use {} -h", argv0(&args));
            return 2;
        }
    };
    run::run(path, opts, loaded, raised)
}

/// supervisord's `set_rlimits_or_exit`: raise the soft limits to `minfds` and
/// `minprocs` (and the hard ones too where they are lower, which only root
/// may); if that is refused, the same message and a usage exit. Returns
/// supervisord's info line for each limit raised, for the main log.
fn set_rlimits(s: &warden_config::SupervisordSection) -> Result<Vec<String>, String> {
    use warden_sys::process::{rlimit, set_rlimit, Limit};
    let mut raised = Vec::new();
    let checks = [
        (
            Limit::OpenFiles,
            "RLIMIT_NOFILE",
            s.minfds,
            "The minimum number of file descriptors required to run this process is {min} as \
             per the \"minfds\" command-line argument or config file setting. The current \
             environment will only allow you to open {hard} file descriptors.  Either raise the \
             number of usable file descriptors in your environment (see README.rst) or lower the \
             minfds setting in the config file to allow the process to start.",
        ),
        (
            Limit::Processes,
            "RLIMIT_NPROC",
            s.minprocs,
            "The minimum number of available processes required to run this program is {min} as \
             per the \"minprocs\" command-line argument or config file setting. The current \
             environment will only allow you to open {hard} processes.  Either raise the number \
             of usable processes in your environment (see README.rst) or lower the minprocs \
             setting in the config file to allow the process to start.",
        ),
    ];
    for (limit, name, min, msg) in checks {
        let Ok(min) = u64::try_from(min) else {
            continue;
        };
        let Ok((soft, mut hard)) = rlimit(limit) else {
            continue;
        };
        if soft >= min {
            continue; // includes "unlimited"
        }
        if hard < min {
            hard = min; // only root may raise it; otherwise setrlimit refuses
        }
        if set_rlimit(limit, min, hard).is_err() {
            return Err(msg
                .replace("{min}", &min.to_string())
                .replace("{hard}", &hard.to_string()));
        }
        raised.push(format!("Increased {name} limit to {min}"));
    }
    Ok(raised)
}

fn argv0(args: &[OsString]) -> String {
    args.first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "supervisord".into())
}

/// Loads the config and applies the command-line overrides.
pub fn load(
    path: &std::path::Path,
    env: &HashMap<String, String>,
    opts: &Options,
) -> Result<warden_config::Loaded, String> {
    load_worded(path, env, opts, |e| e.to_string())
}

/// The text of `CANT_REREAD` as supervisord words it for a bad process
/// section: `WHY in section 'S' (file: 'F')`, from the first error. Other
/// errors (and start-up, where warden lists every error with its line) keep
/// warden's own text.
pub(crate) fn reread_words(errs: &warden_config::ConfigErrors) -> String {
    use warden_config::ErrorKind as K;
    let Some(first) = errs.errors().first() else {
        return errs.to_string();
    };
    let why = match &first.kind {
        K::InvalidValue { reason, .. } => reason,
        K::MissingKey { what } => what,
        K::Invalid(why) => why,
        _ => return errs.to_string(),
    };
    let loc = &first.location;
    let process_section = |s: &&String| {
        ["program:", "fcgi-program:", "eventlistener:"]
            .iter()
            .any(|p| s.starts_with(p))
    };
    match (loc.section.as_ref().filter(process_section), &loc.file) {
        (Some(section), Some(file)) => format!(
            "{why} in section {} (file: {})",
            py_repr(section),
            py_repr(&file.to_string_lossy())
        ),
        _ => errs.to_string(),
    }
}

/// Python's `repr` of a string (the quotes it picks; no escapes needed for
/// names and paths).
fn py_repr(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\'', "\\'"))
    }
}

/// [`load`] with the errors worded by `words`.
pub(crate) fn load_worded(
    path: &std::path::Path,
    env: &HashMap<String, String>,
    opts: &Options,
    words: fn(&warden_config::ConfigErrors) -> String,
) -> Result<warden_config::Loaded, String> {
    let mut loaded = warden_config::load(path, env).map_err(|e| words(&e))?;
    let s = &mut loaded.config.supervisord;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let abs = |p: &PathBuf| {
        PathBuf::from(warden_config::datatypes::normpath(
            &cwd.join(p).to_string_lossy(),
        ))
    };
    if opts.nodaemon {
        s.nodaemon = true;
    }
    if opts.silent {
        s.silent = true;
    }
    if let Some(u) = &opts.user {
        s.user = Some(u.clone());
    }
    if let Some(m) = &opts.umask {
        s.umask = warden_config::datatypes::octal(m)?;
    }
    if let Some(d) = &opts.directory {
        s.directory = Some(abs(d));
    }
    if let Some(l) = &opts.logfile {
        s.logfile = abs(l);
    }
    if let Some(y) = &opts.logfile_maxbytes {
        s.logfile_maxbytes = warden_config::datatypes::byte_size(y)?;
    }
    if let Some(z) = opts.logfile_backups {
        s.logfile_backups = z;
    }
    if let Some(e) = &opts.loglevel {
        s.loglevel = warden_config::datatypes::logging_level(e)?;
    }
    if let Some(j) = &opts.pidfile {
        s.pidfile = abs(j);
    }
    if let Some(i) = &opts.identifier {
        s.identifier = i.clone();
    }
    if let Some(q) = &opts.childlogdir {
        s.childlogdir = abs(q);
    }
    if opts.nocleanup {
        s.nocleanup = true;
    }
    if let Some(a) = opts.minfds {
        s.minfds = a;
    }
    if let Some(a) = opts.minprocs {
        s.minprocs = a;
    }
    if opts.strip_ansi {
        s.strip_ansi = true;
    }
    Ok(loaded)
}

fn check_config(loaded: &warden_config::Loaded) -> i32 {
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    for g in &loaded.config.groups {
        for p in &g.processes {
            println!(
                "{}:{} priority={} autostart={} command={}",
                g.name, p.name, p.priority, p.autostart, p.command
            );
        }
    }
    for e in &loaded.config.eventlisteners {
        for p in &e.processes {
            println!(
                "{}:{} priority={} autostart={} command={} events={}",
                e.name,
                p.name,
                p.priority,
                p.autostart,
                p.command,
                e.events.join(",")
            );
        }
    }
    for f in &loaded.config.fcgi_programs {
        let socket = match &f.socket {
            warden_config::FcgiSocket::Unix { path, mode, .. } => {
                format!("unix://{} mode={mode:o}", path.display())
            }
            warden_config::FcgiSocket::Tcp { host, port } => format!("tcp://{host}:{port}"),
        };
        for p in &f.processes {
            println!(
                "{}:{} priority={} autostart={} command={} socket={socket}",
                f.name, p.name, p.priority, p.autostart, p.command
            );
        }
    }
    0
}
