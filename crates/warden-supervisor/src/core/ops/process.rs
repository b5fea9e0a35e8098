//! Start, stop, signal and stdin: one process, a group, or all.

use warden_types::Namespec;

use crate::core::api::{ApiError, ErrorKind, Reply, ResultEntry, Target};
use crate::core::engine::{execv_args, Answer, Engine, Pending, ProcId, Waiting};
use crate::core::logs::Level;
use crate::core::state::{Event, State};

/// The processes `target` names, in start order; a single process as
/// `Err(id)` so that it is answered alone, not as a list.
fn resolve(e: &Engine, target: &Target) -> Result<Result<Vec<ProcId>, ProcId>, ApiError> {
    match target {
        Target::All => Ok(Ok(e.ordered_procs())),
        Target::Group(name) => {
            let gi = e
                .find(&Namespec::group(name))
                .map_err(|_| ApiError::new(ErrorKind::BadName, name))?
                .0;
            Ok(Ok(e.group_procs(gi)))
        }
        Target::Spec(spec) => match e.find(spec)? {
            (gi, None) => Ok(Ok(e.group_procs(gi))),
            (_, Some(id)) => Ok(Err(id)),
        },
    }
}

/// supervisord's `make_allfunc`: `f` for every process whose state passes
/// `pred`; outcomes known now come first, the others as they become known.
fn each(
    e: &mut Engine,
    ids: Vec<ProcId>,
    pred: impl Fn(State) -> bool,
    f: impl Fn(&mut Engine, ProcId, &str) -> Answer,
) -> Answer {
    let mut results = Vec::new();
    let mut pending = Vec::new();
    for id in ids {
        let Some(p) = e.procs.get(&id) else {
            continue;
        };
        if !pred(p.fsm.state) {
            continue;
        }
        let (name, group) = (p.cfg.name.clone(), p.cfg.group.clone());
        let spec = Namespec::process(&group, &name).to_string();
        match f(e, id, &spec) {
            Answer::Now(r) => results.push(ResultEntry {
                name,
                group,
                result: r.map(drop),
            }),
            Answer::Wait(Waiting::One { pending: w, .. }) => pending.push((name, group, w)),
            Answer::Wait(Waiting::Group { .. } | Waiting::Update { .. }) => {}
        }
    }
    if pending.is_empty() {
        Answer::Now(Ok(Reply::Results(results)))
    } else {
        Answer::Wait(Waiting::Group { results, pending })
    }
}

/// Starts `target`; with `wait`, answers once RUNNING.
pub(super) fn start(e: &mut Engine, target: &Target, wait: bool) -> Answer {
    match resolve(e, target) {
        Err(err) => Answer::Now(Err(err)),
        Ok(Ok(ids)) => {
            let all = ids.clone();
            each(
                e,
                ids,
                |s| !s.is_running(),
                |e, id, n| {
                    // depends_on: after what it depends on is RUNNING
                    if !e.start_waits(id, &all) || execv_args(&e.procs[&id].cfg).is_err() {
                        return start_one(e, id, n, wait);
                    }
                    hold(e, id, n, wait)
                },
            )
        }
        Ok(Err(id)) => start_with_deps(e, id, &spec_text(target), wait),
    }
}

/// A start of one process by name: what it depends on (transitively) that
/// is not RUNNING is started first, and the process itself once all of it
/// is RUNNING (as systemd starts a unit's requirements).
fn start_with_deps(e: &mut Engine, id: ProcId, name: &str, wait: bool) -> Answer {
    let need = e.deps_to_start(id);
    if need.len() <= 1 || execv_args(&e.procs[&id].cfg).is_err() {
        return start_one(e, id, name, wait);
    }
    for &d in &need[..need.len() - 1] {
        let state = e.procs[&d].fsm.state;
        if state.is_running() || state == State::Stopping {
            continue;
        }
        if e.start_waits(d, &need) {
            e.hold_start(d);
        } else {
            let spec = {
                let c = &e.procs[&d].cfg;
                Namespec::process(&c.group, &c.name).to_string()
            };
            // its outcome shows in the waited-for process's
            let _ = start_one(e, d, &spec, false);
        }
    }
    if !e.start_waits(id, &need) {
        return start_one(e, id, name, wait);
    }
    hold(e, id, name, wait)
}

/// Holds the start of `id` until what it depends on runs; with `wait`,
/// answers once it is RUNNING.
fn hold(e: &mut Engine, id: ProcId, name: &str, wait: bool) -> Answer {
    e.hold_start(id);
    if !wait {
        return Answer::Now(Ok(Reply::Ok));
    }
    Answer::Wait(Waiting::One {
        name: name.to_string(),
        pending: Pending::Start(id),
    })
}

fn spec_text(target: &Target) -> String {
    match target {
        Target::Spec(s) => s.to_string(),
        Target::Group(g) => g.clone(),
        Target::All => String::new(),
    }
}

