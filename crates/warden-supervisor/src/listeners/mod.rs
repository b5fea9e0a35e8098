//! supervisord's `[eventlistener:x]` pools: an adapter that consumes the
//! core's event stream and speaks the listener protocol.
//!
//! The engine runs a pool's listeners as the processes of a group; this
//! task subscribes to the event stream, keeps each pool's buffer, reads
//! what the listeners write on stdout (through the engine's listener tap)
//! and writes events to their stdin (through `SendStdin` requests), with
//! supervisord's rules: an event goes to the first RUNNING listener that is
//! READY; a rejected event, or the event of a listener that died while
//! BUSY, goes back to the head of the buffer; a full buffer drops its
//! oldest event. Serials are supervisord's: one global serial given to an
//! event when the first pool accepts it, and one per pool.

pub mod protocol;

use std::collections::VecDeque;
use std::rc::Rc;

use tokio::sync::mpsc;
use warden_types::{Channel, Namespec, ProcessState};

use crate::core::api::{PoolView, Reply, Request};
use crate::core::events::{Delivery, EventKind, Interest, Subscription, TICK_PERIODS};
use crate::core::handle::Handle;
use crate::core::logs::{Level, Tap};
use protocol::{ListenerState, Parser, Signal};

/// An event as one pool holds it.
#[derive(Debug, Clone)]
struct Held {
    serial: u64,
    pool_serial: u64,
    name: String,
    payload: String,
}

#[derive(Debug)]
struct Member {
    name: String,
    pid: i32,
    running: bool,
    parser: Parser,
    event: Option<Held>,
}

#[derive(Debug)]
struct Pool {
    view: PoolView,
    serial: Option<u64>,
    buffer: VecDeque<Held>,
    members: Vec<Member>,
}

/// Output of listener processes, from the engine's tap.
type Chunk = (String, String, i32, Vec<u8>);

/// The pools' state and the connection to the engine.
pub struct Listeners {
    handle: Handle,
    server: String,
    pools: Vec<Pool>,
    serial: Option<u64>,
    sub: Subscription,
    out: mpsc::UnboundedReceiver<Chunk>,
}

/// The subscription and the tap to give the engine before it starts (so
/// that the first events — groups added, the supervisor running, the first
/// output — are seen), and the task's state. `pools` are the config's: what
/// they subscribe to is asked for from the start.
pub fn prepare(
    handle: Handle,
    server: String,
    pools: &[warden_config::EventListenerPool],
) -> (Listeners, Tap) {
    let (tx, rx) = mpsc::unbounded_channel();
    let tap: Tap = Rc::new(move |group: &str, name: &str, pid: i32, data: &[u8]| {
        let _ = tx.send((group.to_string(), name.to_string(), pid, data.to_vec()));
    });
    let sub = handle.subscribe(
        interest(pools.iter().flat_map(|p| p.events.iter())),
        1 << 16,
    );
    (
        Listeners {
            handle,
            server,
            pools: Vec::new(),
            serial: None,
            sub,
            out: rx,
        },
        tap,
    )
}

/// What to subscribe to for pools subscribing to `subscriptions`: only what
/// some pool wants (no ticks, no output copies otherwise); with no pool, only
/// groups added and removed (a pool may come with a re-read config).
fn interest<'a>(subscriptions: impl Iterator<Item = &'a String>) -> Interest {
    let subs: Vec<&String> = subscriptions.collect();
    if subs.is_empty() {
        return Interest {
            groups: true,
            ..Interest::default()
        };
    }
    let wants = |t: &str| subs.iter().any(|s| protocol::subscribes(s, t));
    let mut ticks = [false; 3];
    for (i, period) in TICK_PERIODS.iter().enumerate() {
        ticks[i] = wants(&format!("TICK_{period}"));
    }
    Interest {
        changes: true,
        output: wants("PROCESS_LOG_STDOUT") || wants("PROCESS_LOG_STDERR"),
        ticks,
        groups: true,
    }
}

fn next(counter: &mut Option<u64>) -> u64 {
    let n = counter.map_or(0, |c| c.wrapping_add(1));
    *counter = Some(n);
    n
}

impl Listeners {
    fn log(&self, level: Level, msg: String) {
        self.handle.log(level, msg);
    }

    /// Runs until the supervisor exits.
    pub async fn run(mut self) {
        loop {
            tokio::select! {
                d = self.sub.next() => self.event(d).await,
                Some((group, name, pid, data)) = self.out.recv() => {
                    self.output(&group, &name, pid, &data).await;
                }
            }
        }
    }

