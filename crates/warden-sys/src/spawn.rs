//! Spawning a supervised child: a `clone(CLONE_VM | CLONE_VFORK)` + exec, as
//! `posix_spawn` does it, with only async-signal-safe calls between the two.
//!
//! Everything the child needs (the program path, `argv`, `envp` and their
//! pointer arrays, the directory, credentials, the messages it may print) is
//! built by [`spawn`] *before* the clone, so the child side allocates
//! nothing, takes no lock and drops nothing: it runs raw system calls and
//! `_exit`s. That makes it safe to use from a multi-threaded parent (a tokio
//! runtime). The child shares the parent's memory until it execs (the
//! calling thread waits meanwhile), on a stack of its own: unlike a `fork`,
//! nothing of the parent's address space is copied, so a spawn costs the
//! same for a supervisor of 10 or of 5000 programs. Its credentials change
//! by raw system calls: the C library's wrappers would signal the
//! parent's threads, which they take for the child's own.
//!
//! Every signal is blocked across the clone (the parent then restores its mask),
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
    // Everything below is prepared before the clone: pointer arrays and texts.
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
    let mut uid_text = [0u8; 12];
    let uid_len = req
        .credentials
        .map_or(0, |c| itoa(i64::from(c.uid), &mut uid_text));
    let child = Child {
        req,
        argv: &argv,
        envp: &envp,
        argv0: req.argv.first().map_or(b"", |a| a.as_bytes()),
        dir: req.directory.map_or(b"", CStr::to_bytes),
        uid_text,
        uid_len,
        fds: [
            req.stdin.as_raw_fd(),
            req.stdout.as_raw_fd(),
            req.stderr.as_raw_fd(),
        ],
        cgroup_fd: req.cgroup_procs.map(|f| f.as_raw_fd()),
        death_signal: req.death_signal.map(crate::Signal::as_raw),
        // SAFETY: getpid has no preconditions and cannot fail.
        parent: unsafe { libc::getpid() },
    };
    let stack = ChildStack::new()?;

    // Every signal stays blocked across the clone: a signal arriving in
    // this window must not run one of the parent's handlers in the child
    // (which shares the parent's memory). The parent restores its mask; the
    // child resets dispositions, then unblocks.
    let saved_mask = block_all_signals()?;
    // SAFETY: CLONE_VM | CLONE_VFORK, as posix_spawn does: the child runs
    // `child_entry` on its own stack (`stack`, with a guard page) in the
    // parent's memory while this thread is suspended until the child execs
    // or exits, so `child` and everything it borrows stay alive and
    // unchanged. The child only performs async-signal-safe system calls on
    // that prepared memory (no allocation, no locks, no drops, no unwinding)
    // and ends in execve or _exit. Without CLONE_SIGHAND its signal
    // dispositions are its own copy, which it resets. SIGCHLD makes it an
    // ordinary child for waitpid. Not sharing the parent's page tables is
    // the point: a fork copies them, and every page the parent then writes
    // faults (COW), which made each spawn of a large supervisor cost
    // hundreds of microseconds.
    let cloned = cvt(unsafe {
        libc::clone(
            child_entry,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw const child).cast_mut().cast(),
        )
    });
    restore_signal_mask(&saved_mask);
    drop(stack);
    let pid = cloned?;
    // The child makes itself a group leader too; doing it here as well
    // means the group exists when `spawn` returns, so a group kill right
    // away cannot miss. Once the child has exec'd (it has, or has exited,
    // when clone returns) the call fails with EACCES (or ESRCH): nothing to
    // do then.
    // SAFETY: setpgid with integer arguments.
    unsafe { libc::setpgid(pid, pid) };
    Ok(Pid::from_raw(pid).expect("UNWRAP: clone returns a positive pid to the parent"))
}

