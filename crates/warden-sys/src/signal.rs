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

/// The other `SIG*` attributes of Python's `signal` module (handler values
/// and `sigprocmask` hows, without their `SIG` prefix): supervisord's
/// `signal_number` accepts them as names and their values as numbers.
const PYTHON_NON_SIGNALS: &[(&str, i32)] = &[
    ("_DFL", 0),
    ("_IGN", 1),
    ("_BLOCK", libc::SIG_BLOCK),
    ("_UNBLOCK", libc::SIG_UNBLOCK),
    ("_SETMASK", libc::SIG_SETMASK),
];

/// The conventional name of a signal number, without `SIG`: the table above,
/// then `RTMIN` and `RTMAX` (which Python's `signal` module also names).
fn table_name(n: i32) -> Option<&'static str> {
    if let Some((name, _)) = NAMES.iter().find(|(_, v)| *v == n) {
        return Some(name);
    }
    if n == libc::SIGRTMIN() {
        return Some("RTMIN");
    }
    (n == libc::SIGRTMAX()).then_some("RTMAX")
}

/// The number Python's `signal` module gives `SIG` + `name` (`name` upper
/// case, without the prefix).
fn python_attribute(name: &str) -> Option<i32> {
    match name {
        "RTMIN" => Some(libc::SIGRTMIN()),
        "RTMAX" => Some(libc::SIGRTMAX()),
        _ => NAMES
            .iter()
            .chain(ALIASES)
            .chain(PYTHON_NON_SIGNALS)
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v),
    }
}

/// Python's `int(s)` for a base-10 string: surrounding whitespace, a sign,
/// single `_` between digits. `Err(())` when it is not an integer; an
/// integer too large for `i64` is `Ok(None)` (Python has it, no signal does).
///
/// Hand-written: no crate parses Python's integer literal rules, and
/// warden-sys depends on nothing but libc.
fn python_int(s: &str) -> Result<Option<i64>, ()> {
    let t = s.trim_matches(char::is_whitespace);
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let well_formed = !body.is_empty()
        && !body.starts_with('_')
        && !body.ends_with('_')
        && !body.contains("__")
        && body.bytes().all(|b| b == b'_' || b.is_ascii_digit());
    if !well_formed {
        return Err(());
    }
    let digits: String = body.chars().filter(|&c| c != '_').collect();
    Ok(digits.parse::<i64>().ok().map(|v| if neg { -v } else { v }))
}

/// Why supervisord's `signal_number` refuses a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisordSignalError {
    /// Not an integer, and `SIG` + its upper case is no attribute of
    /// Python's `signal` module (`value 'FOO' is not a valid signal name`).
    BadName,
    /// An integer no attribute of the module has (`... not a valid signal
    /// number`).
    BadNumber,
}

impl Signal {
    /// supervisord 4.3.0's `signal_number`: an integer in Python's `int()`
    /// forms, or a name with or without `SIG`, in any case, surrounded by
    /// whitespace or not. The number must be the value of one of the
    /// `SIG*` attributes of Python's `signal` module, which on Linux admits
    /// 0, 1 and 2 through `SIG_DFL`, `SIG_IGN` and `SIG_SETMASK`; so the
    /// result is a raw number, not always a [`Signal`].
    ///
    /// # Errors
    ///
    /// [`SupervisordSignalError`] says which of supervisord's two messages
    /// applies.
    pub fn supervisord_number(s: &str) -> Result<i32, SupervisordSignalError> {
        let num = match python_int(s) {
            Ok(n) => n,
            Err(()) => {
                let upper = s.trim_matches(char::is_whitespace).to_uppercase();
                let name = upper.strip_prefix("SIG").unwrap_or(&upper);
                let n = python_attribute(name).ok_or(SupervisordSignalError::BadName)?;
                Some(i64::from(n))
            }
        };
        num.and_then(|n| i32::try_from(n).ok())
            .filter(|&n| {
                table_name(n).is_some()
                    || ALIASES
                        .iter()
                        .chain(PYTHON_NON_SIGNALS)
                        .any(|(_, v)| *v == n)
            })
            .ok_or(SupervisordSignalError::BadNumber)
    }

