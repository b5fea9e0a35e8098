//! `/api/v1`: the documented, stable JSON API (described by
//! `/api/v1/openapi.json`, `assets/openapi.json`).
//!
//! ```text
//! GET  /api/v1/supervisor                     the supervisor
//! GET  /api/v1/processes                      every process
//! GET  /api/v1/processes/NAME                 one process (NAME: group:name)
//! POST /api/v1/processes/NAME/ACTION          start, stop, restart, signal
//! POST /api/v1/groups/GROUP/ACTION            the same for a group
//! POST /api/v1/all/ACTION                     the same for every process
//! GET  /api/v1/events                         server-sent events
//! GET  /api/v1/openapi.json                   this API's description
//! ```
//!
//! Actions wait for their outcome (RUNNING, or stopped), as supervisorctl
//! does; `?wait=false` answers at once. `signal` takes the signal from
//! `?signal=HUP` or the JSON body `{"signal": "HUP"}`. A refused request
//! answers `{"error": {"fault", "code", "message"}}` with supervisord's
//! fault name and code; a group or all action answers every process's
//! outcome.
//!
//! # Events and resuming
//!
//! Every change event of the core (process states, groups, the supervisor's
//! state, remote and process communication) becomes one SSE frame whose
//! `id` is the event's serial. The adapter keeps the last [`BACKLOG`]
//! change events from the moment the server starts; a client that
//! reconnects with `Last-Event-ID: N` first gets every kept event after N,
//! then the live ones, without a gap or a repeat. When events after N were
//! already dropped from the backlog, a `reset` frame says so first (the
//! client should re-read `/api/v1/processes`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;
use hyper::{HeaderMap, Method, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use warden_types::Namespec;

use crate::core::api::{ApiError, ErrorKind, Reply, Request, Target};
use crate::core::events::{Event, EventKind, Interest, Subscription};
use crate::core::handle::Handle;
use crate::http::Body;
use crate::web::events::ProcessJson;
use crate::web::{actions, events, page, Web};

/// Change events kept for `Last-Event-ID` resumption.
pub const BACKLOG: usize = 1024;
/// Queue of a live stream's subscription; beyond it, a `reset` frame.
const QUEUE: usize = 4096;

const OPENAPI: &str = include_str!("assets/openapi.json");

/// The last change events, for resuming streams.
pub struct Backlog {
    events: RefCell<VecDeque<Rc<Event>>>,
    /// The highest serial no longer kept (0: nothing dropped yet).
    dropped: Cell<u64>,
    _feeder: tokio::task::JoinHandle<()>,
}

impl Backlog {
    /// Starts keeping the change events of `handle`'s stream.
    pub(crate) fn start(handle: &Handle) -> Rc<Backlog> {
        let sub = handle.subscribe(Interest::changes(), QUEUE);
        Rc::new_cyclic(|weak: &std::rc::Weak<Backlog>| {
            let weak = weak.clone();
            let feeder = tokio::task::spawn_local(async move {
                loop {
                    let d = sub.next().await;
                    let Some(b) = weak.upgrade() else { return };
                    if d.missed > 0 {
                        b.dropped.set(d.event.serial - 1);
                        b.events.borrow_mut().clear();
                    }
                    b.keep(d.event);
                }
            });
            Backlog {
                events: RefCell::new(VecDeque::new()),
                dropped: Cell::new(0),
                _feeder: feeder,
            }
        })
    }

    fn keep(&self, e: Rc<Event>) {
        let mut q = self.events.borrow_mut();
        if q.len() >= BACKLOG {
            if let Some(old) = q.pop_front() {
                self.dropped.set(old.serial);
            }
        }
        q.push_back(e);
    }

    /// The kept events after `serial`, and whether some were dropped.
    fn after(&self, serial: u64) -> (Vec<Rc<Event>>, bool) {
        let q = self.events.borrow();
        let events = q.iter().filter(|e| e.serial > serial).cloned().collect();
        (events, serial < self.dropped.get())
    }
}

impl Drop for Backlog {
    fn drop(&mut self) {
        self._feeder.abort();
    }
}

/// Whether `path` is under `/api/v1/` and `method` fits it.
pub(crate) fn serves(method: &Method, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return false;
    };
    let post = rest.starts_with("processes/") && rest.matches('/').count() >= 2
        || rest.starts_with("groups/")
        || rest.starts_with("all/");
    if post {
        method == Method::POST
    } else {
        method == Method::GET
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    page(status, "application/json", v.to_string())
}

/// A 200 answer serialized straight from `v` (no `Value` tree).
fn typed_response(v: &impl serde::Serialize) -> Response<Body> {
    let mut out = Bytewise(Vec::with_capacity(64 * 1024));
    match serde_json::to_writer(&mut out, v) {
        Ok(()) => page(StatusCode::OK, "application/json", out.0),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            e.to_string(),
        ),
    }
}

