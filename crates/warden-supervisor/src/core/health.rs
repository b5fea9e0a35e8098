//! Readiness probes (`ready=`), health checks (`healthcheck=`) and
//! fail-fast (`critical=true`), on the engine's side.
//!
//! The engine never waits for a probe: it asks the [`Prober`] seam to run
//! one and goes on; the result comes back as [`Engine::probed`] (or, for
//! `notify`, [`Engine::notified`]) and becomes a state machine event
//! (`Ready`, `Unhealthy`). Readiness is probed every
//! [`READY_INTERVAL`] while a program is STARTING; health once per
//! `healthcheck_interval` while it is RUNNING. Without these keys nothing
//! is armed, so an idle supervisor still never wakes up.
//!
//! [`Prober`]: crate::core::seams::Prober

use warden_config::Probe;

use crate::core::engine::{Engine, Mood, ProcId, Timer};
use crate::core::events::EventKind;
use crate::core::logs::Level;
use crate::core::seams::{Check, ProbeRequest};
use crate::core::state::{Event, Ms, State};

/// How often readiness is probed while a program is STARTING.
pub const READY_INTERVAL: Ms = 250;

/// The exit code of the supervisor after a `critical=true` program failed.
pub const CRITICAL_EXIT: i32 = 3;

/// One process's probing state.
#[derive(Debug, Default)]
pub(in crate::core) struct Probes {
    /// Bumped at every spawn: results of older probes are dropped.
    generation: u64,
    /// A probe is running.
    inflight: bool,
    /// The one armed probe timer (stale heap entries are skipped).
    due: Option<Ms>,
    /// Health checks are on (RUNNING with `healthcheck=`).
    health: bool,
    /// When health checking began (for `healthcheck_start_period`).
    since: Ms,
    /// Consecutive failed health checks.
    failures: i64,
    /// Why the last check failed.
    last_error: Option<String>,
    /// A `WATCHDOG=1` came since the last check.
    watchdog: bool,
}

/// A message from a program on `$NOTIFY_SOCKET`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    /// `READY=1`.
    pub ready: bool,
    /// `WATCHDOG=1`.
    pub watchdog: bool,
}

impl Notification {
    /// Parses sd_notify's `KEY=VALUE` lines.
    #[must_use]
    pub fn parse(data: &[u8]) -> Notification {
        let text = String::from_utf8_lossy(data);
        let mut n = Notification::default();
        for line in text.lines() {
            match line.trim() {
                "READY=1" => n.ready = true,
                "WATCHDOG=1" => n.watchdog = true,
                _ => {}
            }
        }
        n
    }
}

fn secs(s: i64) -> Ms {
    u64::try_from(s.max(0)).unwrap_or(0).saturating_mul(1000)
}

impl Engine {
    /// Hook: `id` was just forked.
    pub(in crate::core) fn spawned_probes(&mut self, id: ProcId) {
        let Some(p) = self.procs.get_mut(&id) else {
            return;
        };
        let pr = &mut p.probes;
        pr.generation += 1;
        pr.inflight = false;
        pr.due = None;
        pr.health = false;
        pr.failures = 0;
        pr.last_error = None;
        pr.watchdog = false;
        match &p.cfg.lifecycle.ready {
            None | Some(Probe::Notify) => {}
            // at once: a log probe notes where the output starts
            Some(_) => self.send_probe(id, Check::Ready),
        }
    }

