//! `update` with the fewest restarts.
//!
//! supervisorctl's `update` stops, removes and re-adds every group whose
//! config changed, so one edited program restarts its whole group
//! (supervisord #591). This operation compares process by process: a
//! process whose config is unchanged keeps running with its pid; one where
//! only settings that apply without a restart changed gets
//! them in place; one whose launch changed (command, environment, user,
//! logs...) is stopped and started again with the new config (if it was
//! running; otherwise it only takes the new config); a new one is
//! added and a removed one is stopped and dropped.
//!
//! The settings applied in place (documented with the `update` command):
//! `priority`, `autostart`, `autorestart`, `startsecs`, `startretries`,
//! `exitcodes`, `stopsignal`, `stopwaitsecs`, `stopasgroup` and
//! `killasgroup`. Any other difference, including keys added later,
//! restarts the process: the safe side. The XML-RPC methods that
//! supervisorctl's `update` uses keep supervisord's semantics; this is
//! reached through [`Request::Update`](crate::core::api::Request::Update).

use std::rc::Rc;

use warden_config::{GroupConfig, ProcessConfig};

use crate::core::api::{
    ApiError, ErrorKind, GroupAction, GroupUpdate, ProcessAction, ProcessUpdate, Reply,
    UpdateReport,
};
use crate::core::engine::{Answer, Engine, Mood, ProcCfg, ProcId, Retire, Waiting};
use crate::core::state::{Event, State};

/// Whether going from `old` to `new` needs a restart (see the module's list).
fn needs_restart(old: &ProcessConfig, new: &ProcessConfig) -> bool {
    let mut o = old.clone();
    o.priority = new.priority;
    o.autostart = new.autostart;
    o.autorestart = new.autorestart;
    o.startsecs = new.startsecs;
    o.startretries = new.startretries;
    o.exitcodes.clone_from(&new.exitcodes);
    o.stopsignal = new.stopsignal;
    o.stopwaitsecs = new.stopwaitsecs;
    o.stopasgroup = new.stopasgroup;
    o.killasgroup = new.killasgroup;
    // Bookkeeping that only matters through what it expands into (the
    // name, the command...), which is compared.
    o.numprocs = new.numprocs;
    o.numprocs_start = new.numprocs_start;
    o.process_num = new.process_num;
    o.file.clone_from(&new.file);
    o != *new
}

/// Re-reads the config and applies it to `wanted` groups (all when empty).
pub(super) fn update(e: &mut Engine, wanted: &[String]) -> Answer {
    let config = match (e.loader)() {
        Ok(c) => c,
        Err(m) => return Answer::Now(Err(ApiError::new(ErrorKind::CantReread, m))),
    };
    e.take_pending(config.groups, config.eventlisteners, config.fcgi_programs);
    let mut report = UpdateReport::default();
    for name in wanted {
        let known = e.groups.iter().any(|g| g.cfg.name == *name)
            || e.pending_groups.iter().any(|g| g.name == *name);
        if !known {
            report.groups.push(GroupUpdate {
                group: name.clone(),
                action: GroupAction::Unknown,
                processes: Vec::new(),
            });
        }
    }
    let want = |n: &str| wanted.is_empty() || wanted.iter().any(|w| w == n);
    let mut waits = Vec::new();

    let removed: Vec<String> = e
        .groups
        .iter()
        .filter(|g| !g.retiring && want(&g.cfg.name))
        .filter(|g| !e.pending_groups.iter().any(|n| n.name == g.cfg.name))
        .map(|g| g.cfg.name.clone())
        .collect();
    for name in removed {
        report.groups.push(remove_group(e, &name, &mut waits));
    }

    let changed: Vec<Rc<GroupConfig>> = e
        .pending_groups
        .iter()
        .filter(|n| want(&n.name))
        .filter(|n| {
            e.groups
                .iter()
                .any(|g| g.cfg.name == n.name && (g.retiring || e.group_differs(g, n)))
        })
        .cloned()
        .collect();
    for cfg in changed {
        report.groups.push(change_group(e, &cfg, &mut waits));
    }
    stop_retired(e, &waits);

    let added: Vec<Rc<GroupConfig>> = e
        .pending_groups
        .iter()
        .filter(|n| want(&n.name) && !e.groups.iter().any(|g| g.cfg.name == n.name))
        .cloned()
        .collect();
    for cfg in added {
        report.groups.push(GroupUpdate {
            group: cfg.name.clone(),
            action: GroupAction::Added,
            processes: cfg
                .processes
                .iter()
                .map(|p| ProcessUpdate {
                    name: p.name.clone(),
                    action: ProcessAction::Added,
                })
                .collect(),
        });
        e.add_group(cfg);
    }
    // Autostarts what was added (and nothing else: a tick only starts a
    // never-started process).
    e.tick_all();
    waits.retain(|id| e.procs.get(id).is_some_and(|p| p.retire.is_some()));
    if waits.is_empty() {
        Answer::Now(Ok(Reply::Update(report)))
    } else {
        Answer::Wait(Waiting::Update { report, ids: waits })
    }
}

