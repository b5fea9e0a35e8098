//! Processes: fork, sessions, `_exit`, reaping with decoded statuses, pidfds,
//! and facts read from `/proc`.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::{cvt, cvt_retry, Pid, Signal};

/// The result of [`fork`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkResult {
    /// In the parent: the child's pid.
    Parent(Pid),
    /// In the child.
    Child,
}

/// `fork(2)`.
///
/// # Safety
///
/// If the calling process has more than one thread, the child may only call
/// async-signal-safe functions until it `exec`s or `_exit`s (locks held by other
/// threads at the fork stay locked forever in the child, including the
/// allocator's). Callers must either check [`thread_count`] `== 1` first or
/// restrict the child accordingly. Buffered output (Rust's and C's stdio) is
/// duplicated into the child: flush before forking.
pub unsafe fn fork() -> std::io::Result<ForkResult> {
    // SAFETY: the caller upholds this function's contract (see # Safety).
    let ret = cvt(unsafe { libc::fork() })?;
    Ok(match Pid::from_raw(ret) {
        Some(pid) => ForkResult::Parent(pid),
        None => ForkResult::Child,
    })
}

/// `fork(2)` for a single-threaded process: safe, because it first checks
/// that the caller is the only thread (and with one thread, nobody can create
/// another between the check and the fork).
///
/// # Errors
///
/// [`ForkError::MultiThreaded`] when other threads exist; [`ForkError::Os`]
/// when the thread count cannot be read or `fork` fails.
pub fn fork_single_threaded() -> Result<ForkResult, ForkError> {
    let threads = thread_count().map_err(ForkError::Os)?;
    if threads != 1 {
        return Err(ForkError::MultiThreaded(threads));
    }
    // SAFETY: the process has exactly one thread (checked above, and only this
    // thread could have created another since), so the child is a complete copy
    // and may call anything.
    unsafe { fork() }.map_err(ForkError::Os)
}

/// Why [`fork_single_threaded`] did not fork.
#[derive(Debug)]
pub enum ForkError {
    /// The process has this many threads.
    MultiThreaded(usize),
    /// An OS error.
    Os(std::io::Error),
}

/// `setsid(2)`: new session and process group, no controlling terminal.
/// Async-signal-safe.
pub fn setsid() -> std::io::Result<Pid> {
    // SAFETY: setsid has no memory-safety preconditions.
    let sid = cvt(unsafe { libc::setsid() })?;
    Ok(Pid::from_raw(sid).expect("UNWRAP: setsid returns a positive session id"))
}

/// `_exit(2)`: ends the process at once, without atexit handlers, destructors
/// or stdio flushing (what intermediate processes of a fork must do).
/// Async-signal-safe.
pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Flushes every C stdio stream (`fflush(NULL)`), so that text a C library
/// buffered before a fork is not written twice.
pub fn flush_c_stdio() {
    // SAFETY: fflush(NULL) flushes all open output streams; no pointers passed.
    unsafe { libc::fflush(std::ptr::null_mut()) };
}

/// The number of threads of the calling process (entries of `/proc/self/task`).
pub fn thread_count() -> std::io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// Makes the calling process a child subreaper (`PR_SET_CHILD_SUBREAPER`):
/// orphaned descendants are re-parented to it instead of to PID 1, so it can
/// reap them and learn their exit status.
pub fn set_child_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes integer arguments only.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(drop)
}

/// How a process ended, decoded from a wait status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`.
    Code(i32),
    /// Killed by a signal.
    Signaled {
        /// The signal number.
        signal: i32,
        /// Whether a core was dumped.
        core_dumped: bool,
    },
    /// It ended, but its status could not be collected: it was not our
    /// child (a process adopted from a supervisor that crashed, watched
    /// through a pidfd).
    Unknown,
}

impl ExitStatus {
    fn decode(status: libc::c_int) -> Self {
        if libc::WIFSIGNALED(status) {
            ExitStatus::Signaled {
                signal: libc::WTERMSIG(status),
                core_dumped: libc::WCOREDUMP(status),
            }
        } else {
            ExitStatus::Code(libc::WEXITSTATUS(status))
        }
    }

