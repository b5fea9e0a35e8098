//! The XML-RPC adapter: supervisord's `/RPC2` protocol translated to and
//! from the core's [`Request`], [`Reply`] and [`ApiError`].
//!
//! This is the only module that knows both sides. A call becomes one
//! request; `system.multicall` is a loop here, in the connection's task,
//! each call answered before the next is sent (so a waiting call holds the
//! later ones back, as in supervisord). Methods that are pure protocol
//! (`system.listMethods`, help, signatures, the API version) are answered
//! here.

use warden_types::Namespec;
use warden_xmlrpc::info::{format_stop_time, result_entry, ProcessInfo};
use warden_xmlrpc::methods::ResolvedCall;
use warden_xmlrpc::{Fault, FaultCode, Method, Struct, Value};

use crate::core::api::{
    ApiError, Channel, ConfigView, ErrorKind, ProcessView, Reply, Request, ResultEntry, Target,
};
use crate::core::handle::Handle;

/// What the adapter needs besides the engine.
#[derive(Clone)]
pub struct Rpc {
    /// The engine.
    pub handle: Handle,
    /// `[rpcinterface:supervisor]` is configured (else the `supervisor.*`
    /// namespace does not exist).
    pub main_interface: bool,
}

/// Answers a `POST /RPC2` body: `Err` for a body that is not a method call
/// (HTTP 400), else the response document.
///
/// # Errors
///
/// The body is not an XML-RPC method call.
pub async fn answer(rpc: &Rpc, body: &[u8]) -> Result<Vec<u8>, warden_xmlrpc::ParseError> {
    let call = warden_xmlrpc::parse_call(body)?;
    if call.method == UPDATE {
        let result = update(rpc, &call.params).await;
        return Ok(warden_xmlrpc::write_result(&result).into_bytes());
    }
    let result = match warden_xmlrpc::methods::resolve_call(call) {
        Err(f) => Err(f),
        Ok(call) if call.method() == Method::Multicall => multicall(rpc, call.params).await,
        Ok(call) if call.method() == Method::GetAllProcessInfo && rpc.main_interface => {
            return Ok(all_process_info(rpc).await.into_bytes());
        }
        Ok(call) => one(rpc, call).await,
    };
    Ok(warden_xmlrpc::write_result(&result).into_bytes())
}

/// `getAllProcessInfo`, written straight from the processes (no `Value`
/// tree): the call status pages and exporters poll, so it is the one worth
/// it. The same bytes as the general path (a test in warden-xmlrpc).
async fn all_process_info(rpc: &Rpc) -> String {
    let views = match rpc.handle.call(Request::AllProcessInfo).await {
        Ok(Ok(Reply::Processes(ps))) => ps,
        Ok(Ok(r)) => return warden_xmlrpc::write_response(&value(r)),
        Ok(Err(e)) => return warden_xmlrpc::write_fault(&fault(e, "")),
        Err(_) => return warden_xmlrpc::write_fault(&Fault::new(FaultCode::ShutdownState)),
    };
    warden_xmlrpc::write::write_response_with(256 + views.len() * 1280, |out| {
        out.push_str("<value><array><data>\n");
        for v in views {
            let description = description(&v);
            process_info(v).write_described(out, &description);
        }
        out.push_str("</data></array></value>\n");
    })
}

/// warden's extension method: an update with the fewest restarts (see
/// `Request::Update`). Not in `system.listMethods`, whose answer stays
/// supervisord's; `warden ctl update` calls it and falls back to
/// supervisorctl's procedure when a server answers `UNKNOWN_METHOD`.
/// Parameters: optional group names (strings); answer: an array of
/// `{group, action, processes: [{name, action}]}` structs.
pub const UPDATE: &str = "warden.update";

async fn update(rpc: &Rpc, params: &[Value]) -> Result<Value, Fault> {
    if !rpc.main_interface {
        return Err(Fault::new(FaultCode::UnknownMethod));
    }
    let mut groups = Vec::new();
    for p in params {
        match p {
            Value::String(s) => groups.push(s.clone()),
            Value::Array(a) => {
                for v in a {
                    let Value::String(s) = v else {
                        return Err(Fault::new(FaultCode::IncorrectParameters));
                    };
                    groups.push(s.clone());
                }
            }
            _ => return Err(Fault::new(FaultCode::IncorrectParameters)),
        }
    }
    let name = groups.first().cloned().unwrap_or_default();
    let outcome = rpc
        .handle
        .call(Request::Update { groups })
        .await
        .map_err(|_| Fault::new(FaultCode::ShutdownState))?;
    outcome.map(value).map_err(|e| fault(e, &name))
}

