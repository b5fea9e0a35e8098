//! cgroup v2, for supervising whole process trees: find the calling
//! process's own cgroup, tell whether it may create child cgroups there
//! (delegated to it), and kill or list every process of a cgroup.
//!
//! A child joins its cgroup itself, between `fork` and `exec`, by writing
//! `0` to a `cgroup.procs` descriptor its parent opened (see
//! [`crate::spawn::SpawnRequest::cgroup_procs`]): a process can never
//! escape a cgroup by forking, double-forking or changing session.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The directory of the calling process's cgroup v2 (from
/// `/proc/self/cgroup` and the `cgroup2` mount in `/proc/self/mountinfo`),
/// or `None` without a cgroup v2 hierarchy.
#[must_use]
pub fn own_dir() -> Option<PathBuf> {
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = cg.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPEROPTS"
    let mount = mounts.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mut f = left.split_whitespace();
        let root = f.nth(3)?;
        let point = f.next()?;
        Some((root.to_string(), point.to_string()))
    })?;
    let (root, point) = mount;
    // The mount may show a subtree (a container's cgroup namespace shows
    // its own cgroup as "/").
    let rel = rel.strip_prefix(root.as_str()).unwrap_or(rel);
    let dir = Path::new(&point).join(rel.trim_start_matches('/'));
    dir.is_dir().then_some(dir)
}

/// Creates the cgroup `dir` (and its parents); `Ok` if it exists already.
///
/// # Errors
///
/// `mkdir` failing: the hierarchy is not delegated to us (`EACCES`,
/// `EROFS`), or the kernel refuses.
pub fn create(dir: &Path) -> std::io::Result<()> {
    match std::fs::create_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Opens `DIR/cgroup.procs` for writing (close-on-exec), for a child to
/// join `dir` by writing `0` to it.
///
/// # Errors
///
/// The file cannot be opened for writing (not delegated).
pub fn open_procs(dir: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
}

/// The pids in `dir` (its own `cgroup.procs`, then those of its child
/// cgroups).
#[must_use]
pub fn pids(dir: &Path) -> Vec<i32> {
    let mut out: Vec<i32> = std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(pids(&e.path()));
            }
        }
    }
    out
}

/// SIGKILLs every process in `dir` and its child cgroups: `cgroup.kill`
/// (Linux 5.14), else a kill of each pid listed.
///
/// # Errors
///
/// `cgroup.kill` exists but cannot be written.
pub fn kill_all(dir: &Path) -> std::io::Result<()> {
    let kill = dir.join("cgroup.kill");
    if kill.exists() {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(kill)?
            .write_all(b"1");
    }
    let sig = crate::Signal::from_raw(libc::SIGKILL).expect("UNWRAP: SIGKILL is a signal");
    for pid in pids(dir) {
        if let Some(pid) = crate::Pid::from_raw(pid) {
            let _ = crate::signal::kill_process(pid, sig);
        }
    }
    Ok(())
}

/// True while a process is in `dir` or a child cgroup.
#[must_use]
pub fn populated(dir: &Path) -> bool {
    match std::fs::read_to_string(dir.join("cgroup.events")) {
        Ok(ev) => ev.lines().any(|l| l.trim() == "populated 1"),
        Err(_) => !pids(dir).is_empty(),
    }
}

/// Removes `dir` and its (empty) child cgroups, deepest first. A cgroup
/// that still holds a process stays (`EBUSY`).
pub fn remove(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
