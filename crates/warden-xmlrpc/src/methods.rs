//! The method table of supervisord 4.3.0, name validation and arity checks.
//!
//! [`METHODS`] lists the 41 names exactly as `system.listMethods` returns them
//! (Python's `sorted()`, i.e. byte order, so `getAPIVersion` sorts before
//! `getAllConfigInfo`), including the five aliases. The parameter names, types
//! and defaults match supervisord's Python signatures, so
//! [`MethodSpec::signature`] gives the same lists as its
//! `system.methodSignature`.
//!
//! The help text (`system.methodHelp`) is warden's own wording in the same
//! JavaDoc-like layout as supervisord's docstrings (a summary, then
//! `@param type name text` and `@return type result text` lines), so that the
//! signature could be re-derived from it the way supervisord does. It is not
//! supervisord's docstring text verbatim.

use std::fmt::Write as _;

use crate::fault::{Fault, FaultCode};
use crate::value::Value;

/// The namespace part of a method name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// `supervisor.*`
    Supervisor,
    /// `system.*`
    System,
}

/// A method, with the aliases folded onto their targets (36 in all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    GetApiVersion,
    GetSupervisorVersion,
    GetIdentification,
    GetState,
    GetPid,
    ReadLog,
    ClearLog,
    Shutdown,
    Restart,
    ReloadConfig,
    AddProcessGroup,
    RemoveProcessGroup,
    GetProcessInfo,
    GetAllProcessInfo,
    GetAllConfigInfo,
    StartProcess,
    StartProcessGroup,
    StartAllProcesses,
    StopProcess,
    StopProcessGroup,
    StopAllProcesses,
    SignalProcess,
    SignalProcessGroup,
    SignalAllProcesses,
    SendProcessStdin,
    SendRemoteCommEvent,
    ReadProcessStdoutLog,
    ReadProcessStderrLog,
    TailProcessStdoutLog,
    TailProcessStderrLog,
    ClearProcessLogs,
    ClearAllProcessLogs,
    ListMethods,
    MethodHelp,
    MethodSignature,
    Multicall,
}

impl Method {
    /// The namespace the method lives in.
    pub fn namespace(self) -> Namespace {
        match self {
            Method::ListMethods
            | Method::MethodHelp
            | Method::MethodSignature
            | Method::Multicall => Namespace::System,
            _ => Namespace::Supervisor,
        }
    }

    /// Whether supervisord refuses the call with `SHUTDOWN_STATE` (6) while it
    /// is shutting down or restarting: every `supervisor.*` method except
    /// `sendRemoteCommEvent`, which does not check.
    pub fn checks_shutdown_state(self) -> bool {
        self.namespace() == Namespace::Supervisor && self != Method::SendRemoteCommEvent
    }

    /// The primary (non-alias) name, e.g. `supervisor.getAPIVersion` for
    /// [`Method::GetApiVersion`].
    pub fn name(self) -> &'static str {
        METHODS
            .iter()
            .find(|s| s.method == self && s.alias_of.is_none())
            .map_or("", |s| s.name)
    }
}

/// One parameter of a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The Python parameter name.
    pub name: &'static str,
    /// The XML-RPC type name used in signatures (`string`, `int`, `boolean`, `array`).
    pub ty: &'static str,
    /// For an optional parameter, its default (all are `wait=true` booleans).
    pub default: Option<bool>,
    /// A short description for the help text.
    pub doc: &'static str,
}

/// One row of the method table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSpec {
    /// The full dotted name, e.g. `supervisor.startProcess`.
    pub name: &'static str,
    /// What the name calls.
    pub method: Method,
    /// For an alias, the name it stands for.
    pub alias_of: Option<&'static str>,
    /// The parameters, in order.
    pub params: &'static [Param],
    /// The return type name.
    pub returns: &'static str,
    /// The help summary.
    pub summary: &'static str,
    /// What the return value is, for the help text.
    pub returns_doc: &'static str,
}

impl MethodSpec {
    /// The fewest parameters the method takes.
    pub fn min_params(&self) -> usize {
        self.params.iter().filter(|p| p.default.is_none()).count()
    }