    /// Re-reads the active pools (after a group was added or removed),
    /// keeping the state of pools and listeners that remain.
    async fn refresh(&mut self) {
        let Ok(Ok(Reply::Pools(views))) = self.handle.call(Request::Pools).await else {
            return;
        };
        let mut old = std::mem::take(&mut self.pools);
        for view in views {
            let pool = match old.iter().position(|p| p.view.name == view.name) {
                Some(i) => {
                    let mut p = old.remove(i);
                    let mut members = std::mem::take(&mut p.members);
                    p.members = view
                        .processes
                        .iter()
                        .map(|n| match members.iter().position(|m| m.name == *n) {
                            Some(i) => members.remove(i),
                            None => Member::new(n),
                        })
                        .collect();
                    p.view = view;
                    p
                }
                None => Pool {
                    members: view.processes.iter().map(|n| Member::new(n)).collect(),
                    view,
                    serial: None,
                    buffer: VecDeque::new(),
                },
            };
            self.pools.push(pool);
        }
        self.sub.set_interest(interest(
            self.pools.iter().flat_map(|p| p.view.events.iter()),
        ));
    }

    async fn event(&mut self, d: Delivery) {
        if d.missed > 0 {
            self.log(
                Level::Error,
                format!(
                    "event listeners missed {} events (the event stream overflowed)",
                    d.missed
                ),
            );
        }
        let kind = &d.event.kind;
        if matches!(kind, EventKind::GroupAdded(_) | EventKind::GroupRemoved(_)) {
            self.refresh().await;
        }
        if let EventKind::ProcessState {
            group,
            name,
            to,
            pid,
            ..
        } = kind
        {
            self.member_state(group, name, *to, *pid);
        }
        // A listener's own stdout is the protocol channel, never an event.
        if let EventKind::ProcessOutput {
            group,
            channel: Channel::Stdout,
            ..
        } = kind
        {
            if self.pools.iter().any(|p| p.view.name == *group) {
                return;
            }
        }
        if let Some((name, payload)) = protocol::describe(kind) {
            self.accept(&name, &payload);
        }
        self.dispatch_all().await;
    }

    /// A listener process changed state.
    fn member_state(&mut self, group: &str, name: &str, to: ProcessState, pid: Option<i32>) {
        let Some(pi) = self.pools.iter().position(|p| p.view.name == group) else {
            return;
        };
        let Some(mi) = self.pools[pi].members.iter().position(|m| m.name == name) else {
            return;
        };
        let m = &mut self.pools[pi].members[mi];
        m.running = to == ProcessState::Running;
        if let (ProcessState::Running, Some(pid)) = (to, pid) {
            if m.pid != pid {
                m.fresh(pid);
            }
        }
        // It ended with an event in hand (it was BUSY): the event goes back
        // to the head of the buffer, as supervisord's finish() rejects it.
        if to.is_stopped() || to == ProcessState::Backoff {
            if let Some(ev) = m.event.take() {
                self.rebuffer(pi, ev);
            }
        }
    }

    /// Offers an event to every pool that subscribes to it.
    fn accept(&mut self, name: &str, payload: &str) {
        let mut serial = None;
        for pi in 0..self.pools.len() {
            let p = &self.pools[pi];
            if !p.view.events.iter().any(|s| protocol::subscribes(s, name)) {
                continue;
            }
            let serial = *serial.get_or_insert_with(|| next(&mut self.serial));
            let p = &mut self.pools[pi];
            let held = Held {
                serial,
                pool_serial: next(&mut p.serial),
                name: name.to_string(),
                payload: payload.to_string(),
            };
            self.push(pi, held, false);
        }
    }

    /// supervisord's `_acceptEvent`: a full buffer drops its oldest event.
    fn push(&mut self, pi: usize, held: Held, head: bool) {
        let p = &mut self.pools[pi];
        if p.buffer.len() >= p.view.buffer_size {
            if let Some(old) = p.buffer.pop_front() {
                let msg = format!(
                    "pool {} event buffer overflowed, discarding event {}",
                    p.view.name, old.serial
                );
                self.log(Level::Error, msg);
            }
        }
        let p = &mut self.pools[pi];
        if head {
            p.buffer.push_front(held);
        } else {
            p.buffer.push_back(held);
        }
    }

