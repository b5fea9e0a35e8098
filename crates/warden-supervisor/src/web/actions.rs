//! Actions: supervisord's `index.html?action=...` URLs, and the dashboard's
//! JSON actions. Both are translations into core [`Request`]s.

use hyper::StatusCode;
use serde_json::{json, Value};
use warden_types::Namespec;

use crate::core::api::{ApiError, ErrorKind, Reply, Request, ResultEntry, Target};
use crate::core::handle::Handle;
use crate::web::Form;

/// Runs a call; the engine being gone is a shutdown error.
pub(crate) async fn call(handle: &Handle, req: Request) -> Result<Reply, ApiError> {
    handle
        .call(req)
        .await
        .unwrap_or_else(|_| Err(ApiError::bare(ErrorKind::ShutdownState)))
}

/// Starts and waits for the outcome, as supervisord's page does.
async fn start(handle: &Handle, target: Target) -> Result<Reply, ApiError> {
    call(handle, Request::Start { target, wait: true }).await
}

/// Stops and waits until stopped.
async fn stop(handle: &Handle, target: Target) -> Result<Reply, ApiError> {
    call(handle, Request::Stop { target, wait: true }).await
}

fn unexpected(e: ApiError, name: &str) -> String {
    let f = crate::xmlrpc::fault(e, name);
    format!("unexpected rpc fault [{}] {}", f.code, f.string)
}

/// supervisord's `time.ctime()`: `Wed Dec  2 06:56:09 2026`, local time.
pub(crate) fn ctime(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = warden_sys::clock::local_time(secs);
    let m = t.month.clamp(1, 12) as usize;
    // Sakamoto's day of the week for the local date
    let offsets = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = i64::from(t.year) - i64::from(m < 3);
    let dow = (y + y / 4 - y / 100 + y / 400 + offsets[m - 1] + i64::from(t.day)).rem_euclid(7);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[usize::try_from(dow).unwrap_or(0)],
        MONTHS[m - 1],
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.year
    )
}

/// supervisord's status-page actions: the message it puts in the redirect.
///
/// # Errors
///
/// An action supervisord does not know, or a process action without a
/// `processname` (supervisord answers those with 500).
pub(crate) async fn legacy(handle: &Handle, form: &Form) -> Result<String, String> {
    let action = form.get("action").unwrap_or("");
    let now = || ctime(super::unix_now());
    match action {
        "refresh" => return Ok(format!("Page refreshed at {}", now())),
        "stopall" => {
            let _ = stop(handle, Target::All).await;
            return Ok(format!("All stopped at {}", now()));
        }
        "restartall" => {
            let _ = stop(handle, Target::All).await;
            let _ = start(handle, Target::All).await;
            return Ok(format!("All restarted at {}", now()));
        }
        _ => {}
    }
    let Some(name) = form.get("processname") else {
        return Err(format!("unknown action {action:?} or no processname"));
    };
    // supervisord looks the process up first, by group and process name,
    // and only then finds out whether it knows the action.
    let spec = Namespec::parse(name);
    let exists = !spec.is_group()
        && call(handle, Request::ProcessInfo(spec.clone()))
            .await
            .is_ok();
    if !exists {
        return Ok(format!("No such process named {name}"));
    }
    if !matches!(action, "start" | "stop" | "restart" | "clearlog") {
        return Err(format!("unknown action {action:?}"));
    }
    let target = || Target::Spec(spec.clone());
    Ok(match action {
        "start" => match start(handle, target()).await {
            Ok(_) => format!("Process {name} started"),
            Err(e) => {
                let why = match e.kind {
                    ErrorKind::NoFile => "no such file".to_string(),
                    ErrorKind::NotExecutable => "file not executable".to_string(),
                    ErrorKind::AlreadyStarted => "already started".to_string(),
                    ErrorKind::SpawnError => "spawn error".to_string(),
                    ErrorKind::AbnormalTermination => "abnormal termination".to_string(),
                    _ => unexpected(e, name),
                };
                format!("ERROR: Process {name}: {why}")
            }
        },
        "stop" => match stop(handle, target()).await {
            Ok(_) => format!("Process {name} stopped"),
            Err(e) => unexpected(e, name),
        },
        "restart" => {
            // supervisord's multicall: stop, then start, outcomes ignored
            let _ = stop(handle, target()).await;
            let _ = start(handle, target()).await;
            format!("Process {name} restarted")
        }
        _ => match call(handle, Request::ClearLogs(target())).await {
            Ok(_) => format!("Log for {name} cleared"),
            Err(e) => unexpected(e, name),
        },
    })
}

