//! fork + exec of a supervised child, with only async-signal-safe calls
//! between the two.
//!
//! Everything the child needs (the program path, `argv`, `envp` and their
//! pointer arrays, the directory, credentials, the messages it may print) is
//! built by [`spawn`] *before* `fork`, so the child side allocates nothing,
//! takes no lock and drops nothing: it runs raw system calls and `_exit`s.
//! That makes it safe to use from a multi-threaded parent (a tokio runtime).
//!
//! The child, in order: becomes the leader of its own process group
//! (`setpgid(0, 0)`), moves the three given descriptors onto 0, 1 and 2,
//! closes every other descriptor (`close_range`), resets every signal
//! disposition to the default and empties its signal mask, drops privileges
//! (`setgroups` → `setgid` → `setuid`), changes directory, sets the umask and
//! `execve`s. Any failure is written to its fd 2 in supervisord's words
//! (`supervisor: couldn't exec ARGV0: ENOENT`, then
//! `supervisor: child process was not spawned`) and the child `_exit(127)`s.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::{cvt, Pid};

/// Credentials the child switches to before `exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildCredentials {
    /// User id for `setuid`.
    pub uid: u32,
    /// Group id for `setgid`.
    pub gid: u32,
    /// Supplementary groups for `setgroups`.
    pub groups: Vec<u32>,
}

/// What [`spawn`] runs.
#[derive(Debug)]
pub struct SpawnRequest<'a> {
    /// The resolved executable path passed to `execve`.
    pub program: &'a CStr,
    /// The argument vector (`argv[0]` first).
    pub argv: &'a [CString],
    /// The complete environment, as `KEY=VALUE` strings.
    pub envp: &'a [CString],
    /// Directory to change to, if any.
    pub directory: Option<&'a CStr>,
    /// Umask to set, if any.
    pub umask: Option<u32>,
    /// Becomes the child's fd 0.
    pub stdin: BorrowedFd<'a>,
    /// Becomes the child's fd 1.
    pub stdout: BorrowedFd<'a>,
    /// Becomes the child's fd 2.
    pub stderr: BorrowedFd<'a>,
    /// Privileges to switch to, if any.
    pub credentials: Option<&'a ChildCredentials>,
}

