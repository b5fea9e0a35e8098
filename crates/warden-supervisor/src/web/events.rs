//! Server-sent event streams for the dashboard.
//!
//! `/api/events` subscribes to the core's change events *before* it takes
//! the snapshot it sends first, so no change falls between the two. Then
//! every burst of events (all that queued within a few milliseconds of the
//! first) becomes one `update` frame with the new views of the processes
//! that changed: a thousand changes cost the page a handful of frames, not a
//! thousand. When the subscription dropped events (its overflow rule) or
//! groups came or went, a fresh `snapshot` replaces everything.
//!
//! `/api/log` follows a process's stdout and stderr logs (or the main log)
//! as `/logtail` does, one `stdout`/`stderr`/`main` frame per chunk.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use warden_types::Namespec;

use crate::core::api::{Channel, ErrorKind, ProcessView, Reply, Request};
use crate::core::events::{Delivery, EventKind, Interest, Subscription};
use crate::core::handle::Handle;
use crate::http::{full, Body, ChanBody};
use crate::web::{unix_now, Form, Web};

/// Queue length of the dashboard's subscription: a burst longer than this
/// drops the oldest events and the page gets a snapshot instead.
const QUEUE: usize = 4096;
/// How long a burst may gather before it is sent.
const GATHER: Duration = Duration::from_millis(8);
/// More changed processes than this: one `AllProcessInfo` instead of one
/// `ProcessInfo` each.
const FEW: usize = 32;
/// How much of a log the log view shows from before it was opened.
const BACKLOG: u64 = 16 * 1024;
/// A comment line this often, so a vanished client is noticed.
const PING: Duration = Duration::from_secs(15);

fn frame(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// A process as the page and the JSON API see it. Serialized straight from
/// this struct (a `Value` tree of a thousand maps costs ten times more);
/// the fields are in alphabetical order, as serde_json writes a map's keys.
#[derive(serde::Serialize)]
pub(crate) struct ProcessJson<'a> {
    description: String,
    exitstatus: i32,
    group: &'a str,
    name: &'a str,
    now: i64,
    pid: i32,
    /// Only in `/api/v1` answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    spawnerr: Option<&'a str>,
    spec: String,
    start: i64,
    /// Only in `/api/v1` answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    starts: Option<u64>,
    state: &'static str,
    stderr: bool,
    stdout: bool,
    stop: i64,
}

impl<'a> ProcessJson<'a> {
    /// The page's view of `v`.
    pub(crate) fn new(v: &'a ProcessView) -> Self {
        ProcessJson {
            description: crate::xmlrpc::description(v),
            exitstatus: v.exitstatus,
            group: &v.group,
            name: &v.name,
            now: v.now,
            pid: v.pid,
            spawnerr: None,
            spec: Namespec::process(&v.group, &v.name).to_string(),
            start: v.start,
            starts: None,
            state: v.state.name(),
            stderr: v.stderr_logfile.is_some(),
            stdout: v.stdout_logfile.is_some(),
            stop: v.stop,
        }
    }

    /// The JSON API's view of `v`: the page's and `spawnerr` and `starts`.
    pub(crate) fn api(v: &'a ProcessView) -> Self {
        ProcessJson {
            spawnerr: Some(&v.spawnerr),
            starts: Some(v.starts),
            ..ProcessJson::new(v)
        }
    }
}

/// A process as the page sees it.
pub(crate) fn process_json(v: &ProcessView) -> Value {
    serde_json::to_value(ProcessJson::new(v)).unwrap_or(Value::Null)
}

/// The supervisor and every process; `None` when the engine is gone.
pub(crate) async fn snapshot(web: &Web) -> Option<Value> {
    let h = &web.handle;
    let state = match h.call(Request::State).await.ok()? {
        Ok(Reply::State(s)) => s.name(),
        _ => "UNKNOWN",
    };
    let text = |r: Result<Reply, _>| match r {
        Ok(Reply::Text(t)) => t,
        _ => String::new(),
    };
    let identification = text(h.call(Request::Identification).await.ok()?);
    let pid = match h.call(Request::Pid).await.ok()? {
        Ok(Reply::Int(p)) => p,
        _ => 0,
    };
    let processes = match h.call(Request::AllProcessInfo).await.ok()? {
        Ok(Reply::Processes(ps)) => ps.iter().map(process_json).collect(),
        _ => Vec::new(),
    };
    Some(json!({
        "supervisor": {
            "state": state,
            "version": crate::core::api::SUPERVISOR_VERSION,
            "identification": identification,
            "pid": pid,
            "started": web.started,
            "now": unix_now(),
        },
        "processes": processes,
    }))
}

