//! The instance record beside the pidfile: what was started, how, and when.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use warden_sys::consts::{ELOOP, O_NOFOLLOW};
use warden_sys::fs;

use crate::cli::StartArgs;

/// `NAME.json` beside `NAME.pid`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// The instance name.
    pub name: String,
    /// The pidfile (absolute).
    pub pidfile: PathBuf,
    /// The command as resolved (absolute program path first).
    pub resolved: Vec<String>,
    /// The options the instance was started with (including the command).
    pub options: StartArgs,
    /// Start time, seconds since the epoch.
    pub started: u64,
    /// In respawn mode: how many times the command was respawned. Like
    /// `gave_up`, updated by the supervisor when it may still write the run
    /// directory (not after `--user` dropped root's rights).
    #[serde(default)]
    pub respawns: u32,
    /// Set when the respawn supervisor gave up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gave_up: Option<String>,
    /// The program's whole environment, replayed by `restart` (not the
    /// caller's). The record is readable by its owner only.
    #[serde(default)]
    pub environment: Vec<(String, String)>,
    /// With `--forking`: the process the program left behind, tracked by
    /// pid and start time (nobody holds the pidfile's lock then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracked: Option<Tracked>,
    /// In respawn mode, during a backoff delay: when the next respawn is
    /// due, in milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_respawn_ms: Option<u64>,
    /// Why the last start failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// A process identified by pid and start time, so that a later process
/// reusing the pid is never taken for it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tracked {
    /// The pid.
    pub pid: i32,
    /// Its start time (field 22 of `/proc/PID/stat`, clock ticks since boot).
    pub start_time: u64,
}

impl Tracked {
    /// The process `pid` as it is now, if it exists and is not a zombie.
    #[must_use]
    pub fn of(pid: i32) -> Option<Tracked> {
        let (state, _, start_time) = proc_stat(pid)?;
        (!matches!(state, 'Z' | 'X')).then_some(Tracked { pid, start_time })
    }

    /// Whether this very process still runs.
    #[must_use]
    pub fn is_alive(&self) -> bool {
        Tracked::of(self.pid) == Some(*self)
    }

    /// A pidfd for this very process: opened, then checked again, so that
    /// what it pins is not a later process with the same pid.
    #[must_use]
    pub fn pidfd(&self) -> Option<warden_sys::process::PidFd> {
        let pid = warden_sys::Pid::from_raw(self.pid)?;
        let fd = warden_sys::process::PidFd::open(pid).ok()?;
        self.is_alive().then_some(fd)
    }
}

/// State, parent pid and start time from `/proc/PID/stat`.
#[must_use]
pub fn proc_stat(pid: i32) -> Option<(char, i32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain ") ".
    let f: Vec<&str> = s[s.rfind(')')? + 1..].split_whitespace().collect();
    // f[0] is field 3 (state): field N is f[N - 3].
    Some((
        f[0].chars().next()?,
        f[1].parse().ok()?,
        f.get(19)?.parse().ok()?,
    ))
}

/// The default output file for a pidfile: `x.pid` → `x.log`, else `<pidfile>.log`.
#[must_use]
pub fn log_for(pidfile: &Path) -> PathBuf {
    beside(pidfile, "log")
}

fn beside(pidfile: &Path, ext: &str) -> PathBuf {
    if pidfile.extension().is_some_and(|e| e == "pid") {
        pidfile.with_extension(ext)
    } else {
        let mut s = pidfile.as_os_str().to_owned();
        s.push(format!(".{ext}"));
        PathBuf::from(s)
    }
}

/// The record path for a pidfile: `x.pid` → `x.json`, else `<pidfile>.json`.
#[must_use]
pub fn path_for(pidfile: &Path) -> PathBuf {
    beside(pidfile, "json")
}

impl Record {
    /// Writes the record atomically (mode 0600: it holds the environment): a fresh temporary file beside it (random
    /// name, `O_EXCL`: nothing planted in a shared directory is written
    /// through), then a rename that refuses to replace another user's symlink.
    pub fn save(&self) -> std::io::Result<()> {
        use std::io::Write;
        let path = path_for(&self.pidfile);
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let (mut file, tmp) = fs::create_temp_in(dir, &format!(".{name}."), ".tmp", 0o600)?;
        let written = file
            .write_all(&body)
            .and_then(|()| fs::rename_over(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Loads the record of `pidfile`, if any. A symlink in its place is an
    /// error, never followed.
    pub fn load(pidfile: &Path) -> std::io::Result<Option<Record>> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let path = path_for(pidfile);
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NOFOLLOW)
            .open(&path);
        let mut b = Vec::new();
        match opened.and_then(|mut f| f.read_to_end(&mut b)) {
            Ok(_) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(ELOOP) => Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{} is a symbolic link (not followed)", path.display()),
            )),
            Err(e) => Err(e),
        }
    }
}

/// Seconds since the epoch.
#[must_use]
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Milliseconds since the epoch.
#[must_use]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
