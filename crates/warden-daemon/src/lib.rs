//! Daemonize a Rust program by the book.
//!
//! # Theory of operation
//!
//! [`Daemonize::start`] performs the SysV steps of systemd's daemon(7), but
//! with a truthful ending: the original process does not exit until the final
//! daemon reports **ready** (or failure) through a close-on-exec pipe created
//! before the first fork.
//!
//! ```text
//! original ──fork──► intermediate ──setsid, fork──► daemon
//!    │                    └─ _exit(0)                  │ close fds, reset signals,
//!    │                                                 │ umask, stdio, pidfile,
//!    │◄──────────── "P pid" ───────────────────────────┤ chroot, chdir, env,
//!    │◄──────────── "R" (ready) or "F code msg" ───────┤ privilege drop, init…
//!    └─ exit 0, or print msg and exit code
//! ```
//!
//! * **Fork safety**: `start` refuses when the process has more than one
//!   thread. *Daemonize before you build a tokio runtime* or spawn threads.
//! * **EOF before ready is a failure.** The original process is a child
//!   subreaper, so it reaps a daemon that died early and reports its exit
//!   status or signal.
//! * **The pidfile** ([`pidfile`]) is created race-free, locked for the
//!   daemon's life, written atomically, trusted only while locked, and removed
//!   only by its owner.
//! * **Stop, restart and status** ([`control`]) trust the lock, not the number
//!   in the file, and wait for the process through a pidfd.
//! * **The [`Daemon`] trait** wraps all of it for the classic
//!   start/stop/restart/status program.
//! * Under systemd (`NOTIFY_SOCKET`), `READY=1` and `STOPPING=1` are sent;
//!   [`Mode::Foreground`] serves `Type=notify` units and containers.
//!
//! All system calls go through `warden-sys`; this crate has no `unsafe`.

#![forbid(unsafe_code)]

pub mod control;
mod daemon;
mod daemonize;
pub mod error;
pub mod pidfile;
mod ready;
pub mod sdnotify;

pub use control::{Schedule, Status, StopOutcome};
pub use daemon::{serve, Control, Daemon, Wake};
pub use daemonize::{Daemonize, Daemonized, Forked, HostFork, Mode, PrivilegedAction, Stdio};
pub use error::{BoxError, Error};
pub use warden_sys::Pid;