    /// The shell convention: the exit code, or 128+N when killed by signal
    /// N; 255 when unknown.
    #[must_use]
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signaled { signal, .. } => 128 + signal,
            ExitStatus::Unknown => 255,
        }
    }

    /// True for `exit(0)`.
    #[must_use]
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit status {c}"),
            ExitStatus::Signaled {
                signal,
                core_dumped,
            } => {
                let name = Signal::from_raw(*signal).map_or(signal.to_string(), |s| s.name());
                write!(f, "killed by signal {signal} (SIG{name})")?;
                if *core_dumped {
                    f.write_str(", core dumped")?;
                }
                Ok(())
            }
            ExitStatus::Unknown => f.write_str("exit status unknown"),
        }
    }
}

/// Blocks until the child `pid` ends and reaps it (`waitpid(pid, 0)`).
pub fn wait(pid: Pid) -> std::io::Result<ExitStatus> {
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    cvt_retry(|| unsafe { libc::waitpid(pid.as_raw(), &raw mut status, 0) })?;
    Ok(ExitStatus::decode(status))
}

/// Reaps the child `pid` if it has ended (`WNOHANG`); `None` if still running.
pub fn try_wait(pid: Pid) -> std::io::Result<Option<ExitStatus>> {
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    let ret = cvt_retry(|| unsafe { libc::waitpid(pid.as_raw(), &raw mut status, libc::WNOHANG) })?;
    Ok((ret != 0).then(|| ExitStatus::decode(status)))
}

