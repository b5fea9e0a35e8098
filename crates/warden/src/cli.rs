//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  start    0 started (or already running with --oknodo), 1 already running,
           3 setup failure (chdir, chroot, user, pidfile, log file, bad option),
           124 not ready within --ready-timeout (--notify: no READY=1;
           --forking: it did not exit), the command was stopped,
           125 the start window failed: the command ended within --startsecs
           with status 0 to 3, or left another process running in its place,
           or (--forking) its pidfile names none of its processes,
           126 command not executable, 127 command not found;
           when the command ends within --startsecs (or, with --notify,
           before it is ready) with status N > 3: N, or 128+N if killed by
           signal N
  stop     0 stopped (or not running with --oknodo), 1 not running,
           2 still running when the schedule ran out, 3 trouble
  status   0 running (or restarting after a backoff), 1 dead but pidfile
           exists, 3 not running, 4 unknown
  restart  as stop, then as start; 126/127 (nothing stopped) when the
           recorded command is no longer executable or gone
  signal   0 sent, 1 not running, 3 trouble
  forget   0 forgotten, 1 still running, 3 no such instance or trouble
  logs     0 shown, 3 no such instance or no log file
  --foreground   the command's own status, 128+N when killed by signal N";

/// Daemonize any command, correctly.
#[derive(Parser, Debug)]
#[command(name = "warden", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Say what is being done.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start COMMAND as a daemon; returns once it has stayed up --startsecs (or is ready).
    #[command(after_help = EXIT_CODES_HELP)]
    Start(Box<StartArgs>),
    /// Stop an instance and wait until it is gone.
    #[command(after_help = EXIT_CODES_HELP)]
    Stop(StopArgs),
    /// Check the recorded executable, stop (verified), then start it again with the
    /// recorded options, working directory and environment.
    #[command(after_help = EXIT_CODES_HELP)]
    Restart(RestartArgs),
    /// Report an instance's state (LSB exit codes).
    #[command(after_help = EXIT_CODES_HELP)]
    Status(StatusArgs),
    /// List the live instances in the run directory (--all: every record).
    List(ListArgs),
    /// Send a signal to an instance.
    #[command(after_help = EXIT_CODES_HELP)]
    Signal(SignalArgs),
    /// Show (or follow) an instance's output file.
    #[command(after_help = EXIT_CODES_HELP)]
    Logs(LogsArgs),
    /// Remove the record of an instance that is not running, and its files.
    #[command(after_help = EXIT_CODES_HELP)]
    Forget(ForgetArgs),
    /// Supervise programs (supervisord compatible: same config, same XML-RPC API).
    #[command(disable_help_flag = true)]
    Supervise {
        /// supervisord's options (-c FILE, -n, ...).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Control a supervisor (supervisorctl compatible; `warden ctl help`).
    #[command(disable_help_flag = true)]
    Ctl {
        /// supervisorctl's options and command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Print a shell completion script on stdout (bash: `source <(warden completions bash)`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (warden.1, warden-start.1, ..., warden-supervise.1,
    /// warden-ctl.1) into DIR (`man -l DIR/warden.1` reads one).
    Manpages {
        /// Where to write them (created if missing).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// Which instance: by name (in the run directory) or by pidfile.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// Instance name.
    #[arg(short, long)]
    pub name: Option<String>,
    /// Pidfile path.
    #[arg(short, long)]
    pub pidfile: Option<PathBuf>,
}

#[derive(Args, Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StartArgs {
    /// Instance name (default: from COMMAND: the script an interpreter runs,
    /// `python3 app.py` -> app, `java -jar x.jar` -> x; else the program's
    /// file name).
    #[arg(short, long)]
    pub name: Option<String>,
    /// Pidfile (default: RUNDIR/NAME.pid; RUNDIR = $WARDEN_RUNDIR, else
    /// /run/warden as root, else $XDG_RUNTIME_DIR/warden, else /tmp/warden-UID).
    #[arg(short, long)]
    pub pidfile: Option<PathBuf>,
    /// Append the command's stdout to FILE (default NAME.log beside the
    /// pidfile; `warden logs NAME` shows it; -o /dev/null discards).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub stdout: Option<PathBuf>,
    /// Append its stderr to FILE (default: the --stdout file).
    #[arg(short = 'e', long, value_name = "FILE")]
    pub stderr: Option<PathBuf>,
    /// Working directory (default /); a relative COMMAND (./prog) is looked
    /// up in it.
    #[arg(short = 'C', long, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// File mode creation mask, octal (default 022).
    #[arg(long, value_name = "MODE", value_parser = parse_umask)]
    pub umask: Option<u32>,
    /// Run as USER (with all of its groups) or USER:GROUP (exactly that group).
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Change the root directory first (the command is looked up inside it).
    #[arg(long, value_name = "DIR")]
    pub chroot: Option<PathBuf>,
    /// Set an environment variable (repeatable). PYTHONUNBUFFERED=1 is set
    /// unless the environment already has it, so Python's output reaches the
    /// log file at once.
    #[arg(short = 'E', long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Start from an empty environment (then apply --env).
    #[arg(long)]
    pub clear_env: bool,
    /// Stay as a small supervisor that restarts COMMAND when it exits.
    #[arg(long)]
    pub respawn: bool,
    /// First delay before a respawn, in seconds; doubles after each quick
    /// failure, up to 60 s.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_secs)]
    pub respawn_delay: f64,
    /// Give up after this many respawns within --respawn-window.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_respawns: u32,
    /// The window for --max-respawns, in seconds; a run at least this long
    /// resets the backoff.
    #[arg(long, value_name = "SECS", default_value_t = 60.0, value_parser = parse_secs)]
    pub respawn_window: f64,
    /// The start window: COMMAND must stay up this long for the start to
    /// succeed; if it ends sooner, start fails with its status and shows the
    /// last lines it wrote. 0: return as soon as the exec succeeded.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_secs)]
    #[serde(default = "default_startsecs")]
    pub startsecs: f64,
    /// Wait until COMMAND sends READY=1 on $NOTIFY_SOCKET (instead of the
    /// start window).
    #[arg(long, conflicts_with = "forking")]
    pub notify: bool,
    /// With --notify (or --forking): fail, and stop the command, if it is not
    /// ready (has not forked and exited) in time [default: 90].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub ready_timeout: Option<f64>,
    /// For programs that daemonize themselves: wait until COMMAND exits 0,
    /// read the pid it wrote to PIDFILE, check that it is one of its
    /// processes, and track that process (by pid and start time).
    #[arg(long, value_name = "PIDFILE", conflicts_with_all = ["respawn", "foreground"])]
    #[serde(default)]
    pub forking: Option<PathBuf>,
    /// Already running is success (exit 0).
    #[arg(long)]
    pub oknodo: bool,
    /// Every step but detaching.
    #[arg(long)]
    pub foreground: bool,
    /// The command and its arguments, exec'd verbatim (no shell).
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    #[command(flatten)]
    pub target: Target,
    /// Signal schedule, e.g. TERM/10/KILL/5, or N for TERM/N/KILL/N.
    #[arg(long, default_value = "TERM/10/KILL/5")]
    pub retry: warden_daemon::Schedule,
    /// Not running is success (exit 0).
    #[arg(long)]
    pub oknodo: bool,
}

#[derive(Args, Debug)]
pub struct RestartArgs {
    #[command(flatten)]
    pub target: Target,
    /// Signal schedule for the stop.
    #[arg(long, default_value = "TERM/10/KILL/5")]
    pub retry: warden_daemon::Schedule,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: Target,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Also the instances that are not running (dead records).
    #[arg(short, long)]
    pub all: bool,
}

/// An instance by name (positional) or by pidfile.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Named {
    /// Instance name.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Pidfile path.
    #[arg(short, long)]
    pub pidfile: Option<PathBuf>,
}

impl Named {
    pub fn target(&self) -> Target {
        Target {
            name: self.name.clone(),
            pidfile: self.pidfile.clone(),
        }
    }
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: Named,
    /// Keep following the file (like tail -f).
    #[arg(short, long)]
    pub follow: bool,
    /// Show the last N lines (default: all).
    #[arg(short = 'n', long = "lines", value_name = "N")]
    pub lines: Option<usize>,
}

#[derive(Args, Debug)]
pub struct ForgetArgs {
    #[command(flatten)]
    pub target: Named,
}

#[derive(Args, Debug)]
pub struct SignalArgs {
    /// Signal name (TERM, SIGUSR1) or number.
    pub signal: warden_sys::Signal,
    #[command(flatten)]
    pub target: Target,
}

fn default_startsecs() -> f64 {
    1.0
}

fn parse_umask(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("{s:?} is not an octal mode between 000 and 777"))
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

fn parse_secs(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{s:?} is not a number of seconds"))
}
