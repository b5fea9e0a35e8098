//! Figures 2 and 5 (supervisor scale), and the supervisord rows of figures 3
//! and 4: warden supervise and supervisord on the same generated config.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use warden_xmlrpc::Value;

use crate::figures::{Row, Table};
use crate::util::{cpu_seconds, kill_child, poll_until, Samples, Scratch};

/// A supervisord-compatible supervisor and its client.
#[derive(Clone)]
pub struct Kind {
    pub name: &'static str,
    /// The program and its arguments before `-c CONF` (nodaemon included).
    pub server: Vec<OsString>,
    /// The status client and its arguments before `-c CONF status`.
    pub client: Vec<OsString>,
}

/// A running supervisor in its own scratch directory.
pub struct Running {
    pub child: Child,
    pub _dir: Scratch,
    pub conf: PathBuf,
    pub sock: PathBuf,
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

/// The `[supervisord]`, server, rpcinterface and supervisorctl sections.
pub fn config_head(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "[supervisord]\nnodaemon=true\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n\
         childlogdir={d}/logs\nloglevel=info\n\n\
         [unix_http_server]\nfile={d}/s.sock\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=unix://{d}/s.sock\n\n"
    )
}

/// Starts `kind` in `dir` on `body` (the program sections); does not wait.
pub fn spawn_in(kind: &Kind, dir: &Path, body: &str) -> Option<Child> {
    use std::os::unix::process::CommandExt;
    std::fs::create_dir_all(dir.join("logs")).ok()?;
    let conf = dir.join("supervisord.conf");
    std::fs::write(&conf, config_head(dir) + body).ok()?;
    Command::new(&kind.server[0])
        .args(&kind.server[1..])
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()
}

/// Starts `kind` on `body` (the program sections) and waits for its socket.
pub fn start(kind: &Kind, tag: &str, body: &str) -> Option<Running> {
    let dir = Scratch::new(tag);
    let child = spawn_in(kind, &dir.0, body)?;
    let conf = dir.join("supervisord.conf");
    let sock = dir.join("s.sock");
    let r = Running {
        child,
        _dir: dir,
        conf,
        sock,
    };
    poll_until(Duration::from_secs(30), || {
        UnixStream::connect(&r.sock).is_ok()
    })
    .then_some(r)
}

/// One XML-RPC call over the unix socket (HTTP/1.0, one connection).
pub fn rpc(sock: &Path, method: &str, params: &[Value]) -> Result<Value, String> {
    let resp = rpc_bytes(sock, method, params)?;
    let at = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header end")?;
    match warden_xmlrpc::parse_response(&resp[at + 4..]) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(f)) => Err(format!("fault {}", f.string)),
        Err(e) => Err(format!("bad response: {e:?}")),
    }
}

/// The raw HTTP response to one call: what the server's latency is measured
/// on (the client's XML parsing is not the server's time).
pub fn rpc_bytes(sock: &Path, method: &str, params: &[Value]) -> Result<Vec<u8>, String> {
    let body = warden_xmlrpc::write_call(method, params);
    let mut s = UnixStream::connect(sock).map_err(|e| e.to_string())?;
    let req = format!(
        "POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| e.to_string())?;
    Ok(resp)
}

fn all_running(sock: &Path, n: usize) -> bool {
    rpc(sock, "supervisor.getAllProcessInfo", &[]).is_ok_and(|v| {
        v.as_array().is_some_and(|a| {
            a.len() == n
                && a.iter().all(|p| {
                    p.as_struct()
                        .and_then(|s| s.get("statename"))
                        .and_then(Value::as_str)
                        == Some("RUNNING")
                })
        })
    })
}

fn children(pid: i32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| s.split_whitespace().count())
        .unwrap_or(0)
}