/// The JSON error for a fault, named as supervisord names it.
fn error_json(e: &ApiError, asked: &str) -> Value {
    let f = crate::xmlrpc::fault(e.clone(), asked);
    json!({ "error": {
        "fault": warden_xmlrpc::fault::fault_name(f.code),
        "code": f.code,
        "message": f.string,
    }})
}

fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadName => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyStarted
        | ErrorKind::NotRunning
        | ErrorKind::AlreadyAdded
        | ErrorKind::StillRunning => StatusCode::CONFLICT,
        ErrorKind::IncorrectParameters | ErrorKind::BadArguments | ErrorKind::BadSignal => {
            StatusCode::BAD_REQUEST
        }
        ErrorKind::ShutdownState => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error(e: &ApiError, asked: &str) -> Response<Body> {
    json_response(status_of(e.kind), &error_json(e, asked))
}

fn bad(message: &str) -> Response<Body> {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "error": { "fault": "BAD_ARGUMENTS", "code": 3, "message": message } }),
    )
}

/// A process as `/api/v1` shows it: the dashboard's view and more.
/// A `Vec` writer that appends short pieces byte by byte. serde_json writes
/// every quote, colon and comma on its own; with musl's `memcpy` (the static
/// binary's), a call per piece was a third of the time of a 1000-process
/// answer.
struct Bytewise(Vec<u8>);

