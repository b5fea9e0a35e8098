//! Test support shared by warden's integration tests: finding the built
//! binaries, waiting by polling until a deadline (never a bare sleep), reading
//! process facts from `/proc`, and a guard that kills what a test started.

#![forbid(unsafe_code)]

pub mod fuzz;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The cargo target profile directory (`target/debug`) of the running test.
#[must_use]
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/test-xxxx -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// A built binary of the workspace: `bin("daemon-probe")`, `bin("examples/ticker")`.
///
/// # Panics
///
/// If it was not built: run the tests with `cargo test --workspace`.
#[must_use]
pub fn bin(name: &str) -> PathBuf {
    let p = target_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (see README)",
        p.display()
    );
    p
}

/// Polls `cond` every few milliseconds until it returns `Some`, or panics
/// with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Polls `cond` until it holds or `timeout` passes; never panics (for
/// cleanups, and for callers that report a timeout their own way).
pub fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Fields of `/proc/<pid>/stat` (state, ppid, pgrp, session, tty_nr).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `Z`, ...
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// Process group.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// Controlling terminal (0 = none).
    pub tty_nr: i32,
}

/// Reads `/proc/<pid>/stat`; `None` if the process does not exist.
#[must_use]
pub fn stat(pid: i32) -> Option<Stat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        state: f[0].chars().next()?,
        ppid: f[1].parse().ok()?,
        pgrp: f[2].parse().ok()?,
        session: f[3].parse().ok()?,
        tty_nr: f[4].parse().ok()?,
    })
}

/// True if `pid` exists and is not a zombie (PID 1 may reap slowly here).
#[must_use]
pub fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|s| !matches!(s.state, 'Z' | 'X'))
}

/// A field of `/proc/<pid>/status`, e.g. `status_field(pid, "Umask")`.
#[must_use]
pub fn status_field(pid: i32, key: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| {
        l.strip_prefix(key)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}

/// The open descriptors of `pid` with their targets (`readlink /proc/pid/fd/N`).
#[must_use]
pub fn fds(pid: i32) -> Vec<(i32, String)> {
    let mut v: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| {
                let e = e.ok()?;
                let n = e.file_name().to_str()?.parse().ok()?;
                let t = std::fs::read_link(e.path()).ok()?;
                Some((n, t.to_string_lossy().into_owned()))
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Live (non-zombie) processes whose command line contains `marker`.
#[must_use]
pub fn pids_with(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut v: Vec<i32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter(|&pid| pid != me)
                .filter(|&pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                        String::from_utf8_lossy(&c)
                            .replace('\0', " ")
                            .contains(marker)
                    })
                })
                .filter(|&pid| alive(pid))
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// Reads the pid a pidfile names.
#[must_use]
pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Sends `sig` to `pid` through the `kill` command (tests have no `unsafe`).
pub fn kill(pid: i32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(std::process::Stdio::null())
        .status();
}

/// A per-test scratch directory whose path marks every process the test
/// starts (it appears in their command lines); on drop, every live process
/// carrying the mark, plus any pid registered with [`Scratch::track`], is
/// killed with SIGKILL.
pub struct Scratch {
    dir: tempfile::TempDir,
    tracked: std::cell::RefCell<Vec<i32>>,
}

impl Scratch {
    /// A new scratch directory under the system temp dir.
    #[must_use]
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("warden-test-")
                .tempdir()
                .expect("tempdir"),
            tracked: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the directory.
    #[must_use]
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Kill `pid` too when the test ends.
    pub fn track(&self, pid: i32) {
        self.tracked.borrow_mut().push(pid);
    }

    /// The marker string that identifies this test's processes.
    #[must_use]
    pub fn marker(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let mut pids = pids_with(&self.marker());
        pids.extend(self.tracked.borrow().iter().copied().filter(|&p| alive(p)));
        for pid in pids {
            kill(pid, "KILL");
        }
    }
}
