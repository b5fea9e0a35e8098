//! Re-reading the config, adding and removing groups.

use crate::core::api::{ApiError, Changes, ErrorKind, Reply};
use crate::core::engine::Engine;

/// `reloadConfig`: reads the config file into the pending groups and says
/// what changed against the active ones.
pub(super) fn reread(e: &mut Engine) -> Result<Reply, ApiError> {
    let config = (e.loader)().map_err(|m| ApiError::new(ErrorKind::CantReread, m))?;
    e.take_pending(config.groups, config.eventlisteners, config.fcgi_programs);
    let cur = &e.groups;
    let new = &e.pending_groups;
    let names = |it: &mut dyn Iterator<Item = &String>| it.cloned().collect::<Vec<_>>();
    Ok(Reply::Changes(Changes {
        added: names(
            &mut new
                .iter()
                .filter(|n| !cur.iter().any(|c| c.cfg.name == n.name))
                .map(|n| &n.name),
        ),
        changed: names(
            &mut new
                .iter()
                .filter(|n| {
                    cur.iter()
                        .any(|c| c.cfg.name == n.name && e.group_differs(c, n))
                })
                .map(|n| &n.name),
        ),
        removed: names(
            &mut cur
                .iter()
                .filter(|c| !new.iter().any(|n| n.name == c.cfg.name))
                .map(|c| &c.cfg.name),
        ),
    }))
}

/// `addProcessGroup`: a group of the last config read, autostarted.
pub(super) fn add(e: &mut Engine, name: &str) -> Result<Reply, ApiError> {
    let Some(cfg) = e.pending_groups.iter().find(|g| g.name == name).cloned() else {
        return Err(ApiError::new(ErrorKind::BadName, name));
    };
    if e.groups.iter().any(|g| g.cfg.name == name) {
        return Err(ApiError::new(ErrorKind::AlreadyAdded, name));
    }
    e.add_group(cfg);
    e.tick_all();
    Ok(Reply::Ok)
}

/// `removeProcessGroup`: only a group whose processes are all stopped.
pub(super) fn remove(e: &mut Engine, name: &str) -> Result<Reply, ApiError> {
    let Some(gi) = e.groups.iter().position(|g| g.cfg.name == name) else {
        return Err(ApiError::new(ErrorKind::BadName, name));
    };
    if e.groups[gi]
        .procs
        .iter()
        .any(|id| !e.procs[id].fsm.state.is_stopped())
    {
        return Err(ApiError::new(ErrorKind::StillRunning, name));
    }
    e.remove_group(gi);
    Ok(Reply::Ok)
}
