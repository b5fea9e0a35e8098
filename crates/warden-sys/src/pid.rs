//! Process ids that can never be 0 or negative.
//!
//! `kill(0, ..)` signals the caller's process group and `kill(-1, ..)` every
//! process the caller may signal; a corrupt pidfile must never reach either.
//! [`Pid`] makes both unrepresentable, and group signalling is a separate,
//! named function ([`crate::signal::kill_process_group`]).

use std::fmt;
use std::num::NonZeroI32;
use std::str::FromStr;

/// A positive process id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(NonZeroI32);

impl Pid {
    /// Returns `Some` for a positive raw pid, `None` for 0 and negatives.
    #[must_use]
    pub fn from_raw(raw: i32) -> Option<Self> {
        if raw > 0 {
            NonZeroI32::new(raw).map(Pid)
        } else {
            None
        }
    }

    /// The pid of the calling process.
    #[must_use]
    pub fn this() -> Self {
        Pid::from_raw(std::process::id() as i32).expect("UNWRAP: getpid() is positive")
    }

    /// The raw value, always positive.
    #[must_use]
    pub fn as_raw(self) -> i32 {
        self.0.get()
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Error for [`Pid::from_str`]: the text is not a positive decimal pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsePidError;

impl fmt::Display for ParsePidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a positive decimal process id")
    }
}

impl std::error::Error for ParsePidError {}

impl FromStr for Pid {
    type Err = ParsePidError;

    /// Parses pidfile content: decimal digits, optionally followed by one `\n`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_suffix('\n').unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParsePidError);
        }
        digits
            .parse::<i32>()
            .ok()
            .and_then(Pid::from_raw)
            .ok_or(ParsePidError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pidfile_content() {
        assert_eq!("123\n".parse::<Pid>().unwrap().as_raw(), 123);
        assert_eq!("7".parse::<Pid>().unwrap().as_raw(), 7);
        for bad in [
            "",
            "\n",
            "0\n",
            "-1\n",
            "+5",
            " 5",
            "5 \n",
            "5\n\n",
            "99999999999",
            "abc",
        ] {
            assert!(bad.parse::<Pid>().is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn zero_and_negative_are_unrepresentable() {
        assert!(Pid::from_raw(0).is_none());
        assert!(Pid::from_raw(-1).is_none());
        assert!(Pid::from_raw(1).is_some());
    }
}
