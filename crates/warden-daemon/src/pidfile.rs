//! Pidfiles that cannot lie: created race-free, locked for the daemon's whole
//! life, written atomically, removed only by their owner.
//!
//! # Protocol
//!
//! *Acquire* (in the final daemon process):
//! 1. Open the existing file `O_RDWR|O_NOFOLLOW|O_CLOEXEC` (a symlink fails).
//!    As root, refuse a file writable by others or owned by another user.
//! 2. Try the exclusive lock without waiting. Held → "already running".
//! 3. We hold the lock of a stale file. Check that the path still names this
//!    inode (another starter may have replaced it between open and lock); if not,
//!    start over.
//! 4. Write the pid into a fresh temporary file in the same directory, lock it,
//!    and `rename` it over the path: readers see the old content or the whole
//!    new one, never an empty or partial file.
//!
//! When no file exists, the temporary file is `link`ed to the path instead of
//! renamed, so that two starters racing to create it cannot both win.
//!
//! *Status* asks the kernel (`F_OFD_GETLK`) whether anyone holds the lock,
//! without taking it: a pidfile is trusted only while locked, so a stale file
//! naming a recycled pid is reported as "dead", never signalled.
//!
//! *Removal* at clean exit unlinks the path only if it still names our inode.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use warden_sys::consts::{EEXIST, ELOOP, ENOENT, O_NOFOLLOW};
use warden_sys::lock::{self, Holder, LockKind};
use warden_sys::{fd, process, Pid};

use crate::Error;

/// A held pidfile. Dropping it removes the file (if it is still ours).
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    /// The temporary file it was written as, until renamed into place.
    tmp: PathBuf,
    file: File,
    dev: u64,
    ino: u64,
    keep_on_drop: bool,
}

/// What a pidfile says about its daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// No pidfile.
    Missing,
    /// A pidfile nobody holds: the daemon is dead (crashed, killed). `pid` is
    /// what the file says, if it says anything parseable.
    Stale {
        /// The recorded pid.
        pid: Option<Pid>,
    },
    /// The pidfile is locked: the daemon is running as `pid`.
    Locked {
        /// The running daemon.
        pid: Pid,
    },
}

impl Pidfile {
    /// Creates or takes over the pidfile at `path` for the calling process.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyRunning`] when another process holds it;
    /// [`Error::InsecurePidfile`] for a symlink or (as root) a file others may
    /// write; [`Error::Path`] for I/O errors (missing directory, no permission).
    pub fn acquire(path: &Path, kind: LockKind) -> Result<Pidfile, Error> {
        let pid = Pid::this();
        for _ in 0..100 {
            match open_existing(path, true) {
                Ok(old) => {
                    check_secure(path, &old)?;
                    if !lock::try_lock_exclusive(old.as_fd(), kind)
                        .map_err(|e| Error::path("lock pidfile", path, e))?
                    {
                        return Err(Error::AlreadyRunning {
                            pid: read_pid_from(&old),
                            path: path.to_path_buf(),
                        });
                    }
                    if !same_inode(path, &old) {
                        continue;
                    }
                    let new = Pidfile::write_temp(path, pid, kind)?;
                    std::fs::rename(&new.tmp, path).map_err(|e| {
                        let _ = std::fs::remove_file(&new.tmp);
                        Error::path("replace stale pidfile", path, e)
                    })?;
                    drop(old); // releases the stale inode's lock
                    return Ok(new);
                }
                Err(e) if e.raw_os_error() == Some(ENOENT) => {
                    let new = Pidfile::write_temp(path, pid, kind)?;
                    let tmp = new.tmp.clone();
                    match fd::rename_noreplace(&tmp, path) {
                        Ok(()) => return Ok(new),
                        Err(e) => {
                            let _ = std::fs::remove_file(&tmp);
                            let mut lost = new;
                            lost.keep_on_drop = true;
                            if e.raw_os_error() == Some(EEXIST) {
                                continue; // another starter created it first
                            }
                            return Err(Error::path("create pidfile", path, e));
                        }
                    }
                }
                Err(e) if e.raw_os_error() == Some(ELOOP) => {
                    return Err(Error::InsecurePidfile {
                        path: path.to_path_buf(),
                        why: "it is a symbolic link",
                    })
                }
                Err(e) => return Err(Error::path("open pidfile", path, e)),
            }
        }
        Err(Error::path(
            "acquire pidfile",
            path,
            std::io::Error::other("it kept being replaced by other starters"),
        ))
    }

