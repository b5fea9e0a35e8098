#![forbid(unsafe_code)]
//! warden's shared vocabulary: one type per concept, used by the supervisor's
//! core, its protocol adapters, and the clients.
//!
//! - [`ProcessState`] and [`SupervisorState`]: supervisord's states with
//!   their codes and names (the codes are part of supervisord's API, and
//!   every front end shows them the same way).
//! - [`Namespec`]: a process, a whole group, as supervisord names them
//!   (`name`, `group:name`, `group:*`, `group:`).
//! - [`Channel`]: a process's stdout or stderr.
//!
//! Signals and exit statuses are `warden_sys::Signal` and
//! `warden_sys::process::ExitStatus`.

mod namespec;

pub use namespec::Namespec;

/// A process's output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// fd 1.
    Stdout,
    /// fd 2.
    Stderr,
}

impl Channel {
    /// `stdout` or `stderr`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Channel::Stdout => "stdout",
            Channel::Stderr => "stderr",
        }
    }
}

/// Process states and their wire codes (`supervisor.states.ProcessStates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProcessState {
    /// 0
    Stopped,
    /// 10
    Starting,
    /// 20
    Running,
    /// 30
    Backoff,
    /// 40
    Stopping,
    /// 100
    Exited,
    /// 200
    Fatal,
    /// 1000
    Unknown,
}

impl ProcessState {
    /// Every state, in code order.
    pub const ALL: [ProcessState; 8] = [
        ProcessState::Stopped,
        ProcessState::Starting,
        ProcessState::Running,
        ProcessState::Backoff,
        ProcessState::Stopping,
        ProcessState::Exited,
        ProcessState::Fatal,
        ProcessState::Unknown,
    ];

    /// `RUNNING_STATES`: already started, can be stopped.
    #[must_use]
    pub fn is_running(self) -> bool {
        matches!(self, Self::Starting | Self::Running | Self::Backoff)
    }

    /// `STOPPED_STATES`: what a waiting stop waits for.
    #[must_use]
    pub fn is_stopped(self) -> bool {
        matches!(
            self,
            Self::Stopped | Self::Exited | Self::Fatal | Self::Unknown
        )
    }

    /// `SIGNALLABLE_STATES`.
    #[must_use]
    pub fn is_signallable(self) -> bool {
        matches!(self, Self::Starting | Self::Running | Self::Stopping)
    }

    /// The `state` code.
    pub const fn code(self) -> i32 {
        match self {
            ProcessState::Stopped => 0,
            ProcessState::Starting => 10,
            ProcessState::Running => 20,
            ProcessState::Backoff => 30,
            ProcessState::Stopping => 40,
            ProcessState::Exited => 100,
            ProcessState::Fatal => 200,
            ProcessState::Unknown => 1000,
        }
    }

    /// The `statename`, e.g. `RUNNING`.
    pub const fn name(self) -> &'static str {
        match self {
            ProcessState::Stopped => "STOPPED",
            ProcessState::Starting => "STARTING",
            ProcessState::Running => "RUNNING",
            ProcessState::Backoff => "BACKOFF",
            ProcessState::Stopping => "STOPPING",
            ProcessState::Exited => "EXITED",
            ProcessState::Fatal => "FATAL",
            ProcessState::Unknown => "UNKNOWN",
        }
    }

    /// The state for a wire code.
    pub fn from_code(code: i32) -> Option<ProcessState> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// Daemon states and their wire codes (`supervisor.states.SupervisorStates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SupervisorState {
    /// 2
    Fatal,
    /// 1
    Running,
    /// 0
    Restarting,
    /// -1
    Shutdown,
}

impl SupervisorState {
    /// The `statecode`.
    pub const fn code(self) -> i32 {
        match self {
            SupervisorState::Fatal => 2,
            SupervisorState::Running => 1,
            SupervisorState::Restarting => 0,
            SupervisorState::Shutdown => -1,
        }
    }

    /// The `statename`.
    pub const fn name(self) -> &'static str {
        match self {
            SupervisorState::Fatal => "FATAL",
            SupervisorState::Running => "RUNNING",
            SupervisorState::Restarting => "RESTARTING",
            SupervisorState::Shutdown => "SHUTDOWN",
        }
    }
}

impl std::fmt::Display for ProcessState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for SupervisorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in ProcessState::ALL {
            assert_eq!(ProcessState::from_code(s.code()), Some(s));
        }
        assert_eq!(ProcessState::from_code(5), None);
        assert_eq!(ProcessState::Backoff.to_string(), "BACKOFF");
    }

    #[test]
    fn state_sets_are_supervisords() {
        use ProcessState as S;
        let running: Vec<_> = S::ALL.into_iter().filter(|s| s.is_running()).collect();
        assert_eq!(running, [S::Starting, S::Running, S::Backoff]);
        let stopped: Vec<_> = S::ALL.into_iter().filter(|s| s.is_stopped()).collect();
        assert_eq!(stopped, [S::Stopped, S::Exited, S::Fatal, S::Unknown]);
        let sig: Vec<_> = S::ALL.into_iter().filter(|s| s.is_signallable()).collect();
        assert_eq!(sig, [S::Starting, S::Running, S::Stopping]);
    }
}