    /// The most parameters the method takes.
    pub fn max_params(&self) -> usize {
        self.params.len()
    }

    /// Checks a parameter count.
    ///
    /// # Errors
    ///
    /// `INCORRECT_PARAMETERS` (2) if the method does not take `count` parameters.
    pub fn check_arity(&self, count: usize) -> Result<(), Fault> {
        if (self.min_params()..=self.max_params()).contains(&count) {
            Ok(())
        } else {
            Err(Fault::new(FaultCode::IncorrectParameters))
        }
    }

    /// `[rtype, ptype...]`, as `system.methodSignature` returns it.
    pub fn signature(&self) -> Vec<&'static str> {
        std::iter::once(self.returns)
            .chain(self.params.iter().map(|p| p.ty))
            .collect()
    }

    /// The `system.methodHelp` text.
    pub fn help(&self) -> String {
        let mut out = format!(" {}\n\n", self.summary);
        for p in self.params {
            let _ = write!(out, "        @param {} {}  {}", p.ty, p.name, p.doc);
            if let Some(d) = p.default {
                let _ = write!(out, " (default {})", if d { "true" } else { "false" });
            }
            out.push('\n');
        }
        let _ = write!(
            out,
            "        @return {} result  {}\n        ",
            self.returns, self.returns_doc
        );
        out
    }
}

/// Checks a method name and parameter count the way supervisord's
/// `traverse` does, returning the method's table row.
///
/// # Errors
///
/// - `UNKNOWN_METHOD` (1) if the name does not have exactly two dotted parts
///   (the CVE-2017-11610 hardening), if the method part starts with `_`, or
///   if no such method exists.
/// - `INCORRECT_PARAMETERS` (2) if the parameter count is outside what the
///   method accepts (Python's `TypeError` on the call).
///
/// The strings are the bare names, as supervisord sends them.
pub fn resolve(name: &str, param_count: usize) -> Result<&'static MethodSpec, Fault> {
    let spec = resolve_name(name)?;
    spec.check_arity(param_count)?;
    Ok(spec)
}

/// The name half of [`resolve`]: only the `UNKNOWN_METHOD` checks.
///
/// # Errors
///
/// `UNKNOWN_METHOD` (1), as described for [`resolve`].
pub fn resolve_name(name: &str) -> Result<&'static MethodSpec, Fault> {
    let mut parts = name.split('.');
    let (Some(_namespace), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Fault::new(FaultCode::UnknownMethod));
    };
    if method.starts_with('_') {
        return Err(Fault::new(FaultCode::UnknownMethod));
    }
    lookup(name).ok_or_else(|| Fault::new(FaultCode::UnknownMethod))
}

/// A call whose name and parameter count have been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedCall {
    /// The method's table row.
    pub spec: &'static MethodSpec,
    /// The parameters, already known to be of an accepted count.
    pub params: Vec<Value>,
}

impl ResolvedCall {
    /// What to run.
    pub fn method(&self) -> Method {
        self.spec.method
    }
}

/// [`resolve`] applied to a parsed call.
///
/// # Errors
///
/// As for [`resolve`].
pub fn resolve_call(call: crate::parse::MethodCall) -> Result<ResolvedCall, Fault> {
    let spec = resolve(&call.method, call.params.len())?;
    Ok(ResolvedCall {
        spec,
        params: call.params,
    })
}

/// The table row for an exact method name (aliases included).
pub fn lookup(name: &str) -> Option<&'static MethodSpec> {
    METHODS
        .binary_search_by(|s| s.name.cmp(name))
        .ok()
        .map(|i| &METHODS[i])
}

/// `system.listMethods`: all 41 names, sorted.
pub fn list_methods() -> Value {
    METHODS.iter().map(|s| s.name).collect()
}

/// `system.methodHelp(name)`.
///
/// # Errors
///
/// `SIGNATURE_UNSUPPORTED` (4) for an unknown name.
pub fn method_help(name: &str) -> Result<Value, Fault> {
    lookup(name)
        .map(|s| Value::String(s.help()))
        .ok_or_else(|| Fault::new(FaultCode::SignatureUnsupported))
}

