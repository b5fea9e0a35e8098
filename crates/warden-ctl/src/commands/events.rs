//! `events [--json]` (warden's): follows the supervisor's event stream
//! (`GET /api/v1/events`, server-sent events) until Ctrl-C.
//!
//! Text: one line per event, `SERIAL EVENT DETAILS`, e.g.
//! `42 process-state web:web STARTING -> RUNNING pid 4711`. With `--json`:
//! one JSON object per line, the event's data with `"event"` added.

use std::io::{self, Write};

use crate::ctl::{Ctl, R};
use crate::exit;

/// Splits server-sent-event text into frames as bytes arrive.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    buf: Vec<u8>,
}

/// One server-sent event: its name and its JSON data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Frame {
    pub event: String,
    pub data: serde_json::Value,
}

impl Frames {
    /// The complete frames in `data` (and what came before it); comments
    /// and frames without an event name are skipped.
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<Frame> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while let Some(at) = self.buf.windows(2).position(|w| w == b"\n\n") {
            let rest = self.buf.split_off(at + 2);
            let text =
                String::from_utf8_lossy(&std::mem::replace(&mut self.buf, rest)).into_owned();
            let mut f = Frame {
                event: String::new(),
                data: serde_json::Value::Null,
            };
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    f.event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    f.data = serde_json::from_str(v.trim()).unwrap_or(serde_json::Value::Null);
                }
            }
            if !f.event.is_empty() {
                out.push(f);
            }
        }
        out
    }
}

/// An event as one line of text.
pub(crate) fn line(f: &Frame) -> String {
    let d = &f.data;
    let s = |k: &str| match &d[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    };
    let serial = s("serial");
    let details = match f.event.as_str() {
        "process-state" => {
            let mut t = format!("{}:{} {} -> {}", s("group"), s("name"), s("from"), s("to"));
            if d["pid"].as_i64().is_some_and(|p| p > 0) {
                t.push_str(&format!(" pid {}", s("pid")));
            }
            if !s("spawnerr").is_empty() {
                t.push_str(&format!(" ({})", s("spawnerr")));
            }
            t
        }
        "process-health" => {
            let name = format!("{}:{}", s("group"), s("name"));
            match d["failures"].as_i64() {
                Some(0) => format!("{name} healthy"),
                _ => format!("{name} {} failed: {}", s("failures"), s("error")),
            }
        }
        "group-added" | "group-removed" => s("group"),
        "supervisor-state" => s("state"),
        "remote-communication" => format!("{} {}", s("type"), s("data")),
        "process-communication" => {
            format!(
                "{}:{} {} {}",
                s("group"),
                s("name"),
                s("channel"),
                s("data")
            )
        }
        _ => d.to_string(),
    };
    if serial.is_empty() {
        format!("- {} {details}", f.event)
    } else {
        format!("{serial} {} {details}", f.event)
    }
}

impl Ctl {
    pub(super) fn do_events(&mut self, arg: &str) -> R<()> {
        if !arg.trim().is_empty() {
            self.output(&format!(
                "Error: events takes no arguments (got {})",
                arg.trim()
            ));
            self.exitstatus = exit::GENERIC;
            return Ok(());
        }
        let json = self.json;
        let mut frames = Frames::default();
        self.follow_with("/api/v1/events", |data| {
            let mut so = io::stdout().lock();
            for f in frames.push(data) {
                let text = if json {
                    let mut v = f.data.clone();
                    if let Some(o) = v.as_object_mut() {
                        o.insert("event".into(), f.event.clone().into());
                    }
                    v.to_string()
                } else {
                    line(&f)
                };
                if writeln!(so, "{text}").and_then(|()| so.flush()).is_err() {
                    return false;
                }
            }
            true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_across_chunks_and_lines() {
        let mut f = Frames::default();
        assert!(f
            .push(b"retry: 1000\n\n: ping\n\nid: 7\nevent: process-st")
            .is_empty());
        let got = f.push(
            b"ate\ndata: {\"group\":\"g\",\"name\":\"p\",\"from\":\"STARTING\",\"to\":\"RUNNING\",\"pid\":42,\"serial\":7}\n\nevent: reset\ndata: {\"after\":3}\n\n",
        );
        assert_eq!(got.len(), 2);
        assert_eq!(
            line(&got[0]),
            "7 process-state g:p STARTING -> RUNNING pid 42"
        );
        assert_eq!(line(&got[1]), "- reset {\"after\":3}");
        let got = f.push(
            b"id: 9\nevent: process-health\ndata: {\"group\":\"g\",\"name\":\"p\",\"failures\":2,\"error\":\"connection refused\",\"serial\":9}\n\n\
              id: 10\nevent: process-health\ndata: {\"group\":\"g\",\"name\":\"p\",\"failures\":0,\"error\":null,\"serial\":10}\n\n",
        );
        assert_eq!(
            line(&got[0]),
            "9 process-health g:p 2 failed: connection refused"
        );
        assert_eq!(line(&got[1]), "10 process-health g:p healthy");
    }
}
