//! One event stream: every observable change, typed and numbered.
//!
//! The engine (and the capture tasks, for output) [`Bus::publish`] events;
//! each gets the next serial. Subscribers receive them in serial order from
//! a queue of their own, so a slow subscriber never stalls the engine.
//!
//! # Overflow rule
//!
//! A subscriber's queue holds at most its `capacity` events. When a new
//! event finds it full, the **oldest** queued event is dropped and counted;
//! the subscriber learns how many it missed from [`Delivery::missed`] on the
//! next event it receives (supervisord's listener buffers drop the oldest
//! event too).
//!
//! # Costs nothing idle
//!
//! Output chunks are only produced while a subscriber asked for them
//! ([`Bus::wants_output`]); ticks only run while a subscriber asked for them (the
//! driver starts a tick timer when [`Bus::tick_periods`] is not empty).
//! With no subscriber, publishing is a counter increment.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use warden_types::{ProcessState, SupervisorState};

use warden_types::Channel;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A process changed state.
    ProcessState {
        /// The group.
        group: String,
        /// The process.
        name: String,
        /// The state it left.
        from: ProcessState,
        /// The state it entered.
        to: ProcessState,
        /// Consecutive failed starts so far.
        tries: i64,
        /// For EXITED: whether the exit status was expected.
        expected: Option<bool>,
        /// The process's pid (the live one, or the one that just ended).
        pid: Option<i32>,
        /// The spawn error, when the change was caused by one.
        spawnerr: Option<String>,
    },
    /// A health check of a running process failed, or one passed after
    /// failures (warden's own: supervisord has no health checks).
    ProcessHealth {
        /// The group.
        group: String,
        /// The process.
        name: String,
        /// Failed checks in a row; 0 when a check passed again.
        failures: i64,
        /// Why the last check failed (`None` when it passed).
        error: Option<String>,
    },
    /// A group was added.
    GroupAdded(String),
    /// A group was removed.
    GroupRemoved(String),
    /// The supervisor changed state (RUNNING at start, SHUTDOWN when stopping).
    SupervisorState(SupervisorState),
    /// A chunk a process wrote.
    ProcessOutput {
        /// The group.
        group: String,
        /// The process.
        name: String,
        /// Its pid.
        pid: i32,
        /// Which stream.
        channel: Channel,
        /// The bytes, as written.
        data: Rc<[u8]>,
        /// The program enabled `*_events_enabled` for this stream.
        log_event: bool,
    },
    /// A message a process wrote between supervisord's capture-mode tokens.
    ProcessCommunication {
        /// The group.
        group: String,
        /// The process.
        name: String,
        /// Its pid.
        pid: i32,
        /// Which stream.
        channel: Channel,
        /// The captured bytes.
        data: Rc<[u8]>,
    },
    /// `sendRemoteCommEvent`.
    RemoteCommunication {
        /// The type the client gave.
        kind: String,
        /// The data.
        data: String,
    },
    /// A clock tick: `when` is the Unix time, a multiple of `period`.
    Tick {
        /// 5, 60 or 3600 seconds.
        period: u32,
        /// The tick's time.
        when: i64,
    },
}

/// The classes of events a subscriber asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interest {
    /// Process state changes, group and supervisor changes, remote
    /// communication: the cheap, rare events.
    pub changes: bool,
    /// Process output (costs a copy of every chunk).
    pub output: bool,
    /// Tick periods wanted (5, 60, 3600).
    pub ticks: [bool; 3],
    /// Groups added and removed only (a subset of `changes`).
    pub groups: bool,
}

/// The tick periods, in the order of [`Interest::ticks`].
pub const TICK_PERIODS: [u32; 3] = [5, 60, 3600];

impl Interest {
    /// Changes only.
    #[must_use]
    pub fn changes() -> Interest {
        Interest {
            changes: true,
            ..Interest::default()
        }
    }

    fn matches(&self, kind: &EventKind) -> bool {
        match kind {
            EventKind::ProcessOutput { .. } => self.output,
            EventKind::Tick { period, .. } => TICK_PERIODS
                .iter()
                .zip(self.ticks)
                .any(|(p, w)| w && p == period),
            EventKind::GroupAdded(_) | EventKind::GroupRemoved(_) => self.changes || self.groups,
            _ => self.changes,
        }
    }
}

/// A numbered event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Strictly increasing, from 1, over the supervisor's life.
    pub serial: u64,
    /// What happened.
    pub kind: EventKind,
}

/// An event as a subscriber receives it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The event.
    pub event: Rc<Event>,
    /// Events dropped from this subscriber's queue just before this one.
    pub missed: u64,
}

struct Queue {
    interest: Cell<Interest>,
    capacity: usize,
    items: RefCell<VecDeque<Rc<Event>>>,
    missed: Cell<u64>,
    notify: tokio::sync::Notify,
}

/// The publisher side, shared by the engine and the capture tasks.
#[derive(Default)]
pub struct Bus {
    serial: Cell<u64>,
    subscribers: RefCell<Vec<Weak<Queue>>>,
    joined: tokio::sync::Notify,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("serial", &self.serial.get())
            .finish_non_exhaustive()
    }
}

impl Bus {
    /// A bus with no subscriber.
    #[must_use]
    pub fn new() -> Rc<Bus> {
        Rc::new(Bus::default())
    }

