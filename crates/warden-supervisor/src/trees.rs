//! Whole process trees, and the state file.
//!
//! `stopasgroup`/`killasgroup` reach a program's process group; a
//! descendant that left it (`setsid`, a double fork) would escape. Here:
//!
//! - **cgroup v2** (when the supervisor's own cgroup is delegated to it and
//!   `cgroups=true`): every program gets a cgroup of its own under
//!   `warden.*` in the supervisor's cgroup, joined by the child before exec
//!   (see `warden_sys::cgroup`). A stop signal to the group goes to every
//!   pid in the cgroup; SIGKILL is `cgroup.kill`.
//! - **otherwise**: the supervisor is a child subreaper (or PID 1), so the
//!   orphans of its programs become its children. When a stop begins, the
//!   program's tree is collected from `/proc`: its process group, the
//!   descendants by parent links, and the orphans re-parented to the
//!   supervisor that were started with this program's
//!   `SUPERVISOR_GROUP_NAME`/`SUPERVISOR_PROCESS_NAME`; each is remembered
//!   by pid and start time, so a reused pid is never signalled.
//!
//! Either way, with `stopasgroup` or `killasgroup`, when a stopped
//! program's main process has exited, what is left of its tree is
//! SIGKILLed: nothing of the program survives its stop.
//!
//! The state file (next to the pidfile, see [`state_path`]) holds the pids
//! and start times of the running programs and the programs stopped by hand
//! (see [`crate::core::intent`]). After a crash of the supervisor, the next
//! run finds the programs of the previous one still alive and stops them
//! before starting its own ([`recover`]), so none runs twice.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::core::intent::Intent;
use crate::core::logs::{Level, MainLog};
use crate::core::seams::Adoptee;

const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

/// One running program's main process.
#[derive(Debug)]
struct Leader {
    group: String,
    name: String,
    /// Start time (`/proc/PID/stat` field 22).
    start: u64,
    /// `stopasgroup` or `killasgroup`: the whole tree goes at a stop.
    asgroup: bool,
    /// Its cgroup, if it has one.
    cgroup: Option<PathBuf>,
    /// Other processes of its tree seen so far: (pid, start time).
    members: Vec<(i32, u64)>,
    /// A stop has begun.
    stopping: bool,
}

/// The trees of the running programs, and what the state file holds.
#[derive(Debug)]
pub struct Trees {
    /// The supervisor's pid.
    me: i32,
    /// The cgroup under which each program gets its own, if delegated.
    cgroot: Option<PathBuf>,
    leaders: HashMap<i32, Leader>,
    /// Where the state is kept (None: nowhere).
    path: Option<PathBuf>,
    /// The programs stopped by hand.
    stopped: Vec<String>,
    /// The state changed since the last [`Trees::flush`].
    dirty: bool,
    /// The last scan of `/proc` and when it was made: the stops of one
    /// input (a whole group at shutdown) and the sweeps of one batch of
    /// exits share it instead of each reading every process again.
    scan: Option<(Instant, std::rc::Rc<Vec<warden_sys::procfs::Stat>>)>,
    /// The previous runs' cgroups that adopted programs still live in
    /// (removed at exit once empty).
    old_roots: Vec<PathBuf>,
}

/// How long a scan of `/proc` is reused.
const SCAN_TTL: Duration = Duration::from_millis(10);

/// The state file for `pidfile`: the same name with `.state` instead of its
/// extension (`supervisord.pid` → `supervisord.state`).
#[must_use]
pub fn state_path(pidfile: &Path) -> PathBuf {
    let p = pidfile.with_extension("state");
    if p == pidfile {
        let mut s = pidfile.as_os_str().to_owned();
        s.push(".state");
        PathBuf::from(s)
    } else {
        p
    }
}

impl Trees {
    /// Trees for a supervisor with pid `me`, keeping its state in `path`;
    /// with `cgroups`, a cgroup for the programs when ours is delegated.
    #[must_use]
    pub fn new(me: i32, path: Option<PathBuf>, cgroups: bool) -> Trees {
        let cgroot = if cgroups { delegated_root() } else { None };
        Trees {
            me,
            cgroot,
            leaders: HashMap::new(),
            path,
            stopped: Vec::new(),
            dirty: false,
            scan: None,
            old_roots: Vec::new(),
        }
    }

