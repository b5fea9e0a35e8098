//! supervisord's fault codes and the [`Fault`] value.

use std::fmt;

use crate::value::{Struct, Value};

/// The fault codes of supervisord 4.3.0 (`supervisor.xmlrpc.Faults`).
///
/// [`name`](FaultCode::name) is the upper-case name that starts every fault
/// string; [`code`](FaultCode::code) is the integer sent as `faultCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultCode {
    /// 1: no such namespace or method, not exactly two name parts, or a `_private` name.
    UnknownMethod,
    /// 2: wrong arity or argument type; multicall misuse.
    IncorrectParameters,
    /// 3: bad offset/length combination for the `read*Log` calls.
    BadArguments,
    /// 4: `system.methodHelp`/`methodSignature` on an unknown method.
    SignatureUnsupported,
    /// 6: any `supervisor.*` call while the daemon is shutting down or restarting.
    ShutdownState,
    /// 10: unknown process or group.
    BadName,
    /// 11: invalid signal name or number.
    BadSignal,
    /// 20: command or log file not found; stdin gave EPIPE.
    NoFile,
    /// 21: command not executable.
    NotExecutable,
    /// 30: generic failure.
    Failed,
    /// 40: the process left STARTING without reaching RUNNING.
    AbnormalTermination,
    /// 50: `spawnerr` set after the spawn attempt.
    SpawnError,
    /// 60: start requested while STARTING, RUNNING or BACKOFF.
    AlreadyStarted,
    /// 70: stop/signal/stdin for a process that is not running (includes STOPPING for stop).
    NotRunning,
    /// 80: success; used only as the `status` of result-array entries.
    Success,
    /// 90: `addProcessGroup` on an active group.
    AlreadyAdded,
    /// 91: `removeProcessGroup` on a group with processes not stopped.
    StillRunning,
    /// 92: `reloadConfig` could not parse the config.
    CantReread,
}

impl FaultCode {
    /// Every code, in supervisord's declaration order.
    pub const ALL: [FaultCode; 18] = [
        FaultCode::UnknownMethod,
        FaultCode::IncorrectParameters,
        FaultCode::BadArguments,
        FaultCode::SignatureUnsupported,
        FaultCode::ShutdownState,
        FaultCode::BadName,
        FaultCode::BadSignal,
        FaultCode::NoFile,
        FaultCode::NotExecutable,
        FaultCode::Failed,
        FaultCode::AbnormalTermination,
        FaultCode::SpawnError,
        FaultCode::AlreadyStarted,
        FaultCode::NotRunning,
        FaultCode::Success,
        FaultCode::AlreadyAdded,
        FaultCode::StillRunning,
        FaultCode::CantReread,
    ];

    /// The integer sent as `faultCode` (or as a result entry's `status`).
    pub const fn code(self) -> i32 {
        match self {
            FaultCode::UnknownMethod => 1,
            FaultCode::IncorrectParameters => 2,
            FaultCode::BadArguments => 3,
            FaultCode::SignatureUnsupported => 4,
            FaultCode::ShutdownState => 6,
            FaultCode::BadName => 10,
            FaultCode::BadSignal => 11,
            FaultCode::NoFile => 20,
            FaultCode::NotExecutable => 21,
            FaultCode::Failed => 30,
            FaultCode::AbnormalTermination => 40,
            FaultCode::SpawnError => 50,
            FaultCode::AlreadyStarted => 60,
            FaultCode::NotRunning => 70,
            FaultCode::Success => 80,
            FaultCode::AlreadyAdded => 90,
            FaultCode::StillRunning => 91,
            FaultCode::CantReread => 92,
        }
    }

    /// The name that starts the fault string, e.g. `BAD_NAME`.
    pub const fn name(self) -> &'static str {
        match self {
            FaultCode::UnknownMethod => "UNKNOWN_METHOD",
            FaultCode::IncorrectParameters => "INCORRECT_PARAMETERS",
            FaultCode::BadArguments => "BAD_ARGUMENTS",
            FaultCode::SignatureUnsupported => "SIGNATURE_UNSUPPORTED",
            FaultCode::ShutdownState => "SHUTDOWN_STATE",
            FaultCode::BadName => "BAD_NAME",
            FaultCode::BadSignal => "BAD_SIGNAL",
            FaultCode::NoFile => "NO_FILE",
            FaultCode::NotExecutable => "NOT_EXECUTABLE",
            FaultCode::Failed => "FAILED",
            FaultCode::AbnormalTermination => "ABNORMAL_TERMINATION",
            FaultCode::SpawnError => "SPAWN_ERROR",
            FaultCode::AlreadyStarted => "ALREADY_STARTED",
            FaultCode::NotRunning => "NOT_RUNNING",
            FaultCode::Success => "SUCCESS",
            FaultCode::AlreadyAdded => "ALREADY_ADDED",
            FaultCode::StillRunning => "STILL_RUNNING",
            FaultCode::CantReread => "CANT_REREAD",
        }
    }

    /// The code for an integer, if supervisord defines one.
    pub fn from_code(code: i32) -> Option<FaultCode> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fault-string prefix for any integer code: the name, or `UNKNOWN`