/// Marks `id` to be retired once stopped ([`stop_retired`] stops it).
fn retire(e: &mut Engine, id: ProcId, how: Retire, waits: &mut Vec<ProcId>) {
    let Some(p) = e.procs.get_mut(&id) else {
        return;
    };
    p.retire = Some(how);
    waits.push(id);
    if !e.retiring.contains(&id) {
        e.retiring.push(id);
    }
}

/// Stops the processes this update retires that run, dependents first
/// (`depends_on`): a process that others among them depend on is stopped
/// once those have stopped. One already stopping (by hand, or an earlier
/// update) is retired when that stop ends.
fn stop_retired(e: &mut Engine, ids: &[ProcId]) {
    for &id in ids {
        let Some(p) = e.procs.get(&id) else {
            continue;
        };
        if !matches!(
            p.fsm.state,
            State::Starting | State::Running | State::Backoff
        ) {
            continue;
        }
        let dependents = e.dependents_among(id, ids);
        if dependents.is_empty() {
            let _ = e.stop_proc(id);
        } else {
            e.hold_stop(id, dependents);
        }
    }
}

/// A group gone from the config: stop its processes, drop it when they are.
fn remove_group(e: &mut Engine, name: &str, waits: &mut Vec<ProcId>) -> GroupUpdate {
    let gi = e
        .groups
        .iter()
        .position(|g| g.cfg.name == name)
        .expect("a removed group is active");
    e.groups[gi].retiring = true;
    let ids = e.group_procs(gi);
    let processes = ids
        .iter()
        .map(|id| ProcessUpdate {
            name: e.procs[id].cfg.name.clone(),
            action: ProcessAction::Removed,
        })
        .collect();
    for id in ids.into_iter().rev() {
        retire(e, id, Retire::Remove, waits);
    }
    GroupUpdate {
        group: name.to_string(),
        action: GroupAction::Removed,
        processes,
    }
}

/// A changed group: process by process.
fn change_group(e: &mut Engine, cfg: &Rc<GroupConfig>, waits: &mut Vec<ProcId>) -> GroupUpdate {
    let gi = e
        .groups
        .iter()
        .position(|g| g.cfg.name == cfg.name)
        .expect("a changed group is active");
    let pool = e.pending_pools.get(&cfg.name).cloned();
    let fcgi = e.pending_fcgi.get(&cfg.name).cloned();
    // A pool's events or an fcgi group's socket: every process restarts.
    let pool_changed = e.groups[gi].pool != pool || e.groups[gi].fcgi != fcgi;
    if e.groups[gi].fcgi != fcgi {
        // Running processes keep the old socket until they stop; the new
        // one is created now.
        e.groups[gi].fcgi = fcgi;
        e.groups[gi].socket = None;
        if let Err(err) = e.group_socket(gi) {
            e.log.log(crate::core::logs::Level::Error, &err);
        }
    }
    let old_ids = e.groups[gi].procs.clone();
    let mut ids = Vec::new();
    let mut processes = Vec::new();
    for (at, np) in cfg.processes.iter().enumerate() {
        let new = ProcCfg::new(cfg.clone(), at);
        let found = old_ids
            .iter()
            .copied()
            .find(|id| e.procs[id].cfg.name == np.name);
        let Some(id) = found else {
            ids.push(e.make_proc(new));
            processes.push(ProcessUpdate {
                name: np.name.clone(),
                action: ProcessAction::Added,
            });
            continue;
        };
        ids.push(id);
        let p = &e.procs[&id];
        let state = p.fsm.state;
        // An earlier update's pending retirement: this one replaces it.
        let earlier = match &p.retire {
            None => None,
            Some(Retire::Remove) => Some(false),
            Some(Retire::Replace { restart, .. }) => Some(*restart),
        };
        let differs = *p.cfg != *np;
        let action = if earlier.is_some() || pool_changed || needs_restart(&p.cfg, np) {
            if state.is_stopped() && earlier.is_none() {
                e.reconfigure(id, new);
                ProcessAction::Replaced
            } else {
                let restart = earlier.unwrap_or(false) || state.is_running();
                retire(e, id, Retire::Replace { cfg: new, restart }, waits);
                if restart {
                    ProcessAction::Restarted
                } else {
                    ProcessAction::Replaced
                }
            }
        } else if differs {
            // Only live settings changed: a new policy, the same process.
            let policy = e.policy_for(np);
            let p = e.procs.get_mut(&id).expect("listed in its group");
            p.policy = policy;
            p.cfg = new;
            ProcessAction::Updated
        } else {
            e.procs.get_mut(&id).expect("listed in its group").cfg = new;
            continue;
        };
        processes.push(ProcessUpdate {
            name: np.name.clone(),
            action,
        });
    }
    for id in old_ids {
        if ids.contains(&id) {
            continue;
        }
        processes.push(ProcessUpdate {
            name: e.procs[&id].cfg.name.clone(),
            action: ProcessAction::Removed,
        });
        // Listed until it has stopped, so that status shows it stopping.
        ids.push(id);
        retire(e, id, Retire::Remove, waits);
    }
    let mut group = e.groups.remove(gi);
    group.cfg = cfg.clone();
    group.procs = ids;
    group.pool = pool;
    group.retiring = false;
    let pos = e
        .groups
        .iter()
        .position(|g| (g.cfg.priority, &g.cfg.name) > (cfg.priority, &cfg.name))
        .unwrap_or(e.groups.len());
    e.groups.insert(pos, group);
    GroupUpdate {
        group: cfg.name.clone(),
        action: GroupAction::Changed,
        processes,
    }
}