async fn multicall(rpc: &Rpc, params: Vec<Value>) -> Result<Value, Fault> {
    let calls = warden_xmlrpc::multicall::decode_params(params)?;
    let mut results = Vec::with_capacity(calls.len());
    for c in calls {
        results.push(match c {
            Err(f) => Err(f),
            Ok(call) => one(rpc, call).await,
        });
    }
    Ok(warden_xmlrpc::multicall::encode_results(results))
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Boolean(b)) => if *b { "True" } else { "False" }.into(),
        Some(Value::Base64(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None => true,
        Some(Value::Boolean(b)) => *b,
        Some(Value::Int(i)) => *i != 0,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Nil) => false,
        Some(_) => true,
    }
}

fn int(v: Option<&Value>) -> Result<i64, Fault> {
    match v {
        Some(Value::Int(i)) => Ok(i64::from(*i)),
        Some(Value::Boolean(b)) => Ok(i64::from(*b)),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| Fault::new(FaultCode::IncorrectParameters)),
        _ => Err(Fault::new(FaultCode::IncorrectParameters)),
    }
}

/// The request a call makes, or a fault for its parameters. `Ok(Err(v))`
/// is a call the adapter answers itself.
fn request(call: &ResolvedCall) -> Result<Result<Request, Value>, Fault> {
    let p = &call.params;
    let s0 = text(p.first());
    let spec = || Namespec::parse(&s0);
    let log = |channel| -> Result<_, Fault> {
        Ok(Request::ReadLog {
            process: spec(),
            channel,
            offset: int(p.get(1))?,
            length: int(p.get(2))?,
        })
    };
    let tail = |channel| -> Result<_, Fault> {
        Ok(Request::TailLog {
            process: spec(),
            channel,
            offset: int(p.get(1))?,
            length: int(p.get(2))?,
        })
    };
    Ok(Ok(match call.method() {
        Method::GetApiVersion | Method::GetSupervisorVersion => Request::Version,
        Method::GetIdentification => Request::Identification,
        Method::GetState => Request::State,
        Method::GetPid => Request::Pid,
        Method::ReadLog => Request::ReadMainLog {
            offset: int(p.first())?,
            length: int(p.get(1))?,
        },
        Method::ClearLog => Request::ClearMainLog,
        Method::Shutdown => Request::Shutdown,
        Method::Restart => Request::Restart,
        Method::ReloadConfig => Request::Reread,
        Method::AddProcessGroup => Request::AddGroup(s0),
        Method::RemoveProcessGroup => Request::RemoveGroup(s0),
        Method::GetProcessInfo => Request::ProcessInfo(spec()),
        Method::GetAllProcessInfo => Request::AllProcessInfo,
        Method::GetAllConfigInfo => Request::AllConfigInfo,
        Method::StartProcess => Request::Start {
            target: Target::Spec(spec()),
            wait: truthy(p.get(1)),
        },
        Method::StartProcessGroup => Request::Start {
            target: Target::Group(s0),
            wait: truthy(p.get(1)),
        },
        Method::StartAllProcesses => Request::Start {
            target: Target::All,
            wait: truthy(p.first()),
        },
        Method::StopProcess => Request::Stop {
            target: Target::Spec(spec()),
            wait: truthy(p.get(1)),
        },
        Method::StopProcessGroup => Request::Stop {
            target: Target::Group(s0),
            wait: truthy(p.get(1)),
        },
        Method::StopAllProcesses => Request::Stop {
            target: Target::All,
            wait: truthy(p.first()),
        },
        Method::SignalProcess => Request::Signal {
            target: Target::Spec(spec()),
            signal: text(p.get(1)),
        },
        Method::SignalProcessGroup => Request::Signal {
            target: Target::Group(s0),
            signal: text(p.get(1)),
        },
        Method::SignalAllProcesses => Request::Signal {
            target: Target::All,
            signal: s0,
        },
        Method::SendProcessStdin => Request::SendStdin {
            process: spec(),
            data: match p.get(1) {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(Value::Base64(b)) => b.clone(),
                Some(v) => return Err(Fault::with_detail(FaultCode::IncorrectParameters, v)),
                None => return Err(Fault::new(FaultCode::IncorrectParameters)),
            },
        },
        Method::SendRemoteCommEvent => Request::SendRemoteComm {
            kind: s0,
            data: text(p.get(1)),
        },
        Method::ReadProcessStdoutLog => log(Channel::Stdout)?,
        Method::ReadProcessStderrLog => log(Channel::Stderr)?,
        Method::TailProcessStdoutLog => tail(Channel::Stdout)?,
        Method::TailProcessStderrLog => tail(Channel::Stderr)?,
        Method::ClearProcessLogs => Request::ClearLogs(Target::Spec(spec())),
        Method::ClearAllProcessLogs => Request::ClearLogs(Target::All),
        Method::ListMethods => return Ok(Err(warden_xmlrpc::methods::list_methods())),
        Method::MethodHelp => return warden_xmlrpc::methods::method_help(&s0).map(Err),
        Method::MethodSignature => return warden_xmlrpc::methods::method_signature(&s0).map(Err),
        Method::Multicall => {
            return Err(Fault::with_detail(
                FaultCode::IncorrectParameters,
                "Recursive system.multicall forbidden",
            ))
        }
    }))
}

