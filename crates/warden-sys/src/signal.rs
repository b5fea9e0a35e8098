//! Signals: a validated number with names, delivery, and the reset of
//! dispositions and mask that a daemon or exec'd child must start from.

use std::fmt;
use std::str::FromStr;

use crate::{cvt, Pid};

/// A valid signal number (1..=SIGRTMAX).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signal(i32);

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Aliases accepted on input only.
const ALIASES: &[(&str, i32)] = &[
    ("IOT", libc::SIGABRT),
    ("POLL", libc::SIGIO),
    ("CLD", libc::SIGCHLD),
];

impl Signal {
    pub const HUP: Signal = Signal(libc::SIGHUP);
    pub const INT: Signal = Signal(libc::SIGINT);
    pub const QUIT: Signal = Signal(libc::SIGQUIT);
    pub const KILL: Signal = Signal(libc::SIGKILL);
    pub const USR1: Signal = Signal(libc::SIGUSR1);
    pub const USR2: Signal = Signal(libc::SIGUSR2);
    pub const TERM: Signal = Signal(libc::SIGTERM);
    pub const CHLD: Signal = Signal(libc::SIGCHLD);
    pub const CONT: Signal = Signal(libc::SIGCONT);
    pub const STOP: Signal = Signal(libc::SIGSTOP);
    pub const ALRM: Signal = Signal(libc::SIGALRM);

    /// The highest valid signal number (SIGRTMAX; 64 on Linux).
    #[must_use]
    pub fn max() -> i32 {
        libc::SIGRTMAX()
    }

    /// Validates a raw signal number.
    #[must_use]
    pub fn from_raw(n: i32) -> Option<Signal> {
        (1..=Self::max()).contains(&n).then_some(Signal(n))
    }

    /// The raw number.
    #[must_use]
    pub fn as_raw(self) -> i32 {
        self.0
    }

    /// The name without the `SIG` prefix (`TERM`), or `RTMIN+n` / the number.
    #[must_use]
    pub fn name(self) -> String {
        if let Some((name, _)) = NAMES.iter().find(|(_, n)| *n == self.0) {
            return (*name).to_string();
        }
        let rtmin = libc::SIGRTMIN();
        if self.0 >= rtmin {
            return format!("RTMIN+{}", self.0 - rtmin);
        }
        self.0.to_string()
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Error for [`Signal::from_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseSignalError(pub String);

impl fmt::Display for ParseSignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown signal {:?}", self.0)
    }
}

impl std::error::Error for ParseSignalError {}

impl FromStr for Signal {
    type Err = ParseSignalError;

    /// Accepts `TERM`, `SIGTERM`, `term`, `15`, `-15`, `RTMIN+2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseSignalError(s.to_string());
        let t = s.trim();
        let num = t.strip_prefix('-').unwrap_or(t);
        if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
            return num.parse().ok().and_then(Signal::from_raw).ok_or_else(err);
        }
        let upper = t.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some((_, n)) = NAMES.iter().chain(ALIASES).find(|(k, _)| *k == name) {
            return Ok(Signal(*n));
        }
        if let Some(off) = name.strip_prefix("RTMIN+") {
            let off: i32 = off.parse().map_err(|_| err())?;
            return Signal::from_raw(libc::SIGRTMIN() + off).ok_or_else(err);
        }
        if name == "RTMIN" {
            return Ok(Signal(libc::SIGRTMIN()));
        }
        Err(err())
    }
}

/// `kill(pid, sig)`: signals one process. Async-signal-safe.
pub fn kill_process(pid: Pid, sig: Signal) -> std::io::Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions; pid is positive, so
    // it names exactly one process (never a group or "all").
    cvt(unsafe { libc::kill(pid.as_raw(), sig.as_raw()) }).map(drop)
}

/// `kill(-pgid, sig)`: signals every process of the process group `pgid`.
/// Async-signal-safe.
pub fn kill_process_group(pgid: Pid, sig: Signal) -> std::io::Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions; a negated positive
    // pgid names exactly that group.
    cvt(unsafe { libc::kill(-pgid.as_raw(), sig.as_raw()) }).map(drop)
}

