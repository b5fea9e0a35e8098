//! Figures 2 and 5 (supervisor scale), and the supervisord rows of figures 3
//! and 4: warden supervise and supervisord on the same generated config.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use warden_xmlrpc::Value;

use crate::figures::{Check, Row, Table};
use crate::util::{
    kill_child, manager_cpu_seconds, manager_rss_mib, manager_wakeups, poll_until, record_pid,
    thread_wakeups, Samples, Scratch,
};

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
    let child = Command::new(&kind.server[0])
        .args(&kind.server[1..])
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    record_pid(child.id() as i32);
    Some(child)
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

pub fn all_running(sock: &Path, n: usize) -> bool {
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

pub fn children(pid: i32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| s.split_whitespace().count())
        .unwrap_or(0)
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
    /// Per metric ("status", "rpc", "stop_all", "shutdown"): how this tool
    /// did it, or why it cannot.
    pub notes: Vec<(&'static str, String)>,
}

impl Scale {
    pub fn note(&mut self, metric: &'static str, text: &str) {
        if !self.notes.iter().any(|(m, _)| *m == metric) {
            self.notes.push((metric, text.to_string()));
        }
    }
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
    if let Some(m) = manager_rss_mib(pid) {
        out.rss_mib.push(m);
    }
    // Idle: nobody talks to it (measured when `idle` is not zero).
    if !idle.is_zero() {
        let (c0, w0) = (manager_cpu_seconds(pid), manager_wakeups(pid));
        std::thread::sleep(idle);
        if let (Some(c0), Some(c1), Some(w0), Some(w1)) =
            (c0, manager_cpu_seconds(pid), w0, manager_wakeups(pid))
        {
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
pub fn scale_tables(
    names: &[String],
    ns: &[usize],
    results: &[(usize, usize, Scale)],
) -> Vec<Table> {
    type Pick = fn(&Scale) -> &Samples;
    /// Key, title, unit, lower is better, target text, target value,
    /// samples, what it does not measure.
    type Metric = (
        &'static str,
        &'static str,
        &'static str,
        bool,
        &'static str,
        Option<f64>,
        Pick,
        &'static str,
    );
    let metrics: [Metric; 8] = [
        (
            "running",
            "time until all programs are RUNNING (startsecs=0)",
            "s",
            true,
            "≤ 1 s at 1000",
            Some(1.0),
            |s| &s.running_s,
            "from the manager's spawn (pm2: `pm2 start` of an ecosystem file, the daemon \
             included) until its client reports all running; not how long a program takes \
             to become useful",
        ),
        (
            "rss",
            "RSS of the manager (all its processes and threads, not the programs)",
            "MiB",
            true,
            "≤ 3 MiB at 0, ≤ 8 MiB at 1000",
            Some(8.0),
            |s| &s.rss_mib,
            "resident memory right after the start; not the programs' memory, not shared \
             pages counted once (RSS counts shared libraries in full), not growth over days",
        ),
        (
            "idle_cpu",
            "CPU while idle (nobody talking to it)",
            "% of a core",
            true,
            "0",
            None,
            |s| &s.idle_cpu_pct,
            "CPU of the manager's processes over the idle window only; not the cost of \
             timers shorter than the clock tick's resolution",
        ),
        (
            "idle_wake",
            "wake-ups per second while idle (context switches of all threads)",
            "1/s",
            true,
            "0",
            Some(0.0),
            |s| &s.idle_wakeups,
            "voluntary and involuntary context switches summed over every thread of the \
             manager's processes; not the wake-ups of the programs",
        ),
        (
            "status",
            "`status` command latency (warden ctl / supervisorctl / pm2 list / circusctl status)",
            "ms",
            true,
            "≤ 10 ms at 1000",
            Some(10.0),
            |s| &s.status_ms,
            "each tool's own client from exec to exit, its start-up (Python, Node) \
             included, output to /dev/null; not a terminal's rendering. warden ctl reads \
             warden's JSON list (`/api/v1/processes`, without log paths) where supervisorctl \
             reads `getAllProcessInfo`: the next figure has that XML-RPC call alone",
        ),
        (
            "rpc",
            "raw XML-RPC `getAllProcessInfo` latency (until the whole answer is received)",
            "ms",
            true,
            "≤ 10 ms at 1000",
            Some(10.0),
            |s| &s.rpc_ms,
            "the server's time to answer over its unix socket; not the client's XML \
             parsing",
        ),
        (
            "stop_all",
            "stop all (`stopAllProcesses(wait=true)`, or the peer's own)",
            "s",
            true,
            "",
            None,
            |s| &s.stop_all_s,
            "programs that exit at once on SIGTERM (`sleep`); programs slow to stop are \
             the slow-shutdown figure",
        ),
        (
            "shutdown",
            "`shutdown` until the process is gone (after stop all)",
            "s",
            true,
            "",
            None,
            |s| &s.shutdown_s,
            "an empty shutdown: stop all already stopped every program; a shutdown with \
             programs running is the slow-shutdown figure",
        ),
    ];
    let mut tables = Vec::new();
    for (key, title, unit, lower, target, tv, pick, not) in metrics {
        let mut rows = Vec::new();
        for &n in ns {
            for (k, name) in names.iter().enumerate() {
                let mut row = Row::new(&format!("{name} N={n}"));
                row.group = format!("N={n}");
                for (rn, rk, s) in results {
                    if *rn == n && *rk == k {
                        row.samples.0.extend(pick(s).0.iter().copied());
                        if row.note.is_empty() {
                            if let Some((_, t)) = s.notes.iter().find(|(m, _)| *m == key) {
                                row.note.clone_from(t);
                            }
                        }
                    }
                }
                rows.push(row);
            }
        }
        // The issue's ratio targets, at the largest N of the run.
        let mut checks = Vec::new();
        let top = ns.iter().copied().max().unwrap_or(0);
        let named = |prefix: &str| names.iter().find(|n| n.starts_with(prefix));
        let row_of = |name: &String| format!("{name} N={top}");
        if let Some(w) = named("warden") {
            let peers: &[(&str, &str, f64)] = match key {
                "rss" => &[("pm2", "1/10 of pm2's", 0.1)],
                "status" => &[
                    ("pm2", "1/50 of pm2's", 0.02),
                    ("supervisord", "1/50 of supervisorctl's", 0.02),
                ],
                _ => &[],
            };
            for (peer, words, limit) in peers {
                if let Some(p) = named(peer) {
                    checks.push(Check::of(
                        &rows,
                        &format!("{title} at N={top}: warden ≤ {words}"),
                        &row_of(w),
                        &row_of(p),
                        *limit,
                    ));
                }
            }
        }
        tables.push(Table {
            title: format!("Supervisor scale: {title}"),
            unit,
            lower_is_better: lower,
            target: target.into(),
            target_value: tv,
            not_measured: not.into(),
            checks,
            rows,
        });
    }
    // Figure 5: RSS slope between the smallest N >= 100 and the largest.
    let mut rows = Vec::new();
    for (k, name) in names.iter().enumerate() {
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
        let mut row = Row::new(name);
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
        not_measured: "a slope between two sizes, of the manager's RSS only; not the \
                       memory of the programs nor of the kernel (pipes, page tables)"
            .into(),
        checks: Vec::new(),
        rows,
    });
    tables
}

/// An SVG plot of time-to-RUNNING and RSS against N for each supervisor.
pub fn scale_svg(names: &[String], ns: &[usize], results: &[(usize, usize, Scale)]) -> String {
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
        let series: Vec<Vec<(usize, f64)>> = (0..names.len())
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
                names[k]
            );
        }
    }
    svg + "</svg>\n"
}

