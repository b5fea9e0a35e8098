//! Remembered intent: the programs stopped by hand.
//!
//! A program stopped by a `stop` call stays stopped across `reload` (and,
//! through the state file the driver keeps next to the pidfile, across a
//! restart of the supervisor) until a `start` call starts it: its
//! `autostart` no longer applies. Programs never stopped by hand, and those
//! started by hand since, autostart as configured. Stops by the supervisor
//! itself (shutdown, reload) are not stops by hand, and removing a group
//! forgets its programs' stops (supervisorctl's `update` stops a changed
//! group, removes it and adds it again: it starts as configured).

use std::collections::BTreeSet;

use warden_types::Namespec;

use crate::core::engine::{Engine, ProcId};

/// The programs stopped by hand, as `group:name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intent {
    stopped: BTreeSet<String>,
}

impl Intent {
    /// An intent with `stopped` (namespecs `group:name`) stopped by hand.
    pub fn new(stopped: impl IntoIterator<Item = String>) -> Intent {
        Intent {
            stopped: stopped.into_iter().collect(),
        }
    }

    /// True if `group:name` was stopped by hand (and not started since).
    #[must_use]
    pub fn stopped_by_hand(&self, group: &str, name: &str) -> bool {
        self.stopped
            .contains(&Namespec::process(group, name).to_string())
    }

    /// The programs stopped by hand, sorted.
    pub fn stopped(&self) -> impl Iterator<Item = &str> {
        self.stopped.iter().map(String::as_str)
    }

    /// Records a stop (`true`) or start (`false`) by hand; true if that
    /// changed anything.
    fn set(&mut self, group: &str, name: &str, stopped: bool) -> bool {
        let key = Namespec::process(group, name).to_string();
        if stopped {
            self.stopped.insert(key)
        } else {
            self.stopped.remove(&key)
        }
    }
}

impl Engine {
    /// Starts with `intent` (read from the state file): the programs in it
    /// do not autostart.
    pub fn set_intent(&mut self, intent: Intent) {
        self.intent = intent;
    }

    /// The remembered intent.
    #[must_use]
    pub fn intent(&self) -> &Intent {
        &self.intent
    }

    /// A `stop` (`stopped`) or `start` by hand of `id`: remembered, and
    /// handed to the launcher to keep.
    pub(in crate::core) fn by_hand(&mut self, id: ProcId, stopped: bool) {
        let Some(p) = self.procs.get(&id) else {
            return;
        };
        let (group, name) = (p.cfg.group.clone(), p.cfg.name.clone());
        if self.intent.set(&group, &name, stopped) {
            self.launcher.remember(&self.intent);
        }
    }
}
