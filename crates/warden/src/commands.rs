//! `warden stop|restart|status|list|signal`.

use std::path::PathBuf;

use serde::Serialize;
use warden_daemon::control::{self, StopOutcome, STATUS_UNKNOWN};
use warden_daemon::Status;
use warden_sys::consts::ESRCH;
use warden_sys::process::PidFd;

use crate::cli::{ListArgs, RestartArgs, SignalArgs, StatusArgs, StopArgs, Target};
use crate::record::{self, Record};
use crate::{rundir, start, Failure};

/// The pidfile and display name of a target.
fn resolve(t: &Target) -> Result<(String, PathBuf), Failure> {
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

pub fn stop(a: &StopArgs, verbose: bool) -> Result<i32, Failure> {
    let (name, pidfile) = resolve(&a.target)?;
    let outcome = control::stop(&pidfile, &a.retry).map_err(Failure::from)?;
    match outcome {
        StopOutcome::Stopped(pid) => {
            if verbose {
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
    match control::stop(&pidfile, &a.retry).map_err(Failure::from)? {
        StopOutcome::StillRunning(pid) => {
            eprintln!(
                "warden: {name} (pid {pid}) is still running after {}",
                a.retry
            );
            return Ok(2);
        }
        StopOutcome::NotRunning if verbose => println!("{name} was not running; starting it"),
        _ => {}
    }
    start::run(rec.options, verbose)
}

#[derive(Serialize)]
struct StatusJson {
    name: String,
    state: &'static str,
    pid: Option<i32>,
    child_pid: Option<i32>,
    uptime_secs: Option<u64>,
    respawns: Option<u32>,
    gave_up: Option<String>,
    command: Option<Vec<String>>,
    pidfile: PathBuf,
}

fn status_of(name: &str, pidfile: PathBuf) -> (i32, StatusJson) {
    let rec = Record::load(&pidfile).ok().flatten();
    let (code, state, pid) = match control::status(&pidfile) {
        Ok(s @ Status::Running(pid)) => (s.lsb_code(), "running", Some(pid.as_raw())),
        Ok(s @ Status::Dead(pid)) => (s.lsb_code(), "dead", pid.map(|p| p.as_raw())),
        Ok(s @ Status::NotRunning) => (s.lsb_code(), "stopped", None),
        Err(_) => (STATUS_UNKNOWN, "unknown", None),
    };
    let running = state == "running";
    let json = StatusJson {
        name: name.to_string(),
        state,
        pid,
        // Derived, not recorded: the supervisor's (only) child.
        child_pid: rec
            .as_ref()
            .filter(|r| r.options.respawn && running)
            .and(pid)
            .and_then(first_child),
        uptime_secs: rec
            .as_ref()
            .filter(|_| running)
            .map(|r| record::now().saturating_sub(r.started)),
        respawns: rec
            .as_ref()
            .filter(|r| r.options.respawn)
            .map(|r| r.respawns),
        gave_up: rec
            .as_ref()
            .and_then(|r| r.gave_up.clone())
            .filter(|_| !running),
        command: rec.as_ref().map(|r| r.options.command.clone()),
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
    if let Err(e) = control::status(&pidfile) {
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
        "dead" => format!(
            "{name} is dead: stale pidfile {}{}",
            j.pidfile.display(),
            j.pid
                .map(|p| format!(" (pid {p} is not ours)"))
                .unwrap_or_default()
        ),
        _ => format!(
            "{name} is not running{}",
            j.gave_up
                .map(|g| format!(" (gave up: {g})"))
                .unwrap_or_default()
        ),
    };
    println!("{line}");
    Ok(code)
}

pub fn list(a: &ListArgs) -> Result<i32, Failure> {
    let dir = rundir::path();
    let mut rows = Vec::new();
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
    for r in records {
        rows.push(status_of(&r.name, r.pidfile.clone()).1);
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string(&rows).expect("UNWRAP: plain data serializes")
        );
        return Ok(0);
    }
    println!(
        "{:<20} {:<8} {:>8} {:>12}  COMMAND",
        "NAME", "STATE", "PID", "UPTIME"
    );
    for r in rows {
        println!(
            "{:<20} {:<8} {:>8} {:>12}  {}",
            r.name,
            r.state,
            r.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            r.uptime_secs.map(uptime).unwrap_or_else(|| "-".into()),
            r.command.map(|c| c.join(" ")).unwrap_or_default()
        );
    }
    Ok(0)
}

pub fn signal(a: &SignalArgs) -> Result<i32, Failure> {
    let (name, pidfile) = resolve(&a.target)?;
    let Status::Running(pid) = control::status(&pidfile).map_err(Failure::from)? else {
        eprintln!("warden: {name} is not running");
        return Ok(1);
    };
    let pidfd = match PidFd::open(pid) {
        Ok(p) => p,
        Err(e) if e.raw_os_error() == Some(ESRCH) => {
            eprintln!("warden: {name} is not running");
            return Ok(1);
        }
        Err(e) => return Err(Failure::setup(format!("open pidfd of {pid}: {e}"))),
    };
    // Pinned by the pidfd: make sure it still is the lock holder.
    if control::status(&pidfile).map_err(Failure::from)? != Status::Running(pid) {
        eprintln!("warden: {name} is not running");
        return Ok(1);
    }
    match pidfd.send_signal(a.signal) {
        Ok(()) => Ok(0),
        Err(e) if e.raw_os_error() == Some(ESRCH) => {
            eprintln!("warden: {name} is not running");
            Ok(1)
        }
        Err(e) => Err(Failure::setup(format!(
            "send SIG{} to {pid}: {e}",
            a.signal
        ))),
    }
}