/// `system.methodSignature(name)`.
///
/// # Errors
///
/// `SIGNATURE_UNSUPPORTED` (4) for an unknown name.
pub fn method_signature(name: &str) -> Result<Value, Fault> {
    lookup(name)
        .map(|s| s.signature().into_iter().collect())
        .ok_or_else(|| Fault::new(FaultCode::SignatureUnsupported))
}

const fn req(name: &'static str, ty: &'static str, doc: &'static str) -> Param {
    Param {
        name,
        ty,
        default: None,
        doc,
    }
}

const WAIT: Param = Param {
    name: "wait",
    ty: "boolean",
    default: Some(true),
    doc: "Wait for the operation to complete",
};
const NAME_PROC: Param = req("name", "string", "Process name, 'group:name' or 'group:*'");
const NAME_GROUP: Param = req("name", "string", "Name of the process group");
const SIGNAL: Param = req("signal", "string", "Signal name (e.g. 'HUP') or number");
const OFFSET: Param = req("offset", "int", "Offset to start reading from");
const LENGTH: Param = req("length", "int", "Number of bytes to read (0: to the end)");
const RESULTS: &str = "An array of {name, group, status, description} structs";

const READ_LOG: &[Param] = &[OFFSET, LENGTH];
const READ_PROC_LOG: &[Param] = &[NAME_PROC, OFFSET, LENGTH];

/// A row with the given fields; `alias_of` is filled in separately.
const fn spec(
    name: &'static str,
    method: Method,
    params: &'static [Param],
    returns: &'static str,
    summary: &'static str,
    returns_doc: &'static str,
) -> MethodSpec {
    MethodSpec {
        name,
        method,
        alias_of: None,
        params,
        returns,
        summary,
        returns_doc,
    }
}

const fn alias(name: &'static str, target: MethodSpec) -> MethodSpec {
    MethodSpec {
        name,
        alias_of: Some(target.name),
        ..target
    }
}

const GET_API_VERSION: MethodSpec = spec(
    "supervisor.getAPIVersion",
    Method::GetApiVersion,
    &[],
    "string",
    "Return the version of the RPC API used by the daemon.",
    "The API version, \"3.0\"",
);
const READ_LOG_SPEC: MethodSpec = spec(
    "supervisor.readLog",
    Method::ReadLog,
    READ_LOG,
    "string",
    "Read length bytes from the main log, starting at offset (a negative offset reads the last bytes).",
    "The bytes read",
);
const READ_STDOUT: MethodSpec = spec(
    "supervisor.readProcessStdoutLog",
    Method::ReadProcessStdoutLog,
    READ_PROC_LOG,
    "string",
    "Read length bytes from a process's stdout log, starting at offset.",
    "The bytes read",
);
const TAIL_STDOUT: MethodSpec = spec(
    "supervisor.tailProcessStdoutLog",
    Method::TailProcessStdoutLog,
    READ_PROC_LOG,
    "array",
    "Return the last bytes of a process's stdout log, with the offset to read from next.",
    "[string bytes, int offset, bool overflow]",
);
const CLEAR_PROCESS_LOGS: MethodSpec = spec(
    "supervisor.clearProcessLogs",
    Method::ClearProcessLogs,
    &[NAME_PROC],
    "boolean",
    "Clear the stdout and stderr logs of a process and reopen them.",
    "Always true unless error",
);

