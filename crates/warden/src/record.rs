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
}

/// The record path for a pidfile: `x.pid` → `x.json`, else `<pidfile>.json`.
#[must_use]
pub fn path_for(pidfile: &Path) -> PathBuf {
    if pidfile.extension().is_some_and(|e| e == "pid") {
        pidfile.with_extension("json")
    } else {
        let mut s = pidfile.as_os_str().to_owned();
        s.push(".json");
        PathBuf::from(s)
    }
}

impl Record {
    /// Writes the record atomically: a fresh temporary file beside it (random
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
        let (mut file, tmp) = fs::create_temp_in(dir, &format!(".{name}."), ".tmp", 0o644)?;
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
