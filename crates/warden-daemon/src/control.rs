//! Status and stop over a pidfile: trust the lock, not the number.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use warden_sys::consts::ESRCH;
use warden_sys::process::PidFd;
use warden_sys::{Pid, Signal};

use crate::pidfile::{self, Probe};
use crate::Error;

/// A daemon's status, with LSB `status` exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The pidfile is locked by a live process.
    Running(Pid),
    /// A pidfile exists but nobody holds it: the daemon died (or the file is
    /// stale). `pid` is what the file says; it is never signalled.
    Dead(Option<Pid>),
    /// No pidfile.
    NotRunning,
}

impl Status {
    /// LSB status code: 0 running, 1 dead but pidfile exists, 3 not running.
    /// (4, "unknown", is for errors.)
    #[must_use]
    pub fn lsb_code(self) -> i32 {
        match self {
            Status::Running(_) => 0,
            Status::Dead(_) => 1,
            Status::NotRunning => 3,
        }
    }
}

/// LSB status code for "unknown" (the pidfile could not be read).
pub const STATUS_UNKNOWN: i32 = 4;

/// Reads the status of the daemon behind `pidfile`.
///
/// # Errors
///
/// Unreadable, insecure or garbled (but locked) pidfiles: status "unknown".
pub fn status(pidfile: &Path) -> Result<Status, Error> {
    Ok(match pidfile::probe(pidfile)? {
        Probe::Missing => Status::NotRunning,
        Probe::Stale { pid } => Status::Dead(pid),
        Probe::Locked { pid } => Status::Running(pid),
    })
}

/// One step of a stop schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this signal.
    Signal(Signal),
    /// Wait up to this long for the process to end.
    Wait(Duration),
    /// Repeat the steps after this one forever.
    Forever,
}

/// A stop schedule in start-stop-daemon's `--retry` grammar:
/// `TERM/10/KILL/5` (signal, wait, signal, wait…), a bare `N` meaning
/// `TERM/N/KILL/N`, and `forever` to repeat the rest. Signals by name (with or
/// without `SIG`) or number; waits in seconds (fractions allowed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule(pub Vec<Step>);

impl Default for Schedule {
    /// `TERM/10/KILL/5`.
    fn default() -> Self {
        Schedule(vec![
            Step::Signal(Signal::TERM),
            Step::Wait(Duration::from_secs(10)),
            Step::Signal(Signal::KILL),
            Step::Wait(Duration::from_secs(5)),
        ])
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let secs = |t: &str| -> Option<Duration> {
            let v: f64 = t.parse().ok()?;
            (v.is_finite() && v >= 0.0 && !t.starts_with('-')).then(|| Duration::from_secs_f64(v))
        };
        if let Some(d) = secs(s) {
            return Ok(Schedule(vec![
                Step::Signal(Signal::TERM),
                Step::Wait(d),
                Step::Signal(Signal::KILL),
                Step::Wait(d),
            ]));
        }
        let mut steps = Vec::new();
        for item in s.split('/') {
            let step =
                if item == "forever" {
                    Step::Forever
                } else if let Some(d) = secs(item) {
                    Step::Wait(d)
                } else {
                    Step::Signal(item.parse().map_err(|_| {
                        format!("{item:?} is not a signal, a timeout or \"forever\"")
                    })?)
                };
            steps.push(step);
        }
        if steps.iter().filter(|s| **s == Step::Forever).count() > 1 {
            return Err("\"forever\" may appear only once".into());
        }
        if steps.last() == Some(&Step::Forever) {
            return Err("\"forever\" must be followed by the steps to repeat".into());
        }
        if !steps.iter().any(|s| matches!(s, Step::Signal(_))) {
            return Err("the schedule sends no signal".into());
        }
        Ok(Schedule(steps))
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|s| match s {
                Step::Signal(sig) => sig.name(),
                Step::Wait(d) => format!("{}", d.as_secs_f64()),
                Step::Forever => "forever".into(),
            })
            .collect();
        f.write_str(&parts.join("/"))
    }
}

/// How a stop ended, with start-stop-daemon's exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopOutcome {
    /// The process is gone.
    Stopped(Pid),
    /// Nothing was running (a stale pidfile's pid is never signalled).
    NotRunning,
    /// The schedule ran out and the process still runs.
    StillRunning(Pid),
}