async fn one(rpc: &Rpc, call: ResolvedCall) -> Result<Value, Fault> {
    let m = call.method();
    if !rpc.main_interface && m.namespace() == warden_xmlrpc::methods::Namespace::Supervisor {
        return Err(Fault::new(FaultCode::UnknownMethod));
    }
    let req = match request(&call)? {
        Ok(req) => req,
        Err(value) => return Ok(value),
    };
    let outcome = rpc
        .handle
        .call(req)
        .await
        .map_err(|_| Fault::new(FaultCode::ShutdownState))?;
    let name = text(call.params.first());
    let reply = outcome.map_err(|e| fault(e, &name))?;
    Ok(match (m, reply) {
        (Method::GetApiVersion, _) => "3.0".into(),
        (_, r) => value(r),
    })
}

fn code(kind: ErrorKind) -> FaultCode {
    match kind {
        ErrorKind::IncorrectParameters => FaultCode::IncorrectParameters,
        ErrorKind::BadArguments => FaultCode::BadArguments,
        ErrorKind::ShutdownState => FaultCode::ShutdownState,
        ErrorKind::BadName => FaultCode::BadName,
        ErrorKind::BadSignal => FaultCode::BadSignal,
        ErrorKind::NoFile => FaultCode::NoFile,
        ErrorKind::NotExecutable => FaultCode::NotExecutable,
        ErrorKind::Failed => FaultCode::Failed,
        ErrorKind::AbnormalTermination => FaultCode::AbnormalTermination,
        ErrorKind::SpawnError => FaultCode::SpawnError,
        ErrorKind::AlreadyStarted => FaultCode::AlreadyStarted,
        ErrorKind::NotRunning => FaultCode::NotRunning,
        ErrorKind::AlreadyAdded => FaultCode::AlreadyAdded,
        ErrorKind::StillRunning => FaultCode::StillRunning,
        ErrorKind::CantReread => FaultCode::CantReread,
    }
}

/// The fault for an error. supervisord names the process in BAD_NAME
/// exactly as the client wrote it (`g:` stays `g:`).
pub(crate) fn fault(e: ApiError, asked: &str) -> Fault {
    let code = code(e.kind);
    match (e.kind, e.detail) {
        (ErrorKind::BadName, Some(_)) => Fault::with_detail(code, asked),
        (_, Some(d)) => Fault::with_detail(code, d),
        (_, None) => Fault::new(code),
    }
}

