//! The classic demo daemon: every second it appends `N: <timestamp>` to its
//! stdout and flushes.
//!
//! ```text
//! ticker start|stop|restart|status --pidfile PATH [--stdout FILE] [--stderr FILE]
//! ```
//!
//! Exit codes: start 0 started, 1 already running, 3 setup failure; stop 0
//! stopped, 1 not running, 2 still running after the schedule; status 0
//! running, 1 dead but pidfile exists, 3 not running, 4 unknown.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use warden_daemon::control::{Controller, StopOutcome, STATUS_UNKNOWN};
use warden_daemon::{BoxError, Control, Daemon, Daemonize, Schedule, Status, Stdio, Wake};

#[derive(Parser)]
#[command(about = "A demo daemon that ticks once a second")]
struct Cli {
    #[command(subcommand)]
    action: Action,
    /// The pidfile (locked while the daemon runs).
    #[arg(long, global = true)]
    pidfile: Option<PathBuf>,
    /// Append the ticks to this file (default /dev/null).
    #[arg(long, global = true)]
    stdout: Option<PathBuf>,
    /// Append errors to this file (default /dev/null).
    #[arg(long, global = true)]
    stderr: Option<PathBuf>,
    /// Stop schedule, e.g. TERM/10/KILL/5.
    #[arg(long, global = true, default_value = "TERM/10/KILL/5")]
    retry: Schedule,
}

#[derive(Subcommand, Clone, Copy)]
enum Action {
    /// Start the daemon; returns once it ticks.
    Start,
    /// Stop it and wait until it is gone.
    Stop,
    /// Stop (if running), then start.
    Restart,
    /// Report whether it runs (LSB exit codes).
    Status,
}

struct Ticker {
    n: u64,
}

impl Daemon for Ticker {
    fn run(&mut self, ctl: &mut Control) -> Result<(), BoxError> {
        let mut out = std::io::stdout().lock();
        loop {
            self.n += 1;
            writeln!(out, "{}: {}", self.n, timestamp(SystemTime::now()))?;
            out.flush()?;
            match ctl.wait(Duration::from_secs(1)) {
                Wake::Stop => return Ok(()),
                Wake::Reload => self.reload()?,
                Wake::Timeout => {}
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC), without a date crate.
fn timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(pidfile) = cli.pidfile.clone() else {
        eprintln!("ticker: --pidfile is required");
        return ExitCode::from(2);
    };
    let ctl = Controller::new(pidfile);
    match cli.action {
        Action::Status => match ctl.status() {
            Ok(s) => {
                match s {
                    Status::Running(pid) => println!("ticker is running (pid {pid})"),
                    Status::Dead(_) => println!(
                        "ticker is not running (stale pidfile {})",
                        ctl.pidfile().display()
                    ),
                    Status::NotRunning => println!("ticker is not running"),
                }
                ExitCode::from(s.lsb_code() as u8)
            }
            Err(e) => {
                eprintln!("ticker: {e}");
                ExitCode::from(STATUS_UNKNOWN as u8)
            }
        },
        Action::Stop => match ctl.stop(&cli.retry) {
            Ok(outcome) => {
                if let StopOutcome::StillRunning(pid) = outcome {
                    eprintln!("ticker: pid {pid} is still running after {}", cli.retry);
                }
                ExitCode::from(outcome.exit_code() as u8)
            }
            Err(e) => {
                eprintln!("ticker: {e}");
                ExitCode::from(STATUS_UNKNOWN as u8)
            }
        },
        Action::Restart => ctl.restart(&cli.retry, settings(&cli), Ticker { n: 0 }),
        Action::Start => ctl.start(settings(&cli), Ticker { n: 0 }),
    }
}

fn settings(cli: &Cli) -> Daemonize {
    let mut settings = Daemonize::new().name("ticker");
    if let Some(p) = &cli.stdout {
        settings = settings.stdout(Stdio::File(p.clone()));
    }
    if let Some(p) = &cli.stderr {
        settings = settings.stderr(Stdio::File(p.clone()));
    }
    settings
}