    /// Creates `<dir>/.<name>.<random>.tmp` holding "pid\n", mode 0644,
    /// locked. The name is unpredictable and the file new (`O_EXCL`): nothing
    /// planted in the directory is written through.
    fn write_temp(path: &Path, pid: Pid, kind: LockKind) -> Result<Pidfile, Error> {
        let name = path
            .file_name()
            .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        // Exact mode whatever the umask: readable by all, writable by owner only.
        let (mut file, tmp) =
            warden_sys::fs::create_temp_in(dir, &format!(".{name}."), ".tmp", 0o644)
                .map_err(|e| Error::path("create pidfile", path, e))?;
        let cleanup = |e| {
            let _ = std::fs::remove_file(&tmp);
            Error::path("write pidfile", path, e)
        };
        if !lock::try_lock_exclusive(file.as_fd(), kind).map_err(cleanup)? {
            return Err(cleanup(std::io::Error::other("fresh file already locked")));
        }
        file.write_all(format!("{pid}\n").as_bytes())
            .map_err(cleanup)?;
        let meta = file.metadata().map_err(cleanup)?;
        Ok(Pidfile {
            path: path.to_path_buf(),
            tmp,
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            keep_on_drop: false,
        })
    }

    /// The pidfile's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the pid back through the locked descriptor. Never opens the path
    /// again (with POSIX locks, closing any descriptor of the file would drop
    /// the lock).
    #[must_use]
    pub fn read_pid(&self) -> Option<Pid> {
        read_pid_from(&self.file)
    }

    /// Keeps the file and its lock across `exec`: the descriptor is made
    /// inheritable and leaked on purpose, and nothing is removed on drop. The
    /// exec'd program holds the lock until it ends.
    pub(crate) fn keep_across_exec(mut self) -> std::io::Result<()> {
        warden_sys::fd::set_cloexec(self.file.as_fd(), false)?;
        self.keep_on_drop = true;
        std::mem::forget(self);
        Ok(())
    }

    /// Removes the pidfile now, if the path still names our file.
    pub fn remove(mut self) {
        self.remove_if_ours();
        self.keep_on_drop = true;
    }

    fn remove_if_ours(&self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if meta.dev() == self.dev && meta.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        if !self.keep_on_drop {
            self.remove_if_ours();
        }
    }
}

fn open_existing(path: &Path, write: bool) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(O_NOFOLLOW)
        .open(path)
}

fn same_inode(path: &Path, file: &File) -> bool {
    match (std::fs::symlink_metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn read_pid_from(mut file: &File) -> Option<Pid> {
    let mut s = String::new();
    file.rewind().ok()?;
    file.take(64).read_to_string(&mut s).ok()?;
    s.parse().ok()
}

/// As root, a pidfile that someone else could write could point root's `stop`
/// at any process: refuse it (start-stop-daemon does the same).
fn check_secure(path: &Path, file: &File) -> Result<(), Error> {
    if process::geteuid() != 0 {
        return Ok(());
    }
    let meta = file
        .metadata()
        .map_err(|e| Error::path("inspect pidfile", path, e))?;
    let why = if meta.mode() & 0o002 != 0 {
        "it is writable by others"
    } else if meta.uid() != 0 {
        "it is owned by another user than root"
    } else {
        return Ok(());
    };
    Err(Error::InsecurePidfile {
        path: path.to_path_buf(),
        why,
    })
}

/// Reads what the pidfile at `path` says, trusting it only while it is locked.
///
/// # Errors
///
/// [`Error::BadPidfile`] when the file is locked but names no pid (status
/// "unknown"); [`Error::InsecurePidfile`]; [`Error::Path`] for I/O errors.
pub fn probe(path: &Path) -> Result<Probe, Error> {
    let file = match open_existing(path, false) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(ENOENT) => return Ok(Probe::Missing),
        Err(e) if e.raw_os_error() == Some(ELOOP) => {
            return Err(Error::InsecurePidfile {
                path: path.to_path_buf(),
                why: "it is a symbolic link",
            })
        }
        Err(e) => return Err(Error::path("open pidfile", path, e)),
    };
    check_secure(path, &file)?;
    let recorded = read_pid_from(&file);
    match lock::query(file.as_fd()).map_err(|e| Error::path("query pidfile lock", path, e))? {
        None => Ok(Probe::Stale { pid: recorded }),
        // A POSIX lock names its holder: that process is the daemon, whatever
        // the file says.
        Some(Holder::Process(pid)) => Ok(Probe::Locked { pid }),
        Some(Holder::Unnamed) => match recorded {
            Some(pid) => Ok(Probe::Locked { pid }),
            None => Err(Error::BadPidfile {
                path: path.to_path_buf(),
            }),
        },
    }
}

/// Removes a pidfile left by `pid` (killed, or an exec'd program that could
/// not clean up), if it still names `pid` and nobody holds it. The file's lock
/// is taken first, so a starter racing to take the stale file over can never
/// lose its fresh pidfile to this removal.
/// Removes the pidfile at `path` if nobody holds its lock and it still names
/// `pid` (a program that was exec'd, or killed, cannot remove its own).
pub fn remove_if_stale(path: &Path, pid: Pid) {
    let Ok(file) = open_existing(path, true) else {
        return;
    };
    if lock::try_lock_exclusive(file.as_fd(), LockKind::Ofd).unwrap_or(false)
        && same_inode(path, &file)
        && read_pid_from(&file) == Some(pid)
    {
        let _ = std::fs::remove_file(path);
    }
}