impl StopOutcome {
    /// 0 stopped, 1 not running, 2 still running.
    #[must_use]
    pub fn exit_code(self) -> i32 {
        match self {
            StopOutcome::Stopped(_) => 0,
            StopOutcome::NotRunning => 1,
            StopOutcome::StillRunning(_) => 2,
        }
    }
}

/// Stops the daemon behind `pidfile` following `schedule`, and waits until it
/// is really gone (a zombie counts as gone). Waiting uses a pidfd, so there is
/// no polling and no risk of signalling a recycled pid.
///
/// # Errors
///
/// As [`status`], and signal delivery errors other than "already gone".
pub fn stop(pidfile: &Path, schedule: &Schedule) -> Result<StopOutcome, Error> {
    stop_with(pidfile, schedule, &mut |_| {})
}

/// A signal a stop sent, for progress reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The process.
    pub pid: Pid,
    /// The signal.
    pub signal: Signal,
    /// The signal sent before this one, if any (it did not stop the process).
    pub after: Option<Signal>,
    /// How long the schedule now waits for the process to end.
    pub wait: Option<Duration>,
}

/// [`stop`], calling `on_signal` each time a signal is sent.
///
/// # Errors
///
/// As [`stop`].
pub fn stop_with(
    pidfile: &Path,
    schedule: &Schedule,
    on_signal: &mut dyn FnMut(Sent),
) -> Result<StopOutcome, Error> {
    let outcome = stop_inner(pidfile, schedule, on_signal)?;
    if let StopOutcome::Stopped(pid) = outcome {
        // A program that was exec'd (or killed) cannot remove its pidfile.
        pidfile::remove_if_stale(pidfile, pid);
    }
    Ok(outcome)
}

fn stop_inner(
    pidfile: &Path,
    schedule: &Schedule,
    on_signal: &mut dyn FnMut(Sent),
) -> Result<StopOutcome, Error> {
    let Status::Running(pid) = status(pidfile)? else {
        return Ok(StopOutcome::NotRunning);
    };
    let pidfd = match PidFd::open(pid) {
        Ok(p) => p,
        Err(e) if e.raw_os_error() == Some(ESRCH) => return Ok(StopOutcome::Stopped(pid)),
        Err(e) => return Err(Error::sys("open pidfd", e)),
    };
    // The pidfd pins the process; make sure it is still the lock holder (the
    // daemon could have died and its pid been reused between the two steps).
    match status(pidfile)? {
        Status::Running(p) if p == pid => {}
        _ => return Ok(StopOutcome::Stopped(pid)),
    }
    stop_process(&pidfd, pid, schedule, on_signal)
}

/// Runs `schedule` against the process pinned by `pidfd` (whose pid is
/// `pid`) until it is gone or the schedule runs out. The caller has made sure
/// the pidfd is the right process.
///
/// # Errors
///
/// Signal delivery errors other than "already gone", and wait errors.
pub fn stop_process(
    pidfd: &PidFd,
    pid: Pid,
    schedule: &Schedule,
    on_signal: &mut dyn FnMut(Sent),
) -> Result<StopOutcome, Error> {
    let steps = &schedule.0;
    let repeat_from = steps
        .iter()
        .position(|s| *s == Step::Forever)
        .map(|i| i + 1);
    let mut last = None;
    let mut i = 0;
    loop {
        let Some(step) = steps.get(i) else {
            match repeat_from {
                Some(r) => {
                    i = r;
                    continue;
                }
                None => break,
            }
        };
        match *step {
            Step::Signal(sig) => match pidfd.send_signal(sig) {
                Ok(()) => {
                    let wait = match steps.get(i + 1) {
                        Some(Step::Wait(d)) => Some(*d),
                        _ => None,
                    };
                    on_signal(Sent {
                        pid,
                        signal: sig,
                        after: last,
                        wait,
                    });
                    last = Some(sig);
                }
                Err(e) if e.raw_os_error() == Some(ESRCH) => return Ok(StopOutcome::Stopped(pid)),
                Err(e) => return Err(Error::sys("send signal", e)),
            },
            Step::Wait(d) => {
                if wait_gone(pidfd, d)? {
                    return Ok(StopOutcome::Stopped(pid));
                }
            }
            Step::Forever => {}
        }
        i += 1;
    }
    if wait_gone(pidfd, Duration::ZERO)? {
        return Ok(StopOutcome::Stopped(pid));
    }
    Ok(StopOutcome::StillRunning(pid))
}

