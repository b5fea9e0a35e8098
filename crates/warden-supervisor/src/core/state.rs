//! supervisord's process state machine as a pure function.
//!
//! [`step`] takes the current [`Fsm`], one [`Event`] and a [`Ctx`] (time,
//! policy, whether the daemon is running) and returns the next `Fsm` plus the
//! [`Effect`]s the engine must carry out (spawn, signal, log, arm a timer).
//! Nothing here touches the OS, so the whole (state × event) table is unit
//! tested below.
//!
//! The rules are supervisord 4.3.0's `Subprocess.spawn/finish/kill/transition`
//! with its quirks: RUNNING needs `now - laststart > startsecs` (strictly
//! greater); an exit inside `startsecs` is BACKOFF whatever the code; the
//! backoff delay grows 1, 2, 3 s; more than `startretries` backoffs is FATAL;
//! an exit after `startsecs` restarts at once per `autorestart`; a stop sends
//! `stopsignal` (to the group with `stopasgroup`) and SIGKILL (to the group
//! with `killasgroup`) every `stopwaitsecs` until the child is reaped.
//! Deviation on purpose: deadlines fire when due (armed timers), not on
//! supervisord's 1 s poll.

use warden_config::AutoRestart;

/// Milliseconds on the engine's monotonic clock.
pub type Ms = u64;

/// supervisord's process states, with their state sets (`is_running`,
/// `is_stopped`, `is_signallable`).
pub use warden_types::ProcessState as State;

pub use crate::core::logs::Level;

/// How a reaped child ended.
pub use warden_sys::process::ExitStatus as Exit;

/// supervisord's `decode_wait_status`: (es, message). A signal gives -1.
pub fn decode(exit: Exit) -> (i32, String) {
    match exit {
        Exit::Code(c) => (c, format!("exit status {c}")),
        Exit::Signaled {
            signal,
            core_dumped,
        } => {
            let name = warden_sys::signal::signame(signal);
            let mut m = format!("terminated by {name}");
            if core_dumped {
                m.push_str(" (core dumped)");
            }
            (-1, m)
        }
        // an adopted process (not our child): counted as unexpected
        Exit::Unknown => (-1, "exit status unknown (adopted, not our child)".into()),
    }
}

/// The policy part of a program's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Process name (for log lines).
    pub name: String,
    /// `autostart`.
    pub autostart: bool,
    /// `autorestart`.
    pub autorestart: AutoRestart,
    /// `startsecs`.
    pub startsecs: i64,
    /// `startretries`.
    pub startretries: i64,
    /// `exitcodes`.
    pub exitcodes: Vec<u8>,
    /// `stopsignal`.
    pub stopsignal: i32,
    /// `stopwaitsecs`.
    pub stopwaitsecs: i64,
    /// `stopasgroup`.
    pub stopasgroup: bool,
    /// `killasgroup`.
    pub killasgroup: bool,
    /// warden's lifecycle keys that the state machine applies.
    pub life: Life,
}

/// The lifecycle keys the state machine applies (warden's own; the
/// defaults keep supervisord's behaviour).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Life {
    /// `ready=` is set: RUNNING comes with a `Ready` event, not after
    /// `startsecs`.
    pub ready: bool,
    /// `ready_timeout` in seconds.
    pub ready_timeout: i64,
    /// `backoff=exponential`.
    pub exponential: bool,
    /// `backoff_max` in seconds.
    pub backoff_max: i64,
    /// `backoff_reset` in seconds.
    pub backoff_reset: i64,
}

impl Life {
    /// From a validated process config.
    pub fn from_config(l: &warden_config::Lifecycle) -> Life {
        Life {
            ready: l.ready.is_some(),
            ready_timeout: l.ready_timeout,
            exponential: l.backoff == warden_config::Backoff::Exponential,
            backoff_max: l.backoff_max,
            backoff_reset: l.backoff_reset,
        }
    }
}

impl Policy {
    /// From a validated process config.
    pub fn from_config(p: &warden_config::ProcessConfig) -> Policy {
        Policy {
            name: p.name.clone(),
            autostart: p.autostart,
            autorestart: p.autorestart,
            startsecs: p.startsecs,
            startretries: p.startretries,
            exitcodes: p.exitcodes.clone(),
            stopsignal: p.stopsignal,
            stopwaitsecs: p.stopwaitsecs,
            stopasgroup: p.stopasgroup,
            killasgroup: p.killasgroup,
            life: Life::from_config(&p.lifecycle),
        }
    }

    /// Whether another start may follow `backoff` failed ones
    /// (`startretries=-1`: forever).
    fn may_retry(&self, backoff: i64) -> bool {
        self.startretries < 0 || backoff <= self.startretries
    }

    /// The wait after the `n`th failed start: n s (supervisord's), or
    /// 2^(n-1) s up to `backoff_max` with `backoff=exponential`.
    fn backoff_delay(&self, n: i64) -> Ms {
        if self.life.exponential {
            let shift = u32::try_from((n - 1).clamp(0, 30)).unwrap_or(30);
            secs((1i64 << shift).min(self.life.backoff_max.max(1)))
        } else {
            secs(n)
        }
    }