    /// Every process, from a scan at most [`SCAN_TTL`] old.
    fn procs(&mut self) -> std::rc::Rc<Vec<warden_sys::procfs::Stat>> {
        match &self.scan {
            Some((at, all)) if at.elapsed() < SCAN_TTL => all.clone(),
            _ => {
                let all = std::rc::Rc::new(warden_sys::procfs::all());
                self.scan = Some((Instant::now(), all.clone()));
                all
            }
        }
    }

    /// The cgroup the programs' cgroups are made in, if any.
    #[must_use]
    pub fn cgroup_root(&self) -> Option<&Path> {
        self.cgroot.as_deref()
    }

    /// Starts from the intent of a previous run.
    pub fn set_intent(&mut self, intent: &Intent) {
        self.stopped = intent.stopped().map(str::to_string).collect();
        self.dirty = true;
    }

    /// The cgroup for `group:name` (created if needed) and its
    /// `cgroup.procs` open for the child to join; `None` without cgroups.
    pub fn cgroup_for(&self, group: &str, name: &str) -> Option<(PathBuf, std::fs::File)> {
        let dir = self.cgroot.as_ref()?.join(format!("{group}:{name}"));
        warden_sys::cgroup::create(&dir).ok()?;
        let procs = warden_sys::cgroup::open_procs(&dir).ok()?;
        Some((dir, procs))
    }

    /// A program's main process was started.
    pub fn spawned(
        &mut self,
        pid: i32,
        cfg: &warden_config::ProcessConfig,
        cgroup: Option<PathBuf>,
    ) {
        let start = warden_sys::procfs::stat(pid).map_or(0, |s| s.starttime);
        self.leaders.insert(
            pid,
            Leader {
                group: cfg.group.clone(),
                name: cfg.name.clone(),
                start,
                asgroup: cfg.stopasgroup || cfg.killasgroup,
                cgroup,
                members: Vec::new(),
                stopping: false,
            },
        );
        self.dirty = true;
    }

    /// A process adopted from a crashed previous run (see [`recover`]): its
    /// tree is tracked as a spawned one's, and the state file keeps it.
    pub fn adopted(&mut self, who: &Adoptee, cfg: &warden_config::ProcessConfig) {
        if let Some(root) = who.cgroup.as_deref().and_then(Path::parent) {
            if !self.old_roots.iter().any(|r| r == root) {
                self.old_roots.push(root.to_path_buf());
            }
        }
        self.leaders.insert(
            who.pid,
            Leader {
                group: cfg.group.clone(),
                name: cfg.name.clone(),
                start: who.start,
                asgroup: cfg.stopasgroup || cfg.killasgroup,
                cgroup: who.cgroup.clone(),
                members: Vec::new(),
                stopping: false,
            },
        );
        self.dirty = true;
    }

