//! Whole-file write locks for pidfiles, and a non-invasive query.
//!
//! Two flavours, both advisory and released by the kernel when the holder dies:
//!
//! * [`LockKind::Ofd`] (open-file-description lock, `F_OFD_SETLK`): belongs to
//!   the open file description, so it is not dropped when the process closes some
//!   *other* descriptor of the same file (the classic POSIX-lock trap). With a
//!   close-on-exec descriptor it ends at `exec`. Used by daemons built on the
//!   library.
//! * [`LockKind::Process`] (classic POSIX record lock, `F_SETLK`): belongs to
//!   the process, survives `execve` as long as its descriptor stays open, and is
//!   *not* inherited by `fork` children. Used when warden execs the daemon
//!   program itself: the program keeps the lock, its children never do.
//!
//! Linux makes the two flavours conflict with each other, and
//! [`query`] (`F_OFD_GETLK`) reports either kind without taking anything, so a
//! status check never blocks a concurrent start.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::{cvt_retry, Pid};

/// Which kind of lock to take; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// Open-file-description lock (`F_OFD_SETLK`).
    Ofd,
    /// Per-process POSIX record lock (`F_SETLK`).
    Process,
}

/// Who holds a lock, as far as the kernel tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// A POSIX lock: the kernel names the holding process.
    Process(Pid),
    /// An OFD (or flock-like) lock: the kernel does not name a process.
    Unnamed,
}

fn whole_file(kind: libc::c_short) -> libc::flock {
    // SAFETY: flock is a plain C struct; all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0; // to the end of the file, however it grows
    fl
}

/// Tries to take an exclusive whole-file lock on `fd` (which must be open for
/// writing). Returns `Ok(false)` if another holder has it.
pub fn try_lock_exclusive(fd: BorrowedFd<'_>, kind: LockKind) -> std::io::Result<bool> {
    let fl = whole_file(libc::F_WRLCK as libc::c_short);
    let cmd = match kind {
        LockKind::Ofd => libc::F_OFD_SETLK,
        LockKind::Process => libc::F_SETLK,
    };
    // SAFETY: fcntl with a lock command reads the flock struct we pass.
    match cvt_retry(|| unsafe { libc::fcntl(fd.as_raw_fd(), cmd, &raw const fl) }) {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Asks whether a lock that conflicts with a whole-file write lock is held on
/// the file behind `fd` by anyone else. Takes no lock.
pub fn query(fd: BorrowedFd<'_>) -> std::io::Result<Option<Holder>> {
    let mut fl = whole_file(libc::F_WRLCK as libc::c_short);
    // SAFETY: F_OFD_GETLK reads and writes the flock struct we pass.
    cvt_retry(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_GETLK, &raw mut fl) })?;
    if fl.l_type == libc::F_UNLCK as libc::c_short {
        return Ok(None);
    }
    Ok(Some(match Pid::from_raw(fl.l_pid) {
        Some(pid) => Holder::Process(pid),
        None => Holder::Unnamed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn ofd_locks_conflict_across_descriptions_and_query_sees_them() {
        let dir = std::env::temp_dir().join(format!("warden-sys-lock-{}", std::process::id()));
        std::fs::write(&dir, b"1\n").unwrap();
        let a = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&dir)
            .unwrap();
        let b = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&dir)
            .unwrap();
        assert_eq!(query(b.as_fd()).unwrap(), None);
        assert!(try_lock_exclusive(a.as_fd(), LockKind::Ofd).unwrap());
        assert!(!try_lock_exclusive(b.as_fd(), LockKind::Ofd).unwrap());
        assert_eq!(query(b.as_fd()).unwrap(), Some(Holder::Unnamed));
        drop(a);
        assert!(try_lock_exclusive(b.as_fd(), LockKind::Ofd).unwrap());
        std::fs::remove_file(&dir).unwrap();
    }
}
