//! File descriptors: CLOEXEC pipes, dup2 onto stdio, closing every inherited
//! descriptor quickly, and `poll`.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::{cvt, cvt_retry};

/// Creates a pipe whose both ends are close-on-exec, atomically
/// (`pipe2(O_CLOEXEC)`). Returns `(read_end, write_end)`.
pub fn pipe_cloexec() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds is a valid out-array of two ints.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sets or clears `FD_CLOEXEC` on `fd`. Async-signal-safe.
pub fn set_cloexec(fd: BorrowedFd<'_>, on: bool) -> std::io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: F_GETFD/F_SETFD on a borrowed (hence open) descriptor.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFD) })?;
    let new = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    if new != flags {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(raw, libc::F_SETFD, new) })?;
    }
    Ok(())
}

/// Whether `fd` has `FD_CLOEXEC` set.
pub fn is_cloexec(fd: BorrowedFd<'_>) -> std::io::Result<bool> {
    // SAFETY: F_GETFD on a borrowed (hence open) descriptor.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) })?;
    Ok(flags & libc::FD_CLOEXEC != 0)
}

/// `dup2(src, target)`: makes `target` (typically 0, 1 or 2) refer to `src`'s
/// open file description. The new descriptor is *not* close-on-exec, which is
/// what stdio of an exec'd program needs. A no-op when `src == target` except
/// that CLOEXEC is cleared. Async-signal-safe.
pub fn dup2(src: BorrowedFd<'_>, target: RawFd) -> std::io::Result<()> {
    if src.as_raw_fd() == target {
        return set_cloexec(src, false);
    }
    // SAFETY: dup2 on a borrowed open fd; the caller decided that `target` may
    // be replaced (it names a stdio slot it controls).
    cvt_retry(|| unsafe { libc::dup2(src.as_raw_fd(), target) }).map(drop)
}

/// Closes every descriptor >= 3 except those in `keep`.
///
/// Uses `close_range(2)` over the gaps between kept descriptors (one system
/// call per gap, independent of `RLIMIT_NOFILE`); on kernels without it, falls
/// back to the entries of `/proc/self/fd`, and only then to a bounded loop up to
/// the soft `RLIMIT_NOFILE`.
///
/// Any `File`/`OwnedFd` the caller still holds for a closed number becomes
/// dangling: callers must forget such handles (see `warden-daemon`'s docs).
/// Not async-signal-safe in the fallback path (it allocates).
pub fn close_all_except(keep: &[RawFd]) -> std::io::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd >= 3).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first: libc::c_uint = 3;
    let mut ranges = Vec::with_capacity(keep.len() + 1);
    for &k in &keep {
        let k = k as libc::c_uint;
        if k > first {
            ranges.push((first, k - 1));
        }
        first = k + 1;
    }
    ranges.push((first, libc::c_uint::MAX));
    for (lo, hi) in &ranges {
        // SAFETY: close_range only closes descriptors; the caller asked for
        // exactly these ranges to be closed. The raw system call, because not
        // every C library (musl) wraps it.
        if unsafe { libc::syscall(libc::SYS_close_range, *lo, *hi, 0) } == -1 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENOSYS) {
                return close_fallback(&keep);
            }
            return Err(err);
        }
    }
    Ok(())
}

fn close_fallback(keep: &[RawFd]) -> std::io::Result<()> {
    let open: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => {
            // SAFETY: getrlimit writes into a valid struct.
            let limit = unsafe {
                let mut rl: libc::rlimit = std::mem::zeroed();
                libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut rl);
                rl.rlim_cur.min(1 << 20) as RawFd
            };
            (3..limit).collect()
        }
    };
    for fd in open {
        if fd >= 3 && !keep.contains(&fd) {
            // SAFETY: closing a descriptor the caller asked to close; EBADF
            // (e.g. the read_dir fd itself, already closed) is ignored.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// Lists the open descriptors of the calling process (from `/proc/self/fd`).
pub fn open_fds() -> std::io::Result<Vec<RawFd>> {
    let mut fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    // The directory handle itself showed up in the listing and is closed now.
    fds.retain(|&fd| {
        // SAFETY: F_GETFD only queries; a closed fd gives EBADF.
        unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
    });
    Ok(fds)
}

/// What `poll` reported for one descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Data (or EOF) can be read.
    pub readable: bool,
    /// The peer hung up or an error is pending.
    pub hangup: bool,
}

/// Waits until one of `fds` is readable or hung up, or `timeout` passes
/// (`None` = forever). Retries on `EINTR` with the remaining time. Returns one
/// [`Ready`] per input descriptor; all-false means the timeout passed.
pub fn poll_read(
    fds: &[BorrowedFd<'_>],
    timeout: Option<std::time::Duration>,
) -> std::io::Result<Vec<Ready>> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                // Round up so that a sub-millisecond remainder still waits.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
            }
        };
        // SAFETY: pfds is a valid array of pollfd of the given length.
        let ret = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if ret == -1 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        return Ok(pfds
            .iter()
            .map(|p| Ready {
                readable: p.revents & libc::POLLIN != 0,
                hangup: p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0,
            })
            .collect());
    }
}