fn status_field(pid: i32, key: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn wakeups(pid: i32) -> Option<f64> {
    Some(
        status_field(pid, "voluntary_ctxt_switches")?
            + status_field(pid, "nonvoluntary_ctxt_switches")?,
    )
}

/// The program sections for N supervised `sleep`s with captured output.
pub fn sleepers(n: usize) -> String {
    format!(
        "[program:p]\ncommand=sleep 100000\nprocess_name=p%(process_num)04d\nnumprocs={n}\n\
         autorestart=true\nstartsecs=0\nstdout_logfile=AUTO\nstderr_logfile=AUTO\n"
    )
}

/// Everything figure 2 measures, per supervisor and N.
#[derive(Default, Clone)]
pub struct Scale {
    pub running_s: Samples,
    pub rss_mib: Samples,
    pub idle_cpu_pct: Samples,
    pub idle_wakeups: Samples,
    pub status_ms: Samples,
    pub rpc_ms: Samples,
    pub stop_all_s: Samples,
    pub shutdown_s: Samples,
}

/// One round of figure 2 for one supervisor and N programs.
pub fn scale_round(kind: &Kind, n: usize, idle: Duration, out: &mut Scale) {
    let t0 = Instant::now();
    let Some(mut r) = start(kind, "scale", &sleepers(n)) else {
        eprintln!("  {} did not start with {n} programs", kind.name);
        return;
    };
    let pid = r.pid();
    // Cheap first (children exist), then confirm over XML-RPC.
    poll_until(Duration::from_secs(120), || children(pid) >= n);
    let mut confirmed = None;
    poll_until(Duration::from_secs(120), || {
        let sent = t0.elapsed();
        let ok = all_running(&r.sock, n);
        if ok {
            confirmed = Some(sent);
        }
        ok
    });
    if let Some(t) = confirmed {
        out.running_s.push(t.as_secs_f64());
    }
    if let Some(kb) = status_field(pid, "VmRSS") {
        out.rss_mib.push(kb / 1024.0);
    }
    // Idle: nobody talks to it (measured when `idle` is not zero).
    if !idle.is_zero() {
        let (c0, w0) = (cpu_seconds(pid), wakeups(pid));
        std::thread::sleep(idle);
        if let (Some(c0), Some(c1), Some(w0), Some(w1)) = (c0, cpu_seconds(pid), w0, wakeups(pid)) {
            out.idle_cpu_pct
                .push((c1 - c0) / idle.as_secs_f64() * 100.0);
            out.idle_wakeups.push((w1 - w0) / idle.as_secs_f64());
        }
    }
    let reps = if n >= 1000 { 3 } else { 5 };
    for _ in 0..reps {
        let t = Instant::now();
        let ok = Command::new(&kind.client[0])
            .args(&kind.client[1..])
            .arg("-c")
            .arg(&r.conf)
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if ok {
            out.status_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let t = Instant::now();
        if rpc_bytes(&r.sock, "supervisor.getAllProcessInfo", &[]).is_ok_and(|b| b.len() > 100) {
            out.rpc_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let t = Instant::now();
    if rpc(
        &r.sock,
        "supervisor.stopAllProcesses",
        &[Value::Boolean(true)],
    )
    .is_ok()
    {
        out.stop_all_s.push(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    if rpc(&r.sock, "supervisor.shutdown", &[]).is_ok() {
        let gone = poll_until(Duration::from_secs(60), || {
            r.child.try_wait().ok().flatten().is_some()
        });
        if gone {
            out.shutdown_s.push(t.elapsed().as_secs_f64());
        }
    }
    kill_child(r.child);
}

/// Figure 2 tables (one per metric, rows = supervisor × N) and figure 5.
pub fn scale_tables(kinds: &[Kind], ns: &[usize], results: &[(usize, usize, Scale)]) -> Vec<Table> {
    type Pick = fn(&Scale) -> &Samples;
    /// Title, unit, lower is better, target text, target value, samples.
    type Metric = (
        &'static str,
        &'static str,
        bool,
        &'static str,
        Option<f64>,
        Pick,
    );
    let metrics: [Metric; 8] = [
        (
            "time until all programs are RUNNING (startsecs=0)",
            "s",
            true,
            "≤ 1 s at 1000",
            Some(1.0),
            |s| &s.running_s,
        ),
        (
            "RSS of the supervisor process",
            "MiB",
            true,
            "≤ 3 MiB at 0, ≤ 8 MiB at 1000",
            Some(8.0),
            |s| &s.rss_mib,
        ),
        (
            "CPU while idle (30 s, nobody talking to it)",
            "% of a core",
            true,
            "0",
            None,
            |s| &s.idle_cpu_pct,
        ),
        (
            "wake-ups per second while idle (context switches)",
            "1/s",
            true,
            "0",
            Some(0.0),
            |s| &s.idle_wakeups,
        ),
        (
            "`status` command latency (warden ctl / supervisorctl)",
            "ms",
            true,
            "≤ 10 ms at 1000",
            Some(10.0),
            |s| &s.status_ms,
        ),
        (
            "raw XML-RPC `getAllProcessInfo` latency (until the whole answer is received)",
            "ms",
            true,
            "≤ 10 ms at 1000",
            Some(10.0),
            |s| &s.rpc_ms,
        ),
        ("`stopAllProcesses(wait=true)`", "s", true, "", None, |s| {
            &s.stop_all_s
        }),
        (
            "`shutdown` until the process is gone",
            "s",
            true,
            "",
            None,
            |s| &s.shutdown_s,
        ),
    ];
    let mut tables = Vec::new();
    for (title, unit, lower, target, tv, pick) in metrics {
        let mut rows = Vec::new();
        for &n in ns {
            for (k, kind) in kinds.iter().enumerate() {
                let mut row = Row::new(&format!("{} N={n}", kind.name));
                row.group = format!("N={n}");
                for (rn, rk, s) in results {
                    if *rn == n && *rk == k {
                        row.samples.0.extend(pick(s).0.iter().copied());
                    }
                }
                rows.push(row);
            }
        }
        tables.push(Table {
            title: format!("Supervisor scale: {title}"),
            unit,
            lower_is_better: lower,
            target: target.into(),
            target_value: tv,
            rows,
        });
    }
    // Figure 5: RSS slope between the smallest N >= 100 and the largest.
    let mut rows = Vec::new();
    for (k, kind) in kinds.iter().enumerate() {
        let rss_at = |n: usize| {
            let mut s = Samples::default();
            for (rn, rk, r) in results {
                if *rn == n && *rk == k {
                    s.0.extend(r.rss_mib.0.iter().copied());
                }
            }
            s.median()
        };
        // The slope between the two largest N (100 and 1000 in a full run).
        let mut sorted = ns.to_vec();
        sorted.sort_unstable();
        let hi = sorted.last().copied();
        let lo = sorted.len().checked_sub(2).map(|i| sorted[i]);
        let mut row = Row::new(kind.name);
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if let (Some(a), Some(b)) = (rss_at(lo), rss_at(hi)) {
                if hi > lo {
                    row.samples.push((b - a) * 1024.0 / (hi - lo) as f64);
                    row.note = format!("RSS slope from N={lo} to N={hi}");
                }
            }
        }
        rows.push(row);
    }
    tables.push(Table {
        title: "Memory per supervised program".into(),
        unit: "KiB",
        lower_is_better: true,
        target: String::new(),
        target_value: None,
        rows,
    });
    tables
}

/// An SVG plot of time-to-RUNNING and RSS against N for each supervisor.
pub fn scale_svg(kinds: &[Kind], ns: &[usize], results: &[(usize, usize, Scale)]) -> String {
    let (w, h, pad) = (720.0, 300.0, 50.0);
    let colors = ["#c0392b", "#2471a3", "#27ae60", "#8e44ad"];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n",
        w * 2.0,
        h
    );
    type Pick = fn(&Scale) -> &Samples;
    let panels: [(&str, Pick); 2] = [
        ("time until all RUNNING (s)", |s| &s.running_s),
        ("RSS (MiB)", |s| &s.rss_mib),
    ];
    for (pi, (label, pick)) in panels.iter().enumerate() {
        let x0 = pi as f64 * w;
        let series: Vec<Vec<(usize, f64)>> = (0..kinds.len())
            .map(|k| {
                ns.iter()
                    .filter_map(|&n| {
                        let mut s = Samples::default();
                        for (rn, rk, r) in results {
                            if *rn == n && *rk == k {
                                s.0.extend(pick(r).0.iter().copied());
                            }
                        }
                        s.median().map(|m| (n, m))
                    })
                    .collect()
            })
            .collect();
        let ymax = series
            .iter()
            .flatten()
            .map(|p| p.1)
            .fold(0.0_f64, f64::max)
            .max(1e-9)
            * 1.1;
        let lx = |n: usize| (n.max(1) as f64).log10();
        let xmax = ns.iter().map(|&n| lx(n)).fold(0.0_f64, f64::max).max(1.0);
        let px = |n: usize| x0 + pad + lx(n) / xmax * (w - 2.0 * pad);
        let py = |v: f64| h - pad - v / ymax * (h - 2.0 * pad);
        svg += &format!(
            "<text x=\"{}\" y=\"20\" text-anchor=\"middle\">{label} vs number of programs (log scale)</text>\n",
            x0 + w / 2.0
        );
        svg += &format!(
            "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/><line x1=\"{0}\" y1=\"{3}\" x2=\"{0}\" y2=\"{1}\" stroke=\"black\"/>\n",
            x0 + pad,
            h - pad,
            x0 + w - pad,
            pad
        );
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.2}</text>\n",
            x0 + pad - 4.0,
            pad + 4.0,
            ymax
        );
        for &n in ns {
            svg += &format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{n}</text>\n",
                px(n),
                h - pad + 16.0
            );
        }
        for (k, pts) in series.iter().enumerate() {
            let c = colors[k % colors.len()];
            let path: Vec<String> = pts
                .iter()
                .map(|&(n, v)| format!("{:.1},{:.1}", px(n), py(v)))
                .collect();
            svg += &format!(
                "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>\n",
                path.join(" ")
            );
            for &(n, v) in pts {
                svg += &format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{c}\"/>\n",
                    px(n),
                    py(v)
                );
            }
            svg += &format!(
                "<text x=\"{}\" y=\"{}\" fill=\"{c}\">{}</text>\n",
                x0 + pad + 10.0,
                pad + 16.0 * (k as f64 + 1.0),
                kinds[k].name
            );
        }
    }
    svg + "</svg>\n"
}