/// Resets the disposition of every signal (1..=SIGRTMAX, except KILL and STOP,
/// which cannot be changed) to `SIG_DFL`, and empties the signal mask of the
/// calling thread. systemd daemon(7) steps 2 and 3.
///
/// Async-signal-safe: only `sigaction` and `sigprocmask` are called.
pub fn reset_all() -> std::io::Result<()> {
    for n in 1..=libc::SIGRTMAX() {
        if n == libc::SIGKILL || n == libc::SIGSTOP {
            continue;
        }
        // SAFETY: a zeroed sigaction with sa_sigaction = SIG_DFL is a valid
        // argument; the old action is not requested (null).
        let ret = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&raw mut sa.sa_mask);
            libc::sigaction(n, &raw const sa, std::ptr::null_mut())
        };
        if ret == -1 {
            let err = std::io::Error::last_os_error();
            // glibc refuses to touch the two real-time signals it reserves (32
            // and 33), but a caller can still hand them over *ignored*, and an
            // ignored disposition survives exec. Reset them with the raw call.
            if err.raw_os_error() != Some(libc::EINVAL) || raw_sigaction_default(n).is_err() {
                return Err(err);
            }
        }
    }
    unblock_all()
}

/// `rt_sigaction(sig, SIG_DFL)` bypassing the C library. Async-signal-safe.
fn raw_sigaction_default(sig: i32) -> std::io::Result<()> {
    // The kernel's struct sigaction: handler, flags, restorer, mask. All zero
    // is SIG_DFL with no flags and an empty mask (the restorer is unused
    // without a handler), whatever the architecture's field order.
    let act = [0u64; 4];
    // SAFETY: act is a valid, fully initialised kernel sigaction; the old
    // action is not requested; the size is that of the kernel sigset (8 bytes).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            act.as_ptr(),
            std::ptr::null_mut::<libc::c_void>(),
            8usize,
        )
    };
    cvt(ret as libc::c_int).map(drop)
}

/// Empties the signal mask of the calling thread. Async-signal-safe.
pub fn unblock_all() -> std::io::Result<()> {
    // SAFETY: the set is initialised by sigemptyset before use; the old mask is
    // not requested.
    let ret = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &raw const set, std::ptr::null_mut())
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(ret))
    }
}

/// Sets a signal's disposition to "ignore" (used by tests and by callers that
/// want to show that dispositions are reset).
pub fn ignore(sig: Signal) -> std::io::Result<()> {
    // SAFETY: setting SIG_IGN installs no handler code.
    let ret = unsafe { libc::signal(sig.as_raw(), libc::SIG_IGN) };
    if ret == libc::SIG_ERR {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Adds `sig` to the calling thread's signal mask.
pub fn block(sig: Signal) -> std::io::Result<()> {
    // SAFETY: the set is initialised before use; the old mask is not requested.
    let ret = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut set);
        libc::sigaddset(&raw mut set, sig.as_raw());
        libc::pthread_sigmask(libc::SIG_BLOCK, &raw const set, std::ptr::null_mut())
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(ret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_and_prefixes() {
        for (text, n) in [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("term", 15),
            ("15", 15),
            ("-9", 9),
            ("KILL", 9),
            ("hup", 1),
            ("IOT", 6),
        ] {
            assert_eq!(text.parse::<Signal>().unwrap().as_raw(), n, "{text}");
        }
        assert_eq!(
            "RTMIN+1".parse::<Signal>().unwrap().as_raw(),
            libc::SIGRTMIN() + 1
        );
        for bad in ["", "0", "65", "FOO", "SIG", "-", "RTMIN+99"] {
            assert!(bad.parse::<Signal>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for n in 1..=Signal::max() {
            let s = Signal::from_raw(n).unwrap();
            assert_eq!(s.name().parse::<Signal>().unwrap(), s, "{n}");
        }
    }
}