    /// Publishes `kind` to every interested subscriber; returns its serial.
    pub fn publish(&self, kind: EventKind) -> u64 {
        let serial = self.serial.get() + 1;
        self.serial.set(serial);
        let mut event: Option<Rc<Event>> = None;
        let mut subs = self.subscribers.borrow_mut();
        subs.retain(|w| {
            let Some(q) = w.upgrade() else {
                return false;
            };
            if q.interest.get().matches(&kind) {
                let e = event
                    .get_or_insert_with(|| {
                        Rc::new(Event {
                            serial,
                            kind: kind.clone(),
                        })
                    })
                    .clone();
                let mut items = q.items.borrow_mut();
                if items.len() >= q.capacity {
                    items.pop_front();
                    q.missed.set(q.missed.get() + 1);
                }
                items.push_back(e);
                q.notify.notify_one();
            }
            true
        });
        serial
    }

    /// The serial of the last event published.
    #[must_use]
    pub fn last_serial(&self) -> u64 {
        self.serial.get()
    }

    /// Whether some live subscriber matches `pred`.
    fn any(&self, pred: impl Fn(&Interest) -> bool) -> bool {
        self.subscribers
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .any(|q| pred(&q.interest.get()))
    }

    /// Whether anyone wants process output (capture tasks copy chunks only
    /// then).
    #[must_use]
    pub fn wants_output(&self) -> bool {
        self.any(|i| i.output)
    }

    /// The tick periods some subscriber wants.
    #[must_use]
    pub fn tick_periods(&self) -> Vec<u32> {
        TICK_PERIODS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.any(|int| int.ticks[*i]))
            .map(|(_, p)| *p)
            .collect()
    }

    /// Waits until somebody subscribes or changes what it asks for.
    pub async fn subscribed(&self) {
        self.joined.notified().await;
    }

    /// Subscribes with a queue of at most `capacity` events (at least 1).
    pub fn subscribe(self: &Rc<Self>, interest: Interest, capacity: usize) -> Subscription {
        let q = Rc::new(Queue {
            interest: Cell::new(interest),
            capacity: capacity.max(1),
            items: RefCell::new(VecDeque::new()),
            missed: Cell::new(0),
            notify: tokio::sync::Notify::new(),
        });
        self.subscribers.borrow_mut().push(Rc::downgrade(&q));
        self.joined.notify_waiters();
        Subscription {
            queue: q,
            bus: Rc::downgrade(self),
        }
    }
}

/// A subscriber's end; dropping it unsubscribes.
pub struct Subscription {
    queue: Rc<Queue>,
    bus: Weak<Bus>,
}

impl Subscription {
    /// The next event, if one is queued.
    pub fn try_next(&self) -> Option<Delivery> {
        let event = self.queue.items.borrow_mut().pop_front()?;
        Some(Delivery {
            event,
            missed: self.queue.missed.replace(0),
        })
    }

    /// Waits for the next event.
    pub async fn next(&self) -> Delivery {
        loop {
            if let Some(d) = self.try_next() {
                return d;
            }
            self.queue.notify.notified().await;
        }
    }

    /// What this subscription asked for.
    #[must_use]
    pub fn interest(&self) -> Interest {
        self.queue.interest.get()
    }

    /// Asks for other classes of events from now on (the tick driver
    /// learns of new periods at once).
    pub fn set_interest(&self, interest: Interest) {
        self.queue.interest.set(interest);
        if let Some(bus) = self.bus.upgrade() {
            bus.joined.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_added(n: &str) -> EventKind {
        EventKind::GroupAdded(n.into())
    }

    #[test]
    fn subscribers_get_events_in_order_with_serials() {
        let bus = Bus::new();
        assert_eq!(bus.publish(group_added("nobody sees this")), 1);
        let a = bus.subscribe(Interest::changes(), 10);
        bus.publish(group_added("a"));
        bus.publish(EventKind::GroupRemoved("a".into()));
        let first = a.try_next().unwrap();
        assert_eq!(first.event.serial, 2);
        assert_eq!(first.event.kind, group_added("a"));
        assert_eq!(a.try_next().unwrap().event.serial, 3);
        assert!(a.try_next().is_none());
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts() {
        let bus = Bus::new();
        let s = bus.subscribe(Interest::changes(), 2);
        for i in 0..5 {
            bus.publish(group_added(&i.to_string()));
        }
        let d = s.try_next().unwrap();
        assert_eq!(d.missed, 3);
        assert_eq!(d.event.kind, group_added("3"));
        let d = s.try_next().unwrap();
        assert_eq!(d.missed, 0);
        assert_eq!(d.event.kind, group_added("4"));
    }

    #[test]
    fn interest_filters_and_costs() {
        let bus = Bus::new();
        assert!(!bus.wants_output());
        assert!(bus.tick_periods().is_empty());
        let out = bus.subscribe(
            Interest {
                output: true,
                ticks: [false, true, false],
                ..Interest::default()
            },
            8,
        );
        assert!(bus.wants_output());
        assert_eq!(bus.tick_periods(), [60]);
        bus.publish(group_added("x"));
        bus.publish(EventKind::Tick { period: 5, when: 0 });
        bus.publish(EventKind::Tick {
            period: 60,
            when: 60,
        });
        let d = out.try_next().unwrap();
        assert_eq!(d.event.serial, 3);
        assert!(out.try_next().is_none());
        drop(out);
        assert!(!bus.wants_output());
        assert!(bus.tick_periods().is_empty());
    }
}