    fn rebuffer(&mut self, pi: usize, held: Held) {
        let p = &self.pools[pi];
        let msg = format!(
            "rebuffering event {} for pool {} (buf size={}, max={})",
            held.serial,
            p.view.name,
            p.buffer.len(),
            p.view.buffer_size
        );
        self.log(Level::Debug, msg);
        self.push(pi, held, true);
    }

    async fn dispatch_all(&mut self) {
        for pi in 0..self.pools.len() {
            self.dispatch(pi).await;
        }
    }

    /// supervisord's `dispatch`: the oldest events first, each to the first
    /// RUNNING and READY listener; stop at the first that finds none.
    async fn dispatch(&mut self, pi: usize) {
        loop {
            let Some(held) = self.pools.get_mut(pi).and_then(|p| p.buffer.pop_front()) else {
                return;
            };
            if !self.send(pi, &held).await {
                // nobody took it: back to the head, as it was
                if let Some(p) = self.pools.get_mut(pi) {
                    p.buffer.push_front(held);
                }
                return;
            }
        }
    }

    async fn send(&mut self, pi: usize, held: &Held) -> bool {
        let pool = self.pools[pi].view.name.clone();
        let candidates: Vec<usize> = self.pools[pi]
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.running && m.parser.state == ListenerState::Ready)
            .map(|(i, _)| i)
            .collect();
        for mi in candidates {
            let member = self.pools[pi].members[mi].name.clone();
            let data = protocol::envelope(
                &self.server,
                held.serial,
                &pool,
                held.pool_serial,
                &held.name,
                &held.payload,
            );
            let req = Request::SendStdin {
                process: Namespec::process(&pool, &member),
                data: data.into_bytes(),
            };
            match self.handle.call(req).await {
                Ok(Ok(_)) => {
                    let Some(m) = self.pools.get_mut(pi).and_then(|p| p.members.get_mut(mi)) else {
                        return false;
                    };
                    m.parser.sent();
                    m.event = Some(held.clone());
                    self.log(
                        Level::Debug,
                        format!("event {} sent to listener {member}", held.serial),
                    );
                    return true;
                }
                _ => {
                    self.log(
                        Level::Debug,
                        format!(
                            "epipe occurred while sending event {} to listener {member}, listener state unchanged",
                            held.serial
                        ),
                    );
                }
            }
        }
        false
    }

    /// What a listener wrote on its stdout.
    async fn output(&mut self, group: &str, name: &str, pid: i32, data: &[u8]) {
        let Some(pi) = self.pools.iter().position(|p| p.view.name == group) else {
            return;
        };
        let Some(mi) = self.pools[pi].members.iter().position(|m| m.name == name) else {
            return;
        };
        if self.pools[pi].members[mi].pid != pid {
            // a new incarnation starts ACKNOWLEDGED
            self.pools[pi].members[mi].fresh(pid);
        }
        let signals = self.pools[pi].members[mi].parser.feed(data);
        // supervisord logs the verdict, then the state change, then
        // re-queues a rejected event.
        let mut rejected = None;
        for s in signals {
            match s {
                Signal::Changed(from, to) => {
                    self.log(
                        Level::Debug,
                        format!("{name}: {} -> {}", from.name(), to.name()),
                    );
                    if to == ListenerState::Unknown {
                        self.log(Level::Warn, format!("{name}: has entered the UNKNOWN state and will no longer receive events, this usually indicates the process violated the eventlistener protocol"));
                    }
                    if let Some(ev) = rejected.take() {
                        self.rebuffer(pi, ev);
                    }
                }
                Signal::Result(result) => {
                    let event = self.pools[pi].members[mi].event.take();
                    if result == b"OK" {
                        self.log(Level::Debug, format!("{name}: event was processed"));
                    } else {
                        self.log(Level::Warn, format!("{name}: event was rejected"));
                        rejected = event;
                    }
                }
                Signal::BadResultLine(line) => {
                    self.log(Level::Warn, format!("{name}: bad result line: '{line}'"));
                    rejected = self.pools[pi].members[mi].event.take();
                }
            }
        }
        self.dispatch(pi).await;
    }
}

impl Member {
    fn new(name: &str) -> Member {
        Member {
            name: name.to_string(),
            pid: 0,
            running: false,
            parser: Parser::new(),
            event: None,
        }
    }

    /// A new process for this listener: its protocol starts over.
    fn fresh(&mut self, pid: i32) {
        self.pid = pid;
        self.parser = Parser::new();
    }
}