/// Interactive latency of `ctl stop NAME`, `ctl start NAME`, `ctl restart
/// NAME` and `ctl status NAME` on one program that exits on SIGTERM
/// (`sleep`, startsecs=0), each client against its own server. warden's
/// target: stop and start within 3× of status on the same server (a
/// waiting call answers when the change it waits for happens, not on a
/// timer).
pub fn interactive(kinds: &[Kind], rounds: usize) -> Table {
    let mut rows = Vec::new();
    let mut checks = Vec::new();
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
        let ops = ["status", "stop", "start", "restart"];
        let mut op_rows: Vec<Row> = ops
            .iter()
            .map(|op| Row::new(&format!("{} {op}", kind.name)))
            .collect();
        for _ in 0..rounds {
            for (i, op) in ops.iter().enumerate() {
                if let Some(ms) = ctl(&[op, "p:p0000"]) {
                    op_rows[i].samples.push(ms);
                }
            }
        }
        let base = op_rows[0].samples.median();
        for row in &mut op_rows[1..] {
            if let (Some(b), Some(m)) = (base, row.samples.median()) {
                row.note = format!("{:.1}× status", m / b);
            }
        }
        if kind.name.starts_with("warden") {
            for op in ["stop", "start"] {
                checks.push(Check::of(
                    &op_rows,
                    &format!("warden ctl {op} ≤ 3× warden ctl status"),
                    &format!("{} {op}", kind.name),
                    &format!("{} status", kind.name),
                    3.0,
                ));
            }
        }
        // Grouped by operation: the ratio column is warden's over supervisorctl's.
        for (mut row, op) in op_rows.into_iter().zip(ops) {
            row.group = op.to_string();
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
        title: "Interactive latency: `ctl status / stop / start / restart NAME` of one program \
                that exits on SIGTERM (startsecs=0, so start does not wait out a 1 s start \
                window)"
            .into(),
        unit: "ms",
        lower_is_better: true,
        target: "stop and start ≤ 3× status on the same server".into(),
        target_value: None,
        not_measured: "one idle program on an otherwise idle server, each client's start-up \
                       included (supervisorctl is Python); not a program slow to stop, not \
                       the default startsecs=1 (start would then take 1 s by design)"
            .into(),
        checks,
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
            if let Some(w0) = thread_wakeups(pid) {
                std::thread::sleep(idle);
                if let Some(w1) = thread_wakeups(pid) {
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
                "Event listeners: events delivered to one listener that acknowledges at once ({n} events)"
            ),
            unit: "events/s",
            lower_is_better: false,
            target: "at least supervisord's rate".into(),
            target_value: None,
            not_measured: "one listener, a Python script that acknowledges at once; not \
                           several listeners nor a slow one. pm2 and circus have no \
                           event-listener protocol"
                .into(),
            checks: Vec::new(),
            rows: rate,
        },
        Table {
            title: "Event listeners: idle wake-ups with an event listener subscribed to process states (no tick)"
                .into(),
            unit: "wake-ups/s",
            lower_is_better: true,
            target: "0".into(),
            target_value: Some(0.0),
            not_measured: "the supervisor's threads only, not the listener's".into(),
            checks: Vec::new(),
            rows: wake,
        },
    ]
}
