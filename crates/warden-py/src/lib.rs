//! `warden._native`: what the Python package cannot do safely (or at all) in
//! Python, taken from `warden-daemon` rather than written again.
//!
//! The forks themselves happen in Python (`os.fork()`, so CPython's at-fork
//! hooks and after-fork work run); this module provides the steps around them:
//!
//! * [`prepare`] (before the first fork): settings checked, one thread,
//!   user resolved, readiness pipe, child subreaper — a [`Prepared`];
//! * [`Prepared::wait`] (original process): the daemon's verdict;
//! * [`Prepared::setup`] (final process): close every descriptor, reset
//!   signals, umask, stdio, locked pidfile, chdir, privilege drop — a
//!   [`Handle`] that reports readiness and owns the pidfile;
//! * [`status`], [`stop`] and [`check_schedule`]: LSB status and the
//!   start-stop-daemon stop schedule over a pidfile, trusting only its lock.
//!
//! No hand-written `unsafe` here: every system call is in `warden-sys`.

use std::path::PathBuf;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use warden_daemon::control::{self, Schedule, StopOutcome, STATUS_UNKNOWN};
use warden_daemon::{Daemonize, Daemonized, HostFork, Pid, Stdio};

create_exception!(
    warden,
    Error,
    PyException,
    "A daemonization step failed: args are (message, exit code)."
);

fn to_py(e: &warden_daemon::Error) -> PyErr {
    Error::new_err((e.to_string(), e.exit_code()))
}

fn stdio(path: Option<PathBuf>) -> Stdio {
    match path {
        None => Stdio::Null,
        Some(p) if p.as_os_str() == "/dev/null" => Stdio::Null,
        Some(p) => Stdio::File(p),
    }
}

/// The settings, checked and resolved, with the readiness pipe: between the
/// first `os.fork()` and the verdict. Each of its methods is used once, in the
/// process it names.
#[pyclass(unsendable, module = "warden._native")]
struct Prepared(Option<HostFork>);

impl Prepared {
    fn take(&mut self) -> PyResult<HostFork> {
        self.0
            .take()
            .ok_or_else(|| PyValueError::new_err("this daemonization was already used"))
    }
}

#[pymethods]
impl Prepared {
    /// Original process: reaps the intermediate process `intermediate` and
    /// waits for the daemon. Returns the daemon's pid once it is ready; raises
    /// `Error(message, code)` when it failed, ended or is already running.
    fn wait(&mut self, intermediate: i32) -> PyResult<i32> {
        let pid = Pid::from_raw(intermediate)
            .ok_or_else(|| PyValueError::new_err(format!("invalid pid {intermediate}")))?;
        match self.take()?.wait(pid) {
            Ok(Ok(daemon)) => Ok(daemon.as_raw()),
            Ok(Err(e)) | Err(e) => Err(to_py(&e)),
        }
    }

    /// After the first fork, before `setup()` (the intermediate process, or
    /// the daemon's own preparation): reports `message` to the original
    /// process as a setup failure (exit 3) and `_exit`s.
    fn fail(&mut self, message: &str) -> PyResult<()> {
        self.take()?.fail(&message)
    }

    /// Final process: every daemonization step. Failures are reported to the
    /// original process and end this process at once (`_exit`).
    fn setup(&mut self) -> PyResult<Handle> {
        let daemon = self.take()?.setup();
        Ok(Handle {
            daemon: Some(daemon),
            owner: Pid::this(),
        })
    }
}

/// The daemon's side: readiness and the locked pidfile. Closing it (or the
/// process ending) releases the lock; `close()` also removes the pidfile if it
/// is still ours.
///
/// Only the daemon itself ever removes the pidfile: in a process the daemon
/// forked (a worker ending with `sys.exit`, whose `atexit` handlers and
/// interpreter teardown would otherwise close this copy of the handle) the
/// handle is forgotten instead, and the daemon's pidfile stays.
#[pyclass(unsendable, module = "warden._native")]
struct Handle {
    daemon: Option<Daemonized>,
    owner: Pid,
}

impl Handle {
    fn release(&mut self) {
        if let Some(d) = self.daemon.take() {
            if Pid::this() == self.owner {
                d.notify_stopping();
                drop(d); // removes the pidfile if the path still names it
            } else {
                std::mem::forget(d); // a forked child: not its pidfile to remove
            }
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.release();
    }
}

#[pymethods]
impl Handle {
    /// Tells the original process (and systemd, under `NOTIFY_SOCKET`) that
    /// the daemon is ready. Idempotent.
    fn notify_ready(&mut self) {
        if let Some(d) = self.daemon.as_mut() {
            d.notify_ready();
        }
    }

    /// Whether readiness was reported.
    fn is_ready(&self) -> bool {
        self.daemon.as_ref().is_some_and(Daemonized::is_ready)
    }

    /// The pid the pidfile holds (read through the locked descriptor).
    fn pidfile_pid(&self) -> Option<i32> {
        self.daemon
            .as_ref()
            .and_then(Daemonized::pidfile)
            .and_then(|p| p.read_pid())
            .map(Pid::as_raw)
    }

