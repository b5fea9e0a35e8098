//! fork + exec of a supervised child, with only async-signal-safe calls
//! between the two.
//!
//! Everything the child needs (the program path, `argv`, `envp` and their
//! pointer arrays, the directory, credentials, the messages it may print) is
//! built by [`spawn`] *before* `fork`, so the child side allocates nothing,
//! takes no lock and drops nothing: it runs raw system calls and `_exit`s.
//! That makes it safe to use from a multi-threaded parent (a tokio runtime).
//!
//! Every signal is blocked across `fork` (the parent then restores its mask),
//! so no handler of the parent ever runs in the child. The child, in order:
//! resets every signal disposition to the default and empties its signal
//! mask, becomes the leader of its own process group (`setpgid(0, 0)`, which
//! the parent also does, so the group exists when [`spawn`] returns), moves the
//! three given descriptors onto 0, 1 and 2, closes every other descriptor
//! (`close_range`), drops privileges (`setgroups` → `setgid` → `setuid`, then
//! checks that every id changed and root cannot be regained, as the daemon's
//! drop does), sets the parent death signal if asked (then checks the parent
//! is still there), changes directory, sets the umask and `execve`s. A child
//! given a `cgroup.procs` descriptor joins that cgroup right after
//! `setpgid`. Any failure is written to its fd 2 in supervisord's words
//! (`supervisor: couldn't exec ARGV0: ENOENT`, then
//! `supervisor: child process was not spawned`) and the child `_exit(127)`s.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::cred::DropFailure;
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
    /// The signal the child gets when the parent dies
    /// (`PR_SET_PDEATHSIG`, set after the privilege drop, which would clear
    /// it); if the parent is already gone by then, the child sends it to
    /// itself instead of running unsupervised.
    pub death_signal: Option<crate::Signal>,
    /// A `cgroup.procs` file open for writing: the child joins that cgroup
    /// (writes `0` to it) before anything else, so all it will ever fork
    /// stays there (see [`crate::cgroup`]).
    pub cgroup_procs: Option<BorrowedFd<'a>>,
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
    let cgroup_fd = req.cgroup_procs.map(|f| f.as_raw_fd());
    let death_signal = req.death_signal.map(crate::Signal::as_raw);
    // SAFETY: getpid has no preconditions and cannot fail.
    let parent = unsafe { libc::getpid() };

    // Every signal stays blocked across the fork: a signal arriving in this
    // window must not run one of the parent's handlers in the child (which
    // would write to the parent's pipes or state from another process). The
    // parent restores its mask; the child resets dispositions, then unblocks.
    let saved_mask = block_all_signals()?;
    // SAFETY: the child branch below only performs async-signal-safe system
    // calls on memory prepared before the fork (no allocation, no locks, no
    // drops) and always ends in execve or _exit.
    let forked = cvt(unsafe { libc::fork() });
    if !matches!(forked, Ok(0)) {
        restore_signal_mask(&saved_mask);
        let pid = forked?;
        // The child makes itself a group leader too; doing it here as well
        // means the group exists when `spawn` returns, so a group kill right
        // away cannot miss. Once the child has exec'd the call fails with
        // EACCES (or ESRCH if it is already gone): nothing to do then.
        // SAFETY: setpgid with integer arguments.
        unsafe { libc::setpgid(pid, pid) };
        return Ok(Pid::from_raw(pid).expect("UNWRAP: fork returns a positive pid to the parent"));
    }

    // ---- child: async-signal-safe from here on ----
    // Default dispositions first, then the (empty) mask: no handler of the
    // parent can run here.
    if let Err(e) = crate::signal::reset_all() {
        child_error(b"couldn't reset signals", e.raw_os_error().unwrap_or(0));
    }
    // SAFETY: setpgid with integer arguments.
    if unsafe { libc::setpgid(0, 0) } != 0 {
        child_error(b"couldn't set the process group", errno());
    }
    if let Some(fd) = cgroup_fd {
        // Writing "0" moves the writer itself into the cgroup.
        // SAFETY: fd is open (the parent holds it until spawn returns); the
        // buffer is a live one-byte slice.
        if unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } != 1 {
            child_error(b"couldn't join the cgroup", errno());
        }
    }
    // Move the descriptors onto 0, 1, 2. They were created after 0..2 were
    // open, so none of them is itself 0..2; fd::dup2 would clear CLOEXEC if
    // one were.
    for (target, &fd) in fds.iter().enumerate() {
        // SAFETY: the descriptor stays open until exec (the parent holds it).
        let src = unsafe { BorrowedFd::borrow_raw(fd) };
        if let Err(e) = crate::fd::dup2(src, target as libc::c_int) {
            child_error(
                b"couldn't redirect standard streams",
                e.raw_os_error().unwrap_or(0),
            );
        }
    }
    // SAFETY: close_range takes integer arguments; failure (old kernel) is
    // harmless because every descriptor of the parent is CLOEXEC.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };

    if let Some(cred) = req.credentials {
        // The same drop as the daemon's, checked the same way: ids all
        // changed, root cannot be regained.
        if let Err(f) = crate::cred::set_ids(&cred.groups, cred.uid, cred.gid) {
            let why = match f {
                DropFailure::Call(e) => errno_name(e),
                DropFailure::NotTaken => b"privilege drop did not take",
            };
            child_write(&[
                b"supervisor: couldn't setuid to ",
                &uid_text[..uid_len],
                b": ",
                why,
                b"\n",
            ]);
            child_fail();
        }
    }
    if let Some(sig) = death_signal {
        // After the privilege drop: a change of credentials clears it.
        // SAFETY: prctl(PR_SET_PDEATHSIG) takes integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) } != 0 {
            child_error(b"couldn't set the parent death signal", errno());
        }
        // The parent may have died before the prctl: then we were already
        // reparented and the signal will never come.
        // SAFETY: getppid, getpid and kill take no pointers; _exit never
        // returns.
        unsafe {
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), sig);
                libc::_exit(127);
            }
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

/// Reports `what: ERRNO` on fd 2 and fails the spawn. Async-signal-safe.
fn child_error(what: &[u8], e: i32) -> ! {
    child_write(&[b"supervisor: ", what, b": ", errno_name(e), b"\n"]);
    child_fail()
}

/// Blocks every signal in the calling thread; returns the previous mask.
fn block_all_signals() -> std::io::Result<libc::sigset_t> {
    // SAFETY: both sets are initialised (sigfillset / written by the call)
    // before they are read.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&raw mut all);
        match libc::pthread_sigmask(libc::SIG_SETMASK, &raw const all, &raw mut old) {
            0 => Ok(old),
            e => Err(std::io::Error::from_raw_os_error(e)),
        }
    }
}

/// Puts back a mask saved by [`block_all_signals`].
fn restore_signal_mask(mask: &libc::sigset_t) {
    // SAFETY: mask is a valid sigset_t; the old mask is not requested.
    // pthread_sigmask cannot fail with a valid `how` and set.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) };
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