/// The 41 method names in `system.listMethods` order.
pub static METHODS: [MethodSpec; 41] = [
    spec(
        "supervisor.addProcessGroup",
        Method::AddProcessGroup,
        &[req("name", "string", "Name of the group to add")],
        "boolean",
        "Activate a process group from the configuration last read.",
        "True if added",
    ),
    spec(
        "supervisor.clearAllProcessLogs",
        Method::ClearAllProcessLogs,
        &[],
        "array",
        "Clear the log files of every process.",
        RESULTS,
    ),
    spec(
        "supervisor.clearLog",
        Method::ClearLog,
        &[],
        "boolean",
        "Clear the main log.",
        "Always true unless error",
    ),
    alias("supervisor.clearProcessLog", CLEAR_PROCESS_LOGS),
    CLEAR_PROCESS_LOGS,
    GET_API_VERSION,
    spec(
        "supervisor.getAllConfigInfo",
        Method::GetAllConfigInfo,
        &[],
        "array",
        "Return the configuration of every process, active or not.",
        "An array of process config structs",
    ),
    spec(
        "supervisor.getAllProcessInfo",
        Method::GetAllProcessInfo,
        &[],
        "array",
        "Return information about every process.",
        "An array of process info structs",
    ),
    spec(
        "supervisor.getIdentification",
        Method::GetIdentification,
        &[],
        "string",
        "Return the identifier string of this daemon.",
        "The identifier",
    ),
    spec(
        "supervisor.getPID",
        Method::GetPid,
        &[],
        "int",
        "Return the PID of the daemon.",
        "The PID",
    ),
    spec(
        "supervisor.getProcessInfo",
        Method::GetProcessInfo,
        &[NAME_PROC],
        "struct",
        "Return information about one process.",
        "A process info struct",
    ),
    spec(
        "supervisor.getState",
        Method::GetState,
        &[],
        "struct",
        "Return the daemon's state.",
        "A struct {int statecode, string statename}",
    ),
    spec(
        "supervisor.getSupervisorVersion",
        Method::GetSupervisorVersion,
        &[],
        "string",
        "Return the supervisord version this daemon is compatible with.",
        "The version string",
    ),
    alias("supervisor.getVersion", GET_API_VERSION),
    READ_LOG_SPEC,
    alias("supervisor.readMainLog", READ_LOG_SPEC),
    alias("supervisor.readProcessLog", READ_STDOUT),
    spec(
        "supervisor.readProcessStderrLog",
        Method::ReadProcessStderrLog,
        READ_PROC_LOG,
        "string",
        "Read length bytes from a process's stderr log, starting at offset.",
        "The bytes read",
    ),
    READ_STDOUT,
    spec(
        "supervisor.reloadConfig",
        Method::ReloadConfig,
        &[],
        "array",
        "Re-read the configuration and report the changes without applying them.",
        "[[added, changed, removed]] group names",
    ),
    spec(
        "supervisor.removeProcessGroup",
        Method::RemoveProcessGroup,
        &[req("name", "string", "Name of the group to remove")],
        "boolean",
        "Remove a stopped process group.",
        "True if removed",
    ),
    spec(
        "supervisor.restart",
        Method::Restart,
        &[],
        "boolean",
        "Restart the daemon in place.",
        "Always true unless error",
    ),
    spec(
        "supervisor.sendProcessStdin",
        Method::SendProcessStdin,
        &[NAME_PROC, req("chars", "string", "Characters to send")],
        "boolean",
        "Write characters to a process's stdin.",
        "Always true unless error",
    ),
    spec(
        "supervisor.sendRemoteCommEvent",
        Method::SendRemoteCommEvent,
        &[
            req("type", "string", "Event type"),
            req("data", "string", "Event data"),
        ],
        "boolean",
        "Emit a REMOTE_COMMUNICATION event.",
        "Always true unless error",
    ),
    spec(
        "supervisor.shutdown",
        Method::Shutdown,
        &[],
        "boolean",
        "Shut the daemon down.",
        "Always true unless error",
    ),
    spec(
        "supervisor.signalAllProcesses",
        Method::SignalAllProcesses,
        &[SIGNAL],
        "array",
        "Send a signal to every process.",
        RESULTS,
    ),
    spec(
        "supervisor.signalProcess",
        Method::SignalProcess,
        &[NAME_PROC, SIGNAL],
        "boolean",
        "Send a signal to a process.",
        "Always true unless error",
    ),
    spec(
        "supervisor.signalProcessGroup",
        Method::SignalProcessGroup,
        &[NAME_GROUP, SIGNAL],
        "array",
        "Send a signal to every process of a group.",
        RESULTS,
    ),
    spec(
        "supervisor.startAllProcesses",
        Method::StartAllProcesses,
        &[WAIT],
        "array",
        "Start every process that is not running.",
        RESULTS,
    ),
    spec(
        "supervisor.startProcess",
        Method::StartProcess,
        &[NAME_PROC, WAIT],
        "boolean",
        "Start a process.",
        "Always true unless error",
    ),
    spec(
        "supervisor.startProcessGroup",
        Method::StartProcessGroup,
        &[NAME_GROUP, WAIT],
        "array",
        "Start every process of a group.",
        RESULTS,
    ),
    spec(
        "supervisor.stopAllProcesses",
        Method::StopAllProcesses,
        &[WAIT],
        "array",
        "Stop every running process.",
        RESULTS,
    ),
    spec(
        "supervisor.stopProcess",
        Method::StopProcess,
        &[NAME_PROC, WAIT],
        "boolean",
        "Stop a process.",
        "Always true unless error",
    ),
    spec(
        "supervisor.stopProcessGroup",
        Method::StopProcessGroup,
        &[NAME_GROUP, WAIT],
        "array",
        "Stop every process of a group.",
        RESULTS,
    ),
    alias("supervisor.tailProcessLog", TAIL_STDOUT),
    spec(
        "supervisor.tailProcessStderrLog",
        Method::TailProcessStderrLog,
        READ_PROC_LOG,
        "array",
        "Return the last bytes of a process's stderr log, with the offset to read from next.",
        "[string bytes, int offset, bool overflow]",
    ),
    TAIL_STDOUT,
    spec(
        "system.listMethods",
        Method::ListMethods,
        &[],
        "array",
        "Return the names of all available methods.",
        "An array of method names",
    ),
    spec(
        "system.methodHelp",
        Method::MethodHelp,
        &[req("name", "string", "The method name")],
        "string",
        "Return the documentation of a method.",
        "The documentation",
    ),
    spec(
        "system.methodSignature",
        Method::MethodSignature,
        &[req("name", "string", "The method name")],
        "array",
        "Return a method's signature as [rtype, ptype, ptype...].",
        "The signature",
    ),
    spec(
        "system.multicall",
        Method::Multicall,
        &[req(
            "calls",
            "array",
            "An array of {methodName, params} structs",
        )],
        "array",
        "Run several calls in order and return their results.",
        "An array of results (bare values or fault structs)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// `system.listMethods()` of supervisord 4.3.0 with its `methodSignature`
    /// and Python arity (required, total), dumped from the real package.
    const SUPERVISORD: [(&str, usize, usize, &[&str]); 41] = [
        ("supervisor.addProcessGroup", 1, 1, &["boolean", "string"]),
        ("supervisor.clearAllProcessLogs", 0, 0, &["array"]),
        ("supervisor.clearLog", 0, 0, &["boolean"]),
        ("supervisor.clearProcessLog", 1, 1, &["boolean", "string"]),
        ("supervisor.clearProcessLogs", 1, 1, &["boolean", "string"]),
        ("supervisor.getAPIVersion", 0, 0, &["string"]),
        ("supervisor.getAllConfigInfo", 0, 0, &["array"]),
        ("supervisor.getAllProcessInfo", 0, 0, &["array"]),
        ("supervisor.getIdentification", 0, 0, &["string"]),
        ("supervisor.getPID", 0, 0, &["int"]),
        ("supervisor.getProcessInfo", 1, 1, &["struct", "string"]),
        ("supervisor.getState", 0, 0, &["struct"]),
        ("supervisor.getSupervisorVersion", 0, 0, &["string"]),
        ("supervisor.getVersion", 0, 0, &["string"]),
        ("supervisor.readLog", 2, 2, &["string", "int", "int"]),
        ("supervisor.readMainLog", 2, 2, &["string", "int", "int"]),
        (
            "supervisor.readProcessLog",
            3,
            3,
            &["string", "string", "int", "int"],
        ),
        (
            "supervisor.readProcessStderrLog",
            3,
            3,
            &["string", "string", "int", "int"],
        ),
        (
            "supervisor.readProcessStdoutLog",
            3,
            3,
            &["string", "string", "int", "int"],
        ),
        ("supervisor.reloadConfig", 0, 0, &["array"]),
        (
            "supervisor.removeProcessGroup",
            1,
            1,
            &["boolean", "string"],
        ),
        ("supervisor.restart", 0, 0, &["boolean"]),
        (
            "supervisor.sendProcessStdin",
            2,
            2,
            &["boolean", "string", "string"],
        ),
        (
            "supervisor.sendRemoteCommEvent",
            2,
            2,
            &["boolean", "string", "string"],
        ),
        ("supervisor.shutdown", 0, 0, &["boolean"]),
        ("supervisor.signalAllProcesses", 1, 1, &["array", "string"]),
        (
            "supervisor.signalProcess",
            2,
            2,
            &["boolean", "string", "string"],
        ),
        (
            "supervisor.signalProcessGroup",
            2,
            2,
            &["array", "string", "string"],
        ),
        ("supervisor.startAllProcesses", 0, 1, &["array", "boolean"]),
        (
            "supervisor.startProcess",
            1,
            2,
            &["boolean", "string", "boolean"],
        ),
        (
            "supervisor.startProcessGroup",
            1,
            2,
            &["array", "string", "boolean"],
        ),
        ("supervisor.stopAllProcesses", 0, 1, &["array", "boolean"]),
        (
            "supervisor.stopProcess",
            1,
            2,
            &["boolean", "string", "boolean"],
        ),
        (
            "supervisor.stopProcessGroup",
            1,
            2,
            &["array", "string", "boolean"],
        ),
        (
            "supervisor.tailProcessLog",
            3,
            3,
            &["array", "string", "int", "int"],
        ),
        (
            "supervisor.tailProcessStderrLog",
            3,
            3,
            &["array", "string", "int", "int"],
        ),
        (
            "supervisor.tailProcessStdoutLog",
            3,
            3,
            &["array", "string", "int", "int"],
        ),
        ("system.listMethods", 0, 0, &["array"]),
        ("system.methodHelp", 1, 1, &["string", "string"]),
        ("system.methodSignature", 1, 1, &["array", "string"]),
        ("system.multicall", 1, 1, &["array", "array"]),
    ];

    #[test]
    fn table_matches_supervisord() {
        for (spec, (name, min, max, sig)) in METHODS.iter().zip(SUPERVISORD) {
            assert_eq!(spec.name, name);
            assert_eq!((spec.min_params(), spec.max_params()), (min, max), "{name}");
            assert_eq!(spec.signature(), sig, "{name}");
        }
    }

    #[test]
    fn table_is_sorted_and_lookup_works() {
        assert!(METHODS.windows(2).all(|w| w[0].name < w[1].name));
        for spec in &METHODS {
            assert_eq!(lookup(spec.name), Some(spec));
        }
        assert_eq!(lookup("supervisor.nope"), None);
        let Value::Array(names) = list_methods() else {
            panic!()
        };
        assert_eq!(names.len(), 41);
        assert_eq!(names[5], Value::from("supervisor.getAPIVersion"));
    }

    #[test]
    fn aliases() {
        let pairs = [
            ("supervisor.getVersion", "supervisor.getAPIVersion"),
            ("supervisor.readMainLog", "supervisor.readLog"),
            (
                "supervisor.readProcessLog",
                "supervisor.readProcessStdoutLog",
            ),
            (
                "supervisor.tailProcessLog",
                "supervisor.tailProcessStdoutLog",
            ),
            ("supervisor.clearProcessLog", "supervisor.clearProcessLogs"),
        ];
        for (a, t) in pairs {
            let (a, t) = (lookup(a).unwrap(), lookup(t).unwrap());
            assert_eq!(a.alias_of, Some(t.name));
            assert_eq!(a.method, t.method);
            assert_eq!(a.help(), t.help());
        }
        assert_eq!(METHODS.iter().filter(|s| s.alias_of.is_some()).count(), 5);
        assert_eq!(Method::GetApiVersion.name(), "supervisor.getAPIVersion");
        assert_eq!(
            Method::TailProcessStdoutLog.name(),
            "supervisor.tailProcessStdoutLog"
        );
    }

    #[test]
    fn every_method_has_a_primary_name() {
        let mut methods: Vec<Method> = METHODS.iter().map(|s| s.method).collect();
        methods.dedup();
        for m in methods {
            assert!(!m.name().is_empty(), "{m:?}");
        }
    }

    #[test]
    fn name_validation() {
        let unknown = |n: &str, c| resolve(n, c).unwrap_err();
        for bad in [
            "getState",
            "supervisor",
            "supervisor.getState.x",
            "a.b.c",
            "supervisor._update",
            "supervisor.__init__",
            "supervisor.nope",
            "nope.getState",
            "",
            ".",
            "supervisor.",
            "system.multicall.x",
        ] {
            let f = unknown(bad, 0);
            assert_eq!(
                (f.code, f.string.as_str()),
                (1, "UNKNOWN_METHOD"),
                "{bad:?}"
            );
        }
        assert_eq!(
            resolve("supervisor.getState", 0).unwrap().method,
            Method::GetState
        );
        assert_eq!(
            resolve("supervisor.startProcess", 1).unwrap().method,
            Method::StartProcess
        );
        assert_eq!(
            resolve("supervisor.startProcess", 2).unwrap().method,
            Method::StartProcess
        );
        for (name, count) in [
            ("supervisor.getState", 1),
            ("supervisor.startProcess", 0),
            ("supervisor.startProcess", 3),
            ("supervisor.readLog", 1),
            ("system.multicall", 0),
            ("system.multicall", 2),
        ] {
            let f = resolve(name, count).unwrap_err();
            assert_eq!(
                (f.code, f.string.as_str()),
                (2, "INCORRECT_PARAMETERS"),
                "{name}"
            );
        }
    }

    #[test]
    fn help_and_signature() {
        let help = method_help("supervisor.startProcess").unwrap();
        assert_eq!(
            help.as_str().unwrap(),
            " Start a process.\n\n        \
             @param string name  Process name, 'group:name' or 'group:*'\n        \
             @param boolean wait  Wait for the operation to complete (default true)\n        \
             @return boolean result  Always true unless error\n        "
        );
        assert_eq!(
            method_signature("supervisor.readLog").unwrap(),
            Value::Array(vec!["string".into(), "int".into(), "int".into()])
        );
        for bad in ["nope", "supervisor.nope", "supervisor._update"] {
            assert_eq!(method_help(bad).unwrap_err().code, 4);
            let f = method_signature(bad).unwrap_err();
            assert_eq!((f.code, f.string.as_str()), (4, "SIGNATURE_UNSUPPORTED"));
        }
    }

    #[test]
    fn help_tags_reproduce_the_signature() {
        // supervisord derives methodSignature from the @param/@return tags.
        for spec in &METHODS {
            let help = spec.help();
            let mut ret = None;
            let mut params = Vec::new();
            for line in help.lines().map(str::trim) {
                let mut words = line.split_whitespace();
                match (words.next(), words.next()) {
                    (Some("@return"), Some(t)) => ret = Some(t),
                    (Some("@param"), Some(t)) => params.push(t),
                    _ => {}
                }
            }
            let mut sig = vec![ret.unwrap()];
            sig.extend(params);
            assert_eq!(sig, spec.signature(), "{}", spec.name);
        }
    }

    #[test]
    fn namespaces_and_shutdown_check() {
        assert_eq!(Method::Multicall.namespace(), Namespace::System);
        assert_eq!(Method::GetPid.namespace(), Namespace::Supervisor);
        let checked = METHODS
            .iter()
            .filter(|s| s.alias_of.is_none() && s.method.checks_shutdown_state())
            .count();
        // 32 supervisor.* methods, of which only sendRemoteCommEvent does not check.
        assert_eq!(checked, 31);
        assert!(!Method::SendRemoteCommEvent.checks_shutdown_state());
        assert!(!Method::ListMethods.checks_shutdown_state());
    }
}