    /// Before readiness: removes the pidfile, reports `message` to the
    /// original process (which prints it and exits `code`) and `_exit`s.
    fn fail(&mut self, code: i32, message: &str) -> PyResult<()> {
        match self.daemon.take() {
            Some(d) => d.fail(code, &message),
            None => Err(PyValueError::new_err("the daemon handle is closed")),
        }
    }

    /// Removes the pidfile (if still ours) and releases its lock; in a
    /// process the daemon forked, only forgets the handle.
    fn close(&mut self) {
        self.release();
    }
}

/// Checks everything that can be checked before forking and creates the
/// readiness pipe. Raises `Error(message, code)`.
#[pyfunction]
#[pyo3(signature = (*, pidfile=None, stdin=None, stdout=None, stderr=None, chdir=PathBuf::from("/"), umask=0o022, user=None, group=None, keep_fds=Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn prepare(
    pidfile: Option<PathBuf>,
    stdin: Option<PathBuf>,
    stdout: Option<PathBuf>,
    stderr: Option<PathBuf>,
    chdir: PathBuf,
    umask: u32,
    user: Option<String>,
    group: Option<String>,
    keep_fds: Vec<i32>,
) -> PyResult<Prepared> {
    let mut d = Daemonize::new()
        .working_directory(chdir)
        .umask(umask)
        .stdin(stdio(stdin))
        .stdout(stdio(stdout))
        .stderr(stdio(stderr))
        .ready_on_start(false);
    if let Some(p) = pidfile {
        d = d.pidfile(p);
    }
    if let Some(u) = user {
        d = d.user(u);
    }
    if let Some(g) = group {
        d = d.group(g);
    }
    for fd in keep_fds {
        d = d.keep_fd(fd);
    }
    d.prepare_host_fork()
        .map(|h| Prepared(Some(h)))
        .map_err(|e| to_py(&e))
}

/// LSB status of the daemon behind `pidfile`: `(code, pid, message)` with
/// code 0 running, 1 dead but pidfile exists, 3 not running, 4 unknown.
#[pyfunction]
fn status(pidfile: PathBuf) -> (i32, Option<i32>, String) {
    use control::Status;
    match control::status(&pidfile) {
        Ok(s) => {
            let (pid, msg) = match s {
                Status::Running(p) => (Some(p.as_raw()), format!("running as pid {p}")),
                Status::Dead(p) => (
                    p.map(Pid::as_raw),
                    format!("not running, but pidfile {pidfile:?} exists (stale)"),
                ),
                Status::NotRunning => (None, "not running".to_string()),
            };
            (s.lsb_code(), pid, msg)
        }
        Err(e) => (STATUS_UNKNOWN, None, e.to_string()),
    }
}

fn parse_schedule(schedule: &str) -> PyResult<Schedule> {
    schedule
        .parse()
        .map_err(|e| PyValueError::new_err(format!("stop schedule {schedule:?}: {e}")))
}

/// Validates a stop schedule (`TERM/10/KILL/5`, `5`, `INT/1/forever/KILL/1`)
/// and returns its normal form. Raises `ValueError`.
#[pyfunction]
fn check_schedule(schedule: &str) -> PyResult<String> {
    parse_schedule(schedule).map(|s| s.to_string())
}

/// Stops the daemon behind `pidfile` with `schedule`: `(code, pid, message)`
/// with code 0 stopped, 1 not running, 2 still running after the schedule,
/// 3 error. A pid from an unlocked (stale) pidfile is never signalled.
#[pyfunction]
fn stop(py: Python<'_>, pidfile: PathBuf, schedule: &str) -> PyResult<(i32, Option<i32>, String)> {
    let schedule = parse_schedule(schedule)?;
    let result = py.detach(|| control::stop(&pidfile, &schedule));
    Ok(match result {
        Ok(o @ StopOutcome::Stopped(p)) => {
            (o.exit_code(), Some(p.as_raw()), format!("stopped pid {p}"))
        }
        Ok(o @ StopOutcome::NotRunning) => (o.exit_code(), None, "not running".into()),
        Ok(o @ StopOutcome::StillRunning(p)) => (
            o.exit_code(),
            Some(p.as_raw()),
            format!("pid {p} is still running after {schedule}"),
        ),
        Err(e) => (e.exit_code(), None, e.to_string()),
    })
}

/// The number of threads of this process, from `/proc/self/task` (threads
/// not started by `threading` count too).
#[pyfunction]
fn thread_count() -> PyResult<usize> {
    warden_sys::process::thread_count()
        .map_err(|e| PyException::new_err(format!("count threads: {e}")))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Error", m.py().get_type::<Error>())?;
    m.add_class::<Prepared>()?;
    m.add_class::<Handle>()?;
    m.add_function(wrap_pyfunction!(prepare, m)?)?;
    m.add_function(wrap_pyfunction!(status, m)?)?;
    m.add_function(wrap_pyfunction!(stop, m)?)?;
    m.add_function(wrap_pyfunction!(check_schedule, m)?)?;
    m.add_function(wrap_pyfunction!(thread_count, m)?)?;
    Ok(())
}
