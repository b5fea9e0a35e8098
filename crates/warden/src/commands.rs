//! `warden stop|restart|status|list|signal`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use warden_daemon::control::{self, Sent, StopOutcome, STATUS_UNKNOWN};
use warden_daemon::error::exit;
use warden_daemon::{Schedule, Status};
use warden_sys::consts::ESRCH;
use warden_sys::fs::{search_path, Search};
use warden_sys::process::PidFd;
use warden_sys::Pid;

use crate::cli::{ForgetArgs, ListArgs, RestartArgs, SignalArgs, StatusArgs, StopArgs, Target};
use crate::record::{self, Record};
use crate::start::Replay;
use crate::{rundir, start, Failure};

/// The pidfile and display name of a target.
pub fn resolve(t: &Target) -> Result<(String, PathBuf), Failure> {
    match (&t.name, &t.pidfile) {
        (Some(name), _) => {
            rundir::check_name(name)?;
            Ok((name.clone(), rundir::path().join(format!("{name}.pid"))))
        }
        (None, Some(p)) => {
            let p = std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.clone());
            let name = Record::load(&p)
                .ok()
                .flatten()
                .map(|r| r.name)
                .unwrap_or_else(|| p.display().to_string());
            Ok((name, p))
        }
        (None, None) => Err(Failure::setup("give -n NAME or -p PIDFILE".into())),
    }
}

/// The state of an instance: its pidfile's lock, or, for a `--forking`
/// instance, the tracked process (pid and start time).
fn state_of(pidfile: &Path, rec: Option<&Record>) -> Result<Status, warden_daemon::Error> {
    match rec.and_then(|r| r.tracked) {
        Some(t) if t.is_alive() => Ok(Status::Running(
            Pid::from_raw(t.pid).expect("UNWRAP: positive"),
        )),
        Some(t) if pidfile.exists() => Ok(Status::Dead(Pid::from_raw(t.pid))),
        Some(_) => Ok(Status::NotRunning),
        None => control::status(pidfile),
    }
}

/// Stops an instance following `schedule`, saying what it does when `loud`.
fn stop_instance(
    name: &str,
    pidfile: &Path,
    schedule: &Schedule,
    loud: bool,
) -> Result<StopOutcome, Failure> {
    let mut report = |s: Sent| {
        if !loud {
            return;
        }
        let wait = s
            .wait
            .map(|d| format!(", waiting up to {} s", d.as_secs_f64()))
            .unwrap_or_default();
        match s.after {
            None => eprintln!("sent {} to {name} (pid {}){wait}", s.signal.name(), s.pid),
            Some(before) => eprintln!(
                "{name} (pid {}) is still running after {}: sent {}{wait}",
                s.pid,
                before.name(),
                s.signal.name()
            ),
        }
    };
    let rec = Record::load(pidfile).ok().flatten();
    let Some(t) = rec.as_ref().and_then(|r| r.tracked) else {
        return control::stop_with(pidfile, schedule, &mut report).map_err(Failure::from);
    };
    let outcome = match t.pidfd() {
        None => StopOutcome::NotRunning,
        Some(fd) => control::stop_process(
            &fd,
            Pid::from_raw(t.pid).expect("UNWRAP: positive"),
            schedule,
            &mut report,
        )
        .map_err(Failure::from)?,
    };
    if !matches!(outcome, StopOutcome::StillRunning(_)) {
        // Gone: the record stops tracking it, and the pidfile goes.
        if let Some(mut r) = rec {
            r.tracked = None;
            let _ = r.save();
        }
        let _ = std::fs::remove_file(pidfile);
    }
    Ok(outcome)
}

/// Whether stop should say what it is doing: with -v, or on a terminal.
fn loud(verbose: bool) -> bool {
    use std::io::IsTerminal;
    verbose || std::io::stderr().is_terminal()
}

