//! The instance record beside the pidfile: what was started, how, and when.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
    /// Writes the record atomically (temporary file, then rename).
    pub fn save(&self) -> std::io::Result<()> {
        let path = path_for(&self.pidfile);
        let tmp = path.with_file_name(format!(
            ".{}.{}.tmp",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id()
        ));
        let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, &path)
    }

    /// Loads the record of `pidfile`, if any.
    pub fn load(pidfile: &Path) -> std::io::Result<Option<Record>> {
        match std::fs::read(path_for(pidfile)) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
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
