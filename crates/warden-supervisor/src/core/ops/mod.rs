//! One function per operation over the engine's state.
//!
//! [`dispatch`] routes a [`Request`] to its operation; each operation
//! answers now or returns what it waits for ([`Answer::Wait`]), which the
//! engine turns into a ticket resolved by later state changes.

mod groups;
mod logs;
mod process;
mod query;
mod update;

use crate::core::api::{ApiError, ErrorKind, Reply, Request};
use crate::core::engine::{Answer, Engine, Mood};
use crate::core::events::EventKind;

impl Engine {
    /// Handles a request; the answer goes to `reply`, now or once the
    /// processes it waits for have changed.
    pub fn request(
        &mut self,
        req: Request,
        reply: tokio::sync::oneshot::Sender<crate::core::api::Outcome>,
    ) {
        let answer = dispatch(self, req);
        self.submit(answer, reply);
    }
}

/// Runs one request.
fn dispatch(e: &mut Engine, req: Request) -> Answer {
    let exempt = matches!(
        req,
        Request::SendRemoteComm { .. } | Request::Follow(_) | Request::Pools
    );
    if !exempt && e.mood != Mood::Running {
        return Answer::Now(Err(ApiError::bare(ErrorKind::ShutdownState)));
    }
    let now = |r| Answer::Now(r);
    match req {
        Request::Version => now(Ok(Reply::Text(crate::core::api::SUPERVISOR_VERSION.into()))),
        Request::Identification => now(query::identification(e)),
        Request::State => now(Ok(Reply::State(e.mood.state()))),
        Request::Pid => now(Ok(Reply::Int(i64::from(e.pid)))),
        Request::ReadMainLog { offset, length } => now(logs::read_main(e, offset, length)),
        Request::ClearMainLog => now(logs::clear_main(e)),
        Request::Shutdown => now(lifecycle(e, Mood::Shutdown)),
        Request::Restart => now(lifecycle(e, Mood::Restarting)),
        Request::Reread => now(groups::reread(e)),
        Request::AddGroup(name) => now(groups::add(e, &name)),
        Request::RemoveGroup(name) => now(groups::remove(e, &name)),
        Request::ProcessInfo(spec) => now(query::process_info(e, &spec)),
        Request::AllProcessInfo => now(query::all_process_info(e)),
        Request::AllConfigInfo => now(query::all_config_info(e)),
        Request::Start { target, wait } => process::start(e, &target, wait),
        Request::Stop { target, wait } => process::stop(e, &target, wait),
        Request::Signal { target, signal } => process::signal(e, &target, &signal),
        Request::SendStdin { process: p, data } => now(process::send_stdin(e, &p, data)),
        Request::SendRemoteComm { kind, data } => {
            e.bus.publish(EventKind::RemoteCommunication { kind, data });
            now(Ok(Reply::Ok))
        }
        Request::ReadLog {
            process: p,
            channel,
            offset,
            length,
        } => now(logs::read(e, &p, channel, offset, length)),
        Request::TailLog {
            process: p,
            channel,
            offset,
            length,
        } => now(logs::tail(e, &p, channel, offset, length)),
        Request::ClearLogs(target) => logs::clear(e, &target),
        Request::Follow(what) => now(logs::follow(e, what.as_ref())),
        Request::Pools => now(query::pools(e)),
        Request::Update { groups } => update::update(e, &groups),
    }
}

/// `shutdown` and `restart`: the mood changes now, the stopping follows.
fn lifecycle(e: &mut Engine, mood: Mood) -> Result<Reply, ApiError> {
    e.request_mood(mood);
    Ok(Reply::Ok)
}
