//! State queries.

use std::rc::Rc;

use warden_types::Namespec;

use crate::core::api::{ApiError, ConfigView, ErrorKind, ProcessView, Reply};
use crate::core::engine::{Engine, ProcId};

/// `getIdentification`.
pub(super) fn identification(e: &Engine) -> Result<Reply, ApiError> {
    Ok(Reply::Text(e.config.supervisord.identifier.clone()))
}

/// Process `id` as the API shows it; `now` is the wall clock (read once per
/// request, not once per process).
fn view(e: &Engine, id: ProcId, now: i64) -> ProcessView {
    let p = &e.procs[&id];
    ProcessView {
        name: p.cfg.name.clone(),
        group: p.cfg.group.clone(),
        start: p.start_wall,
        stop: p.stop_wall,
        now,
        state: p.fsm.state,
        spawnerr: p.fsm.spawnerr.clone().unwrap_or_default(),
        exitstatus: p.fsm.exitstatus.unwrap_or(0),
        stdout_logfile: p.stdout_path.clone(),
        stderr_logfile: p.stderr_path.clone(),
        pid: p.fsm.pid.unwrap_or(0),
        starts: p.starts,
        log_bytes: [&p.stdout, &p.stderr]
            .into_iter()
            .flatten()
            .map(|s| s.written())
            .sum(),
        log_failure: [&p.stdout, &p.stderr]
            .into_iter()
            .flatten()
            .find_map(|s| s.failure())
            .into_iter()
            .chain(e.health_note(id))
            .reduce(|a, b| format!("{a}; {b}")),
        health_failures: e.health_failures(id),
    }
}

/// `getProcessInfo`: one process (a group namespec is BAD_NAME).
pub(super) fn process_info(e: &Engine, spec: &Namespec) -> Result<Reply, ApiError> {
    match e.find(spec)? {
        (_, Some(id)) => Ok(Reply::Process(view(e, id, e.clock.wall()))),
        (_, None) => Err(ApiError::new(ErrorKind::BadName, spec)),
    }
}

/// `getAllProcessInfo`: sorted by (group, name).
pub(super) fn all_process_info(e: &Engine) -> Result<Reply, ApiError> {
    let mut all: Vec<(&str, &str, ProcId)> = e
        .groups
        .iter()
        .flat_map(|g| {
            g.procs
                .iter()
                .map(|id| (g.cfg.name.as_str(), e.procs[id].cfg.name.as_str(), *id))
        })
        .collect();
    all.sort_unstable();
    let now = e.clock.wall();
    Ok(Reply::Processes(
        all.into_iter().map(|(_, _, id)| view(e, id, now)).collect(),
    ))
}

/// `getAllConfigInfo`: every process of the last config read, sorted by
/// name. As in supervisord, AUTO logs show their resolved path while the
/// config is the one the active group was built from; a config re-read
/// since then has not resolved them yet.
pub(super) fn all_config_info(e: &Engine) -> Result<Reply, ApiError> {
    let mut out: Vec<ConfigView> = Vec::new();
    for g in &e.pending_groups {
        let active = e.groups.iter().find(|a| a.cfg.name == g.name);
        for (index, p) in g.processes.iter().enumerate() {
            let live = active.filter(|a| Rc::ptr_eq(&a.cfg, g)).and_then(|a| {
                a.procs
                    .iter()
                    .map(|id| &e.procs[id])
                    .find(|lp| lp.cfg.name == p.name)
            });
            out.push(ConfigView {
                group: g.clone(),
                index,
                inuse: active.is_some(),
                stdout_logfile: live.and_then(|lp| lp.stdout_path.clone()),
                stderr_logfile: live.and_then(|lp| lp.stderr_path.clone()),
            });
        }
    }
    out.sort_by(|a, b| a.process().name.cmp(&b.process().name));
    Ok(Reply::Configs(out))
}

/// The active event listener pools, in group order.
pub(super) fn pools(e: &Engine) -> Result<Reply, ApiError> {
    Ok(Reply::Pools(
        e.groups
            .iter()
            .filter_map(|g| {
                let spec = g.pool.as_ref()?;
                Some(crate::core::api::PoolView {
                    name: g.cfg.name.clone(),
                    events: spec.events.clone(),
                    buffer_size: spec.buffer_size,
                    processes: g.cfg.processes.iter().map(|p| p.name.clone()).collect(),
                })
            })
            .collect(),
    ))
}