    fn expected(&self, es: i32) -> bool {
        u8::try_from(es).is_ok_and(|c| self.exitcodes.contains(&c))
    }
}

/// The state machine's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fsm {
    /// Current state.
    pub state: State,
    /// Consecutive failed starts.
    pub backoff: i64,
    /// Last spawn attempt (monotonic), if any.
    pub laststart: Option<Ms>,
    /// Deadline of the pending backoff or stop, 0 if none.
    pub delay: Ms,
    /// A stop signal was sent and the child is not reaped yet.
    pub killing: bool,
    /// Last spawn error.
    pub spawnerr: Option<String>,
    /// Last exit status (-1 after a signal).
    pub exitstatus: Option<i32>,
    /// The live child's pid.
    pub pid: Option<i32>,
    /// Whether the last exit status was an expected one.
    pub expected: bool,
    /// The stop under way is a failed start (not ready in time): BACKOFF
    /// once it is reaped.
    pub failed_start: bool,
    /// The stop under way is a restart (unhealthy): start again once it is
    /// reaped.
    pub restart: bool,
}

impl Default for Fsm {
    fn default() -> Self {
        Fsm {
            state: State::Stopped,
            backoff: 0,
            laststart: None,
            delay: 0,
            killing: false,
            spawnerr: None,
            exitstatus: None,
            pid: None,
            expected: false,
            failed_start: false,
            restart: false,
        }
    }
}

/// Inputs to [`step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A time-driven re-evaluation (daemon start, a deadline fired).
    Tick,
    /// A start request (user or autorestart).
    Start,
    /// The spawn effect forked a child.
    Spawned(i32),
    /// The spawn effect failed before exec (command not found, pipes, fork).
    SpawnFailed(String),
    /// The child was reaped.
    Exited(Exit),
    /// An administrative stop.
    Stop,
    /// Shutdown of a process in BACKOFF: give up.
    GiveUp,
    /// `kill()` failed with an error other than ESRCH.
    KillFailed(String),
    /// The readiness probe (`ready=`) succeeded.
    Ready,
    /// The health check failed `healthcheck_retries` times in a row (the
    /// reason); restart if `autorestart` allows.
    Unhealthy(String),
    /// At start-up: a process of this program that a crashed previous run
    /// left running is taken over (`previous_run=adopt`); only a program
    /// never started goes RUNNING with it.
    Adopted(i32),
}

/// What the engine must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Fork and exec the program, then feed `Spawned` or `SpawnFailed`.
    Spawn,
    /// Send a signal to the child (`group`: to its process group).
    Signal {
        /// Signal number.
        signal: i32,
        /// To `-pgid`.
        group: bool,
    },
    /// Write a main-log line.
    Log(Level, String),
    /// Deliver a `Tick` at this time.
    Timer(Ms),
    /// The state changed (for waiting calls and events): from, to, and the
    /// count of failed starts at that moment (supervisord's `tries`).
    Changed(State, State, i64),
}

/// Context of one step.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Now, monotonic.
    pub now: Ms,
    /// The daemon's mood is RUNNING (auto-spawning allowed).
    pub running: bool,
    /// The program's policy.
    pub policy: &'a Policy,
    /// Everything it `depends_on` is RUNNING (auto-spawning allowed).
    pub deps_ready: bool,
}

/// Error for a request the state machine refuses (a stop with no child).
pub type Refusal = Option<String>;

fn secs(s: i64) -> Ms {
    u64::try_from(s.max(0)).unwrap_or(0).saturating_mul(1000)
}

struct Out<'a> {
    fsm: Fsm,
    effects: Vec<Effect>,
    policy: &'a Policy,
    deps_ready: bool,
}

impl Out<'_> {
    fn set(&mut self, to: State) {
        let from = self.fsm.state;
        if from != to {
            self.fsm.state = to;
            self.effects
                .push(Effect::Changed(from, to, self.fsm.backoff));
        }
    }
    fn log(&mut self, level: Level, msg: String) {
        self.effects.push(Effect::Log(level, msg));
    }
    fn enter_backoff(&mut self, now: Ms) {
        // counted before the change, as supervisord's change_state does
        self.fsm.backoff += 1;
        self.set(State::Backoff);
        self.fsm.delay = now.saturating_add(self.delay_for(self.fsm.backoff));
    }
    fn delay_for(&self, n: i64) -> Ms {
        self.policy.backoff_delay(n)
    }
}