impl std::io::Write for Bytewise {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() <= 8 {
            for &b in buf {
                self.0.push(b);
            }
        } else {
            self.0.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Answers a request that [`serves`] accepted.
pub(crate) async fn answer(
    web: &Rc<Web>,
    method: &Method,
    path: &str,
    query: &[u8],
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Body> {
    let h = &web.handle;
    let rest = path.strip_prefix("/api/v1/").unwrap_or("");
    let parts: Vec<String> = rest
        .split('/')
        .map(|p| crate::http::percent_decode(p).unwrap_or_default())
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    if method == Method::POST {
        if super::cross_origin(headers) {
            return super::forbidden();
        }
        let (target, asked, action) = match parts.as_slice() {
            ["processes", name, action] => (
                Target::Spec(Namespec::parse(name)),
                (*name).to_string(),
                *action,
            ),
            ["groups", g, action] => (Target::Group((*g).to_string()), (*g).to_string(), *action),
            ["all", action] => (Target::All, String::new(), *action),
            _ => return not_found(),
        };
        return act(h, target, &asked, action, query, body).await;
    }
    match parts.as_slice() {
        ["openapi.json"] => page(StatusCode::OK, "application/json", OPENAPI),
        ["supervisor"] => match events::snapshot(web).await {
            Some(v) => json_response(StatusCode::OK, &v["supervisor"]),
            None => error(&ApiError::bare(ErrorKind::ShutdownState), ""),
        },
        ["processes"] => match actions::call(h, Request::AllProcessInfo).await {
            Ok(Reply::Processes(ps)) => {
                typed_response(&ps.iter().map(ProcessJson::api).collect::<Vec<_>>())
            }
            Ok(_) => not_found(),
            Err(e) => error(&e, ""),
        },
        ["processes", name] => {
            let spec = Namespec::parse(name);
            if spec.is_group() {
                return error(&ApiError::new(ErrorKind::BadName, name), name);
            }
            match actions::call(h, Request::ProcessInfo(spec)).await {
                Ok(Reply::Process(p)) => typed_response(&ProcessJson::api(&p)),
                Ok(_) => not_found(),
                Err(e) => error(&e, name),
            }
        }
        ["events"] => stream(web, headers),
        _ => not_found(),
    }
}

fn not_found() -> Response<Body> {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({ "error": { "fault": "NOT_FOUND", "code": 404, "message": "no such endpoint" } }),
    )
}

/// start, stop, restart or signal `target`.
async fn act(
    h: &Handle,
    target: Target,
    asked: &str,
    action: &str,
    query: &[u8],
    body: &[u8],
) -> Response<Body> {
    let form = super::Form::parse(query, b"");
    let wait = form.get("wait") != Some("false");
    let t = || target.clone();
    let r = match action {
        "start" => actions::call(h, Request::Start { target: t(), wait }).await,
        "stop" => actions::call(h, Request::Stop { target: t(), wait }).await,
        "restart" => {
            match actions::call(
                h,
                Request::Stop {
                    target: t(),
                    wait: true,
                },
            )
            .await
            {
                Err(e) if e.kind != ErrorKind::NotRunning => Err(e),
                _ => actions::call(h, Request::Start { target: t(), wait }).await,
            }
        }
        "signal" => {
            let from_body = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("signal").and_then(Value::as_str).map(str::to_string));
            let Some(signal) = form.get("signal").map(str::to_string).or(from_body) else {
                return bad("a signal action needs ?signal=NAME or {\"signal\": \"NAME\"}");
            };
            actions::call(
                h,
                Request::Signal {
                    target: t(),
                    signal,
                },
            )
            .await
        }
        _ => return not_found(),
    };
    match r {
        Ok(Reply::Results(entries)) => {
            let results: Vec<Value> = entries
                .iter()
                .map(|r| {
                    let spec = Namespec::process(&r.group, &r.name).to_string();
                    let mut v = json!({ "name": r.name, "group": r.group, "ok": r.result.is_ok() });
                    if let Err(e) = &r.result {
                        v["error"] = error_json(e, &spec)["error"].clone();
                    }
                    v
                })
                .collect();
            let ok = entries.iter().all(|r| r.result.is_ok());
            json_response(StatusCode::OK, &json!({ "ok": ok, "results": results }))
        }
        Ok(_) => json_response(StatusCode::OK, &json!({ "ok": true, "results": [] })),
        Err(e) => error(&e, asked),
    }
}

/// An event as its SSE frame, `None` for the classes not streamed.
pub(crate) fn frame(e: &Event) -> Option<Bytes> {
    let (name, data) = match &e.kind {
        EventKind::ProcessState {
            group,
            name,
            from,
            to,
            tries,
            expected,
            pid,
            spawnerr,
        } => (
            "process-state",
            json!({
                "group": group, "name": name, "from": from.name(), "to": to.name(),
                "tries": tries, "expected": expected, "pid": pid, "spawnerr": spawnerr,
            }),
        ),
        EventKind::ProcessHealth {
            group,
            name,
            failures,
            error,
        } => (
            "process-health",
            json!({ "group": group, "name": name, "failures": failures, "error": error }),
        ),
        EventKind::GroupAdded(g) => ("group-added", json!({ "group": g })),
        EventKind::GroupRemoved(g) => ("group-removed", json!({ "group": g })),
        EventKind::SupervisorState(s) => ("supervisor-state", json!({ "state": s.name() })),
        EventKind::RemoteCommunication { kind, data } => (
            "remote-communication",
            json!({ "type": kind, "data": data }),
        ),
        EventKind::ProcessCommunication {
            group,
            name,
            pid,
            channel,
            data,
        } => (
            "process-communication",
            json!({
                "group": group, "name": name, "pid": pid,
                "channel": channel.name(),
                "data": String::from_utf8_lossy(data),
            }),
        ),
        EventKind::ProcessOutput { .. } | EventKind::Tick { .. } => return None,
    };
    let mut data = data;
    data["serial"] = e.serial.into();
    Some(Bytes::from(format!(
        "id: {}\nevent: {name}\ndata: {data}\n\n",
        e.serial
    )))
}

fn reset(after: u64) -> Bytes {
    Bytes::from(format!(
        "event: reset\ndata: {}\n\n",
        json!({ "after": after, "reason": "events after this id are no longer kept" })
    ))
}

/// `GET /api/v1/events`.
fn stream(web: &Rc<Web>, headers: &HeaderMap) -> Response<Body> {
    let last: Option<u64> =
        super::header(headers, "last-event-id").and_then(|v| v.trim().parse().ok());
    // Subscribed before the backlog is read: an event is in one or the
    // other (or both; the serial tells).
    let sub = web.handle.subscribe(Interest::changes(), QUEUE);
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let mut first = vec![Bytes::from_static(b"retry: 1000\n\n")];
    let mut sent = 0;
    if let Some(n) = last {
        let (kept, gap) = web.v1.after(n);
        if gap {
            first.push(reset(n));
        }
        first.extend(kept.iter().filter_map(|e| frame(e)));
        sent = kept.last().map_or(n, |e| e.serial).max(n);
    }
    tokio::task::spawn_local(pump(sub, tx, first, sent));
    events::event_stream(rx)
}

async fn pump(sub: Subscription, tx: mpsc::Sender<Bytes>, first: Vec<Bytes>, mut sent: u64) {
    for f in first {
        if tx.send(f).await.is_err() {
            return;
        }
    }
    let mut ping = events::pinger().await;
    loop {
        let Some(d) = events::next_or_ping(&sub, &tx, &mut ping).await else {
            return;
        };
        if d.missed > 0 && tx.send(reset(sent)).await.is_err() {
            return;
        }
        if d.event.serial <= sent {
            continue;
        }
        sent = d.event.serial;
        if let Some(f) = frame(&d.event) {
            if tx.send(f).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::Bus;

    #[test]
    fn the_backlog_is_bounded_and_says_when_it_dropped() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let bus = Bus::new();
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            let handle = Handle::new(tx, bus.clone());
            let backlog = Backlog::start(&handle);
            let group = |i: usize| EventKind::GroupAdded(format!("g{i}"));
            for i in 0..10 {
                bus.publish(group(i));
            }
            tokio::task::yield_now().await;
            let (kept, gap) = backlog.after(7);
            assert_eq!(
                kept.iter().map(|e| e.serial).collect::<Vec<_>>(),
                [8, 9, 10]
            );
            assert!(!gap);
            // more than the backlog keeps, in small bursts
            for i in 10..BACKLOG + 100 {
                bus.publish(group(i));
                if i % 100 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            tokio::task::yield_now().await;
            let last = bus.last_serial();
            let (kept, gap) = backlog.after(0);
            assert!(gap, "events after 0 were dropped");
            assert_eq!(kept.len(), BACKLOG);
            assert_eq!(kept.last().unwrap().serial, last);
            let (kept, gap) = backlog.after(last - 3);
            assert!(!gap);
            assert_eq!(kept.len(), 3);
            // a process-state frame carries its serial as id and data
            let e = Event {
                serial: 5,
                kind: EventKind::SupervisorState(warden_types::SupervisorState::Running),
            };
            let f = String::from_utf8(frame(&e).unwrap().to_vec()).unwrap();
            assert_eq!(
                f,
                "id: 5\nevent: supervisor-state\ndata: {\"serial\":5,\"state\":\"RUNNING\"}\n\n"
            );
        });
    }
}
