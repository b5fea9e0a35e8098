//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  start    0 started (or already running with --oknodo), 1 already running,
           3 setup failure (chdir, chroot, user, pidfile, log file, bad option),
           126 command not executable, 127 command not found; when the command
           dies before it runs (or, with --notify, before it is ready): its
           exit status, or 128+N if killed by signal N
  stop     0 stopped (or not running with --oknodo), 1 not running,
           2 still running when the schedule ran out, 3 trouble
  status   0 running, 1 dead but pidfile exists, 3 not running, 4 unknown
  restart  as stop, then as start
  signal   0 sent, 1 not running, 3 trouble
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
    /// Start COMMAND as a daemon; returns once it runs (or is ready).
    #[command(after_help = EXIT_CODES_HELP)]
    Start(StartArgs),
    /// Stop an instance and wait until it is gone.
    #[command(after_help = EXIT_CODES_HELP)]
    Stop(StopArgs),
    /// Stop (verified), then start again with the recorded command and options.
    #[command(after_help = EXIT_CODES_HELP)]
    Restart(RestartArgs),
    /// Report an instance's state (LSB exit codes).
    #[command(after_help = EXIT_CODES_HELP)]
    Status(StatusArgs),
    /// List every instance in the run directory.
    List(ListArgs),
    /// Send a signal to an instance.
    #[command(after_help = EXIT_CODES_HELP)]
    Signal(SignalArgs),
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
    /// Instance name (default: COMMAND's file name).
    #[arg(short, long)]
    pub name: Option<String>,
    /// Pidfile (default: RUNDIR/NAME.pid; RUNDIR = $WARDEN_RUNDIR, else
    /// /run/warden as root, else $XDG_RUNTIME_DIR/warden, else /tmp/warden-UID).
    #[arg(short, long)]
    pub pidfile: Option<PathBuf>,
    /// Append the command's stdout to FILE (default /dev/null).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub stdout: Option<PathBuf>,
    /// Append its stderr to FILE (default: the --stdout file if given, else /dev/null).
    #[arg(short = 'e', long, value_name = "FILE")]
    pub stderr: Option<PathBuf>,
    /// Working directory (default /).
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
    /// Set an environment variable (repeatable).
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
    /// Wait until COMMAND sends READY=1 on $NOTIFY_SOCKET.
    #[arg(long)]
    pub notify: bool,
    /// With --notify, fail (and stop the command) if not ready in time.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub ready_timeout: Option<f64>,
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
}

#[derive(Args, Debug)]
pub struct SignalArgs {
    /// Signal name (TERM, SIGUSR1) or number.
    pub signal: warden_sys::Signal,
    #[command(flatten)]
    pub target: Target,
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