/// What the child of [`spawn`] needs, prepared before the clone.
struct Child<'a> {
    req: &'a SpawnRequest<'a>,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    argv0: &'a [u8],
    dir: &'a [u8],
    uid_text: [u8; 12],
    uid_len: usize,
    fds: [libc::c_int; 3],
    cgroup_fd: Option<libc::c_int>,
    death_signal: Option<libc::c_int>,
    parent: libc::pid_t,
}

/// The child's stack: mapped for one spawn, with an inaccessible guard page
/// below it, so an overflow faults instead of writing into the parent's
/// memory.
struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    /// 64 KiB (the child uses a few): far more than the child needs.
    const SIZE: usize = 64 * 1024;
    const GUARD: usize = 4096;

    fn new() -> std::io::Result<ChildStack> {
        let len = Self::SIZE + Self::GUARD;
        // SAFETY: an anonymous private mapping; no pointer is passed in.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the first page of the mapping just made (stacks grow down).
        cvt(unsafe { libc::mprotect(base, Self::GUARD, libc::PROT_NONE) })?;
        Ok(stack)
    }

    /// The highest address (16-byte aligned: the mapping is page-aligned).
    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of the mapping, which clone wants.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no longer used: the child has
        // exec'd or exited (CLONE_VFORK) when the parent gets here.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// The child side of [`spawn`]: `arg` is its [`Child`].
extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `spawn` passes a pointer to its `Child`, which outlives the
    // child's use of it (the parent is suspended until exec or exit).
    let c = unsafe { &*arg.cast_const().cast::<Child<'_>>() };
    child_main(c)
}

/// Async-signal-safe from start to end, in the parent's memory.
fn child_main(c: &Child<'_>) -> ! {
    // Default dispositions first, then the (empty) mask: no handler of the
    // parent can run here.
    if let Err(e) = crate::signal::reset_all() {
        child_error(b"couldn't reset signals", e.raw_os_error().unwrap_or(0));
    }
    // SAFETY: setpgid with integer arguments.
    if unsafe { libc::setpgid(0, 0) } != 0 {
        child_error(b"couldn't set the process group", errno());
    }
    if let Some(fd) = c.cgroup_fd {
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
    for (target, &fd) in c.fds.iter().enumerate() {
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

    if let Some(cred) = c.req.credentials {
        // The same drop as the daemon's, checked the same way: ids all
        // changed, root cannot be regained.
        if let Err(f) =
            crate::cred::set_ids(&cred.groups, cred.uid, cred.gid, crate::cred::Via::Kernel)
        {
            let why = match f {
                DropFailure::Call(e) => errno_name(e),
                DropFailure::NotTaken => b"privilege drop did not take",
            };
            child_write(&[
                b"supervisor: couldn't setuid to ",
                &c.uid_text[..c.uid_len],
                b": ",
                why,
                b"\n",
            ]);
            child_fail();
        }
    }
    if let Some(sig) = c.death_signal {
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
            if libc::getppid() != c.parent {
                libc::kill(libc::getpid(), sig);
                libc::_exit(127);
            }
        }
    }
    if let Some(d) = c.req.directory {
        // SAFETY: d is a valid NUL-terminated string.
        if unsafe { libc::chdir(d.as_ptr()) } != 0 {
            let e = errno();
            child_write(&[
                b"supervisor: couldn't chdir to ",
                c.dir,
                b": ",
                errno_name(e),
                b"\n",
            ]);
            child_fail();
        }
    }
    if let Some(mask) = c.req.umask {
        // SAFETY: umask has no preconditions.
        unsafe { libc::umask(mask as libc::mode_t) };
    }
    // SAFETY: program, argv and envp are valid NUL-terminated strings and
    // NULL-terminated pointer arrays that outlive the call.
    unsafe { libc::execve(c.req.program.as_ptr(), c.argv.as_ptr(), c.envp.as_ptr()) };
    let e = errno();
    child_write(&[
        b"supervisor: couldn't exec ",
        c.argv0,
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
