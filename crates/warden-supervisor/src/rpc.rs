//! The `supervisor.*` and `system.*` methods, with supervisord's faults.
//!
//! [`dispatch`] answers at once ([`Outcome::Done`]) or returns a check the
//! engine re-runs after every event until it yields the answer
//! ([`Outcome::Wait`]): that is how `wait=true` starts/stops, the group and
//! all variants, and `system.multicall` wait without blocking anybody.

use std::collections::VecDeque;

use warden_xmlrpc::info::{format_stop_time, result_entry, ProcessInfo, SupervisorState};
use warden_xmlrpc::methods::ResolvedCall;
use warden_xmlrpc::{Fault, FaultCode, Method, Struct, Value};

use crate::engine::{Engine, Mood, Poll, ProcId};
use crate::state::{Event, State};

/// The answer to a call.
pub enum Outcome {
    /// Available now.
    Done(Result<Value, Fault>),
    /// Deferred.
    Wait(Poll),
}

use Outcome::{Done, Wait};

fn fault(code: FaultCode, detail: impl std::fmt::Display) -> Fault {
    Fault::with_detail(code, detail)
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

fn now_wall() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// `make_namespec`.
pub fn namespec(group: &str, name: &str) -> String {
    if group == name {
        name.to_string()
    } else {
        format!("{group}:{name}")
    }
}

/// Runs one call.
pub fn dispatch(e: &mut Engine, call: ResolvedCall) -> Outcome {
    let m = call.method();
    let main_rpc = e.config.rpcinterfaces.iter().any(|r| {
        r.factory == "supervisor.rpcinterface:make_main_rpcinterface" && r.name == "supervisor"
    });
    if !main_rpc && m.namespace() == warden_xmlrpc::methods::Namespace::Supervisor {
        // no [rpcinterface:supervisor]: the namespace does not exist
        return Done(Err(Fault::new(FaultCode::UnknownMethod)));
    }
    if m.checks_shutdown_state() && e.mood != Mood::Running {
        return Done(Err(Fault::new(FaultCode::ShutdownState)));
    }
    let p = &call.params;
    let s0 = text(p.first());
    let ok = |v: Value| Done(Ok(v));
    match m {
        Method::GetApiVersion => ok("3.0".into()),
        Method::GetSupervisorVersion => ok(crate::SUPERVISOR_VERSION.into()),
        Method::GetIdentification => ok(e.config.supervisord.identifier.clone().into()),
        Method::GetState => ok(warden_xmlrpc::info::supervisor_state_value(match e.mood {
            Mood::Running => SupervisorState::Running,
            Mood::Restarting => SupervisorState::Restarting,
            Mood::Shutdown => SupervisorState::Shutdown,
        })),
        Method::GetPid => ok(e.pid.into()),
        Method::ReadLog => Done(read_main_log(e, p)),
        Method::ClearLog => Done(clear_main_log(e)),
        Method::Shutdown => {
            e.mood = Mood::Shutdown;
            ok(true.into())
        }
        Method::Restart => {
            e.mood = Mood::Restarting;
            ok(true.into())
        }
        Method::ReloadConfig => Done(reload_config(e)),
        Method::AddProcessGroup => Done(e.add_group_from_pending(&s0).map(|()| true.into())),
        Method::RemoveProcessGroup => Done(remove_group(e, &s0)),
        Method::GetProcessInfo => Done(match e.find(&s0) {
            Ok((_, Some(id))) => Ok(info(e, id)),
            Ok((_, None)) => Err(fault(FaultCode::BadName, &s0)),
            Err(f) => Err(f),
        }),
        Method::GetAllProcessInfo => {
            let mut all: Vec<(String, String, ProcId)> = e
                .groups
                .iter()
                .flat_map(|g| {
                    g.procs
                        .iter()
                        .map(|id| (g.cfg.name.clone(), e.procs[id].cfg.name.clone(), *id))
                })
                .collect();
            all.sort();
            ok(all.into_iter().map(|(_, _, id)| info(e, id)).collect())
        }
        Method::GetAllConfigInfo => ok(all_config_info(e)),
        Method::StartProcess => start_process(e, &s0, truthy(p.get(1))),
        Method::StartProcessGroup => match e.find(&format!("{s0}:*")) {
            Ok((gi, _)) => start_group(e, gi, truthy(p.get(1))),
            Err(_) => Done(Err(fault(FaultCode::BadName, &s0))),
        },
        Method::StartAllProcesses => {
            let wait = truthy(p.first());
            let items = e.ordered_procs();
            allfunc(
                e,
                items,
                |s| !s.is_running(),
                move |e, n| start_process(e, n, wait),
            )
        }
        Method::StopProcess => stop_process(e, &s0, truthy(p.get(1))),
        Method::StopProcessGroup => match e.find(&format!("{s0}:*")) {
            Ok((gi, _)) => stop_group(e, gi, truthy(p.get(1))),
            Err(_) => Done(Err(fault(FaultCode::BadName, &s0))),
        },
        Method::StopAllProcesses => {
            let wait = truthy(p.first());
            let items = e.ordered_procs();
            allfunc(e, items, State::is_running, move |e, n| {
                stop_process(e, n, wait)
            })
        }
        Method::SignalProcess => signal_process(e, &s0, &text(p.get(1))),
        Method::SignalProcessGroup => match e.find(&format!("{s0}:*")) {
            Ok((gi, _)) => signal_group(e, gi, text(p.get(1))),
            Err(_) => Done(Err(fault(FaultCode::BadName, &s0))),
        },
        Method::SignalAllProcesses => {
            let sig = s0.clone();
            let items = e.ordered_procs();
            allfunc(e, items, State::is_running, move |e, n| {
                signal_process(e, n, &sig)
            })
        }
        Method::SendProcessStdin => Done(send_stdin(e, &s0, p.get(1))),
        Method::SendRemoteCommEvent => ok(true.into()),
        Method::ReadProcessStdoutLog | Method::ReadProcessStderrLog => {
            Done(read_proc_log(e, &s0, p, m == Method::ReadProcessStderrLog))
        }
        Method::TailProcessStdoutLog | Method::TailProcessStderrLog => {
            Done(tail_proc_log(e, &s0, p, m == Method::TailProcessStderrLog))
        }
        Method::ClearProcessLogs => Done(clear_proc_logs(e, &s0)),
        Method::ClearAllProcessLogs => {
            let items = e.ordered_procs();
            allfunc(e, items, |_| true, |e, n| Done(clear_proc_logs(e, n)))
        }
        Method::ListMethods => ok(warden_xmlrpc::methods::list_methods()),
        Method::MethodHelp => Done(warden_xmlrpc::methods::method_help(&s0)),
        Method::MethodSignature => Done(warden_xmlrpc::methods::method_signature(&s0)),
        Method::Multicall => multicall(e, call.params),
    }
}

fn info(e: &Engine, id: ProcId) -> Value {
    let p = &e.procs[&id];
    let path = |o: &Option<std::path::PathBuf>| {
        o.as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    ProcessInfo {
        name: p.cfg.name.clone(),
        group: p.cfg.group.clone(),
        start: p.start_wall,
        stop: p.stop_wall,
        now: now_wall(),
        state: p.fsm.state,
        spawnerr: p.fsm.spawnerr.clone().unwrap_or_default(),
        exitstatus: p.fsm.exitstatus.unwrap_or(0),
        stdout_logfile: path(&p.stdout_path),
        stderr_logfile: path(&p.stderr_path),
        pid: p.fsm.pid.unwrap_or(0),
    }
    .to_value(|t| {
        let lt = warden_sys::clock::local_time(t);
        format_stop_time(lt.month, lt.day, lt.hour, lt.minute)
    })
}

type Entry = (String, String, Poll);

/// supervisord's `make_allfunc`: call `f` for every process matching
/// `pred`, collect `{name, group, status, description}` in completion order.
fn allfunc(
    e: &mut Engine,
    items: Vec<(usize, ProcId)>,
    pred: impl Fn(State) -> bool,
    f: impl Fn(&mut Engine, &str) -> Outcome,
) -> Outcome {
    let mut results: Vec<Value> = Vec::new();
    let mut pending: Vec<Entry> = Vec::new();
    for (gi, id) in items {
        let (Some(g), Some(p)) = (e.groups.get(gi), e.procs.get(&id)) else {
            continue;
        };
        if !pred(p.fsm.state) {
            continue;
        }
        let (gname, pname) = (g.cfg.name.clone(), p.cfg.name.clone());
        match f(e, &namespec(&gname, &pname)) {
            Done(r) => results.push(result_entry(&pname, &gname, &r.map(drop))),
            Wait(poll) => pending.push((pname, gname, poll)),
        }
    }
    if pending.is_empty() {
        return Done(Ok(Value::Array(results)));
    }
    Wait(Box::new(move |e| {
        pending.retain_mut(|(n, g, poll)| match poll(e) {
            Some(r) => {
                results.push(result_entry(n, g, &r.map(drop)));
                false
            }
            None => true,
        });
        pending
            .is_empty()
            .then(|| Ok(Value::Array(std::mem::take(&mut results))))
    }))
}

fn group_items(e: &Engine, gi: usize) -> Vec<(usize, ProcId)> {
    let mut ids = e.groups[gi].procs.clone();
    ids.sort_by(|a, b| {
        let (pa, pb) = (&e.procs[a].cfg, &e.procs[b].cfg);
        (pa.priority, &pa.name).cmp(&(pb.priority, &pb.name))
    });
    ids.into_iter().map(|id| (gi, id)).collect()
}

fn start_group(e: &mut Engine, gi: usize, wait: bool) -> Outcome {
    let items = group_items(e, gi);
    allfunc(
        e,
        items,
        |s| !s.is_running(),
        move |e, n| start_process(e, n, wait),
    )
}

fn stop_group(e: &mut Engine, gi: usize, wait: bool) -> Outcome {
    let items = group_items(e, gi);
    allfunc(e, items, State::is_running, move |e, n| {
        stop_process(e, n, wait)
    })
}

fn signal_group(e: &mut Engine, gi: usize, sig: String) -> Outcome {
    let items = group_items(e, gi);
    allfunc(e, items, State::is_running, move |e, n| {
        signal_process(e, n, &sig)
    })
}

fn start_process(e: &mut Engine, name: &str, wait: bool) -> Outcome {
    let (gi, id) = match e.find(name) {
        Ok(x) => x,
        Err(f) => return Done(Err(f)),
    };
    let Some(id) = id else {
        return start_group(e, gi, wait);
    };
    let p = &e.procs[&id];
    if let Err((code, msg)) = Engine::execv_args(&p.cfg) {
        let code = if code == 20 {
            FaultCode::NoFile
        } else {
            FaultCode::NotExecutable
        };
        return Done(Err(fault(code, msg)));
    }
    if p.fsm.state.is_running() {
        return Done(Err(fault(FaultCode::AlreadyStarted, name)));
    }
    if p.fsm.state == State::Unknown {
        return Done(Err(fault(
            FaultCode::Failed,
            format!("{name} is in an unknown process state"),
        )));
    }
    e.feed(id, Event::Start);
    let p = &e.procs[&id];
    if p.fsm.spawnerr.is_some() {
        return Done(Err(fault(FaultCode::SpawnError, name)));
    }
    if wait && p.fsm.state != State::Running {
        let name = name.to_string();
        return Wait(Box::new(move |e| {
            let Some(p) = e.procs.get(&id) else {
                return Some(Err(fault(FaultCode::AbnormalTermination, &name)));
            };
            if p.fsm.spawnerr.is_some() {
                return Some(Err(fault(FaultCode::SpawnError, &name)));
            }
            match p.fsm.state {
                State::Running => Some(Ok(true.into())),
                State::Starting => None,
                _ => Some(Err(fault(FaultCode::AbnormalTermination, &name))),
            }
        }));
    }
    Done(Ok(true.into()))
}

fn stop_process(e: &mut Engine, name: &str, wait: bool) -> Outcome {
    let (gi, id) = match e.find(name) {
        Ok(x) => x,
        Err(f) => return Done(Err(f)),
    };
    let Some(id) = id else {
        return stop_group(e, gi, wait);
    };
    if !e.procs[&id].fsm.state.is_running() {
        return Done(Err(fault(FaultCode::NotRunning, name)));
    }
    if let Some(msg) = e.stop_proc(id) {
        return Done(Err(fault(FaultCode::Failed, msg)));
    }
    let p = &e.procs[&id];
    if wait && !p.fsm.state.is_stopped() {
        // supervisord's stop_report: at most every 2 s while STOPPING
        let mut last_report: Option<crate::state::Ms> = None;
        let mut report = move |e: &mut Engine| {
            let now = e.now_ms();
            let Some(p) = e.procs.get(&id) else { return };
            if p.fsm.state == State::Stopping && last_report.is_none_or(|t| now > t + 2000) {
                let msg = format!("waiting for {} to stop", p.cfg.name);
                e.log.log(crate::state::Level::Info, &msg);
                last_report = Some(now);
            }
        };
        report(e);
        return Wait(Box::new(move |e| {
            if e.procs.get(&id).is_none_or(|p| p.fsm.state.is_stopped()) {
                return Some(Ok(true.into()));
            }
            report(e);
            None
        }));
    }
    Done(Ok(true.into()))
}

fn signal_process(e: &mut Engine, name: &str, sig: &str) -> Outcome {
    let (gi, id) = match e.find(name) {
        Ok(x) => x,
        Err(f) => return Done(Err(f)),
    };
    let Some(id) = id else {
        return signal_group(e, gi, sig.to_string());
    };
    let Ok(signo) = warden_config::datatypes::signal_number(sig) else {
        return Done(Err(fault(FaultCode::BadSignal, sig)));
    };
    let p = &e.procs[&id];
    if !p.fsm.state.is_signallable() {
        return Done(Err(fault(FaultCode::NotRunning, name)));
    }
    let Some(pid) = p.fsm.pid.and_then(warden_sys::Pid::from_raw) else {
        return Done(Err(fault(
            FaultCode::Failed,
            format!(
                "attempted to send {} sig {} but it wasn't running",
                p.cfg.name,
                warden_sys::signal::signame(signo)
            ),
        )));
    };
    e.log.log(
        crate::state::Level::Debug,
        &format!(
            "sending {} (pid {}) sig {}",
            p.cfg.name,
            pid.as_raw(),
            warden_sys::signal::signame(signo)
        ),
    );
    let Some(s) = warden_sys::Signal::from_raw(signo) else {
        return Done(Err(fault(FaultCode::BadSignal, sig)));
    };
    match warden_sys::signal::kill_process(pid, s) {
        Ok(()) => Done(Ok(true.into())),
        Err(err) if err.raw_os_error() == Some(warden_sys::consts::ESRCH) => Done(Ok(true.into())),
        Err(err) => {
            let msg = format!(
                "unknown problem sending sig {name} ({}):{err}",
                pid.as_raw()
            );
            e.feed(id, Event::KillFailed(msg.clone()));
            Done(Err(fault(FaultCode::Failed, msg)))
        }
    }
}

fn send_stdin(e: &mut Engine, name: &str, chars: Option<&Value>) -> Result<Value, Fault> {
    let data: Vec<u8> = match chars {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(Value::Base64(b)) => b.clone(),
        Some(v) => return Err(fault(FaultCode::IncorrectParameters, v)),
        None => return Err(Fault::new(FaultCode::IncorrectParameters)),
    };
    let id = match e.find(name)? {
        (_, Some(id)) => id,
        _ => return Err(fault(FaultCode::BadName, name)),
    };
    let p = &e.procs[&id];
    if p.fsm.pid.is_none() || p.fsm.killing {
        return Err(fault(FaultCode::NotRunning, name));
    }
    let Some(tx) = p.stdin.clone() else {
        return Err(fault(FaultCode::NoFile, name));
    };
    let mut off = 0;
    while off < data.len() {
        match tx.try_write(&data[off..]) {
            Ok(n) => off += n,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                let rest = data[off..].to_vec();
                tokio::task::spawn_local(async move {
                    let mut off = 0;
                    while off < rest.len() {
                        if tx.writable().await.is_err() {
                            return;
                        }
                        match tx.try_write(&rest[off..]) {
                            Ok(n) => off += n,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            Err(_) => return,
                        }
                    }
                });
                break;
            }
            Err(_) => return Err(fault(FaultCode::NoFile, name)),
        }
    }
    Ok(true.into())
}

fn main_log_path(e: &Engine) -> std::path::PathBuf {
    e.config.supervisord.logfile.clone()
}

fn read_main_log(e: &Engine, p: &[Value]) -> Result<Value, Fault> {
    let path = main_log_path(e);
    if !path.exists() {
        return Err(fault(FaultCode::NoFile, path.display()));
    }
    let data = crate::logs::read_file(&path, int(p.first())?, int(p.get(1))?).map_err(|w| {
        Fault::new(if w == "BAD_ARGUMENTS" {
            FaultCode::BadArguments
        } else {
            FaultCode::Failed
        })
    })?;
    Ok(String::from_utf8_lossy(&data).into_owned().into())
}

fn clear_main_log(e: &Engine) -> Result<Value, Fault> {
    let path = main_log_path(e);
    if !path.exists() {
        return Err(fault(FaultCode::NoFile, path.display()));
    }
    match &e.log.sink {
        Some(s) => s.clear().map_err(|_| Fault::new(FaultCode::Failed))?,
        None => std::fs::remove_file(&path).map_err(|_| Fault::new(FaultCode::Failed))?,
    }
    Ok(true.into())
}

fn proc_of(e: &Engine, name: &str) -> Result<ProcId, Fault> {
    match e.find(name)? {
        (_, Some(id)) => Ok(id),
        _ => Err(fault(FaultCode::BadName, name)),
    }
}

fn read_proc_log(e: &Engine, name: &str, p: &[Value], stderr: bool) -> Result<Value, Fault> {
    let id = proc_of(e, name)?;
    let pr = &e.procs[&id];
    let path = if stderr {
        &pr.stderr_path
    } else {
        &pr.stdout_path
    };
    let Some(path) = path.as_ref().filter(|p| p.exists()) else {
        let shown = path
            .as_ref()
            .map_or("None".to_string(), |p| p.display().to_string());
        return Err(fault(FaultCode::NoFile, shown));
    };
    let data = crate::logs::read_file(path, int(p.get(1))?, int(p.get(2))?).map_err(|w| {
        Fault::new(if w == "BAD_ARGUMENTS" {
            FaultCode::BadArguments
        } else {
            FaultCode::Failed
        })
    })?;
    Ok(String::from_utf8_lossy(&data).into_owned().into())
}

fn tail_proc_log(e: &Engine, name: &str, p: &[Value], stderr: bool) -> Result<Value, Fault> {
    let id = proc_of(e, name)?;
    let pr = &e.procs[&id];
    let path = if stderr {
        &pr.stderr_path
    } else {
        &pr.stdout_path
    };
    let (offset, length) = (int(p.get(1))?, int(p.get(2))?);
    if offset < 0 || length < 0 {
        return Err(Fault::new(FaultCode::BadArguments));
    }
    let Some(path) = path.as_ref().filter(|p| p.exists()) else {
        return Ok(Value::Array(vec!["".into(), 0.into(), false.into()]));
    };
    let (data, next, overflow) = crate::logs::tail_file(path, offset, length);
    Ok(Value::Array(vec![
        String::from_utf8_lossy(&data).into_owned().into(),
        warden_xmlrpc::info::capped_int(next).into(),
        overflow.into(),
    ]))
}

fn clear_proc_logs(e: &mut Engine, name: &str) -> Result<Value, Fault> {
    let id = proc_of(e, name)?;
    let p = &e.procs[&id];
    for (sink, path) in [(&p.stdout, &p.stdout_path), (&p.stderr, &p.stderr_path)] {
        let r = match (sink, path) {
            (Some(s), _) => s.clear(),
            (None, Some(path)) if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) => {
                std::fs::remove_file(path)
            }
            _ => Ok(()),
        };
        if r.is_err() {
            return Err(fault(FaultCode::Failed, name));
        }
    }
    Ok(true.into())
}