    /// Hook: `id` changed to `to`.
    pub(in crate::core) fn lifecycle_changed(&mut self, id: ProcId, to: State) {
        let now = self.now();
        let Some(p) = self.procs.get_mut(&id) else {
            return;
        };
        if to != State::Running {
            p.probes.health = false;
            if to != State::Starting {
                p.probes.due = None;
            }
            // not ready in time: what the last readiness check answered
            if to == State::Stopping && p.fsm.failed_start {
                if let Some(e) = p.probes.last_error.take() {
                    let msg = format!("last readiness check of {}: {e}", p.cfg.name);
                    if let Some(err) = &mut p.fsm.spawnerr {
                        err.push_str(&format!(": {e}"));
                    }
                    self.log.log(Level::Info, &msg);
                }
            }
            return;
        }
        if let Some(probe) = &p.cfg.lifecycle.healthcheck {
            let notify = *probe == Probe::Notify;
            let interval = secs(p.cfg.lifecycle.healthcheck_interval);
            let pr = &mut p.probes;
            pr.health = true;
            pr.since = now;
            pr.failures = 0;
            pr.last_error = None;
            pr.watchdog = !notify;
            let at = now.saturating_add(interval);
            pr.due = Some(at);
            self.arm(at, Timer::Probe(id));
        }
        if !self.procs[&id].cfg.lifecycle.depends_on.is_empty() || self.has_dependents() {
            for d in self.dependents(id) {
                self.poke(d);
            }
        }
    }

    fn has_dependents(&self) -> bool {
        self.procs
            .values()
            .any(|p| !p.cfg.lifecycle.depends_on.is_empty())
    }

    /// Hook: after a step of `id`: a `critical=true` program that is FATAL
    /// or EXITED for good stops the supervisor.
    pub(in crate::core) fn check_critical(&mut self, id: ProcId) {
        let Some(p) = self.procs.get(&id) else {
            return;
        };
        if !p.cfg.lifecycle.critical
            || self.mood != Mood::Running
            || !matches!(p.fsm.state, State::Fatal | State::Exited)
        {
            return;
        }
        let msg = format!(
            "critical program {} is {}: stopping everything (exit code {CRITICAL_EXIT})",
            p.cfg.name,
            p.fsm.state.name()
        );
        self.log.log(Level::Critical, &msg);
        self.critical_exit = Some(CRITICAL_EXIT);
        self.request_mood(Mood::Shutdown);
    }

    fn send_probe(&mut self, id: ProcId, check: Check) {
        let Some(p) = self.procs.get_mut(&id) else {
            return;
        };
        let l = &p.cfg.lifecycle;
        let (probe, timeout) = match check {
            Check::Ready => (l.ready.clone(), READY_INTERVAL.max(1000)),
            Check::Health => (l.healthcheck.clone(), secs(l.healthcheck_timeout)),
        };
        let Some(probe) = probe.filter(|p| *p != Probe::Notify) else {
            return;
        };
        p.probes.inflight = true;
        let req = ProbeRequest {
            id,
            generation: p.probes.generation,
            check,
            probe,
            timeout,
            logs: [&p.stdout_path, &p.stderr_path]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            directory: p.cfg.directory.clone(),
        };
        self.prober.probe(req);
    }

    /// A probe timer fired.
    pub(in crate::core) fn probe_due(&mut self, id: ProcId, at: Ms) {
        let now = self.now();
        let Some(p) = self.procs.get_mut(&id) else {
            return;
        };
        if p.probes.due != Some(at) {
            return;
        }
        p.probes.due = None;
        match p.fsm.state {
            State::Starting if !p.probes.inflight => self.send_probe(id, Check::Ready),
            State::Running if p.probes.health => {
                let l = &p.cfg.lifecycle;
                let next = now.saturating_add(secs(l.healthcheck_interval));
                let notify = l.healthcheck == Some(Probe::Notify);
                let quiet = format!("no WATCHDOG=1 in {} s", l.healthcheck_interval);
                p.probes.due = Some(next);
                let seen = std::mem::take(&mut p.probes.watchdog);
                let inflight = p.probes.inflight;
                self.arm(next, Timer::Probe(id));
                if notify {
                    self.health_result(id, if seen { Ok(()) } else { Err(quiet) });
                } else if !inflight {
                    self.send_probe(id, Check::Health);
                }
            }
            _ => {}
        }
    }