impl Engine {
    /// Retires the processes an update was waiting on that have stopped:
    /// drops removed ones (and their group, when it was removed and is now
    /// empty), gives replaced ones their new config and starts again those
    /// that ran before.
    pub(in crate::core) fn retire_stopped(&mut self) {
        if self.retiring.is_empty() {
            return;
        }
        let procs = &self.procs;
        self.retiring
            .retain(|id| procs.get(id).is_some_and(|p| p.retire.is_some()));
        let stopped = |id: &ProcId| procs.get(id).is_some_and(|p| p.fsm.state.is_stopped());
        if !self.retiring.iter().any(stopped) {
            return;
        }
        // in start order, so that restarts go as a start would
        let due: Vec<ProcId> = self
            .ordered_procs()
            .into_iter()
            .filter(|id| self.retiring.contains(id) && self.procs[id].fsm.state.is_stopped())
            .collect();
        self.retiring.retain(|id| !due.contains(id));
        for id in due {
            let Some(how) = self.procs.get_mut(&id).and_then(|p| p.retire.take()) else {
                continue;
            };
            match how {
                Retire::Remove => {
                    self.procs.remove(&id);
                    let Some(gi) = self.groups.iter().position(|g| g.procs.contains(&id)) else {
                        continue;
                    };
                    self.groups[gi].procs.retain(|p| *p != id);
                    if self.groups[gi].retiring && self.groups[gi].procs.is_empty() {
                        self.remove_group(gi);
                    }
                }
                Retire::Replace { cfg, restart } => {
                    self.reconfigure(id, cfg);
                    if restart && self.mood == Mood::Running {
                        self.feed(id, Event::Start);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ProcessConfig {
        let text = format!("[supervisord]\nlogfile=/dev/null\n\n[program:x]\n{text}\n");
        let c = warden_config::parse_str(
            &text,
            std::path::Path::new("/tmp"),
            &std::collections::HashMap::new(),
        )
        .expect("config")
        .config;
        c.groups[0].processes[0].clone()
    }

    #[test]
    fn live_settings_do_not_restart_and_launch_settings_do() {
        let base = parse("command=/bin/sleep 1");
        for live in [
            "priority=5",
            "autostart=false",
            "autorestart=true",
            "startsecs=9",
            "startretries=7",
            "exitcodes=0,2",
            "stopsignal=INT",
            "stopwaitsecs=3",
            "stopasgroup=true",
            "killasgroup=true",
        ] {
            let new = parse(&format!("command=/bin/sleep 1\n{live}"));
            assert_ne!(base, new, "{live} changes the config");
            assert!(!needs_restart(&base, &new), "{live} applies in place");
        }
        for launch in [
            "directory=/tmp",
            "umask=077",
            "environment=A=1",
            "redirect_stderr=true",
            "stdout_logfile=/tmp/x.log",
        ] {
            let new = parse(&format!("command=/bin/sleep 1\n{launch}"));
            assert!(needs_restart(&base, &new), "{launch} needs a restart");
        }
        assert!(needs_restart(&base, &parse("command=/bin/sleep 2")));
    }
}