/// One transition: `(state, event) -> (state, effects)`.
pub fn step(fsm: &Fsm, event: &Event, ctx: &Ctx<'_>) -> (Fsm, Vec<Effect>) {
    let mut o = Out {
        fsm: fsm.clone(),
        effects: Vec::new(),
        policy: ctx.policy,
        deps_ready: ctx.deps_ready,
    };
    let p = ctx.policy;
    let now = ctx.now;
    match event {
        Event::Tick => {}
        Event::Start => {
            spawn(&mut o, p, now);
            return (o.fsm, o.effects);
        }
        Event::Spawned(_) | Event::SpawnFailed(_) if o.fsm.state != State::Starting => {}
        Event::Exited(_) if o.fsm.pid.is_none() => {}
        Event::Spawned(pid) => {
            o.fsm.pid = Some(*pid);
            o.fsm.spawnerr = None;
            o.log(Level::Info, format!("spawned: '{}' with pid {pid}", p.name));
            o.fsm.delay = now.saturating_add(secs(p.startsecs));
            o.fsm.failed_start = false;
            o.fsm.restart = false;
        }
        Event::SpawnFailed(msg) => {
            o.fsm.spawnerr = Some(msg.clone());
            o.log(Level::Info, format!("spawnerr: {msg}"));
            o.enter_backoff(now);
        }
        Event::Exited(exit) => finish(&mut o, p, now, *exit),
        Event::Stop => {
            o.fsm.restart = false;
            let _ = stop(&mut o, p, now);
        }
        Event::Ready if p.life.ready && o.fsm.state == State::Starting && o.fsm.pid.is_some() => {
            enter_running(&mut o, p, "the process is ready (ready=)".into());
        }
        Event::Ready => {}
        Event::Unhealthy(why) if o.fsm.state == State::Running => {
            o.log(Level::Warn, format!("unhealthy: {} ({why})", p.name));
            o.fsm.restart = match p.autorestart {
                AutoRestart::Never => false,
                AutoRestart::Always | AutoRestart::Unexpected => true,
            };
            let _ = kill(&mut o, p, now, p.stopsignal);
            return (o.fsm, o.effects);
        }
        Event::Unhealthy(_) => {}
        Event::Adopted(pid) if o.fsm.state == State::Stopped && o.fsm.pid.is_none() => {
            o.fsm.pid = Some(*pid);
            o.fsm.spawnerr = None;
            o.fsm.exitstatus = None;
            o.fsm.laststart = Some(now);
            o.fsm.backoff = 0;
            o.set(State::Running);
            o.log(
                Level::Info,
                format!(
                    "adopted: '{}' with pid {pid}, left running by a previous run \
                     (its output is not captured)",
                    p.name
                ),
            );
        }
        Event::Adopted(_) => {}
        Event::GiveUp => {
            o.fsm.delay = 0;
            o.fsm.backoff = 0;
            o.set(State::Fatal);
        }
        Event::KillFailed(msg) => {
            o.log(Level::Critical, msg.clone());
            o.set(State::Unknown);
            o.fsm.killing = false;
            o.fsm.delay = 0;
        }
    }
    if !matches!(event, Event::Start | Event::Stop) {
        transition(&mut o, p, now, ctx.running);
    }
    (o.fsm, o.effects)
}

/// A stop request, with supervisord's result: `Some(message)` when there
/// was no child to signal (the RPC layer turns it into FAILED).
pub fn step_stop(fsm: &Fsm, ctx: &Ctx<'_>) -> (Fsm, Vec<Effect>, Refusal) {
    let mut o = Out {
        fsm: fsm.clone(),
        effects: Vec::new(),
        policy: ctx.policy,
        deps_ready: ctx.deps_ready,
    };
    o.fsm.restart = false;
    let r = stop(&mut o, ctx.policy, ctx.now);
    (o.fsm, o.effects, r)
}

fn spawn(o: &mut Out, p: &Policy, now: Ms) {
    if o.fsm.pid.is_some() {
        o.log(Level::Warn, format!("process '{}' already running", p.name));
        return;
    }
    if !matches!(
        o.fsm.state,
        State::Exited | State::Fatal | State::Backoff | State::Stopped
    ) {
        return;
    }
    o.fsm.killing = false;
    o.fsm.spawnerr = None;
    o.fsm.exitstatus = None;
    o.fsm.laststart = Some(now);
    o.set(State::Starting);
    o.effects.push(Effect::Spawn);
}

fn stop(o: &mut Out, p: &Policy, now: Ms) -> Refusal {
    if o.fsm.state == State::Backoff {
        o.log(
            Level::Debug,
            format!("Attempted to kill {}, which is in BACKOFF state.", p.name),
        );
        o.set(State::Stopped);
        return None;
    }
    kill(o, p, now, p.stopsignal)
}

fn kill(o: &mut Out, p: &Policy, now: Ms, signal: i32) -> Refusal {
    let Some(pid) = o.fsm.pid else {
        let msg = format!(
            "attempted to kill {} with sig {} but it wasn't running",
            p.name,
            warden_sys::signal::signame(signal)
        );
        o.log(Level::Debug, msg.clone());
        return Some(msg);
    };
    let group = if o.fsm.state == State::Stopping {
        p.killasgroup
    } else {
        p.stopasgroup
    };
    o.log(
        Level::Debug,
        format!(
            "killing {} (pid {pid}) {}with signal {}",
            p.name,
            if group { "process group " } else { "" },
            warden_sys::signal::signame(signal)
        ),
    );
    o.fsm.killing = true;
    o.fsm.delay = now.saturating_add(secs(p.stopwaitsecs));
    o.set(State::Stopping);
    o.effects.push(Effect::Signal { signal, group });
    o.effects.push(Effect::Timer(o.fsm.delay));
    None
}