pub(crate) fn event_stream(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "text/event-stream")
        .header("Cache-Control", "no-cache")
        .header("X-Accel-Buffering", "no")
        .body(ChanBody(rx).boxed_unsync())
        .unwrap_or_else(|_| full(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", ""))
}

/// The interval of [`next_or_ping`], its first (immediate) tick taken.
pub(crate) async fn pinger() -> tokio::time::Interval {
    let mut ping = tokio::time::interval(PING);
    ping.tick().await;
    ping
}

/// The next event of `sub`, sending a comment line to `tx` every [`PING`]
/// meanwhile; `None` once the client is gone.
pub(crate) async fn next_or_ping(
    sub: &Subscription,
    tx: &mpsc::Sender<Bytes>,
    ping: &mut tokio::time::Interval,
) -> Option<Delivery> {
    loop {
        tokio::select! {
            d = sub.next() => return Some(d),
            _ = ping.tick() => {
                tx.send(Bytes::from_static(b": ping\n\n")).await.ok()?;
            }
            () = tx.closed() => return None,
        }
    }
}

/// `GET /api/events`.
pub(crate) fn status_stream(web: Rc<Web>) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    // Subscribed here, before the snapshot is taken.
    let sub = web.handle.subscribe(Interest::changes(), QUEUE);
    tokio::task::spawn_local(async move {
        let Some(snap) = snapshot(&web).await else {
            return;
        };
        if tx.send(frame("snapshot", &snap)).await.is_err() {
            return;
        }
        let mut ping = pinger().await;
        loop {
            let Some(first) = next_or_ping(&sub, &tx, &mut ping).await else {
                return;
            };
            tokio::time::sleep(GATHER).await;
            let mut burst = Burst::default();
            burst.take(&first);
            while let Some(d) = sub.try_next() {
                burst.take(&d);
            }
            let Some(frames) = burst.frames(&web).await else {
                return;
            };
            for f in frames {
                if tx.send(f).await.is_err() {
                    return;
                }
            }
        }
    });
    event_stream(rx)
}

/// What a burst of events changed.
#[derive(Default)]
struct Burst {
    resync: bool,
    supervisor: Option<&'static str>,
    processes: BTreeSet<(String, String)>,
}

impl Burst {
    fn take(&mut self, d: &Delivery) {
        if d.missed > 0 {
            self.resync = true;
        }
        match &d.event.kind {
            EventKind::ProcessState { group, name, .. }
            | EventKind::ProcessHealth { group, name, .. } => {
                self.processes.insert((group.clone(), name.clone()));
            }
            EventKind::GroupAdded(_) | EventKind::GroupRemoved(_) => self.resync = true,
            EventKind::SupervisorState(s) => self.supervisor = Some(s.name()),
            _ => {}
        }
    }

    /// The frames to send; `None` when the engine is gone.
    async fn frames(self, web: &Web) -> Option<Vec<Bytes>> {
        if self.resync {
            return Some(vec![frame("snapshot", &snapshot(web).await?)]);
        }
        let mut out = Vec::new();
        if let Some(s) = self.supervisor {
            out.push(frame("supervisor", &json!({ "state": s })));
        }
        if self.processes.is_empty() {
            return Some(out);
        }
        let h = &web.handle;
        let mut views = Vec::new();
        if self.processes.len() > FEW {
            if let Ok(Reply::Processes(ps)) = h.call(Request::AllProcessInfo).await.ok()? {
                views.extend(
                    ps.iter()
                        .filter(|p| self.processes.contains(&(p.group.clone(), p.name.clone())))
                        .map(process_json),
                );
            }
        } else {
            for (g, n) in &self.processes {
                if let Ok(Reply::Process(p)) = h
                    .call(Request::ProcessInfo(Namespec::process(g, n)))
                    .await
                    .ok()?
                {
                    views.push(process_json(&p));
                }
            }
        }
        out.push(frame("update", &Value::Array(views)));
        Some(out)
    }
}

/// `GET /api/log?name=SPEC` (stdout and stderr) or `?main=1`.
pub(crate) async fn log_stream(handle: &Handle, form: &Form) -> Response<Body> {
    let targets = if form.get("main").is_some() {
        vec![(None, "main")]
    } else if let Some(n) = form.get("name") {
        let spec = Namespec::parse(n);
        vec![
            (Some((spec.clone(), Channel::Stdout)), "stdout"),
            (Some((spec, Channel::Stderr)), "stderr"),
        ]
    } else {
        return full(
            StatusCode::BAD_REQUEST,
            "text/plain",
            "name a process (name=) or main=1",
        );
    };
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let mut notes = Vec::new();
    for (target, label) in targets {
        match handle.call(Request::Follow(target)).await {
            Ok(Ok(Reply::Follow(Some(sink)))) => {
                let (ctx, crx) = mpsc::channel::<Bytes>(4);
                tokio::task::spawn_local(crate::http::follow(sink, ctx, BACKLOG));
                tokio::task::spawn_local(relay(label, crx, tx.clone()));
            }
            Ok(Err(e)) if e.kind == ErrorKind::BadName => {
                return full(StatusCode::NOT_FOUND, "text/plain", "no such process");
            }
            _ => notes.push(format!("no {label} log")),
        }
    }
    for n in notes {
        let _ = tx.try_send(frame("note", &Value::String(n)));
    }
    tokio::task::spawn_local(async move {
        let mut ping = tokio::time::interval(PING);
        ping.tick().await;
        loop {
            tokio::select! {
                _ = ping.tick() => {
                    if tx.send(Bytes::from_static(b": ping\n\n")).await.is_err() {
                        return;
                    }
                }
                () = tx.closed() => return,
            }
        }
    });
    event_stream(rx)
}

/// Passes a followed log's chunks on as `label` frames.
async fn relay(label: &'static str, mut rx: mpsc::Receiver<Bytes>, tx: mpsc::Sender<Bytes>) {
    loop {
        tokio::select! {
            chunk = rx.recv() => {
                let Some(chunk) = chunk else { return };
                let text = Value::String(String::from_utf8_lossy(&chunk).into_owned());
                if tx.send(frame(label, &text)).await.is_err() {
                    return;
                }
            }
            () = tx.closed() => return,
        }
    }
}