/// Whether descriptor `fd` is open in the calling process. Async-signal-safe.
#[must_use]
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries; a closed descriptor gives EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// `renameat2(from, to, RENAME_NOREPLACE)`: renames atomically, failing with
/// `EEXIST` instead of replacing an existing `to`.
pub fn rename_noreplace(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let from = std::ffi::CString::new(from.as_os_str().as_bytes())?;
    let to = std::ffi::CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings; AT_FDCWD resolves
    // relative paths against the working directory. The raw system call,
    // because not every C library (musl) wraps renameat2.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    cvt(ret as libc::c_int).map(drop)
}

/// Grows (or shrinks) a pipe's buffer with `F_SETPIPE_SZ`, returning the
/// size the kernel granted. Unprivileged processes are capped by
/// `/proc/sys/fs/pipe-max-size` (1 MiB by default).
pub fn set_pipe_size(fd: BorrowedFd<'_>, bytes: usize) -> std::io::Result<usize> {
    let want = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: F_SETPIPE_SZ on a borrowed (hence open) descriptor takes an int.
    let got = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, want) })?;
    Ok(got as usize)
}

/// Moves up to `len` bytes from the pipe `from` to the end of the file `to`
/// without copying them through user space: `lseek(to, 0, SEEK_END)`, then
/// `splice(2)` at that offset. Seeking first keeps appending correct when the
/// file was truncated meanwhile (logrotate's copytruncate); unlike `O_APPEND`,
/// it is not atomic against *other* writers of the same file. Returns 0 at the
/// pipe's end of file; `EINVAL` when the target cannot be spliced into
/// (`O_APPEND` files, ttys): callers fall back to read and write.
pub fn splice_to_end(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    len: usize,
) -> std::io::Result<usize> {
    // SAFETY: lseek on a borrowed (hence open) descriptor.
    let end = unsafe { libc::lseek(to.as_raw_fd(), 0, libc::SEEK_END) };
    if end == -1 {
        return Err(std::io::Error::last_os_error());
    }
    let mut off: libc::loff_t = end;
    // SAFETY: both descriptors are borrowed (open); `off` is a valid in/out
    // offset for the target; no offset is passed for the pipe.
    let n = unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            &raw mut off,
            len,
            libc::SPLICE_F_MOVE,
        )
    };
    if n == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Writes all of `data` at the end of `file` (`lseek(SEEK_END)` + `write`),
/// the fallback of [`splice_to_end`] with the same append semantics.
pub fn write_at_end(file: &std::fs::File, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    // SAFETY: lseek on an open descriptor owned by `file`.
    if unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_END) } == -1 {
        let e = std::io::Error::last_os_error();
        // Unseekable targets (a tty, a FIFO) simply write.
        if e.raw_os_error() != Some(libc::ESPIPE) {
            return Err(e);
        }
    }
    let mut f = file;
    f.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn pipe_is_cloexec_and_poll_sees_eof() {
        let (r, w) = pipe_cloexec().unwrap();
        assert!(is_cloexec(r.as_fd()).unwrap());
        assert!(is_cloexec(w.as_fd()).unwrap());
        let t = std::time::Duration::from_millis(1);
        assert_eq!(
            poll_read(&[r.as_fd()], Some(t)).unwrap()[0],
            Ready::default()
        );
        drop(w);
        assert!(poll_read(&[r.as_fd()], Some(t)).unwrap()[0].hangup);
    }

    #[test]
    fn splice_appends_at_the_end_even_after_a_truncation() {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("warden-sys-splice-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .unwrap();
        let (r, w) = pipe_cloexec().unwrap();
        let mut w = std::fs::File::from(w);
        write_at_end(&file, b"one\n").unwrap();
        w.write_all(b"two\n").unwrap();
        assert_eq!(splice_to_end(r.as_fd(), file.as_fd(), 1 << 20).unwrap(), 4);
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
        file.set_len(0).unwrap(); // copytruncate
        w.write_all(b"three\n").unwrap();
        splice_to_end(r.as_fd(), file.as_fd(), 1 << 20).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"three\n",
            "no hole after a truncation"
        );
        drop(w);
        assert_eq!(
            splice_to_end(r.as_fd(), file.as_fd(), 1 << 20).unwrap(),
            0,
            "EOF"
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn set_cloexec_toggles() {
        let (r, _w) = pipe_cloexec().unwrap();
        set_cloexec(r.as_fd(), false).unwrap();
        assert!(!is_cloexec(r.as_fd()).unwrap());
        set_cloexec(r.as_fd(), true).unwrap();
        assert!(is_cloexec(r.as_fd()).unwrap());
    }
}
