//! The few facts about the host that supervisord consults while parsing
//! (users, groups, directories, host name), behind a trait so tests can
//! supply a fake host.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Host lookups used during validation.
pub trait System {
    /// uid of the named user (`pwd.getpwnam`).
    fn uid_by_name(&self, name: &str) -> Option<u32>;
    /// Whether a user with this uid exists (`pwd.getpwuid`).
    fn uid_exists(&self, uid: u32) -> bool;
    /// Primary gid of the user with this uid.
    fn gid_for_uid(&self, uid: u32) -> Option<u32>;
    /// Home directory of the named user (for `~user` paths).
    fn home_of(&self, name: &str) -> Option<PathBuf>;
    /// gid of the named group (`grp.getgrnam`).
    fn gid_by_name(&self, name: &str) -> Option<u32>;
    /// Whether a group with this gid exists.
    fn gid_exists(&self, gid: u32) -> bool;
    /// Whether `path` (absolute) is an existing directory.
    fn is_dir(&self, path: &Path) -> bool;
}

/// The real host: NSS user/group database and the file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsSystem;

impl System for OsSystem {
    fn uid_by_name(&self, name: &str) -> Option<u32> {
        nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw())
    }
    fn uid_exists(&self, uid: u32) -> bool {
        matches!(
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
            Ok(Some(_))
        )
    }
    fn gid_for_uid(&self, uid: u32) -> Option<u32> {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.gid.as_raw())
    }
    fn home_of(&self, name: &str) -> Option<PathBuf> {
        nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| u.dir)
    }
    fn gid_by_name(&self, name: &str) -> Option<u32> {
        nix::unistd::Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw())
    }
    fn gid_exists(&self, gid: u32) -> bool {
        matches!(
            nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)),
            Ok(Some(_))
        )
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
}

/// Everything besides the config text that the result depends on.
pub struct Context<'a> {
    /// The environment supervisord starts with (becomes `ENV_*`).
    pub env: HashMap<String, String>,
    /// The working directory (relative paths and default log/pid files).
    pub cwd: PathBuf,
    /// `platform.node()`, for `%(host_node_name)s`.
    pub host_node_name: String,
    /// `tempfile.gettempdir()`, the default `childlogdir`.
    pub temp_dir: PathBuf,
    /// User, group and directory lookups.
    pub system: &'a dyn System,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("cwd", &self.cwd)
            .field("host_node_name", &self.host_node_name)
            .field("temp_dir", &self.temp_dir)
            .finish_non_exhaustive()
    }
}

static OS: OsSystem = OsSystem;

impl Context<'static> {
    /// A context for the real host: the given environment, the process's
    /// working directory and host name, and Python's temp-dir rule applied
    /// to `env` (`TMPDIR`, `TEMP`, `TMP`, then `/tmp`, `/var/tmp`, `/usr/tmp`).
    pub fn from_host(env: &HashMap<String, String>) -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let host_node_name = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        let temp_dir = python_tempdir(env, &cwd, &OS);
        Context {
            env: env.clone(),
            cwd,
            host_node_name,
            temp_dir,
            system: &OS,
        }
    }
}

/// `tempfile.gettempdir()` candidate order.
pub fn python_tempdir(env: &HashMap<String, String>, cwd: &Path, sys: &dyn System) -> PathBuf {
    let mut candidates: Vec<PathBuf> = ["TMPDIR", "TEMP", "TMP"]
        .iter()
        .filter_map(|k| env.get(*k))
        .map(PathBuf::from)
        .collect();
    candidates.extend(["/tmp", "/var/tmp", "/usr/tmp"].iter().map(PathBuf::from));
    for c in candidates {
        let abs = cwd.join(&c);
        if sys.is_dir(&abs) {
            return crate::datatypes::normpath(&abs.to_string_lossy()).into();
        }
    }
    cwd.to_path_buf()
}