/// Figure 6: interactive latency of `ctl stop NAME`, `ctl start NAME` and
/// `ctl status NAME` on one program that exits on SIGTERM, each client
/// against its own server. warden's target: stop and start within 3× of
/// status on the same server (a waiting call answers when the change it
/// waits for happens, not on a timer).
pub fn interactive(kinds: &[Kind], rounds: usize) -> Table {
    let mut rows = Vec::new();
    for kind in kinds {
        let Some(r) = start(kind, "interactive", &sleepers(1)) else {
            eprintln!("  {} did not start", kind.name);
            continue;
        };
        poll_until(Duration::from_secs(30), || all_running(&r.sock, 1));
        let ctl = |args: &[&str]| -> Option<f64> {
            let t = Instant::now();
            let ok = Command::new(&kind.client[0])
                .args(&kind.client[1..])
                .arg("-c")
                .arg(&r.conf)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            ok.then(|| t.elapsed().as_secs_f64() * 1e3)
        };
        let mut status = Row::new(&format!("{} status", kind.name));
        let mut stop = Row::new(&format!("{} stop", kind.name));
        let mut start_row = Row::new(&format!("{} start", kind.name));
        for _ in 0..rounds {
            if let Some(ms) = ctl(&["status", "p:p0000"]) {
                status.samples.push(ms);
            }
            if let Some(ms) = ctl(&["stop", "p:p0000"]) {
                stop.samples.push(ms);
            }
            if let Some(ms) = ctl(&["start", "p:p0000"]) {
                start_row.samples.push(ms);
            }
        }
        let base = status.samples.median();
        for row in [&mut stop, &mut start_row] {
            if let (Some(b), Some(m)) = (base, row.samples.median()) {
                row.note = format!("{:.1}× status", m / b);
            }
        }
        for mut row in [status, stop, start_row] {
            row.group = kind.name.to_string();
            rows.push(row);
        }
        let _ = rpc(&r.sock, "supervisor.shutdown", &[]);
        let mut child = r.child;
        poll_until(Duration::from_secs(30), || {
            child.try_wait().ok().flatten().is_some()
        });
        kill_child(child);
    }
    Table {
        title: "interactive latency: ctl status / stop / start of one program".into(),
        unit: "ms",
        lower_is_better: true,
        target: "stop and start ≤ 3× status on the same server".into(),
        target_value: None,
        rows,
    }
}

