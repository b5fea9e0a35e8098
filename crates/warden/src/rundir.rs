//! The run directory: where instance pidfiles and records live by default.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use warden_sys::process;

use crate::Failure;

/// `$WARDEN_RUNDIR`, else `/run/warden` as root, else
/// `$XDG_RUNTIME_DIR/warden`, else `/tmp/warden-UID` (mode 0700).
#[must_use]
pub fn path() -> PathBuf {
    if let Some(d) = std::env::var_os("WARDEN_RUNDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let uid = process::geteuid();
    if uid == 0 {
        return PathBuf::from("/run/warden");
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("warden");
    }
    PathBuf::from(format!("/tmp/warden-{uid}"))
}

/// Creates the run directory if needed. A shared parent (`/tmp`) makes the
/// directory a target for symlink or squatting attacks, so an existing one must
/// be a real directory owned by us and closed to others.
pub fn ensure(dir: &Path) -> Result<(), Failure> {
    let uid = process::geteuid();
    let mode = if uid == 0 && dir == Path::new("/run/warden") {
        0o755
    } else {
        0o700
    };
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => {
            return Err(Failure::setup(format!(
                "create run directory {}: {e}",
                dir.display()
            )))
        }
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| Failure::setup(format!("inspect run directory {}: {e}", dir.display())))?;
    if !meta.is_dir() {
        return Err(Failure::setup(format!(
            "run directory {} is not a directory",
            dir.display()
        )));
    }
    if meta.uid() != uid {
        return Err(Failure::setup(format!(
            "run directory {} belongs to uid {}, not to us",
            dir.display(),
            meta.uid()
        )));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(Failure::setup(format!(
            "run directory {} is writable by others",
            dir.display()
        )));
    }
    Ok(())
}

/// A valid instance name: non-empty, no `/`, no leading `.`, no NUL.
pub fn check_name(name: &str) -> Result<(), Failure> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') || name.contains('\0') {
        return Err(Failure::setup(format!(
            "invalid instance name {name:?} (it must be a plain file name)"
        )));
    }
    Ok(())
}