fn start_one(e: &mut Engine, id: ProcId, name: &str, wait: bool) -> Answer {
    let p = &e.procs[&id];
    if let Err(err) = execv_args(&p.cfg) {
        return Answer::Now(Err(err));
    }
    if p.fsm.state.is_running() {
        return Answer::Now(Err(ApiError::new(ErrorKind::AlreadyStarted, name)));
    }
    if p.fsm.state == State::Unknown {
        return Answer::Now(Err(ApiError::new(
            ErrorKind::Failed,
            format!("{name} is in an unknown process state"),
        )));
    }
    e.by_hand(id, false);
    e.feed(id, Event::Start);
    let p = &e.procs[&id];
    if p.fsm.spawnerr.is_some() {
        return Answer::Now(Err(ApiError::new(ErrorKind::SpawnError, name)));
    }
    if wait && p.fsm.state != State::Running {
        let pending = Pending::Start(id);
        if let Some(r) = e.check(pending, name) {
            return Answer::Now(r.map(|()| Reply::Ok));
        }
        return Answer::Wait(Waiting::One {
            name: name.to_string(),
            pending,
        });
    }
    Answer::Now(Ok(Reply::Ok))
}

/// Stops `target`; with `wait`, answers once stopped.
pub(super) fn stop(e: &mut Engine, target: &Target, wait: bool) -> Answer {
    match resolve(e, target) {
        Err(err) => Answer::Now(Err(err)),
        Ok(Ok(ids)) => {
            let all = ids.clone();
            each(e, ids, State::is_running, |e, id, n| {
                // depends_on: dependents first, this one once they stopped
                let dependents = e.dependents_among(id, &all);
                if dependents.is_empty() {
                    return stop_one(e, id, n, wait);
                }
                e.hold_stop(id, dependents);
                if !wait {
                    return Answer::Now(Ok(Reply::Ok));
                }
                Answer::Wait(Waiting::One {
                    name: n.to_string(),
                    pending: Pending::Stop(id),
                })
            })
        }
        Ok(Err(id)) => stop_one(e, id, &spec_text(target), wait),
    }
}

fn stop_one(e: &mut Engine, id: ProcId, name: &str, wait: bool) -> Answer {
    if !e.procs[&id].fsm.state.is_running() {
        return Answer::Now(Err(ApiError::new(ErrorKind::NotRunning, name)));
    }
    if let Some(msg) = e.stop_proc(id) {
        return Answer::Now(Err(ApiError::new(ErrorKind::Failed, msg)));
    }
    e.by_hand(id, true);
    let pending = Pending::Stop(id);
    if wait && e.check(pending, name).is_none() {
        return Answer::Wait(Waiting::One {
            name: name.to_string(),
            pending,
        });
    }
    Answer::Now(Ok(Reply::Ok))
}

/// Sends a signal to `target`.
pub(super) fn signal(e: &mut Engine, target: &Target, sig: &str) -> Answer {
    match resolve(e, target) {
        Err(err) => Answer::Now(Err(err)),
        Ok(Ok(ids)) => each(e, ids, State::is_running, |e, id, n| {
            Answer::Now(signal_one(e, id, n, sig))
        }),
        Ok(Err(id)) => Answer::Now(signal_one(e, id, &spec_text(target), sig)),
    }
}

fn signal_one(e: &mut Engine, id: ProcId, name: &str, sig: &str) -> Result<Reply, ApiError> {
    let Ok(signo) = warden_config::datatypes::signal_number(sig) else {
        return Err(ApiError::new(ErrorKind::BadSignal, sig));
    };
    let p = &e.procs[&id];
    if !p.fsm.state.is_signallable() {
        return Err(ApiError::new(ErrorKind::NotRunning, name));
    }
    let pname = p.cfg.name.clone();
    let Some(pid) = p.fsm.pid else {
        return Err(ApiError::new(
            ErrorKind::Failed,
            format!(
                "attempted to send {pname} sig {} but it wasn't running",
                warden_sys::signal::signame(signo)
            ),
        ));
    };
    e.log.log(
        Level::Debug,
        &format!(
            "sending {pname} (pid {pid}) sig {}",
            warden_sys::signal::signame(signo)
        ),
    );
    match e.launcher.signal(pid, signo, false) {
        Ok(()) => Ok(Reply::Ok),
        Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => {
            Err(ApiError::new(ErrorKind::BadSignal, sig))
        }
        Err(err) => {
            let msg = format!("unknown problem sending sig {name} ({pid}):{err}");
            e.feed(id, Event::KillFailed(msg.clone()));
            Err(ApiError::new(ErrorKind::Failed, msg))
        }
    }
}

/// Queues `data` for the process's stdin; chunks are written in order and
/// whole, however slowly the process reads.
pub(super) fn send_stdin(
    e: &mut Engine,
    spec: &Namespec,
    data: Vec<u8>,
) -> Result<Reply, ApiError> {
    let name = spec.to_string();
    let id = match e.find(spec)? {
        (_, Some(id)) => id,
        _ => return Err(ApiError::new(ErrorKind::BadName, &name)),
    };
    let Some(p) = e.procs.get_mut(&id) else {
        return Err(ApiError::new(ErrorKind::BadName, &name));
    };
    if p.fsm.pid.is_none() || p.fsm.killing {
        return Err(ApiError::new(ErrorKind::NotRunning, &name));
    }
    let Some(stdin) = p.stdin.as_mut() else {
        return Err(ApiError::new(ErrorKind::NoFile, &name));
    };
    stdin
        .send(data)
        .map_err(|_| ApiError::new(ErrorKind::NoFile, &name))?;
    Ok(Reply::Ok)
}