fn finish(o: &mut Out, p: &Policy, now: Ms, exit: Exit) {
    let (es, msg) = decode(exit);
    let laststart = o.fsm.laststart.unwrap_or(0);
    let too_quickly = now.saturating_sub(laststart) < secs(p.startsecs);
    let expected = p.expected(es);
    o.fsm.pid = None;
    o.fsm.expected = expected;
    if o.fsm.killing && o.fsm.failed_start {
        o.fsm.killing = false;
        o.fsm.failed_start = false;
        o.fsm.exitstatus = None;
        o.log(Level::Info, format!("stopped: {} ({msg})", p.name));
        o.enter_backoff(now);
    } else if o.fsm.killing {
        o.fsm.killing = false;
        o.fsm.delay = 0;
        o.fsm.exitstatus = Some(es);
        o.set(State::Stopped);
        let level = if expected { Level::Info } else { Level::Warn };
        o.log(level, format!("stopped: {} ({msg})", p.name));
    } else if (too_quickly || p.life.ready) && o.fsm.state == State::Starting {
        o.fsm.exitstatus = None;
        o.fsm.spawnerr = Some("Exited too quickly (process log may have details)".into());
        o.log(
            Level::Warn,
            format!("exited: {} ({msg}; not expected)", p.name),
        );
        o.enter_backoff(now);
    } else {
        o.fsm.delay = 0;
        if !p.life.exponential || now.saturating_sub(laststart) >= secs(p.life.backoff_reset) {
            o.fsm.backoff = 0;
        }
        o.fsm.exitstatus = Some(es);
        if o.fsm.state == State::Starting {
            o.set(State::Running);
        }
        if expected {
            o.log(Level::Info, format!("exited: {} ({msg}; expected)", p.name));
        } else {
            o.fsm.spawnerr = Some(format!("Bad exit code {es}"));
            o.log(
                Level::Warn,
                format!("exited: {} ({msg}; not expected)", p.name),
            );
        }
        o.set(State::Exited);
    }
}

/// STARTING -> RUNNING, with the reason in the `success:` line.
fn enter_running(o: &mut Out, p: &Policy, why: String) {
    o.fsm.delay = 0;
    if !p.life.exponential {
        // with backoff=exponential the count resets after backoff_reset
        o.fsm.backoff = 0;
    }
    o.set(State::Running);
    o.log(
        Level::Info,
        format!("success: {} entered RUNNING state, {why}", p.name),
    );
}

/// Whether auto-spawning may go ahead as far as dependencies go.
fn ctx_deps(o: &Out) -> bool {
    o.deps_ready
}

