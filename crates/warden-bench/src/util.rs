//! Process helpers and statistics for the benchmark.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use warden_sys::process::PidFd;
use warden_sys::{Pid, Signal};

/// Samples of one figure for one tool.
#[derive(Clone, Debug, Default)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    pub fn push(&mut self, v: f64) {
        self.0.push(v);
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    pub fn median(&self) -> Option<f64> {
        let v = self.sorted();
        if v.is_empty() {
            return None;
        }
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    }

    pub fn min(&self) -> Option<f64> {
        self.sorted().first().copied()
    }

    pub fn max(&self) -> Option<f64> {
        self.sorted().last().copied()
    }
}

/// Runs a command to completion, returning its wall time and success.
pub fn timed(cmd: &mut Command) -> (Duration, bool) {
    let t0 = Instant::now();
    let ok = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (t0.elapsed(), ok)
}

/// Polls `cond` (tightly at first) until it holds or `limit` passes.
pub fn poll_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    let mut pause = Duration::from_micros(20);
    while t0.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
    cond()
}

pub fn read_pid(p: &Path) -> Option<i32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// The process is alive and its command name is `comm`.
pub fn alive_as(pid: i32, comm: &str) -> bool {
    let Some(p) = Pid::from_raw(pid) else {
        return false;
    };
    warden_sys::process::is_alive(p)
        && std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
}

/// Waits until `pid` is gone (a zombie counts as gone), via a pidfd.
pub fn wait_gone(pidfd: &PidFd, limit: Duration) -> bool {
    pidfd.wait_exit(limit).unwrap_or(true)
}

pub fn pidfd(pid: i32) -> Option<PidFd> {
    PidFd::open(Pid::from_raw(pid)?).ok()
}

pub fn kill(pid: i32, sig: Signal) {
    if let Some(p) = Pid::from_raw(pid) {
        let _ = warden_sys::signal::kill_process(p, sig);
    }
}

/// Every descendant of `pid` (children first found, then theirs), read from
/// `/proc/<pid>/task/<pid>/children` while the parents are still alive.
fn descendants(pid: i32) -> Vec<i32> {
    let mut all = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let kids: Vec<i32> = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect();
        todo.extend(&kids);
        all.extend(kids);
    }
    all
}

/// Kills a spawned child, its process group and every descendant (a
/// supervisor's programs live in process groups of their own and would
/// otherwise outlive it), and reaps it.
pub fn kill_child(mut c: Child) {
    let pid = c.id() as i32;
    let tree = descendants(pid);
    if let Some(p) = Pid::from_raw(pid) {
        let _ = warden_sys::signal::kill_process_group(p, Signal::KILL);
        let _ = warden_sys::signal::kill_process(p, Signal::KILL);
    }
    for d in tree {
        kill(d, Signal::KILL);
    }
    let _ = c.wait();
}

/// User + system CPU seconds of one process (not its children).
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = s[s.rfind(')')? + 2..].split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().ok()? + f[12].parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// A scratch directory removed at drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// On tmpfs (`/dev/shm`) when there is one, as `/run` is on a real system:
    /// pidfiles and logs then cost the same for every tool, without disk noise.
    pub fn new(tag: &str) -> Scratch {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let p = base.join(format!(
            "warden-bench-{tag}-{}-{}",
            std::process::id(),
            warden_sys::time::monotonic_ns()
        ));
        std::fs::create_dir_all(&p).expect("create scratch dir");
        Scratch(p)
    }

    pub fn join(&self, n: &str) -> PathBuf {
        self.0.join(n)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether a program is on PATH.
pub fn have(prog: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d).join(prog).is_file())
}