fn path_text(p: Option<&std::path::Path>) -> String {
    p.map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A stop time in a process description: local time, supervisord's format.
pub(crate) fn stop_time(t: i64) -> String {
    let lt = warden_sys::clock::local_time(t);
    format_stop_time(lt.month, lt.day, lt.hour, lt.minute)
}

/// A process's `description`, with lost output or failing health checks
/// after it: they show where people look, `status`.
pub(crate) fn description(v: &ProcessView) -> String {
    let d = warden_xmlrpc::info::describe(
        &warden_xmlrpc::info::Facts {
            name: &v.name,
            state: v.state,
            pid: v.pid,
            start: v.start,
            stop: v.stop,
            now: v.now,
            spawnerr: &v.spawnerr,
        },
        stop_time,
    );
    match &v.log_failure {
        Some(f) if d.is_empty() => f.clone(),
        Some(f) => format!("{d}; {f}"),
        None => d,
    }
}

fn process_value(v: ProcessView) -> Value {
    let description = description(&v);
    process_info(v).to_value_described(description)
}

/// The wire struct of a process (its `description` apart).
fn process_info(v: ProcessView) -> ProcessInfo {
    ProcessInfo {
        stdout_logfile: path_text(v.stdout_logfile.as_deref()),
        stderr_logfile: path_text(v.stderr_logfile.as_deref()),
        name: v.name,
        group: v.group,
        start: v.start,
        stop: v.stop,
        now: v.now,
        state: v.state,
        spawnerr: v.spawnerr,
        exitstatus: v.exitstatus,
        pid: v.pid,
    }
}

fn entry_value(r: ResultEntry) -> Value {
    let outcome = r.result.map_err(|e| fault(e, ""));
    result_entry(&r.name, &r.group, &outcome)
}

fn config_value(c: &ConfigView) -> Value {
    use warden_config::LogFile;
    let int = |v: i64| Value::Int(warden_xmlrpc::info::capped_int(v));
    let lf = |l: &LogFile, resolved: Option<&std::path::Path>| match (l, resolved) {
        (LogFile::Auto, Some(p)) => Value::from(p.to_string_lossy().into_owned()),
        (LogFile::Auto, None) => Value::from("auto"),
        (LogFile::None, _) => Value::from("none"),
        (LogFile::Path(p), _) => Value::from(p.to_string_lossy().into_owned()),
    };
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "none".into());
    let g = &c.group;
    let p = c.process();
    Value::Struct(
        Struct::new()
            .with("autostart", p.autostart)
            .with("directory", opt(&p.directory))
            .with(
                "uid",
                p.uid.map_or(Value::from("none"), |u| int(i64::from(u))),
            )
            .with("command", p.command.as_str())
            .with(
                "exitcodes",
                Value::Array(p.exitcodes.iter().map(|c| int(i64::from(*c))).collect()),
            )
            .with("group", g.name.as_str())
            .with("group_prio", int(g.priority))
            .with("inuse", c.inuse)
            .with("killasgroup", p.killasgroup)
            .with("name", p.name.as_str())
            .with("process_prio", int(p.priority))
            .with("redirect_stderr", p.redirect_stderr)
            .with("startretries", int(p.startretries))
            .with("startsecs", int(p.startsecs))
            .with("stdout_capture_maxbytes", int(p.stdout.capture_maxbytes))
            .with("stdout_events_enabled", p.stdout.events_enabled)
            .with(
                "stdout_logfile",
                lf(&p.stdout.logfile, c.stdout_logfile.as_deref()),
            )
            .with("stdout_logfile_backups", int(p.stdout.logfile_backups))
            .with("stdout_logfile_maxbytes", int(p.stdout.logfile_maxbytes))
            .with("stdout_syslog", p.stdout.syslog)
            .with("stopsignal", p.stopsignal)
            .with("stopwaitsecs", int(p.stopwaitsecs))
            .with("stderr_capture_maxbytes", int(p.stderr.capture_maxbytes))
            .with("stderr_events_enabled", p.stderr.events_enabled)
            .with(
                "stderr_logfile",
                lf(&p.stderr.logfile, c.stderr_logfile.as_deref()),
            )
            .with("stderr_logfile_backups", int(p.stderr.logfile_backups))
            .with("stderr_logfile_maxbytes", int(p.stderr.logfile_maxbytes))
            .with("stderr_syslog", p.stderr.syslog)
            .with("serverurl", opt(&p.serverurl)),
    )
}

fn value(r: Reply) -> Value {
    match r {
        Reply::Ok => true.into(),
        Reply::Text(t) => t.into(),
        Reply::Int(i) => Value::Int(warden_xmlrpc::info::capped_int(i)),
        Reply::State(s) => warden_xmlrpc::info::supervisor_state_value(s),
        Reply::Bytes(b) => String::from_utf8_lossy(&b).into_owned().into(),
        Reply::Process(p) => process_value(p),
        Reply::Processes(ps) => ps.into_iter().map(process_value).collect(),
        Reply::Configs(cs) => cs.iter().map(config_value).collect(),
        Reply::Results(rs) => rs.into_iter().map(entry_value).collect(),
        Reply::Tail {
            data,
            offset,
            overflow,
        } => Value::Array(vec![
            String::from_utf8_lossy(&data).into_owned().into(),
            warden_xmlrpc::info::capped_int(offset).into(),
            overflow.into(),
        ]),
        Reply::Changes(c) => {
            let names = |v: Vec<String>| Value::Array(v.into_iter().map(Value::from).collect());
            Value::Array(vec![Value::Array(vec![
                names(c.added),
                names(c.changed),
                names(c.removed),
            ])])
        }
        Reply::Update(report) => report
            .groups
            .into_iter()
            .map(|g| {
                Value::Struct(
                    Struct::new()
                        .with("group", g.group)
                        .with("action", g.action.as_str())
                        .with(
                            "processes",
                            g.processes
                                .into_iter()
                                .map(|p| {
                                    Value::Struct(
                                        Struct::new()
                                            .with("name", p.name)
                                            .with("action", p.action.as_str()),
                                    )
                                })
                                .collect::<Value>(),
                        ),
                )
            })
            .collect(),
        Reply::Follow(_) | Reply::Pools(_) => Value::Nil,
    }
}