/// A listener that acknowledges every event at once and, at the event whose
/// data is `end`, writes how many REMOTE_COMMUNICATION events it got.
const COUNTING_LISTENER: &str = r#"
import sys
from supervisor import childutils
out, n = sys.argv[1], 0
while True:
    h, p = childutils.listener.wait(sys.stdin, sys.stdout)
    if h['eventname'] == 'REMOTE_COMMUNICATION':
        n += 1
        if p.endswith('\nend'):
            with open(out, 'w') as f:
                f.write(str(n))
    childutils.listener.ok(sys.stdout)
"#;

/// Figure 7: event listeners. Events delivered per second to one listener
/// that acknowledges at once (`n` REMOTE_COMMUNICATION events sent in
/// multicalls of 100), and idle wake-ups of the supervisor with a listener
/// that subscribes to process states but to no tick.
pub fn listener_events(kinds: &[Kind], python: &Path, n: usize, idle: Duration) -> Vec<Table> {
    let script =
        std::env::temp_dir().join(format!("warden-bench-listener-{}.py", std::process::id()));
    if std::fs::write(&script, COUNTING_LISTENER).is_err() {
        return Vec::new();
    }
    let mut rate = Vec::new();
    let mut wake = Vec::new();
    for kind in kinds {
        let out = std::env::temp_dir().join(format!(
            "warden-bench-listener-{}-{}.out",
            std::process::id(),
            kind.name.replace(' ', "-")
        ));
        let _ = std::fs::remove_file(&out);
        let body = format!(
            "[eventlistener:count]\ncommand={} {} {}\nevents=REMOTE_COMMUNICATION,PROCESS_STATE\nbuffer_size={}\n",
            python.display(),
            script.display(),
            out.display(),
            n + 10
        );
        let Some(r) = start(kind, "listener", &body) else {
            eprintln!("  {} did not start", kind.name);
            continue;
        };
        let pid = r.pid();
        poll_until(Duration::from_secs(30), || all_running(&r.sock, 1));
        let mut w = Row::new(kind.name);
        if !idle.is_zero() {
            // the listener's own start events are delivered first
            std::thread::sleep(Duration::from_secs(2));
            if let Some(w0) = wakeups(pid) {
                std::thread::sleep(idle);
                if let Some(w1) = wakeups(pid) {
                    w.samples.push((w1 - w0) / idle.as_secs_f64());
                }
            }
        }
        let t = Instant::now();
        let mut sent = 0;
        while sent < n {
            let batch: Vec<Value> = (sent..(sent + 100).min(n))
                .map(|i| {
                    let data = if i + 1 == n {
                        "end".to_string()
                    } else {
                        format!("e{i}")
                    };
                    Value::Struct(
                        warden_xmlrpc::Struct::new()
                            .with("methodName", "supervisor.sendRemoteCommEvent")
                            .with("params", Value::Array(vec!["bench".into(), data.into()])),
                    )
                })
                .collect();
            sent += batch.len();
            if rpc(&r.sock, "system.multicall", &[Value::Array(batch)]).is_err() {
                break;
            }
        }
        let done = poll_until(Duration::from_secs(120), || {
            std::fs::read_to_string(&out).is_ok_and(|s| s.trim() == n.to_string())
        });
        let mut d = Row::new(kind.name);
        if done {
            d.samples.push(n as f64 / t.elapsed().as_secs_f64());
        } else {
            d.note = "not all events arrived within 120 s".into();
        }
        rate.push(d);
        wake.push(w);
        let _ = rpc(&r.sock, "supervisor.shutdown", &[]);
        let mut child = r.child;
        poll_until(Duration::from_secs(30), || {
            child.try_wait().ok().flatten().is_some()
        });
        kill_child(child);
        let _ = std::fs::remove_file(&out);
    }
    let _ = std::fs::remove_file(&script);
    vec![
        Table {
            title: format!(
                "events delivered to one listener that acknowledges at once ({n} events)"
            ),
            unit: "events/s",
            lower_is_better: false,
            target: "at least supervisord's rate".into(),
            target_value: None,
            rows: rate,
        },
        Table {
            title: "idle wake-ups with an event listener subscribed to process states (no tick)"
                .into(),
            unit: "wake-ups/s",
            lower_is_better: true,
            target: "0".into(),
            target_value: Some(0.0),
            rows: wake,
        },
    ]
}
