//! Running as a container's init (PID 1, or `--init`), and the signal and
//! shutdown rules that go with it.
//!
//! - The supervisor reaps every process re-parented to it: as PID 1 the
//!   kernel gives it every orphan of the container; otherwise it makes itself
//!   a child subreaper, so the orphans of its programs come to it. The one
//!   `waitpid(-1)` loop of the driver reaps them all; exits of pids that are
//!   not programs are logged and dropped.
//! - Signals keep supervisord's meaning (TERM, INT, QUIT: shut down; HUP:
//!   reload; USR2: reopen the logs), except those listed in
//!   `[supervisord] forward_signals`: HUP, USR1, USR2 and WINCH are passed
//!   on to every running program's main process instead; TERM, INT and
//!   QUIT are passed on to every program at once, and then shut down as
//!   usual (each program that has not exited yet gets its `stopsignal`).
//! - A shutdown lasts at most `shutdown_timeout` seconds (default 9 as init,
//!   so it fits Docker's 10 s stop timeout; no limit otherwise unless set);
//!   then every program still there is SIGKILLed with its whole tree, and
//!   the supervisor exits with [`EXIT_FORCED`].
//! - As init the supervisor never daemonizes (the container would end).

use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Exit code when the shutdown deadline passed and programs had to be
/// SIGKILLed (0: everything stopped in time; 2: a config or start error).
pub const EXIT_FORCED: i32 = 4;

/// The default `shutdown_timeout` as init, in seconds.
pub const DEFAULT_INIT_TIMEOUT: u32 = 9;

/// How the supervisor treats its own signals and shutdowns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init {
    /// Running as a container's init (PID 1 or `--init`).
    pub active: bool,
    /// Signals passed on to the programs instead of acted on.
    pub forward: Vec<i32>,
    /// The shutdown deadline, if any.
    pub shutdown_timeout: Option<Duration>,
}

impl Init {
    /// The rules for `[supervisord]` `s`; `flag` is `--init`.
    #[must_use]
    pub fn new(flag: bool, s: &warden_config::SupervisordSection) -> Init {
        let active = flag || warden_sys::Pid::this().as_raw() == 1;
        let secs = s
            .shutdown_timeout
            .or(active.then_some(DEFAULT_INIT_TIMEOUT));
        Init {
            active,
            forward: s.forward_signals.clone(),
            shutdown_timeout: secs.map(|s| Duration::from_secs(u64::from(s))),
        }
    }

    /// True if `signo` is passed on to the programs.
    #[must_use]
    pub fn forwards(&self, signo: i32) -> bool {
        self.forward.contains(&signo)
    }

    /// A handler for `signo` if it is forwarded (for the signals the
    /// supervisor does not otherwise catch: USR1, WINCH).
    #[must_use]
    pub fn extra_signal(&self, signo: i32) -> Option<Signal> {
        self.forwards(signo)
            .then(|| signal(SignalKind::from_raw(signo)).ok())
            .flatten()
    }
}

/// The next delivery of `s`; never, without a handler.
pub async fn recv(s: &mut Option<Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