    /// A stop's signal to `pid` (to its group with `group`): for a program
    /// with `stopasgroup`/`killasgroup`, its tree is collected first, and a
    /// group signal reaches all of it.
    ///
    /// # Errors
    ///
    /// kill(2) of the main process or its group failing other than ESRCH.
    pub fn stop_signal(&mut self, pid: i32, signal: i32, group: bool) -> std::io::Result<()> {
        let me = self.me;
        let needs_scan = self
            .leaders
            .get(&pid)
            .is_some_and(|l| l.asgroup && l.cgroup.is_none());
        let all = if needs_scan {
            self.procs()
        } else {
            Default::default()
        };
        let members = match self.leaders.get_mut(&pid) {
            Some(l) if l.asgroup => {
                l.stopping = true;
                if l.cgroup.is_none() {
                    collect(me, pid, l, &all);
                }
                if group {
                    tree_pids(l)
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        };
        let r = kill(pid, signal, group);
        for m in members.into_iter().filter(|m| *m != pid) {
            let _ = kill(m, signal, false);
        }
        r
    }

    /// Children were reaped: forget the programs' main processes among
    /// them, and sweep the trees of those that were being stopped.
    pub fn exited(&mut self, pids: impl IntoIterator<Item = i32>) {
        // a scan from before these exits misses the orphans they made
        self.scan = None;
        for pid in pids {
            let Some(mut l) = self.leaders.remove(&pid) else {
                continue;
            };
            self.dirty = true;
            if l.stopping && l.asgroup {
                // The main process is gone: its orphans are ours now; find
                // them too.
                if l.cgroup.is_none() {
                    let all = self.procs();
                    collect(self.me, pid, &mut l, &all);
                }
                sweep(&l);
            }
        }
    }

    /// Sends `signal` to every program's main process (signal forwarding);
    /// returns how many there were.
    pub fn forward(&self, signal: i32) -> usize {
        let mut n = 0;
        for &pid in self.leaders.keys() {
            if kill(pid, signal, false).is_ok() {
                n += 1;
            }
        }
        n
    }

    /// SIGKILLs every program with its whole tree (the shutdown deadline
    /// passed); returns the names of those that were still there.
    pub fn kill_everything(&mut self) -> Vec<String> {
        let me = self.me;
        let all = self.procs();
        let mut names = Vec::new();
        for (&pid, l) in &mut self.leaders {
            names.push(l.name.clone());
            l.stopping = true;
            l.asgroup = true;
            if l.cgroup.is_none() {
                collect(me, pid, l, &all);
            }
            let _ = kill(pid, SIGKILL, true);
            for m in tree_pids(l) {
                let _ = kill(m, SIGKILL, false);
            }
        }
        names.sort();
        names
    }

    /// Records the programs stopped by hand.
    pub fn remember(&mut self, intent: &Intent) {
        self.stopped = intent.stopped().map(str::to_string).collect();
        self.dirty = true;
    }

    /// Writes the state file if anything changed (atomically: a new file
    /// renamed over the old one).
    ///
    /// # Errors
    ///
    /// The file could not be written (its path in the message).
    pub fn flush(&mut self) -> Result<(), String> {
        if !self.dirty {
            return Ok(());
        }
        self.dirty = false;
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut running: Vec<Value> = self
            .leaders
            .iter()
            .map(|(pid, l)| {
                json!({
                    "group": l.group,
                    "name": l.name,
                    "pid": pid,
                    "start": l.start,
                    "cgroup": l.cgroup,
                })
            })
            .collect();
        running.sort_by_key(|v| v["pid"].as_i64());
        let doc = json!({
            "warden_state": 1,
            "supervisor": self.me,
            "cgroup": self.cgroot,
            "running": running,
            "stopped_by_hand": self.stopped,
        });
        write_atomically(path, doc.to_string().as_bytes())
            .map_err(|e| format!("cannot write the state file {}: {e}", path.display()))
    }

    /// At exit: removes the (empty) cgroups, ours and those of previous
    /// runs that adopted programs lived in. Processes just SIGKILLed may
    /// take a moment to leave theirs: a short, bounded wait for them. A
    /// cgroup still holding a process (the descendant of a program without
    /// `stopasgroup`/`killasgroup`) stays, and the next run with this state
    /// file stops what is in it.
    pub fn finish(&mut self) {
        let until = Instant::now() + Duration::from_millis(200);
        for root in self.cgroot.iter().chain(&self.old_roots) {
            while warden_sys::cgroup::populated(root) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            warden_sys::cgroup::remove(root);
        }
    }
}

/// Our own cgroup, if we may make child cgroups in it: a new `warden.*`
/// cgroup there (a random name: supervisors in different PID namespaces all
/// call themselves 1).
fn delegated_root() -> Option<PathBuf> {
    let own = warden_sys::cgroup::own_dir()?;
    let root = warden_sys::fs::create_temp_dir_in(&own, "warden.").ok()?;
    if warden_sys::cgroup::open_procs(&root).is_err() {
        warden_sys::cgroup::remove(&root);
        return None;
    }
    Some(root)
}

/// kill(2) of `pid` (or its group), ESRCH being no error; an unknown
/// signal number is `InvalidInput`.
pub(crate) fn kill(pid: i32, signal: i32, group: bool) -> std::io::Result<()> {
    let Some(p) = warden_sys::Pid::from_raw(pid) else {
        return Ok(());
    };
    let Some(s) = warden_sys::Signal::from_raw(signal) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("unknown signal {signal}"),
        ));
    };
    let r = if group {
        warden_sys::signal::kill_process_group(p, s)
    } else {
        warden_sys::signal::kill_process(p, s)
    };
    match r {
        Err(e) if e.raw_os_error() == Some(warden_sys::consts::ESRCH) => Ok(()),
        other => other,
    }
}

