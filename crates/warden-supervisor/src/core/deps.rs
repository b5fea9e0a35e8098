//! Dependencies between programs (`depends_on=`) and the stop order.
//!
//! A program with `depends_on` is auto-started only when everything it
//! depends on is RUNNING (ready, with `ready=`); it is woken up when one of
//! them becomes RUNNING. Stops (shutdown, reload) go in tiers: first the
//! programs no unstopped program depends on, of those the highest group
//! priority, all of a tier at once; the next tier when the previous one
//! has stopped.

use crate::core::engine::{Engine, ProcId};
use crate::core::state::State;

impl Engine {
    /// The processes `id` depends on (`NAME`: the processes of program
    /// NAME; `GROUP:*`: the processes of group GROUP).
    pub(in crate::core) fn deps_of(&self, id: ProcId) -> Vec<ProcId> {
        let Some(p) = self.procs.get(&id) else {
            return Vec::new();
        };
        let names = &p.cfg.lifecycle.depends_on;
        if names.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<ProcId> = self
            .procs
            .iter()
            .filter(|(other, q)| {
                **other != id
                    && names.iter().any(|n| match n.strip_suffix(":*") {
                        Some(group) => q.cfg.group == group,
                        None => q.cfg.program_name == *n,
                    })
            })
            .map(|(other, _)| *other)
            .collect();
        out.sort_unstable();
        out
    }

    /// `id` and what it depends on, transitively, that is not RUNNING, in
    /// start order (what is depended on first, `id` last).
    pub(in crate::core) fn deps_to_start(&self, id: ProcId) -> Vec<ProcId> {
        fn visit(e: &Engine, id: ProcId, seen: &mut Vec<ProcId>, out: &mut Vec<ProcId>) {
            if seen.contains(&id) {
                return;
            }
            seen.push(id);
            for d in e.deps_of(id) {
                if e.procs[&d].fsm.state != State::Running {
                    visit(e, d, seen, out);
                }
            }
            out.push(id);
        }
        let mut out = Vec::new();
        visit(self, id, &mut Vec::new(), &mut out);
        out
    }

    /// Everything `id` depends on is RUNNING.
    pub(in crate::core) fn deps_ready(&self, id: ProcId) -> bool {
        self.deps_of(id)
            .iter()
            .all(|d| self.procs[d].fsm.state == State::Running)
    }

    /// The processes that depend on `id`.
    pub(in crate::core) fn dependents(&self, id: ProcId) -> Vec<ProcId> {
        let mut out: Vec<ProcId> = self
            .procs
            .iter()
            .filter(|(_, q)| !q.cfg.lifecycle.depends_on.is_empty())
            .map(|(other, _)| *other)
            .filter(|other| self.deps_of(*other).contains(&id))
            .collect();
        out.sort_unstable();
        out
    }

    /// The next processes to stop in a shutdown, in the order to signal
    /// them; `None` when everything is stopped or a tier is still stopping.
    pub(in crate::core) fn stop_tier(&self) -> Option<Vec<ProcId>> {
        let order = self.ordered_procs();
        let unstopped: Vec<ProcId> = order
            .iter()
            .copied()
            .filter(|id| !self.procs[id].fsm.state.is_stopped())
            .collect();
        if unstopped.is_empty()
            || unstopped
                .iter()
                .any(|id| self.procs[id].fsm.state == State::Stopping)
        {
            return None;
        }
        let any_deps = unstopped
            .iter()
            .any(|id| !self.procs[id].cfg.lifecycle.depends_on.is_empty());
        let mut candidates: Vec<ProcId> = if any_deps {
            unstopped
                .iter()
                .copied()
                .filter(|id| {
                    !unstopped
                        .iter()
                        .any(|other| self.deps_of(*other).contains(id))
                })
                .collect()
        } else {
            unstopped.clone()
        };
        if candidates.is_empty() {
            candidates = unstopped; // a cycle (refused by the config): all
        }
        let priority = |id: &ProcId| {
            let group = &self.procs[id].cfg.group;
            self.groups
                .iter()
                .find(|g| g.cfg.name == *group)
                .map_or(i64::MIN, |g| g.cfg.priority)
        };
        let top = candidates.iter().map(priority).max()?;
        let mut tier: Vec<ProcId> = candidates
            .into_iter()
            .filter(|id| priority(id) == top)
            .collect();
        tier.reverse();
        Some(tier)
    }

