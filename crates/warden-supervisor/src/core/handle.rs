//! How front ends talk to the engine: a cloneable [`Handle`].

use std::rc::Rc;

use tokio::sync::{mpsc, oneshot};

use crate::core::api::{Outcome, Request};
use crate::core::events::{Bus, Interest, Subscription};
use crate::core::logs::Level;

/// What reaches the engine's task.
#[derive(Debug)]
pub enum Command {
    /// A request and where its answer goes.
    Call(Request, oneshot::Sender<Outcome>),
    /// A main-log line from a front end.
    Log(Level, String),
}

/// The engine is gone (the supervisor is exiting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the supervisor is shutting down")]
pub struct Gone;

/// A front end's connection to the engine.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Command>,
    bus: Rc<Bus>,
}

impl Handle {
    /// A handle sending to `tx`, subscribing on `bus`.
    #[must_use]
    pub fn new(tx: mpsc::UnboundedSender<Command>, bus: Rc<Bus>) -> Handle {
        Handle { tx, bus }
    }

    /// Runs a request and waits for its outcome (a waiting request answers
    /// when the state changes it waits for have happened).
    ///
    /// # Errors
    ///
    /// [`Gone`] when the engine no longer runs.
    pub async fn call(&self, req: Request) -> Result<Outcome, Gone> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Call(req, tx)).map_err(|_| Gone)?;
        rx.await.map_err(|_| Gone)
    }

    /// Writes a main-log line.
    pub fn log(&self, level: Level, msg: String) {
        let _ = self.tx.send(Command::Log(level, msg));
    }

    /// Subscribes to the event stream (see [`crate::core::events`]).
    #[must_use]
    pub fn subscribe(&self, interest: Interest, capacity: usize) -> Subscription {
        self.bus.subscribe(interest, capacity)
    }
}