/// Adds to `l.members` the processes of `pid`'s tree now alive: its process
/// group, the descendants by parent links, and the orphans re-parented to
/// the supervisor (`me`) that were started with this program's environment.
fn collect(me: i32, pid: i32, l: &mut Leader, all: &[warden_sys::procfs::Stat]) {
    let mut roots: Vec<i32> = vec![pid];
    let mine = [
        ("SUPERVISOR_GROUP_NAME", l.group.as_str()),
        ("SUPERVISOR_PROCESS_NAME", l.name.as_str()),
    ];
    for p in all.iter().filter(|p| p.is_alive() && p.pid != me) {
        let in_group = p.pgrp == pid;
        let orphan = p.ppid == me && p.pid != pid && warden_sys::procfs::environ_has(p.pid, &mine);
        if (in_group || orphan) && !roots.contains(&p.pid) {
            roots.push(p.pid);
        }
    }
    let found = roots
        .iter()
        .filter(|&&r| r != pid)
        .filter_map(|&r| all.iter().find(|p| p.pid == r).copied())
        .chain(warden_sys::procfs::descendants(all, &roots));
    for p in found {
        if p.pid != me && !l.members.iter().any(|(m, _)| *m == p.pid) {
            l.members.push((p.pid, p.starttime));
        }
    }
}

/// The pids of `l`'s tree still alive: its cgroup's, or the remembered
/// members that are still the same processes.
fn tree_pids(l: &Leader) -> Vec<i32> {
    match &l.cgroup {
        Some(dir) => warden_sys::cgroup::pids(dir),
        None => l
            .members
            .iter()
            .filter(|(p, s)| warden_sys::procfs::same_process(*p, *s))
            .map(|(p, _)| *p)
            .collect(),
    }
}

/// SIGKILLs what is left of a stopped program's tree.
fn sweep(l: &Leader) {
    if let Some(dir) = &l.cgroup {
        let _ = warden_sys::cgroup::kill_all(dir);
        return;
    }
    for m in tree_pids(l) {
        let _ = kill(m, SIGKILL, false);
    }
}