    /// For a stop of several processes at once (a group, all): the ones
    /// among `ids` that depend on `id` and are not stopped yet; `id` is
    /// stopped only after them.
    pub(in crate::core) fn dependents_among(&self, id: ProcId, ids: &[ProcId]) -> Vec<ProcId> {
        if !self
            .procs
            .values()
            .any(|p| !p.cfg.lifecycle.depends_on.is_empty())
        {
            return Vec::new();
        }
        self.dependents(id)
            .into_iter()
            .filter(|d| ids.contains(d) && self.procs[d].fsm.state.is_running())
            .collect()
    }

    /// Holds the stop of `id` until `dependents` have stopped.
    pub(in crate::core) fn hold_stop(&mut self, id: ProcId, dependents: Vec<ProcId>) {
        self.held_stops.retain(|(h, _)| *h != id);
        self.held_stops.push((id, dependents));
    }

    /// Carries out the held stops whose dependents have all stopped.
    pub(in crate::core) fn release_held_stops(&mut self) {
        if self.held_stops.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held_stops);
        let (ready, waiting): (Vec<_>, Vec<_>) = held.into_iter().partition(|(_, deps)| {
            deps.iter()
                .all(|d| self.procs.get(d).is_none_or(|p| p.fsm.state.is_stopped()))
        });
        self.held_stops = waiting;
        for (id, _) in ready {
            if self
                .procs
                .get(&id)
                .is_some_and(|p| p.fsm.state.is_running())
            {
                let _ = self.stop_proc(id);
            }
        }
    }

    /// For a start of several processes at once (a group, all): whether
    /// `id` must wait for something it depends on that is being started
    /// too (or is on its way: STARTING, BACKOFF).
    pub(in crate::core) fn start_waits(&self, id: ProcId, ids: &[ProcId]) -> bool {
        self.deps_of(id).iter().any(|d| {
            let state = self.procs[d].fsm.state;
            state != State::Running
                && (ids.contains(d) || matches!(state, State::Starting | State::Backoff))
        })
    }

    /// Holds the start of `id` until what it depends on is RUNNING.
    pub(in crate::core) fn hold_start(&mut self, id: ProcId) {
        if !self.held_starts.contains(&id) {
            self.held_starts.push(id);
        }
    }

    /// Starts the held processes whose dependencies are RUNNING; drops the
    /// holds of those whose dependencies failed (their waiting calls then
    /// fail).
    pub(in crate::core) fn release_held_starts(&mut self) {
        if self.held_starts.is_empty() {
            return;
        }
        if self.mood != crate::core::engine::Mood::Running {
            self.held_starts.clear();
            self.touch();
            return;
        }
        for id in std::mem::take(&mut self.held_starts) {
            if !self.procs.contains_key(&id) {
                continue;
            }
            let deps = self.deps_of(id);
            let state = |d: &ProcId| self.procs[d].fsm.state;
            if deps.iter().all(|d| state(d) == State::Running) {
                if !state(&id).is_running() {
                    self.feed(id, crate::core::state::Event::Start);
                }
            } else if deps.iter().any(|d| {
                !self.held_starts.contains(d)
                    && !matches!(state(d), State::Running | State::Starting | State::Backoff)
            }) {
                self.touch(); // a dependency failed or was stopped
            } else {
                self.held_starts.push(id);
            }
        }
    }
}
