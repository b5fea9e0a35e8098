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
pub fn descendants(pid: i32) -> Vec<i32> {
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
    kill_tree(c.id() as i32);
    let _ = c.wait();
}

/// Kills `pid`, its process group and every descendant (read first, while
/// the parents still live), all with SIGKILL.
pub fn kill_tree(pid: i32) {
    let tree = descendants(pid);
    if let Some(p) = Pid::from_raw(pid) {
        let _ = warden_sys::signal::kill_process_group(p, Signal::KILL);
        let _ = warden_sys::signal::kill_process(p, Signal::KILL);
    }
    for d in tree {
        kill(d, Signal::KILL);
    }
}

/// The fields of `/proc/<pid>/stat` after the command name (field 3 on).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        s[s.rfind(')')? + 2..]
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

/// User + system CPU seconds of one process, all its threads (not its
/// children).
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let f = stat_fields(pid)?;
    let ticks: f64 = f[11].parse::<f64>().ok()? + f[12].parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The process's start time (clock ticks since boot): with the pid, names
/// one process even after the pid is reused.
pub fn start_time(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// A numeric field of `/proc/<pid>/status` (e.g. `VmRSS`, in kB).
pub fn status_field(pid: i32, key: &str) -> Option<f64> {
    status_field_at(&format!("/proc/{pid}/status"), key)
}

fn status_field_at(path: &str, key: &str) -> Option<f64> {
    let s = std::fs::read_to_string(path).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The processes of a manager: `pid` and those of its descendants that run
/// the same executable (a helper it forked, e.g. a Node or Python worker),
/// not the programs it supervises.
pub fn manager_pids(pid: i32) -> Vec<i32> {
    let exe = |p: i32| std::fs::read_link(format!("/proc/{p}/exe")).ok();
    let own = exe(pid);
    if own.is_none() {
        return vec![pid];
    }
    let helpers = || -> Vec<(i32, Option<u64>)> {
        descendants(pid)
            .into_iter()
            .filter(|&d| exe(d) == own)
            .map(|d| (d, start_time(d)))
            .collect()
    };
    // A program between fork and exec runs the manager's executable too:
    // only what is still there, the same process, 200 ms later counts.
    let first = helpers();
    let mut v = vec![pid];
    if !first.is_empty() {
        std::thread::sleep(Duration::from_millis(200));
        let second = helpers();
        v.extend(first.iter().filter(|h| second.contains(h)).map(|h| h.0));
    }
    v
}

/// RSS of the manager's processes (threads share theirs), in MiB.
pub fn manager_rss_mib(pid: i32) -> Option<f64> {
    let kb: Vec<f64> = manager_pids(pid)
        .into_iter()
        .filter_map(|p| status_field(p, "VmRSS"))
        .collect();
    (!kb.is_empty()).then(|| kb.iter().sum::<f64>() / 1024.0)
}

/// CPU seconds of the manager's processes, all threads.
pub fn manager_cpu_seconds(pid: i32) -> Option<f64> {
    let c: Vec<f64> = manager_pids(pid)
        .into_iter()
        .filter_map(cpu_seconds)
        .collect();
    (!c.is_empty()).then(|| c.iter().sum())
}

/// Context switches (voluntary and not) of every thread of the manager's
/// processes: each is a wake-up of some thread.
pub fn manager_wakeups(pid: i32) -> Option<f64> {
    let w: Vec<f64> = manager_pids(pid)
        .into_iter()
        .filter_map(thread_wakeups)
        .collect();
    (!w.is_empty()).then(|| w.iter().sum())
}

/// Context switches (voluntary and not) of every thread of one process.
pub fn thread_wakeups(pid: i32) -> Option<f64> {
    let mut total = None;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let path = format!("{}/status", t.path().display());
        if let (Some(v), Some(n)) = (
            status_field_at(&path, "voluntary_ctxt_switches"),
            status_field_at(&path, "nonvoluntary_ctxt_switches"),
        ) {
            *total.get_or_insert(0.0) += v + n;
        }
    }
    total
}

/// Runs a command with its output captured, killing it (and its group)
/// after `limit`. Returns (wall time, success, stdout) when it finished.
pub fn run_limited(cmd: &mut Command, limit: Duration) -> Option<(Duration, bool, String)> {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let t0 = Instant::now();
    let mut c = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    let mut out = c.stdout.take()?;
    // The reader drains the pipe while we poll (a full pipe would stall it).
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let mut status = None;
    poll_until(limit, || {
        status = c.try_wait().ok().flatten();
        status.is_some()
    });
    let elapsed = t0.elapsed();
    let Some(status) = status else {
        kill_child(c);
        return None;
    };
    let text = reader.join().unwrap_or_default();
    Some((elapsed, status.success(), text))
}

// ------------------------------------------------------ cleanup on failure

/// Where spawned managers are recorded (`WARDEN_BENCH_RECORD`), so that
/// `warden-bench --cleanup FILE` can kill them even after a crash or ^C.
fn record_line(line: &str) {
    use std::io::Write;
    let Some(path) = std::env::var_os("WARDEN_BENCH_RECORD") else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Records a manager process (pid and start time) for `--cleanup`.
pub fn record_pid(pid: i32) {
    if let Some(st) = start_time(pid) {
        record_line(&format!("pid {pid} {st}"));
    }
}

/// Records a pm2 home (its daemon is stopped with `pm2 kill` at cleanup).
pub fn record_pm2_home(pm2: &Path, home: &Path) {
    record_line(&format!("pm2 {}\t{}", pm2.display(), home.display()));
}

/// Kills everything a run recorded in `file` that still runs: `pm2 kill`
/// for each pm2 home, then each recorded pid whose start time still
/// matches (so a reused pid is left alone), with its group and
/// descendants. Removes the file.
pub fn cleanup(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("pm2 ") {
            if let Some((pm2, home)) = rest.split_once('\t') {
                // Gone with its daemon when the run ended cleanly; `pm2
                // kill` on it would only start a daemon to kill it.
                if !Path::new(home).is_dir() {
                    continue;
                }
                let _ = run_limited(
                    Command::new(pm2).arg("kill").env("PM2_HOME", home),
                    Duration::from_secs(20),
                );
                if let Some(pid) = read_pid(&Path::new(home).join("pm2.pid")) {
                    kill_tree(pid);
                }
                let _ = std::fs::remove_dir_all(home);
            }
        }
    }
    for line in text.lines() {
        let mut it = line.split_whitespace();
        if it.next() != Some("pid") {
            continue;
        }
        let (Some(pid), Some(st)) = (
            it.next().and_then(|p| p.parse::<i32>().ok()),
            it.next().and_then(|s| s.parse::<u64>().ok()),
        ) else {
            continue;
        };
        if start_time(pid) == Some(st) && !matches!(state(pid), Some('Z') | None) {
            kill_tree(pid);
        }
    }
    let _ = std::fs::remove_file(file);
}

fn state(pid: i32) -> Option<char> {
    warden_sys::process::state(Pid::from_raw(pid)?)
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