pub fn stop(a: &StopArgs, verbose: bool) -> Result<i32, Failure> {
    let (name, pidfile) = resolve(&a.target)?;
    let loud = loud(verbose);
    let outcome = stop_instance(&name, &pidfile, &a.retry, loud)?;
    match outcome {
        StopOutcome::Stopped(pid) => {
            if loud {
                println!("stopped {name} (pid {pid})");
            }
            Ok(0)
        }
        StopOutcome::NotRunning if a.oknodo => Ok(0),
        StopOutcome::NotRunning => {
            eprintln!("warden: {name} is not running");
            Ok(1)
        }
        StopOutcome::StillRunning(pid) => {
            eprintln!(
                "warden: {name} (pid {pid}) is still running after {}",
                a.retry
            );
            Ok(2)
        }
    }
}

/// `restart`: replays the record (resolved executable, options, working
/// directory, environment), after checking that the executable is still
/// there, so that nothing is stopped that cannot be started again.
pub fn restart(a: &RestartArgs, verbose: bool) -> Result<i32, Failure> {
    let (name, pidfile) = resolve(&a.target)?;
    let rec = Record::load(&pidfile)
        .map_err(|e| Failure::setup(format!("read the record of {name}: {e}")))?
        .ok_or_else(|| {
            Failure::setup(format!(
                "no record of {name} ({}): start it with `warden start`",
                record::path_for(&pidfile).display()
            ))
        })?;
    let program = rec.resolved.first().cloned().unwrap_or_default();
    let root = rec
        .options
        .chroot
        .clone()
        .unwrap_or_else(|| PathBuf::from("/"));
    let not_restarted = |what: String, code: i32| Failure {
        code,
        message: format!("{what}: not restarting {name}; nothing was stopped"),
    };
    match search_path(&program, "", Path::new("/"), &root) {
        Search::Found(_) => {}
        Search::NotExecutable(p) => {
            return Err(not_restarted(
                format!("{} is no longer executable", p.display()),
                exit::NOT_EXECUTABLE,
            ))
        }
        Search::NotFound => {
            return Err(not_restarted(format!("{program} is gone"), exit::NOT_FOUND))
        }
    }
    let was = match stop_instance(&name, &pidfile, &a.retry, loud(verbose))? {
        StopOutcome::StillRunning(pid) => {
            eprintln!(
                "warden: {name} (pid {pid}) is still running after {}",
                a.retry
            );
            return Ok(2);
        }
        StopOutcome::NotRunning => {
            if verbose {
                println!("{name} was not running; starting it");
            }
            "was not running and"
        }
        StopOutcome::Stopped(_) => "was stopped but",
    };
    let replay = Replay {
        resolved: program,
        // Records written before the environment was kept: the caller's.
        environment: (!rec.environment.is_empty()).then_some(rec.environment),
    };
    match start::launch(rec.options, Some(replay), verbose) {
        Ok(code) => Ok(code),
        Err(f) => Err(Failure {
            code: f.code,
            message: format!("{name} {was} did not start again: {}", f.message),
        }),
    }
}

#[derive(Serialize)]
struct StatusJson {
    name: String,
    state: &'static str,
    pid: Option<i32>,
    child_pid: Option<i32>,
    uptime_secs: Option<u64>,
    respawns: Option<u32>,
    /// During a respawn backoff: seconds until the next respawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    restart_in_secs: Option<u64>,
    gave_up: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed: Option<String>,
    command: Option<Vec<String>>,
    pidfile: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<PathBuf>,
}