fn reload_config(e: &mut Engine) -> Result<Value, Fault> {
    e.reread().map_err(|m| fault(FaultCode::CantReread, m))?;
    let cur: Vec<&warden_config::GroupConfig> = e.groups.iter().map(|g| &*g.cfg).collect();
    let new = &e.pending_groups;
    let added: Vec<Value> = new
        .iter()
        .filter(|n| !cur.iter().any(|c| c.name == n.name))
        .map(|n| n.name.as_str().into())
        .collect();
    let changed: Vec<Value> = new
        .iter()
        .filter(|n| cur.iter().any(|c| c.name == n.name && **c != ***n))
        .map(|n| n.name.as_str().into())
        .collect();
    let removed: Vec<Value> = cur
        .iter()
        .filter(|c| !new.iter().any(|n| n.name == c.name))
        .map(|c| c.name.as_str().into())
        .collect();
    Ok(Value::Array(vec![Value::Array(vec![
        Value::Array(added),
        Value::Array(changed),
        Value::Array(removed),
    ])]))
}

fn remove_group(e: &mut Engine, name: &str) -> Result<Value, Fault> {
    let Some(gi) = e.groups.iter().position(|g| g.cfg.name == name) else {
        return Err(fault(FaultCode::BadName, name));
    };
    if e.groups[gi]
        .procs
        .iter()
        .any(|id| !e.procs[id].fsm.state.is_stopped())
    {
        return Err(fault(FaultCode::StillRunning, name));
    }
    e.remove_group(gi);
    Ok(true.into())
}