/// The failures among a group or all request's outcomes, as text.
fn failures(entries: &[ResultEntry]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|r| {
            let e = r.result.clone().err()?;
            let spec = Namespec::process(&r.group, &r.name).to_string();
            let f = crate::xmlrpc::fault(e, &spec);
            Some(format!("{spec}: {}", f.string))
        })
        .collect()
}

/// The outcome of one request as (ok, failure texts).
fn outcome(r: Result<Reply, ApiError>, name: &str) -> (bool, Vec<String>) {
    match r {
        Ok(Reply::Results(entries)) => {
            let f = failures(&entries);
            (f.is_empty(), f)
        }
        Ok(_) => (true, Vec::new()),
        Err(e) => (false, vec![crate::xmlrpc::fault(e, name).string]),
    }
}

/// A dashboard action: `{"action": "start"|"stop"|"restart"|"signal"|
/// "clearlog", "name": "g:p"}`, or `"group": "g"`, or `"all": true`, and
/// `"signal": "HUP"` for a signal. Answers `{"ok", "message", "errors"}`.
pub(crate) async fn dashboard(handle: &Handle, v: &Value) -> (StatusCode, Value) {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let action = s("action").unwrap_or_default();
    let (target, what) = if let Some(n) = s("name") {
        (Target::Spec(Namespec::parse(&n)), n)
    } else if let Some(g) = s("group") {
        (Target::Group(g.clone()), format!("group {g}"))
    } else if v.get("all").and_then(Value::as_bool) == Some(true) {
        (Target::All, "all processes".to_string())
    } else {
        return bad("name the process (\"name\"), the group (\"group\") or \"all\": true");
    };
    let t = || target.clone();
    let (r, done) = match action.as_str() {
        "start" => (start(handle, t()).await, "started"),
        "stop" => (stop(handle, t()).await, "stopped"),
        "restart" => {
            // a stop that finds nothing running is no failure of a restart
            let _ = stop(handle, t()).await;
            (start(handle, t()).await, "restarted")
        }
        "signal" => {
            let Some(signal) = s("signal").filter(|x| !x.is_empty()) else {
                return bad("a signal action needs \"signal\", e.g. \"HUP\"");
            };
            let r = call(
                handle,
                Request::Signal {
                    target: t(),
                    signal,
                },
            )
            .await;
            (r, "signalled")
        }
        "clearlog" => (call(handle, Request::ClearLogs(t())).await, "log cleared"),
        other => return bad(&format!("unknown action {other:?}")),
    };
    let (ok, errors) = outcome(r, &what);
    let message = if ok {
        format!("{what}: {done}")
    } else {
        format!("{what}: {action} failed: {}", errors.join("; "))
    };
    (
        StatusCode::OK,
        json!({ "ok": ok, "message": message, "errors": errors }),
    )
}

fn bad(msg: &str) -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({ "ok": false, "message": msg, "errors": [msg] }),
    )
}

#[cfg(test)]
mod tests {
    use super::ctime;

    #[test]
    fn ctime_has_pythons_shape() {
        let c = ctime(1_700_000_000);
        // "Tue Nov 14 22:13:20 2023" in UTC; the zone may differ
        let parts: Vec<&str> = c.split_whitespace().collect();
        assert_eq!(parts.len(), 5, "{c}");
        assert!(["Mon", "Tue", "Wed"].contains(&parts[0]), "{c}");
        assert_eq!(parts[4], "2023");
        assert_eq!(ctime(0).len(), "Thu Jan  1 00:00:00 1970".len());
    }
}