/// Forks and execs `req` in a new process group; returns the child's pid
/// (which is also its process group id).
///
/// # Errors
///
/// `fork` failing (`EAGAIN`, `ENOMEM`). Failures after the fork are reported
/// by the child on its stderr and by its exit status 127.
pub fn spawn(req: &SpawnRequest<'_>) -> std::io::Result<Pid> {
    // Everything below is prepared before the fork: pointer arrays and texts.
    let argv: Vec<*const libc::c_char> = req
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = req
        .envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let argv0: &[u8] = req.argv.first().map_or(b"", |a| a.as_bytes());
    let dir: &[u8] = req.directory.map_or(b"", CStr::to_bytes);
    let mut uid_text = [0u8; 12];
    let uid_len = req
        .credentials
        .map_or(0, |c| itoa(i64::from(c.uid), &mut uid_text));
    let fds = [
        req.stdin.as_raw_fd(),
        req.stdout.as_raw_fd(),
        req.stderr.as_raw_fd(),
    ];

    // SAFETY: the child branch below only performs async-signal-safe system
    // calls on memory prepared before the fork (no allocation, no locks, no
    // drops) and always ends in execve or _exit.
    let pid = cvt(unsafe { libc::fork() })?;
    if pid != 0 {
        return Ok(Pid::from_raw(pid).expect("UNWRAP: fork returns a positive pid to the parent"));
    }

    // ---- child: async-signal-safe from here on ----
    // SAFETY: setpgid with integer arguments.
    unsafe { libc::setpgid(0, 0) };
    // Move the descriptors onto 0, 1, 2. They were created after 0..2 were
    // open, so none of them is itself 0..2.
    for (target, &fd) in fds.iter().enumerate() {
        // SAFETY: dup2 on descriptors that stay open until exec.
        unsafe { libc::dup2(fd, target as libc::c_int) };
    }
    // SAFETY: close_range takes integer arguments; failure (old kernel) is
    // harmless because every descriptor of the parent is CLOEXEC.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    let _ = crate::signal::reset_all();

    if let Some(cred) = req.credentials {
        // SAFETY: groups points to cred.groups.len() valid gid_t values.
        let ok = unsafe {
            libc::setgroups(cred.groups.len(), cred.groups.as_ptr()) == 0
                && libc::setgid(cred.gid) == 0
                && libc::setuid(cred.uid) == 0
        };
        if !ok {
            let e = errno();
            child_write(&[
                b"supervisor: couldn't setuid to ",
                &uid_text[..uid_len],
                b": ",
                errno_name(e),
                b"\n",
            ]);
            child_fail();
        }
    }
    if let Some(d) = req.directory {
        // SAFETY: d is a valid NUL-terminated string.
        if unsafe { libc::chdir(d.as_ptr()) } != 0 {
            let e = errno();
            child_write(&[
                b"supervisor: couldn't chdir to ",
                dir,
                b": ",
                errno_name(e),
                b"\n",
            ]);
            child_fail();
        }
    }
    if let Some(mask) = req.umask {
        // SAFETY: umask has no preconditions.
        unsafe { libc::umask(mask as libc::mode_t) };
    }
    // SAFETY: program, argv and envp are valid NUL-terminated strings and
    // NULL-terminated pointer arrays that outlive the call.
    unsafe { libc::execve(req.program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    let e = errno();
    child_write(&[
        b"supervisor: couldn't exec ",
        argv0,
        b": ",
        errno_name(e),
        b"\n",
    ]);
    child_fail()
}

fn child_fail() -> ! {
    child_write(&[b"supervisor: child process was not spawned\n"]);
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(127) }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Writes the parts to fd 2, ignoring errors. Async-signal-safe.
fn child_write(parts: &[&[u8]]) {
    for p in parts {
        let mut off = 0;
        while off < p.len() {
            // SAFETY: the pointer and length describe a live slice.
            let n = unsafe { libc::write(2, p[off..].as_ptr().cast(), p.len() - off) };
            if n <= 0 {
                return;
            }
            off += n as usize;
        }
    }
}

/// Allocation-free decimal formatting; returns the length written.
fn itoa(mut v: i64, out: &mut [u8; 12]) -> usize {
    let neg = v < 0;
    let mut tmp = [0u8; 12];
    let mut n = 0;
    loop {
        tmp[n] = b'0' + (v % 10).unsigned_abs() as u8;
        n += 1;
        v /= 10;
        if v == 0 || n == 11 {
            break;
        }
    }
    let mut len = 0;
    if neg {
        out[0] = b'-';
        len = 1;
    }
    for i in (0..n).rev() {
        out[len] = tmp[i];
        len += 1;
    }
    len
}

/// Python's `errno.errorcode[e]` for the errors exec, chdir and setuid give.
pub fn errno_name(e: i32) -> &'static [u8] {
    match e {
        libc::EPERM => b"EPERM",
        libc::ENOENT => b"ENOENT",
        libc::EIO => b"EIO",
        libc::E2BIG => b"E2BIG",
        libc::ENOEXEC => b"ENOEXEC",
        libc::ENOMEM => b"ENOMEM",
        libc::EACCES => b"EACCES",
        libc::EFAULT => b"EFAULT",
        libc::ENOTDIR => b"ENOTDIR",
        libc::EISDIR => b"EISDIR",
        libc::EINVAL => b"EINVAL",
        libc::EMFILE => b"EMFILE",
        libc::ENFILE => b"ENFILE",
        libc::ETXTBSY => b"ETXTBSY",
        libc::ENAMETOOLONG => b"ENAMETOOLONG",
        libc::ELOOP => b"ELOOP",
        libc::EAGAIN => b"EAGAIN",
        libc::ELIBBAD => b"ELIBBAD",
        _ => b"EUNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn itoa_formats() {
        let mut b = [0u8; 12];
        let n = itoa(0, &mut b);
        assert_eq!(&b[..n], b"0");
        let n = itoa(-1234, &mut b);
        assert_eq!(&b[..n], b"-1234");
        let n = itoa(4_294_967_295, &mut b);
        assert_eq!(&b[..n], b"4294967295");
    }
}