fn all_config_info(e: &Engine) -> Value {
    use warden_config::LogFile;
    let int = |v: i64| Value::Int(warden_xmlrpc::info::capped_int(v));
    let lf = |l: &LogFile| match l {
        LogFile::Auto => Value::from("auto"),
        LogFile::None => Value::from("none"),
        LogFile::Path(p) => Value::from(p.to_string_lossy().into_owned()),
    };
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "none".into());
    let mut out: Vec<(String, Value)> = Vec::new();
    for g in &e.pending_groups {
        let inuse = e.groups.iter().any(|a| a.cfg.name == g.name);
        for p in &g.processes {
            let s = Struct::new()
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
                .with("inuse", inuse)
                .with("killasgroup", p.killasgroup)
                .with("name", p.name.as_str())
                .with("process_prio", int(p.priority))
                .with("redirect_stderr", p.redirect_stderr)
                .with("startretries", int(p.startretries))
                .with("startsecs", int(p.startsecs))
                .with("stdout_capture_maxbytes", int(p.stdout.capture_maxbytes))
                .with("stdout_events_enabled", p.stdout.events_enabled)
                .with("stdout_logfile", lf(&p.stdout.logfile))
                .with("stdout_logfile_backups", int(p.stdout.logfile_backups))
                .with("stdout_logfile_maxbytes", int(p.stdout.logfile_maxbytes))
                .with("stdout_syslog", p.stdout.syslog)
                .with("stopsignal", p.stopsignal)
                .with("stopwaitsecs", int(p.stopwaitsecs))
                .with("stderr_capture_maxbytes", int(p.stderr.capture_maxbytes))
                .with("stderr_events_enabled", p.stderr.events_enabled)
                .with("stderr_logfile", lf(&p.stderr.logfile))
                .with("stderr_logfile_backups", int(p.stderr.logfile_backups))
                .with("stderr_logfile_maxbytes", int(p.stderr.logfile_maxbytes))
                .with("stderr_syslog", p.stderr.syslog)
                .with("serverurl", opt(&p.serverurl));
            out.push((p.name.clone(), Value::Struct(s)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(out.into_iter().map(|(_, v)| v).collect())
}

/// `system.multicall`: calls run one after another; a deferred call holds
/// the next ones back, as in supervisord.
fn multicall(e: &mut Engine, params: Vec<Value>) -> Outcome {
    let calls = match warden_xmlrpc::multicall::decode_params(params) {
        Ok(c) => c,
        Err(f) => return Done(Err(f)),
    };
    let mut remaining: VecDeque<Result<ResolvedCall, Fault>> = calls.into();
    let mut results: Vec<Result<Value, Fault>> = Vec::new();
    let mut current: Option<Poll> = None;
    let mut run = move |e: &mut Engine| -> Option<Result<Value, Fault>> {
        if let Some(poll) = current.as_mut() {
            match poll(e) {
                Some(r) => {
                    results.push(r);
                    current = None;
                }
                None => return None,
            }
        }
        while let Some(c) = remaining.pop_front() {
            match c {
                Err(f) => results.push(Err(f)),
                Ok(call) => match dispatch(e, call) {
                    Done(r) => results.push(r),
                    Wait(poll) => {
                        current = Some(poll);
                        return None;
                    }
                },
            }
        }
        Some(Ok(warden_xmlrpc::multicall::encode_results(
            std::mem::take(&mut results),
        )))
    };
    match run(e) {
        Some(r) => Done(r),
        None => Wait(Box::new(run)),
    }
}
