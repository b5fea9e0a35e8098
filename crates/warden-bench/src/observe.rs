//! Figure 8: the cost of warden's observability (issue 17): a `/metrics`
//! scrape with many programs, and log capture with timestamps on and off.
//! warden only: supervisord has neither.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::figures::{Check, Row, Table, Tools};
use crate::supervisors::{sleepers, spawn_in, start, Kind};
use crate::util::{kill_child, poll_until, Scratch};

/// `GET /metrics` over the unix socket: the body, or `None`.
fn scrape(sock: &Path) -> Option<String> {
    let mut s = UnixStream::connect(sock).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200").then(|| body.to_string())
}

/// Milliseconds per `/metrics` scrape with `n` running programs.
pub fn metrics_scrape(kind: &Kind, n: usize, scrapes: usize) -> Table {
    let mut row = Row::new(kind.name);
    row.note = format!("{n} programs, {scrapes} scrapes");
    if let Some(r) = start(kind, "metrics", &sleepers(n)) {
        let up = |b: &str| {
            b.lines()
                .filter(|l| l.starts_with("warden_process_up{") && l.ends_with(" 1"))
                .count()
        };
        let ready = poll_until(Duration::from_secs(120), || {
            scrape(&r.sock).is_some_and(|b| up(&b) == n)
        });
        if ready {
            for _ in 0..scrapes {
                let t0 = Instant::now();
                if scrape(&r.sock).is_some() {
                    row.samples.push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        kill_child(r.child);
    }
    Table {
        title: format!(
            "GET /metrics with {n} programs (CPU and RSS of each process tree read from /proc)"
        ),
        unit: "ms",
        lower_is_better: true,
        target: "≤ 100 ms".into(),
        target_value: Some(100.0),
        not_measured: "Scrapes by several clients at once, a scrape while \
                       programs start and stop, or the cost of /proc reads for \
                       deep process trees: each program here is one process"
            .into(),
        checks: Vec::new(),
        rows: vec![row],
    }
}

/// MB/s of log capture by `kind` with `*_logfile_timestamps` off and on.
pub fn capture_timestamps(t: &Tools, kind: &Kind, bytes: u64, rounds: usize) -> Table {
    let mut rows = vec![Row::new("timestamps off"), Row::new("timestamps on")];
    rows[1].note = "target: within 20 % of off".into();
    for _ in 0..rounds {
        for (k, stamped) in [false, true].into_iter().enumerate() {
            if let Some(secs) = capture_once(t, kind, bytes, stamped) {
                rows[k].samples.push(bytes as f64 / secs / 1e6);
            }
        }
    }
    Table {
        title: format!(
            "Log capture by {}: one child writing {} MiB, timestamps off and on",
            kind.name,
            bytes >> 20
        ),
        unit: "MB/s",
        lower_is_better: false,
        target: "on ≥ 80 % of off".into(),
        target_value: None,
        not_measured: "Many programs writing at once, lines longer or shorter \
                       than 80 bytes (a stamp costs per line), or JSON lines \
                       (stdout_logfile_format=json), which copy more"
            .into(),
        // on ≥ 80 % of off, as a ratio that passes when small
        checks: vec![Check::of(
            &rows,
            "capture MB/s, timestamps off / on",
            "timestamps off",
            "timestamps on",
            1.25,
        )],
        rows,
    }
}

/// Seconds until the whole output is in the log.
fn capture_once(t: &Tools, kind: &Kind, bytes: u64, stamped: bool) -> Option<f64> {
    let scratch = Scratch::new("stamps");
    let file = scratch.join("out.log");
    let body = format!(
        "[program:flood]\ncommand={} {bytes}\nautorestart=false\nstartsecs=0\n\
         stdout_logfile={}\nstdout_logfile_maxbytes=0\nstderr_logfile=NONE\n\
         stdout_logfile_timestamps={stamped}\n",
        t.flood.display(),
        file.display()
    );
    // bench-flood writes lines of 80 bytes; a stamp adds 25 to each
    let want = if stamped {
        bytes + bytes / 80 * 25
    } else {
        bytes
    };
    let t0 = Instant::now();
    let child = spawn_in(kind, &scratch.0, &body)?;
    let size = || std::fs::metadata(&file).map_or(0, |m| m.len());
    let done = poll_until(Duration::from_secs(120), || size() >= want);
    let secs = t0.elapsed().as_secs_f64();
    kill_child(child);
    done.then_some(secs)
}