    /// A probe's result (from the [`Prober`](crate::core::seams::Prober)).
    pub fn probed(
        &mut self,
        id: ProcId,
        generation: u64,
        check: Check,
        result: Result<(), String>,
    ) {
        let now = self.now();
        let Some(p) = self.procs.get_mut(&id) else {
            return;
        };
        if p.probes.generation != generation {
            return;
        }
        p.probes.inflight = false;
        match check {
            Check::Ready if p.fsm.state == State::Starting => match result {
                Ok(()) => self.feed(id, Event::Ready),
                Err(e) => {
                    p.probes.last_error = Some(e);
                    let at = now.saturating_add(READY_INTERVAL);
                    p.probes.due = Some(at);
                    self.arm(at, Timer::Probe(id));
                }
            },
            Check::Health if p.probes.health => self.health_result(id, result),
            _ => {}
        }
        self.settle_now();
    }

    fn health_result(&mut self, id: ProcId, result: Result<(), String>) {
        let now = self.now();
        let Some(p) = self.procs.get_mut(&id) else {
            return;
        };
        let l = &p.cfg.lifecycle;
        let pr = &mut p.probes;
        let e = match result {
            Ok(()) => {
                let was = std::mem::take(&mut pr.failures);
                pr.last_error = None;
                if was > 0 {
                    let (group, name) = (p.cfg.group.clone(), p.cfg.name.clone());
                    self.log
                        .log(Level::Info, &format!("health check passed again: {name}"));
                    self.bus.publish(EventKind::ProcessHealth {
                        group,
                        name,
                        failures: 0,
                        error: None,
                    });
                }
                return;
            }
            Err(e) => e,
        };
        if now < pr.since.saturating_add(secs(l.healthcheck_start_period)) {
            return; // failures in the start period do not count
        }
        pr.failures += 1;
        pr.last_error = Some(e.clone());
        let (failures, retries) = (pr.failures, l.healthcheck_retries);
        let msg = format!(
            "health check failed: {} ({failures} of {retries}: {e})",
            p.cfg.name
        );
        self.log.log(Level::Warn, &msg);
        self.bus.publish(EventKind::ProcessHealth {
            group: p.cfg.group.clone(),
            name: p.cfg.name.clone(),
            failures,
            error: Some(e),
        });
        if failures >= retries {
            let why = self.health_note(id).unwrap_or_default();
            self.feed(id, Event::Unhealthy(why));
        }
    }

    /// Failed health checks in a row, for a process with `healthcheck=`.
    pub(in crate::core) fn health_failures(&self, id: ProcId) -> Option<i64> {
        let p = self.procs.get(&id)?;
        p.cfg.lifecycle.healthcheck.as_ref()?;
        Some(p.probes.failures)
    }

    /// "unhealthy (3 checks failed: connection refused)" while health
    /// checks fail, for the process description.
    pub(in crate::core) fn health_note(&self, id: ProcId) -> Option<String> {
        let p = self.procs.get(&id)?;
        let pr = &p.probes;
        if pr.failures == 0 || !matches!(p.fsm.state, State::Running | State::Stopping) {
            return None;
        }
        let n = pr.failures;
        Some(format!(
            "unhealthy ({n} check{} failed: {})",
            if n == 1 { "" } else { "s" },
            pr.last_error.as_deref().unwrap_or("?")
        ))
    }

    /// A message on `$NOTIFY_SOCKET` from `chain` (the sender's pid, then
    /// its ancestors': a program's descendant may speak for it).
    pub fn notified(&mut self, chain: &[i32], n: &Notification) {
        let Some(id) = chain.iter().find_map(|pid| self.proc_of_pid(*pid)) else {
            return;
        };
        let Some(p) = self.procs.get_mut(&id) else {
            return;
        };
        if n.watchdog {
            p.probes.watchdog = true;
        }
        if n.ready && p.cfg.lifecycle.ready == Some(Probe::Notify) {
            self.feed(id, Event::Ready);
        }
        self.settle_now();
    }
}