fn status_of(name: &str, pidfile: PathBuf) -> (i32, StatusJson) {
    let rec = Record::load(&pidfile).ok().flatten();
    let (code, mut state, pid) = match state_of(&pidfile, rec.as_ref()) {
        Ok(s @ Status::Running(pid)) => (s.lsb_code(), "running", Some(pid.as_raw())),
        Ok(s @ Status::Dead(pid)) => (s.lsb_code(), "dead", pid.map(|p| p.as_raw())),
        Ok(s @ Status::NotRunning) => (s.lsb_code(), "stopped", None),
        Err(_) => (STATUS_UNKNOWN, "unknown", None),
    };
    let running = state == "running";
    let respawning = rec.as_ref().is_some_and(|r| r.options.respawn) && running;
    let child_pid = respawning.then_some(pid).flatten().and_then(first_child);
    // Derived, not recorded: the supervisor's (only) child.
    let restart_in_secs = rec
        .as_ref()
        .filter(|_| respawning && child_pid.is_none())
        .and_then(|r| r.next_respawn_ms)
        .map(|due| due.saturating_sub(record::now_ms()).div_ceil(1000));
    if restart_in_secs.is_some() {
        state = "restarting";
    }
    let json = StatusJson {
        name: name.to_string(),
        state,
        pid,
        child_pid,
        uptime_secs: rec
            .as_ref()
            .filter(|_| running)
            .map(|r| record::now().saturating_sub(r.started)),
        respawns: rec
            .as_ref()
            .filter(|r| r.options.respawn)
            .map(|r| r.respawns),
        restart_in_secs,
        gave_up: rec
            .as_ref()
            .and_then(|r| r.gave_up.clone())
            .filter(|_| !running),
        failed: rec
            .as_ref()
            .and_then(|r| r.failed.clone())
            .filter(|_| !running),
        command: rec.as_ref().map(|r| r.options.command.clone()),
        log: rec.as_ref().and_then(|r| r.options.stdout.clone()),
        pidfile,
    };
    (code, json)
}

/// The first child of `pid`, from `/proc/<pid>/task/<pid>/children`.
fn first_child(pid: i32) -> Option<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .find_map(|c| c.parse().ok())
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h}:{m:02}:{s:02}")
    }
}

pub fn status(a: &StatusArgs) -> Result<i32, Failure> {
    let (name, pidfile) = match resolve(&a.target) {
        Ok(x) => x,
        Err(f) => {
            return Err(Failure {
                code: STATUS_UNKNOWN,
                ..f
            })
        }
    };
    if let Err(e) = state_of(&pidfile, Record::load(&pidfile).ok().flatten().as_ref()) {
        if !a.json {
            eprintln!("warden: {e}");
            return Ok(STATUS_UNKNOWN);
        }
    }
    let (code, j) = status_of(&name, pidfile);
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&j).expect("UNWRAP: plain data serializes")
        );
        return Ok(code);
    }
    let line = match j.state {
        "running" => {
            let child = j
                .child_pid
                .map(|c| format!(", child pid {c}"))
                .unwrap_or_default();
            let up = j
                .uptime_secs
                .map(|u| format!(", uptime {}", uptime(u)))
                .unwrap_or_default();
            format!(
                "{name} is running (pid {}{child}{up})",
                j.pid.unwrap_or_default()
            )
        }
        "restarting" => format!(
            "{name} is restarting in {} s (respawn {}), supervisor pid {}",
            j.restart_in_secs.unwrap_or_default(),
            j.respawns.unwrap_or_default() + 1,
            j.pid.unwrap_or_default()
        ),
        "dead" => format!(
            "{name} is dead: stale pidfile {}{}",
            j.pidfile.display(),
            j.pid
                .map(|p| format!(" (pid {p} is not ours)"))
                .unwrap_or_default()
        ),
        _ => format!(
            "{name} is not running{}{}",
            j.gave_up
                .as_ref()
                .map(|g| format!(" (gave up: {g})"))
                .unwrap_or_default(),
            j.failed
                .as_ref()
                .map(|f| format!(" (last start failed: {f})"))
                .unwrap_or_default()
        ),
    };
    println!("{line}");
    Ok(code)
}

/// Every record in the run directory, by name.
fn records() -> Result<Vec<Record>, Failure> {
    let dir = rundir::path();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e.filter_map(Result::ok).collect::<Vec<_>>(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(Failure::setup(format!(
                "read run directory {}: {e}",
                dir.display()
            )))
        }
    };
    let mut records: Vec<Record> = entries
        .iter()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.ends_with(".json") && !n.starts_with('.')
        })
        .filter_map(|e| serde_json::from_slice::<Record>(&std::fs::read(e.path()).ok()?).ok())
        .collect();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(records)
}