fn wait_gone(pidfd: &PidFd, d: Duration) -> Result<bool, Error> {
    let deadline = Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if pidfd
            .wait_exit(left)
            .map_err(|e| Error::sys("wait for exit", e))?
        {
            return Ok(true);
        }
        if left.is_zero() {
            return Ok(false);
        }
    }
}

/// A daemon's controller: start, stop, restart and status over one pidfile.
///
/// ```no_run
/// use warden_daemon::{control::Controller, Daemonize, Schedule};
/// # struct Worker;
/// # impl warden_daemon::Daemon for Worker {
/// #     fn run(&mut self, _: &mut warden_daemon::Control) -> Result<(), warden_daemon::BoxError> { Ok(()) }
/// # }
/// let ctl = Controller::new("/run/worker.pid");
/// match std::env::args().nth(1).as_deref() {
///     Some("start") => ctl.start(Daemonize::new(), Worker),
///     Some("stop") => std::process::exit(ctl.stop(&Schedule::default()).map_or(3, |o| o.exit_code())),
///     Some("restart") => ctl.restart(&Schedule::default(), Daemonize::new(), Worker),
///     _ => std::process::exit(ctl.status().map_or(STATUS_UNKNOWN, |s| s.lsb_code())),
/// }
/// # use warden_daemon::control::STATUS_UNKNOWN;
/// ```
#[derive(Clone, Debug)]
pub struct Controller {
    pidfile: std::path::PathBuf,
}

impl Controller {
    /// A controller for the daemon whose pidfile is `pidfile`.
    pub fn new(pidfile: impl Into<std::path::PathBuf>) -> Controller {
        Controller {
            pidfile: pidfile.into(),
        }
    }

    /// The pidfile.
    #[must_use]
    pub fn pidfile(&self) -> &Path {
        &self.pidfile
    }

    /// See [`status`].
    ///
    /// # Errors
    ///
    /// As [`status`] (LSB "unknown").
    pub fn status(&self) -> Result<Status, Error> {
        status(&self.pidfile)
    }

    /// See [`stop`].
    ///
    /// # Errors
    ///
    /// As [`stop`].
    pub fn stop(&self, schedule: &Schedule) -> Result<StopOutcome, Error> {
        stop(&self.pidfile, schedule)
    }

    /// Daemonizes `daemon` with `settings` and this pidfile ([`crate::serve`]).
    /// Never returns: the caller exits with the start's verdict.
    pub fn start<D: crate::Daemon>(&self, settings: crate::Daemonize, daemon: D) -> ! {
        crate::serve(settings.pidfile(&self.pidfile), daemon)
    }

    /// A verified stop, then a start; a daemon that was not running is just
    /// started. If the old daemon refuses to die, exits 2 (still running)
    /// without starting a second one.
    pub fn restart<D: crate::Daemon>(
        &self,
        schedule: &Schedule,
        settings: crate::Daemonize,
        daemon: D,
    ) -> ! {
        match self.stop(schedule) {
            Ok(StopOutcome::StillRunning(pid)) => {
                eprintln!("pid {pid} is still running after {schedule}; not starting another");
                std::process::exit(StopOutcome::StillRunning(pid).exit_code())
            }
            Ok(_) => self.start(settings, daemon),
            Err(e) => e.exit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_grammar() {
        let s: Schedule = "TERM/10/KILL/5".parse().unwrap();
        assert_eq!(s, Schedule::default());
        let bare: Schedule = "7".parse().unwrap();
        assert_eq!(bare.to_string(), "TERM/7/KILL/7");
        let f: Schedule = "SIGINT/0.5/forever/KILL/1".parse().unwrap();
        assert_eq!(f.0[2], Step::Forever);
        assert_eq!(f.0[1], Step::Wait(Duration::from_millis(500)));
        assert_eq!(
            "-15/1".parse::<Schedule>().unwrap().0[0],
            Step::Signal(Signal::TERM)
        );
        for bad in [
            "",
            "TERM/x",
            "forever/TERM/forever/1",
            "TERM/forever",
            "5/5",
            "TERM/1x",
        ] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exit_codes() {
        let p = Pid::from_raw(5).unwrap();
        assert_eq!(Status::Running(p).lsb_code(), 0);
        assert_eq!(Status::Dead(None).lsb_code(), 1);
        assert_eq!(Status::NotRunning.lsb_code(), 3);
        assert_eq!(StopOutcome::Stopped(p).exit_code(), 0);
        assert_eq!(StopOutcome::NotRunning.exit_code(), 1);
        assert_eq!(StopOutcome::StillRunning(p).exit_code(), 2);
    }
}