/// supervisord's `transition()`: the time- and policy-driven moves.
fn transition(o: &mut Out, p: &Policy, now: Ms, running: bool) {
    let state = o.fsm.state;
    if running {
        match state {
            State::Exited => {
                let restart = match p.autorestart {
                    AutoRestart::Always => true,
                    AutoRestart::Unexpected => !o.fsm.exitstatus.is_some_and(|es| p.expected(es)),
                    AutoRestart::Never => false,
                };
                let up = now.saturating_sub(o.fsm.laststart.unwrap_or(0));
                if restart && p.life.exponential && up < secs(p.life.backoff_reset) {
                    // a crash loop: wait as after a failed start
                    o.enter_backoff(now);
                    if p.may_retry(o.fsm.backoff) {
                        o.effects.push(Effect::Timer(o.fsm.delay.saturating_add(1)));
                    }
                } else if restart && ctx_deps(o) {
                    if p.life.exponential {
                        o.fsm.backoff = 0;
                    }
                    spawn(o, p, now);
                }
            }
            State::Stopped if o.fsm.restart => {
                o.fsm.restart = false;
                spawn(o, p, now);
            }
            State::Stopped if o.fsm.laststart.is_none() && p.autostart && ctx_deps(o) => {
                spawn(o, p, now);
            }
            State::Backoff if p.may_retry(o.fsm.backoff) => {
                if now <= o.fsm.delay {
                    o.effects.push(Effect::Timer(o.fsm.delay.saturating_add(1)));
                } else if ctx_deps(o) {
                    spawn(o, p, now);
                }
                // else: waits for a dependency to become RUNNING (it wakes
                // this one up), with no timer
            }
            _ => {}
        }
    }
    match state {
        State::Starting if o.fsm.pid.is_some() && p.life.ready => {
            let due = o
                .fsm
                .laststart
                .unwrap_or(0)
                .saturating_add(secs(p.life.ready_timeout));
            if now >= due && !o.fsm.killing {
                o.log(
                    Level::Warn,
                    format!(
                        "not ready: {} after {} seconds (ready_timeout)",
                        p.name, p.life.ready_timeout
                    ),
                );
                o.fsm.spawnerr = Some("Not ready in time (ready_timeout)".into());
                o.fsm.failed_start = true;
                let _ = kill(o, p, now, p.stopsignal);
            } else if !o.fsm.killing {
                o.effects.push(Effect::Timer(due));
            }
        }
        State::Starting if o.fsm.pid.is_some() => {
            let up = now.saturating_sub(o.fsm.laststart.unwrap_or(0));
            if up > secs(p.startsecs) || p.startsecs <= 0 {
                enter_running(
                    o,
                    p,
                    format!(
                        "process has stayed up for > than {} seconds (startsecs)",
                        p.startsecs
                    ),
                );
            } else {
                // strictly greater: one millisecond past the boundary
                o.effects.push(Effect::Timer(
                    o.fsm
                        .laststart
                        .unwrap_or(0)
                        .saturating_add(secs(p.startsecs))
                        .saturating_add(1),
                ));
            }
        }
        State::Backoff if !p.may_retry(o.fsm.backoff) => {
            o.fsm.delay = 0;
            o.fsm.backoff = 0;
            o.set(State::Fatal);
            o.log(
                Level::Info,
                format!(
                    "gave up: {} entered FATAL state, too many start retries too quickly",
                    p.name
                ),
            );
        }
        State::Stopping if o.fsm.delay <= now => {
            let pid = o.fsm.pid.unwrap_or(0);
            o.log(
                Level::Warn,
                format!("killing '{}' ({pid}) with SIGKILL", p.name),
            );
            let _ = kill(o, p, now, 9);
        }
        State::Stopping => o.effects.push(Effect::Timer(o.fsm.delay)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            name: "x".into(),
            autostart: true,
            autorestart: AutoRestart::Unexpected,
            startsecs: 1,
            startretries: 3,
            exitcodes: vec![0],
            stopsignal: 15,
            stopwaitsecs: 10,
            stopasgroup: false,
            killasgroup: false,
            life: Life::default(),
        }
    }

    fn fsm(state: State, pid: Option<i32>) -> Fsm {
        Fsm {
            state,
            pid,
            laststart: Some(1000),
            killing: state == State::Stopping,
            delay: match state {
                State::Stopping => 11_000,
                State::Backoff => 3000,
                _ => 0,
            },
            backoff: i64::from(state == State::Backoff),
            exitstatus: (state == State::Exited).then_some(0),
            ..Fsm::default()
        }
    }

    fn run(f: &Fsm, e: &Event, now: Ms) -> (Fsm, Vec<Effect>) {
        let p = policy();
        step(
            f,
            e,
            &Ctx {
                now,
                running: true,
                policy: &p,
                deps_ready: true,
            },
        )
    }

    fn has_pid(s: State) -> Option<i32> {
        matches!(s, State::Starting | State::Running | State::Stopping).then_some(42)
    }

    /// A compact description of effects, for the table: `spawn`,
    /// `kill N` / `killpg N`, `timer@T`, `log` (state changes are the
    /// table's other column).
    fn sketch(effects: &[Effect]) -> String {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Spawn => Some("spawn".to_string()),
                Effect::Signal { signal, group } => Some(format!(
                    "{} {signal}",
                    if *group { "killpg" } else { "kill" }
                )),
                Effect::Timer(t) => Some(format!("timer@{t}")),
                Effect::Log(..) => Some("log".into()),
                Effect::Changed(..) => None,
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn events() -> [Event; 13] {
        [
            Event::Tick,
            Event::Start,
            Event::Spawned(42),
            Event::SpawnFailed("boom".into()),
            Event::Exited(Exit::Code(0)),
            Event::Exited(Exit::Code(1)),
            Event::Stop,
            Event::GiveUp,
            Event::KillFailed("x".into()),
            Event::Ready,
            Event::Unhealthy("bad".into()),
            Event::Adopted(42),
            Event::Exited(Exit::Unknown),
        ]
    }

    /// The (state × event) table: the new state and the effects of every
    /// pair.
    #[test]
    fn table() {
        use State::*;
        // rows: state; columns as `events()`; evaluated at t=1.5 s (inside
        // startsecs), started at t=1 s; each cell: (new state, effects)
        let expect: [(State, [(State, &str); 13]); 8] = [
            (
                Stopped,
                [
                    (Stopped, ""),
                    (Starting, "spawn"),
                    (Stopped, ""),
                    (Stopped, ""),
                    (Stopped, ""),
                    (Stopped, ""),
                    (Stopped, "log"),
                    (Fatal, ""),
                    (Unknown, "log"),
                    (Stopped, ""),
                    (Stopped, ""),
                    (Running, "log"),
                    (Stopped, ""),
                ],
            ),
            (
                Starting,
                [
                    (Starting, "timer@2001"),
                    (Starting, "log"),
                    (Starting, "log,timer@2001"),
                    (Backoff, "log,timer@2501"),
                    (Backoff, "log,timer@2501"),
                    (Backoff, "log,timer@2501"),
                    (Stopping, "log,kill 15,timer@11500"),
                    (Fatal, ""),
                    (Unknown, "log"),
                    (Starting, "timer@2001"),
                    (Starting, "timer@2001"),
                    (Starting, "timer@2001"),
                    (Backoff, "log,timer@2501"),
                ],
            ),
            (
                Running,
                [
                    (Running, ""),
                    (Running, "log"),
                    (Running, ""),
                    (Running, ""),
                    (Exited, "log"),
                    (Starting, "log,spawn"),
                    (Stopping, "log,kill 15,timer@11500"),
                    (Fatal, ""),
                    (Unknown, "log"),
                    (Running, ""),
                    (Stopping, "log,log,kill 15,timer@11500"),
                    (Running, ""),
                    (Starting, "log,spawn"),
                ],
            ),
            (
                Backoff,
                [
                    (Backoff, "timer@3001"),
                    (Starting, "spawn"),
                    (Backoff, "timer@3001"),
                    (Backoff, "timer@3001"),
                    (Backoff, "timer@3001"),
                    (Backoff, "timer@3001"),
                    (Stopped, "log"),
                    (Fatal, ""),
                    (Unknown, "log"),
                    (Backoff, "timer@3001"),
                    (Backoff, "timer@3001"),
                    (Backoff, "timer@3001"),
                    (Backoff, "timer@3001"),
                ],
            ),
            (
                Stopping,
                [
                    (Stopping, "timer@11000"),
                    (Stopping, "log"),
                    (Stopping, "timer@11000"),
                    (Stopping, "timer@11000"),
                    (Stopped, "log"),
                    (Stopped, "log"),
                    (Stopping, "log,kill 15,timer@11500"),
                    (Fatal, ""),
                    (Unknown, "log"),
                    (Stopping, "timer@11000"),
                    (Stopping, "timer@11000"),
                    (Stopping, "timer@11000"),
                    (Stopped, "log"),
                ],
            ),
            (
                Exited,
                [
                    (Exited, ""),
                    (Starting, "spawn"),
                    (Exited, ""),
                    (Exited, ""),
                    (Exited, ""),
                    (Exited, ""),
                    (Exited, "log"),
                    (Fatal, ""),
                    (Unknown, "log"),
                    (Exited, ""),
                    (Exited, ""),
                    (Exited, ""),
                    (Exited, ""),
                ],
            ),
            (
                Fatal,
                [
                    (Fatal, ""),
                    (Starting, "spawn"),
                    (Fatal, ""),
                    (Fatal, ""),
                    (Fatal, ""),
                    (Fatal, ""),
                    (Fatal, "log"),
                    (Fatal, ""),
                    (Unknown, "log"),
                    (Fatal, ""),
                    (Fatal, ""),
                    (Fatal, ""),
                    (Fatal, ""),
                ],
            ),
            (
                Unknown,
                [
                    (Unknown, ""),
                    (Unknown, ""),
                    (Unknown, ""),
                    (Unknown, ""),
                    (Unknown, ""),
                    (Unknown, ""),
                    (Unknown, "log"),
                    (Fatal, ""),
                    (Unknown, "log"),
                    (Unknown, ""),
                    (Unknown, ""),
                    (Unknown, ""),
                    (Unknown, ""),
                ],
            ),
        ];
        for (state, row) in expect {
            for (ev, (want, effects)) in events().iter().zip(row) {
                let mut f = fsm(state, has_pid(state));
                f.laststart = Some(1000); // already started once: no autostart
                let (got, e) = run(&f, ev, 1500);
                assert_eq!(got.state, want, "{state:?} x {ev:?}");
                assert_eq!(sketch(&e), effects, "{state:?} x {ev:?}");
            }
        }
    }

    #[test]
    fn startsecs_is_strictly_greater() {
        let f = fsm(State::Starting, Some(1));
        assert_eq!(run(&f, &Event::Tick, 2000).0.state, State::Starting);
        assert_eq!(run(&f, &Event::Tick, 2001).0.state, State::Running);
        let (_, e) = run(&f, &Event::Tick, 2000);
        assert!(e.contains(&Effect::Timer(2001)));
    }

    #[test]
    fn backoff_timeline_1_2_3_then_fatal() {
        let p = policy();
        let mut f = Fsm::default();
        let mut now = 0;
        let mut spawns = Vec::new();
        for _ in 0..20 {
            let ctx = Ctx {
                now,
                running: true,
                policy: &p,
                deps_ready: true,
            };
            let (g, eff) = step(&f, &Event::Tick, &ctx);
            f = g;
            if eff.contains(&Effect::Spawn) {
                spawns.push(now);
                f = step(&f, &Event::Spawned(7), &ctx).0;
                f = step(&f, &Event::Exited(Exit::Code(0)), &ctx).0;
            }
            if f.state == State::Fatal {
                break;
            }
            now = eff
                .iter()
                .chain(step(&f, &Event::Tick, &ctx).1.iter())
                .filter_map(|e| match e {
                    Effect::Timer(t) => Some(*t),
                    _ => None,
                })
                .min()
                .unwrap_or(now + 1);
        }
        assert_eq!(f.state, State::Fatal);
        let secs: Vec<u64> = spawns.iter().map(|t| (t + 500) / 1000).collect();
        assert_eq!(secs, vec![0, 1, 3, 6]);
    }

    #[test]
    fn stop_escalates_to_sigkill_as_group() {
        let mut p = policy();
        p.killasgroup = true;
        let f = fsm(State::Running, Some(9));
        let ctx = Ctx {
            now: 5000,
            running: true,
            policy: &p,
            deps_ready: true,
        };
        let (f, e) = step(&f, &Event::Stop, &ctx);
        assert!(e.contains(&Effect::Signal {
            signal: 15,
            group: false
        }));
        let ctx = Ctx {
            now: 15_000,
            running: true,
            policy: &p,
            deps_ready: true,
        };
        let (f, e) = step(&f, &Event::Tick, &ctx);
        assert_eq!(f.state, State::Stopping);
        assert!(e.contains(&Effect::Signal {
            signal: 9,
            group: true
        }));
        let (f, e) = step(
            &f,
            &Event::Exited(Exit::Signaled {
                signal: 9,
                core_dumped: false,
            }),
            &ctx,
        );
        assert_eq!(f.state, State::Stopped);
        assert_eq!(f.exitstatus, Some(-1));
        assert!(e.contains(&Effect::Log(
            Level::Warn,
            "stopped: x (terminated by SIGKILL)".into()
        )));
    }

    #[test]
    fn autorestart_variants_after_running() {
        for (ar, code, restarts) in [
            (AutoRestart::Always, 0, true),
            (AutoRestart::Never, 1, false),
            (AutoRestart::Unexpected, 0, false),
            (AutoRestart::Unexpected, 2, true),
        ] {
            let mut p = policy();
            p.autorestart = ar;
            let f = fsm(State::Running, Some(3));
            let ctx = Ctx {
                now: 9000,
                running: true,
                policy: &p,
                deps_ready: true,
            };
            let (g, _) = step(&f, &Event::Exited(Exit::Code(code)), &ctx);
            assert_eq!(g.state == State::Starting, restarts, "{ar:?} {code}");
            // no auto-spawn while the daemon is stopping
            let ctx = Ctx {
                running: false,
                ..ctx
            };
            let (g, _) = step(&f, &Event::Exited(Exit::Code(code)), &ctx);
            assert_eq!(g.state, State::Exited);
        }
    }

    #[test]
    fn stop_without_child_is_refused() {
        let p = policy();
        let ctx = Ctx {
            now: 0,
            running: true,
            policy: &p,
            deps_ready: true,
        };
        let (_, _, r) = step_stop(&fsm(State::Exited, None), &ctx);
        assert_eq!(
            r.as_deref(),
            Some("attempted to kill x with sig SIGTERM but it wasn't running")
        );
    }

    /// Spawn times (s) of a crash loop driven by its own timers.
    fn crash_loop(p: &Policy, rounds: usize) -> (Vec<u64>, State) {
        let mut f = Fsm::default();
        let mut now = 0;
        let mut spawns = Vec::new();
        for _ in 0..rounds {
            let ctx = Ctx {
                now,
                running: true,
                policy: p,
                deps_ready: true,
            };
            let (g, eff) = step(&f, &Event::Tick, &ctx);
            f = g;
            let mut timers: Vec<Ms> = eff
                .iter()
                .filter_map(|e| match e {
                    Effect::Timer(t) => Some(*t),
                    _ => None,
                })
                .collect();
            if eff.contains(&Effect::Spawn) {
                spawns.push(now);
                f = step(&f, &Event::Spawned(7), &ctx).0;
                let (g, eff) = step(&f, &Event::Exited(Exit::Code(1)), &ctx);
                f = g;
                timers.extend(eff.iter().filter_map(|e| match e {
                    Effect::Timer(t) => Some(*t),
                    _ => None,
                }));
            }
            if f.state == State::Fatal {
                break;
            }
            now = timers.into_iter().min().unwrap_or(now + 1);
        }
        let secs = spawns.iter().map(|t| (t + 500) / 1000).collect();
        (secs, f.state)
    }

    #[test]
    fn exponential_backoff_doubles_up_to_the_cap() {
        let mut p = policy();
        p.startretries = -1; // forever
        p.life.exponential = true;
        p.life.backoff_max = 4;
        let (spawns, state) = crash_loop(&p, 12);
        assert_eq!(&spawns[..6], &[0, 1, 3, 7, 11, 15]);
        assert_ne!(state, State::Fatal);
        // the default stays supervisord's 1, 2, 3 s, then FATAL
        let (spawns, state) = crash_loop(&policy(), 20);
        assert_eq!(spawns, vec![0, 1, 3, 6]);
        assert_eq!(state, State::Fatal);
    }

    #[test]
    fn exponential_backoff_also_after_running() {
        let mut p = policy();
        p.life.exponential = true;
        p.life.backoff_max = 60;
        p.life.backoff_reset = 60;
        p.startretries = -1;
        p.autorestart = AutoRestart::Always;
        // RUNNING for 5 s, then exits: waits 1 s in BACKOFF, not at once
        let f = fsm(State::Running, Some(3));
        let ctx = Ctx {
            now: 6000,
            running: true,
            policy: &p,
            deps_ready: true,
        };
        let (g, e) = step(&f, &Event::Exited(Exit::Code(0)), &ctx);
        assert_eq!(g.state, State::Backoff);
        assert_eq!(g.delay, 7000);
        assert!(e.contains(&Effect::Timer(7001)), "{e:?}");
        // up for longer than backoff_reset: the count resets, restart at once
        let ctx = Ctx { now: 70_000, ..ctx };
        let (g, e) = step(&f, &Event::Exited(Exit::Code(0)), &ctx);
        assert_eq!(g.state, State::Starting);
        assert_eq!(g.backoff, 0);
        assert!(e.contains(&Effect::Spawn));
    }

    #[test]
    fn ready_decides_running_and_its_timeout_is_a_failed_start() {
        let mut p = policy();
        p.life.ready = true;
        p.life.ready_timeout = 5;
        let f = fsm(State::Starting, Some(42)); // started at 1 s
        let at = |now| Ctx {
            now,
            running: true,
            policy: &p,
            deps_ready: true,
        };
        // startsecs passes: still STARTING, waiting for readiness until 6 s
        let (g, e) = step(&f, &Event::Tick, &at(2500));
        assert_eq!(g.state, State::Starting);
        assert_eq!(sketch(&e), "timer@6000");
        // ready: RUNNING
        let (g, _) = step(&f, &Event::Ready, &at(2500));
        assert_eq!(g.state, State::Running);
        // not ready in time: stopped, then BACKOFF (a failed start)
        let (g, e) = step(&f, &Event::Tick, &at(6000));
        assert_eq!(g.state, State::Stopping);
        assert_eq!(sketch(&e), "log,log,kill 15,timer@16000");
        let (g, _) = step(&g, &Event::Exited(Exit::Code(0)), &at(6100));
        assert_eq!(g.state, State::Backoff);
        assert_eq!(g.backoff, 1);
        // an exit while waiting for readiness is a failed start too
        let (g, _) = step(&f, &Event::Exited(Exit::Code(0)), &at(4000));
        assert_eq!(g.state, State::Backoff);
    }

    #[test]
    fn unhealthy_restarts_unless_autorestart_is_false() {
        for (ar, restarts) in [(AutoRestart::Unexpected, true), (AutoRestart::Never, false)] {
            let mut p = policy();
            p.autorestart = ar;
            let ctx = Ctx {
                now: 9000,
                running: true,
                policy: &p,
                deps_ready: true,
            };
            let f = fsm(State::Running, Some(42));
            let (g, _) = step(&f, &Event::Unhealthy("3 checks failed".into()), &ctx);
            assert_eq!(g.state, State::Stopping);
            let (g, e) = step(&g, &Event::Exited(Exit::Code(0)), &ctx);
            assert_eq!(g.state == State::Starting, restarts, "{ar:?}");
            assert_eq!(e.contains(&Effect::Spawn), restarts);
        }
    }

    #[test]
    fn a_backoff_waiting_for_a_dependency_arms_no_timer() {
        let p = policy();
        let f = fsm(State::Backoff, None); // delay 3000
        let ctx = Ctx {
            now: 5000,
            running: true,
            policy: &p,
            deps_ready: false,
        };
        let (g, e) = step(&f, &Event::Tick, &ctx);
        assert_eq!(g.state, State::Backoff);
        assert_eq!(sketch(&e), "", "a timer in the past would spin");
        let ctx = Ctx {
            deps_ready: true,
            ..ctx
        };
        assert_eq!(step(&f, &Event::Tick, &ctx).0.state, State::Starting);
    }

    #[test]
    fn dependencies_hold_back_autostart_only() {
        let p = policy();
        let ctx = Ctx {
            now: 0,
            running: true,
            policy: &p,
            deps_ready: false,
        };
        let (g, _) = step(&Fsm::default(), &Event::Tick, &ctx);
        assert_eq!(g.state, State::Stopped);
        let (g, _) = step(&Fsm::default(), &Event::Start, &ctx);
        assert_eq!(g.state, State::Starting);
        let ctx = Ctx {
            deps_ready: true,
            ..ctx
        };
        let (g, _) = step(&Fsm::default(), &Event::Tick, &ctx);
        assert_eq!(g.state, State::Starting);
    }
}