/// for codes supervisord does not define (its `getFaultDescription`).
pub fn fault_name(code: i32) -> &'static str {
    FaultCode::from_code(code).map_or("UNKNOWN", FaultCode::name)
}

/// An XML-RPC fault: `{faultCode: int, faultString: string}`.
///
/// Faults built with [`Fault::new`] / [`Fault::with_detail`] follow
/// supervisord's convention: the string is `NAME` or `NAME: detail`.
/// Faults parsed from a response keep whatever string the server sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fault {code}: {string}")]
pub struct Fault {
    /// `faultCode`.
    pub code: i32,
    /// `faultString`.
    pub string: String,
}

impl Fault {
    /// A fault whose string is just the name, e.g. `UNKNOWN_METHOD`.
    pub fn new(code: FaultCode) -> Self {
        Fault {
            code: code.code(),
            string: code.name().to_owned(),
        }
    }

    /// A fault whose string is `NAME: detail`, e.g. `BAD_NAME: foo`.
    pub fn with_detail(code: FaultCode, detail: impl fmt::Display) -> Self {
        Fault {
            code: code.code(),
            string: format!("{}: {}", code.name(), detail),
        }
    }

    /// A fault with an arbitrary code and string, taken verbatim.
    pub fn raw(code: i32, string: impl Into<String>) -> Self {
        Fault {
            code,
            string: string.into(),
        }
    }

    /// The known code, if `code` is one of supervisord's.
    pub fn kind(&self) -> Option<FaultCode> {
        FaultCode::from_code(self.code)
    }

    /// The fault as the struct `{faultCode, faultString}`, in that order; this
    /// is also how a failed call appears inside a `system.multicall` result.
    pub fn to_value(&self) -> Value {
        Value::Struct(
            Struct::new()
                .with("faultCode", self.code)
                .with("faultString", self.string.as_str()),
        )
    }

    /// Reads `{faultCode: int, faultString: string}`; other members are ignored.
    pub fn from_value(value: &Value) -> Option<Fault> {
        let s = value.as_struct()?;
        Some(Fault {
            code: s.get("faultCode")?.as_i32()?,
            string: s.get("faultString")?.as_str()?.to_owned(),
        })
    }
}

impl From<FaultCode> for Fault {
    fn from(code: FaultCode) -> Self {
        Fault::new(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_supervisord() {
        let table: Vec<(i32, &str)> = FaultCode::ALL
            .iter()
            .map(|c| (c.code(), c.name()))
            .collect();
        assert_eq!(
            table,
            [
                (1, "UNKNOWN_METHOD"),
                (2, "INCORRECT_PARAMETERS"),
                (3, "BAD_ARGUMENTS"),
                (4, "SIGNATURE_UNSUPPORTED"),
                (6, "SHUTDOWN_STATE"),
                (10, "BAD_NAME"),
                (11, "BAD_SIGNAL"),
                (20, "NO_FILE"),
                (21, "NOT_EXECUTABLE"),
                (30, "FAILED"),
                (40, "ABNORMAL_TERMINATION"),
                (50, "SPAWN_ERROR"),
                (60, "ALREADY_STARTED"),
                (70, "NOT_RUNNING"),
                (80, "SUCCESS"),
                (90, "ALREADY_ADDED"),
                (91, "STILL_RUNNING"),
                (92, "CANT_REREAD"),
            ]
        );
        for c in FaultCode::ALL {
            assert_eq!(FaultCode::from_code(c.code()), Some(c));
        }
        assert_eq!(FaultCode::from_code(5), None);
    }

    #[test]
    fn fault_strings() {
        assert_eq!(
            Fault::new(FaultCode::UnknownMethod).string,
            "UNKNOWN_METHOD"
        );
        let f = Fault::with_detail(FaultCode::BadName, "foo");
        assert_eq!((f.code, f.string.as_str()), (10, "BAD_NAME: foo"));
        assert_eq!(f.kind(), Some(FaultCode::BadName));
        assert_eq!(fault_name(12345), "UNKNOWN");
        assert_eq!(fault_name(91), "STILL_RUNNING");
        assert_eq!(f.to_string(), "fault 10: BAD_NAME: foo");
        assert_eq!(Fault::from(FaultCode::Failed).string, "FAILED");
    }

    #[test]
    fn fault_value_round_trip() {
        let f = Fault::with_detail(FaultCode::BadName, "zz");
        let v = f.to_value();
        assert_eq!(
            v.as_struct().unwrap().keys().collect::<Vec<_>>(),
            ["faultCode", "faultString"]
        );
        assert_eq!(Fault::from_value(&v), Some(f));
        assert_eq!(Fault::from_value(&Value::Int(1)), None);
        assert_eq!(
            Fault::from_value(&Value::Struct(Struct::new().with("faultCode", 1))),
            None
        );
    }
}