/// Reaps any ended child without blocking: `Some((pid, status))`, or `None`
/// when no child has ended (or there are no children).
pub fn try_wait_any() -> std::io::Result<Option<(Pid, ExitStatus)>> {
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    match cvt_retry(|| unsafe { libc::waitpid(-1, &raw mut status, libc::WNOHANG) }) {
        Ok(0) => Ok(None),
        Ok(pid) => Ok(Pid::from_raw(pid).map(|p| (p, ExitStatus::decode(status)))),
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A process file descriptor (`pidfd_open(2)`): a stable handle to one process
/// that cannot be confused with a later process reusing the pid. It becomes
/// readable when the process ends (a zombie counts as ended).
#[derive(Debug)]
pub struct PidFd(OwnedFd);

impl PidFd {
    /// Opens a pidfd for `pid`. Fails with `ESRCH` if no such process exists.
    pub fn open(pid: Pid) -> std::io::Result<PidFd> {
        // SAFETY: the pidfd_open system call takes a pid and flags; it returns a
        // new close-on-exec descriptor (pidfds are always CLOEXEC).
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
        let fd = cvt(fd as libc::c_int)?;
        // SAFETY: the descriptor is new and owned by nobody else.
        Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Sends `sig` to the process, race-free against pid reuse. `ESRCH` once
    /// it has ended.
    pub fn send_signal(&self, sig: Signal) -> std::io::Result<()> {
        // SAFETY: pidfd_send_signal with a null siginfo behaves like kill(2).
        let ret = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                sig.as_raw(),
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        cvt(ret as libc::c_int).map(drop)
    }

    /// Blocks until the process has ended (for a thread of its own: a
    /// process that is not our child sends no SIGCHLD).
    pub fn wait_end(&self) -> std::io::Result<()> {
        loop {
            let r = crate::fd::poll_read(&[self.0.as_fd()], None)?;
            if r[0].readable || r[0].hangup {
                return Ok(());
            }
        }
    }

    /// Waits up to `timeout` for the process to end; true if it has.
    pub fn wait_exit(&self, timeout: std::time::Duration) -> std::io::Result<bool> {
        let r = crate::fd::poll_read(&[self.0.as_fd()], Some(timeout))?;
        Ok(r[0].readable || r[0].hangup)
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// The scheduler state of a process from `/proc/<pid>/stat` (`R`, `S`, `Z`, ...),
/// or `None` if there is no such process.
#[must_use]
pub fn state(pid: Pid) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain ") ".
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// True if `pid` exists and is not a zombie. A zombie has exited; it only waits
/// for its parent (possibly a slow PID 1) to reap it.
#[must_use]
pub fn is_alive(pid: Pid) -> bool {
    !matches!(state(pid), None | Some('Z') | Some('X'))
}

/// `umask(2)`: sets the file mode creation mask, returning the old one.
/// Async-signal-safe.
pub fn umask(mask: u32) -> u32 {
    // SAFETY: umask has no preconditions and cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// The real user id of the calling process.
#[must_use]
pub fn getuid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// The effective user id of the calling process.
#[must_use]
pub fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// The effective group id of the calling process.
#[must_use]
pub fn getegid() -> u32 {
    // SAFETY: getegid cannot fail.
    unsafe { libc::getegid() }
}

/// `execvp(argv[0], argv)`: replaces the process image, searching `PATH`,
/// and changes nothing before (unlike `std::process::Command::exec`, which
/// resets the signal mask and SIGPIPE). Returns only on failure.
#[must_use]
pub fn execvp(argv: &[std::ffi::CString]) -> std::io::Error {
    if argv.is_empty() {
        return std::io::Error::from(std::io::ErrorKind::InvalidInput);
    }
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: ptrs is a NULL-terminated array of valid C strings that outlive
    // the call.
    unsafe { libc::execvp(ptrs[0], ptrs.as_ptr()) };
    std::io::Error::last_os_error()
}

/// A resource limit that supervisors adjust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// `RLIMIT_NOFILE`: open file descriptors.
    OpenFiles,
    /// `RLIMIT_NPROC`: processes of the real user.
    Processes,
}

/// `getrlimit`: `(soft, hard)`, with `u64::MAX` for "unlimited".
pub fn rlimit(l: Limit) -> std::io::Result<(u64, u64)> {
    // SAFETY: a zeroed rlimit is a valid out-parameter.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: rl is a valid out-pointer. (The constants are passed inline:
    // glibc and musl give the resource argument different types.)
    let ret = unsafe {
        match l {
            Limit::OpenFiles => libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut rl),
            Limit::Processes => libc::getrlimit(libc::RLIMIT_NPROC, &raw mut rl),
        }
    };
    cvt(ret)?;
    Ok((rl.rlim_cur as u64, rl.rlim_max as u64))
}

/// `setrlimit`: raising `hard` needs `CAP_SYS_RESOURCE`.
pub fn set_rlimit(l: Limit, soft: u64, hard: u64) -> std::io::Result<()> {
    let rl = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: rl is a valid, initialised rlimit.
    let ret = unsafe {
        match l {
            Limit::OpenFiles => libc::setrlimit(libc::RLIMIT_NOFILE, &raw const rl),
            Limit::Processes => libc::setrlimit(libc::RLIMIT_NPROC, &raw const rl),
        }
    };
    cvt(ret).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_display_and_shell_code() {
        assert_eq!(ExitStatus::Code(3).shell_code(), 3);
        let s = ExitStatus::Signaled {
            signal: 9,
            core_dumped: false,
        };
        assert_eq!(s.shell_code(), 137);
        assert_eq!(s.to_string(), "killed by signal 9 (SIGKILL)");
        assert_eq!(ExitStatus::Code(4).to_string(), "exit status 4");
    }

    #[test]
    fn decodes_real_wait_statuses() {
        // 3 << 8 is "exit 3": the classic bug passes 768 to exit() and gets 0.
        assert_eq!(ExitStatus::decode(3 << 8), ExitStatus::Code(3));
        assert_eq!(
            ExitStatus::decode(libc::SIGTERM),
            ExitStatus::Signaled {
                signal: 15,
                core_dumped: false
            }
        );
    }

    #[test]
    fn this_process_is_alive_and_pid_max_is_not() {
        assert!(is_alive(Pid::this()));
        assert_eq!(state(Pid::from_raw(i32::MAX).unwrap()), None);
    }
}