    /// [`Signal::supervisord_number`], restricted to real signals (what a
    /// `signalProcess` call can send).
    ///
    /// # Errors
    ///
    /// As [`Signal::supervisord_number`]; a value it accepts that is no
    /// signal (0) is [`SupervisordSignalError::BadNumber`].
    pub fn from_supervisord_name(s: &str) -> Result<Signal, SupervisordSignalError> {
        Signal::from_raw(Self::supervisord_number(s)?).ok_or(SupervisordSignalError::BadNumber)
    }

    /// supervisord's `signame`: `SIGTERM`, `SIGRTMIN`, or `signal 35` for a
    /// number with no name of its own.
    #[must_use]
    pub fn signame(self) -> String {
        signame(self.0)
    }
}

/// supervisord's `signame` for any raw number: `SIGTERM`, or `signal N`
/// when the number has no name.
#[must_use]
pub fn signame(n: i32) -> String {
    match table_name(n) {
        Some(name) => format!("SIG{name}"),
        None => format!("signal {n}"),
    }
}

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

    /// The name without the `SIG` prefix (`TERM`, `RTMIN`, `RTMAX`), or
    /// `RTMIN+n` / the number.
    #[must_use]
    pub fn name(self) -> String {
        if let Some(name) = table_name(self.0) {
            return name.to_string();
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
        match name {
            "RTMIN" => Ok(Signal(libc::SIGRTMIN())),
            "RTMAX" => Ok(Signal(libc::SIGRTMAX())),
            _ => Err(err()),
        }
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
    fn supervisord_signal_number() {
        use SupervisordSignalError::{BadName, BadNumber};
        let n = Signal::supervisord_number;
        for (text, want) in [
            ("TERM", 15),
            ("sigterm", 15),
            (" usr1 ", 10),
            ("9", 9),
            ("+1_5", 15),
            ("0", 0),
            ("sig_dfl", 0),
            ("IOT", 6),
            ("cld", 17),
            ("RTMIN", libc::SIGRTMIN()),
            ("SIGRTMAX", libc::SIGRTMAX()),
        ] {
            assert_eq!(n(text), Ok(want), "{text:?}");
        }
        for (text, want) in [
            ("FOO", BadName),
            ("", BadName),
            ("RTMIN+1", BadName),
            ("1__5", BadName),
            ("99", BadNumber),
            ("-15", BadNumber),
            ("35", BadNumber),
            ("99999999999999999999999", BadNumber),
        ] {
            assert_eq!(n(text), Err(want), "{text:?}");
        }
        assert_eq!(Signal::from_supervisord_name("hup"), Ok(Signal::HUP));
        assert_eq!(Signal::from_supervisord_name("0"), Err(BadNumber));
    }

    #[test]
    fn supervisord_signames() {
        assert_eq!(Signal::TERM.signame(), "SIGTERM");
        assert_eq!(signame(6), "SIGABRT");
        assert_eq!(signame(17), "SIGCHLD");
        assert_eq!(signame(libc::SIGRTMIN()), "SIGRTMIN");
        assert_eq!(signame(libc::SIGRTMAX()), "SIGRTMAX");
        assert_eq!(
            signame(libc::SIGRTMIN() + 1),
            format!("signal {}", libc::SIGRTMIN() + 1)
        );
        assert_eq!(signame(0), "signal 0");
    }

    #[test]
    fn names_round_trip() {
        for n in 1..=Signal::max() {
            let s = Signal::from_raw(n).unwrap();
            assert_eq!(s.name().parse::<Signal>().unwrap(), s, "{n}");
        }
    }
}