/// `list`: the live instances (running, or restarting after a backoff);
/// with `--all` every record, dead ones too.
pub fn list(a: &ListArgs) -> Result<i32, Failure> {
    let rows: Vec<StatusJson> = records()?
        .into_iter()
        .map(|r| status_of(&r.name, r.pidfile.clone()).1)
        .filter(|r| a.all || matches!(r.state, "running" | "restarting"))
        .collect();
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&rows).expect("UNWRAP: plain data serializes")
        );
        return Ok(0);
    }
    println!(
        "{:<20} {:<10} {:>8} {:>12}  COMMAND",
        "NAME", "STATE", "PID", "UPTIME"
    );
    for r in rows {
        println!(
            "{:<20} {:<10} {:>8} {:>12}  {}",
            r.name,
            r.state,
            r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            r.uptime_secs.map(uptime).unwrap_or_else(|| "-".into()),
            r.command.map(|c| c.join(" ")).unwrap_or_default()
        );
    }
    Ok(0)
}

/// `forget`: removes the record of an instance that is not running, its
/// pidfile and its default log file (never a file named with -o/-e).
pub fn forget(a: &ForgetArgs) -> Result<i32, Failure> {
    let (name, pidfile) = resolve(&a.target.target())?;
    let rec = Record::load(&pidfile)
        .map_err(|e| Failure::setup(format!("read the record of {name}: {e}")))?;
    if let Status::Running(pid) = state_of(&pidfile, rec.as_ref()).map_err(Failure::from)? {
        eprintln!("warden: {name} is running (pid {pid}): stop it first");
        return Ok(1);
    }
    let files = [
        record::path_for(&pidfile),
        pidfile.clone(),
        record::log_for(&pidfile),
        pidfile.with_extension("notify"),
    ];
    if rec.is_none() && a.target.pidfile.is_some() {
        // Outside the run directory, only what warden wrote is removed.
        return Err(Failure::setup(format!(
            "no warden record beside {} ({}): nothing removed",
            pidfile.display(),
            record::path_for(&pidfile).display()
        )));
    }
    if rec.is_none() && !files.iter().any(|f| f.exists()) {
        return Err(Failure::setup(format!("no instance named {name}")));
    }
    for f in &files {
        match std::fs::remove_file(f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Failure::setup(format!("remove {}: {e}", f.display()))),
        }
    }
    Ok(0)
}

pub fn signal(a: &SignalArgs) -> Result<i32, Failure> {
    let (name, pidfile) = resolve(&a.target)?;
    let rec = Record::load(&pidfile).ok().flatten();
    let not_running = || {
        eprintln!("warden: {name} is not running");
        Ok(1)
    };
    let pidfd = if let Some(t) = rec.as_ref().and_then(|r| r.tracked) {
        // Opened, then checked against the start time: never a reused pid.
        match t.pidfd() {
            Some(fd) => fd,
            None => return not_running(),
        }
    } else {
        let Status::Running(pid) = control::status(&pidfile).map_err(Failure::from)? else {
            return not_running();
        };
        let pidfd = match PidFd::open(pid) {
            Ok(p) => p,
            Err(e) if e.raw_os_error() == Some(ESRCH) => return not_running(),
            Err(e) => return Err(Failure::setup(format!("open pidfd of {pid}: {e}"))),
        };
        // Pinned by the pidfd: make sure it still is the lock holder.
        if control::status(&pidfile).map_err(Failure::from)? != Status::Running(pid) {
            return not_running();
        }
        pidfd
    };
    match pidfd.send_signal(a.signal) {
        Ok(()) => Ok(0),
        Err(e) if e.raw_os_error() == Some(ESRCH) => not_running(),
        Err(e) => Err(Failure::setup(format!(
            "send SIG{} to {name}: {e}",
            a.signal
        ))),
    }
}
