//! The supervisor's core: its own typed language, the engine, and one
//! event stream. Nothing in here imports a wire format.
//!
//! - [`api`]: [`Request`](api::Request), [`Reply`](api::Reply) and
//!   [`ApiError`](api::ApiError), whose kinds are supervisord's faults.
//! - [`engine`]: the one owner of all state, driven by requests, reaped
//!   children, deadlines and control signals.
//! - `ops`: one function per operation over the engine's state.
//! - [`state`]: supervisord's process state machine as a pure function.
//! - [`events`]: the event stream every consumer of changes subscribes to.
//! - [`seams`]: the launcher, clock and config loader the engine runs
//!   against, so it is tested without real processes.
//! - [`handle`]: how front ends reach the engine.
//! - `deps`: `depends_on=` and the stop order (tiers).
//! - [`health`]: readiness probes, health checks, `critical=true`.
//! - [`intent`]: the programs stopped by hand, which stay stopped.
//! - [`logs`]: log files (rotation, tails) and the main log.
//! - [`syslog`]: program output to the local syslog socket.

pub mod api;
mod deps;
pub mod engine;
pub mod events;
pub mod handle;
pub mod health;
pub mod intent;
pub mod logfmt;
pub mod logs;
mod ops;
pub mod ring;
pub mod seams;
pub mod state;
pub mod syslog;
#[cfg(test)]
mod tests;