/// Writes `bytes` to `path` through a new file renamed over it.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let (mut f, tmp) = warden_sys::fs::create_temp_in(dir, ".warden-state-", ".tmp", 0o600)?;
    let written = f.write_all(bytes).and_then(|()| f.sync_data());
    match written.and_then(|()| warden_sys::fs::rename_over(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// What a previous run left in the state file.
#[derive(Debug, Default)]
pub struct Previous {
    /// The programs stopped by hand.
    pub intent: Intent,
    /// With `previous_run=adopt`: its processes still alive whose program
    /// is still in the config, to take over.
    pub adoptees: Vec<Adoptee>,
}

/// Reads the state file of a previous run; stops the programs it ran that
/// are still alive (same pid and start time: a crash of the supervisor left
/// them), each with its `stopsignal` to its process group and cgroup, then
/// SIGKILL after its `stopwaitsecs`; returns the remembered intent. With
/// `previous_run=adopt`, those whose program is still in the config are
/// returned to be taken over instead (the others are stopped).
pub fn recover(path: &Path, config: &warden_config::Config, log: &MainLog) -> Previous {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Previous::default();
    };
    let Ok(doc) = serde_json::from_str::<Value>(&text) else {
        log.log(
            Level::Warn,
            &format!("ignoring the unreadable state file {}", path.display()),
        );
        return Previous::default();
    };
    let intent = Intent::new(
        doc["stopped_by_hand"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string)),
    );
    let adopt = config.supervisord.previous_run == warden_config::PreviousRun::Adopt;
    let mut adoptees: Vec<Adoptee> = Vec::new();
    let mut left: Vec<(i32, u64, Option<PathBuf>, Instant)> = Vec::new();
    let now = Instant::now();
    for r in doc["running"].as_array().into_iter().flatten() {
        let (Some(pid), Some(start)) = (
            r["pid"].as_i64().and_then(|p| i32::try_from(p).ok()),
            r["start"].as_u64(),
        ) else {
            continue;
        };
        let cgroup = r["cgroup"].as_str().map(PathBuf::from);
        let alive = warden_sys::procfs::same_process(pid, start);
        let populated = cgroup.as_deref().is_some_and(warden_sys::cgroup::populated);
        if !alive && !populated {
            continue;
        }
        let (group, name) = (
            r["group"].as_str().unwrap_or(""),
            r["name"].as_str().unwrap_or(""),
        );
        let cfg = config
            .processes()
            .find(|p| p.group == group && p.name == name);
        if adopt
            && alive
            && cfg.is_some()
            && !adoptees.iter().any(|a| a.group == group && a.name == name)
        {
            adoptees.push(Adoptee {
                group: group.to_string(),
                name: name.to_string(),
                pid,
                start,
                cgroup,
                started_wall: started_wall(start),
            });
            continue;
        }
        let (sig, wait) = cfg.map_or((SIGTERM, 10), |c| (c.stopsignal, c.stopwaitsecs));
        log.log(
            Level::Warn,
            &format!("{group}:{name} (pid {pid}) of a previous run is still running: stopping it"),
        );
        if alive {
            let _ = kill(pid, sig, true);
            let _ = kill(pid, sig, false);
        }
        if let Some(dir) = &cgroup {
            for p in warden_sys::cgroup::pids(dir) {
                let _ = kill(p, sig, false);
            }
        }
        let wait = Duration::from_secs(u64::try_from(wait).unwrap_or(10));
        left.push((pid, start, cgroup, now + wait));
    }
    // Whatever else is left in the previous run's cgroups (descendants of
    // programs whose main process had already exited) goes too; what is in
    // an adopted program's cgroup stays with it.
    if let Some(old) = doc["cgroup"].as_str().map(PathBuf::from) {
        let known: Vec<i32> = left
            .iter()
            .filter_map(|l| l.2.as_deref())
            .chain(adoptees.iter().filter_map(|a| a.cgroup.as_deref()))
            .flat_map(warden_sys::cgroup::pids)
            .collect();
        let others: Vec<i32> = warden_sys::cgroup::pids(&old)
            .into_iter()
            .filter(|p| !known.contains(p))
            .collect();
        if !others.is_empty() {
            log.log(
                Level::Warn,
                &format!(
                    "{} processes of a previous run are still in {}: stopping them",
                    others.len(),
                    old.display()
                ),
            );
        }
        let due = now + Duration::from_secs(10);
        for &p in &others {
            let _ = kill(p, SIGTERM, false);
        }
        if adoptees.iter().all(|a| a.cgroup.is_none()) {
            left.push((0, 0, Some(old), due));
        } else {
            // the old cgroup stays populated by the adopted: wait for (and
            // SIGKILL) these processes one by one instead
            for p in others {
                if let Some(st) = warden_sys::procfs::stat(p) {
                    left.push((p, st.starttime, None, due));
                }
            }
        }
    }
    // Wait for them all at once, each until its own deadline.
    while !left.is_empty() {
        let now = Instant::now();
        left.retain(|(pid, start, cgroup, due)| {
            let alive = warden_sys::procfs::same_process(*pid, *start);
            let populated = cgroup.as_deref().is_some_and(warden_sys::cgroup::populated);
            if !alive && !populated {
                return false;
            }
            if now < *due {
                return true;
            }
            if alive {
                let _ = kill(*pid, SIGKILL, true);
                let _ = kill(*pid, SIGKILL, false);
            }
            if let Some(dir) = cgroup {
                let _ = warden_sys::cgroup::kill_all(dir);
            }
            false
        });
        if !left.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // (an adopted program's cgroup keeps the old one populated, and it
    // stays until that program is gone)
    if let Some(old) = doc["cgroup"].as_str() {
        warden_sys::cgroup::remove(Path::new(old));
    }
    Previous { intent, adoptees }
}

/// When a process with start time `start` (clock ticks since boot)
/// started, in seconds since the epoch (0 if unknown).
fn started_wall(start: u64) -> i64 {
    let tps = procfs::ticks_per_second().max(1);
    procfs::boot_time_secs()
        .ok()
        .and_then(|boot| i64::try_from(boot + start / tps).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_file_sits_next_to_the_pidfile() {
        let p = |s: &str| state_path(Path::new(s));
        assert_eq!(
            p("/run/supervisord.pid"),
            Path::new("/run/supervisord.state")
        );
        assert_eq!(p("/run/warden"), Path::new("/run/warden.state"));
        assert_eq!(p("/run/x.state"), Path::new("/run/x.state.state"));
    }

    #[test]
    fn the_state_file_round_trips_the_stops_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sd.state");
        let mut t = Trees::new(1, Some(path.clone()), false);
        t.remember(&Intent::new(["web".to_string(), "grp:a".to_string()]));
        t.flush().unwrap();
        let config = warden_config::parse_str(
            "[supervisord]\nlogfile=/dev/null\n",
            Path::new("/tmp"),
            &HashMap::new(),
        )
        .unwrap()
        .config;
        let log = MainLog {
            sink: None,
            syslog: false,
            level: Level::Info,
            echo: false,
        };
        let back = recover(&path, &config, &log);
        assert!(back.intent.stopped_by_hand("web", "web"));
        assert!(back.intent.stopped_by_hand("grp", "a"));
        assert!(!back.intent.stopped_by_hand("grp", "b"));
    }
}
