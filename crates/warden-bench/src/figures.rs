//! Figures 1, 3 and 4: daemonize, crash to restart, log capture.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use warden_sys::Signal;

use crate::peers::{Peer, PeerKind, PeerRunning, Prog};
use crate::util::{
    alive_as, have, kill, kill_child, manager_cpu_seconds, pidfd, poll_until, read_pid, record_pid,
    timed, wait_gone, Samples, Scratch,
};

/// Paths of everything the benchmark runs.
pub struct Tools {
    pub warden: PathBuf,
    pub crasher: PathBuf,
    pub flood: PathBuf,
    /// The venv's python (supervisor 4.3.0 and python-daemon installed).
    pub venv_python: Option<PathBuf>,
    /// pm2 and circus, where installed.
    pub peers: Vec<Peer>,
}

/// One line of a table: a tool's samples for a metric.
#[derive(Clone, Debug)]
pub struct Row {
    pub tool: String,
    pub samples: Samples,
    pub note: String,
    /// Rows compare with warden's row of the same group (e.g. "N=100").
    pub group: String,
}

impl Row {
    pub fn new(tool: &str) -> Row {
        Row {
            tool: tool.into(),
            samples: Samples::default(),
            note: String::new(),
            group: String::new(),
        }
    }

    /// warden's own rows (the tool names start with "warden").
    pub fn is_warden(&self) -> bool {
        self.tool.starts_with("warden")
    }
}

/// A table: rows of one metric, warden first.
#[derive(Clone, Debug)]
pub struct Table {
    pub title: String,
    pub unit: &'static str,
    /// Lower is better (times) or higher is better (throughput).
    pub lower_is_better: bool,
    pub target: String,
    /// The target as a number in `unit`, for the met/missed verdict.
    pub target_value: Option<f64>,
    /// What the figure does not measure (shown under it).
    pub not_measured: String,
    /// The issue's targets for warden as ratios within this run.
    pub checks: Vec<Check>,
    pub rows: Vec<Row>,
}

/// A target as a ratio of two medians of the same run, with its verdict.
#[derive(Clone, Debug)]
pub struct Check {
    /// What is compared, e.g. "warden ctl stop / warden ctl status".
    pub what: String,
    pub ratio: Option<f64>,
    /// Met when `ratio <= limit`.
    pub limit: f64,
}

impl Check {
    /// `num / den` of the medians of the rows named `num` and `den`.
    pub fn of(rows: &[Row], what: &str, num: &str, den: &str, limit: f64) -> Check {
        let med = |name: &str| {
            rows.iter()
                .find(|r| r.tool == name)
                .and_then(|r| r.samples.median())
        };
        let ratio = match (med(num), med(den)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        Check {
            what: what.into(),
            ratio,
            limit,
        }
    }

    pub fn verdict(&self) -> &'static str {
        match self.ratio {
            Some(r) if r <= self.limit => "pass",
            Some(_) => "**fail**",
            None => "not measured",
        }
    }
}

// ---------------------------------------------------------------- figure 1

#[derive(Clone, Copy, PartialEq, Eq)]
enum Daemonizer {
    Warden,
    StartStopDaemon,
    Libslack,
    PythonDaemon,
    Nohup,
    /// A peer's daemon, already running, told to start one more program.
    Peer(PeerKind),
}

impl Daemonizer {
    fn name(self) -> &'static str {
        match self {
            Daemonizer::Warden => "warden",
            Daemonizer::StartStopDaemon => "start-stop-daemon",
            Daemonizer::Libslack => "libslack daemon",
            Daemonizer::PythonDaemon => "python-daemon",
            Daemonizer::Nohup => "nohup",
            Daemonizer::Peer(PeerKind::Pm2) => "pm2 (daemon running)",
            Daemonizer::Peer(PeerKind::Circus) => "circus (circusd running)",
        }
    }

    fn how(self) -> &'static str {
        match self {
            Daemonizer::Warden => {
                "`warden start --startsecs 0 -p P -- sleep 1000` (without --startsecs 0 \
                 start also waits out its default 1 s start window)"
            }
            Daemonizer::StartStopDaemon => "`--start --background --make-pidfile`",
            Daemonizer::Libslack => "`daemon --name N --pidfile P`",
            Daemonizer::PythonDaemon => "`DaemonContext(pidfile=PIDLockFile)` + exec",
            Daemonizer::Nohup => "`nohup sleep 1000 & echo $! > P`",
            Daemonizer::Peer(PeerKind::Pm2) => {
                "`pm2 start sleep --name N --interpreter none -- 1000`; time until the \
                 daemon's child `sleep` runs (no pidfile)"
            }
            Daemonizer::Peer(PeerKind::Circus) => {
                "`circusctl add --start N 'sleep 1000'`; time until circusd's child `sleep` \
                 runs (no pidfile)"
            }
        }
    }

    /// Whether the tool itself verified the program runs before returning.
    fn verifies(self) -> &'static str {
        match self {
            Daemonizer::Warden => {
                "yes: returns after a successful exec (or READY=1); by default, once the \
                 program has also stayed up 1 s"
            }
            Daemonizer::StartStopDaemon => "no: --background cannot check the exec",
            Daemonizer::Libslack => "no: returns before the client runs",
            Daemonizer::PythonDaemon => "no: the parent exits at the first fork",
            Daemonizer::Nohup => "no: the shell returns at once",
            Daemonizer::Peer(PeerKind::Pm2) => "no: `online` as soon as the daemon forked it",
            Daemonizer::Peer(PeerKind::Circus) => "no: `active` as soon as circusd forked it",
        }
    }
}

const PY_DAEMON: &str = r#"
import os, sys, daemon, daemon.pidfile
with daemon.DaemonContext(pidfile=daemon.pidfile.PIDLockFile(sys.argv[1])):
    os.execvp("sleep", ["sleep", "1000"])
"#;

/// Starts `sleep 1000` with the tool; returns (time until it runs with its
/// pidfile written, pid of sleep).
fn start_one(
    t: &Tools,
    d: Daemonizer,
    dir: &Path,
    i: usize,
    peer: Option<&PeerRunning>,
) -> Option<(Duration, i32)> {
    let pidfile = dir.join(format!("s{i}.pid"));
    let t0 = Instant::now();
    let ok = match d {
        Daemonizer::Peer(_) => {
            let r = peer?;
            r.peer
                .add(r, &Prog::new(&format!("b{i}"), &["sleep", "1000"]))
                .is_some()
        }
        Daemonizer::Warden => {
            timed(
                Command::new(&t.warden)
                    // The exec-verified return: without the start window
                    // (default 1 s), which a start would otherwise wait out.
                    .args(["start", "--startsecs", "0", "-p"])
                    .arg(&pidfile)
                    .args(["--", "sleep", "1000"]),
            )
            .1
        }
        Daemonizer::StartStopDaemon => {
            timed(
                Command::new("start-stop-daemon")
                    .args(["--start", "--background", "--make-pidfile", "--pidfile"])
                    .arg(&pidfile)
                    .args(["--exec", "/usr/bin/sleep", "--", "1000"]),
            )
            .1
        }
        Daemonizer::Libslack => {
            timed(
                Command::new("daemon")
                    .arg(format!("--name=b{i}"))
                    .arg(format!("--pidfile={}", pidfile.display()))
                    .args(["--", "sleep", "1000"]),
            )
            .1
        }
        Daemonizer::PythonDaemon => {
            timed(
                Command::new(t.venv_python.as_ref()?)
                    .args(["-c", PY_DAEMON])
                    .arg(&pidfile),
            )
            .1
        }
        Daemonizer::Nohup => {
            timed(Command::new("sh").arg("-c").arg(format!(
                "nohup sleep 1000 >/dev/null 2>&1 & echo $! > {}",
                pidfile.display()
            )))
            .1
        }
    };
    if !ok {
        return None;
    }
    // The pidfile is written and the program runs (libslack's pidfile names
    // its own supervising process; the program is its child).
    let mut sleep_pid = 0;
    let ready = poll_until(Duration::from_secs(5), || {
        if let Some(r) = peer {
            if let Some(c) = r.children().into_iter().find(|&c| alive_as(c, "sleep")) {
                sleep_pid = c;
                return true;
            }
            return false;
        }
        let Some(pid) = read_pid(&pidfile) else {
            return false;
        };
        if d == Daemonizer::Libslack {
            if let Some(c) = children(pid).into_iter().find(|&c| alive_as(c, "sleep")) {
                sleep_pid = c;
                return true;
            }
            return false;
        }
        sleep_pid = pid;
        alive_as(pid, "sleep")
    });
    ready.then(|| (t0.elapsed(), sleep_pid))
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Stops it with the tool's own stop (or kill + wait where there is none);
/// returns the time until the process is gone.
fn stop_one(
    d: Daemonizer,
    dir: &Path,
    i: usize,
    sleep_pid: i32,
    peer: Option<&PeerRunning>,
) -> Option<Duration> {
    let pidfile = dir.join(format!("s{i}.pid"));
    let fd = pidfd(sleep_pid)?;
    let t0 = Instant::now();
    match d {
        Daemonizer::Peer(_) => {
            let r = peer?;
            r.peer.remove(r, &format!("b{i}"));
        }
        Daemonizer::Warden => {
            timed(
                Command::new(std::env::var_os("WARDEN_BIN")?)
                    .args(["stop", "-p"])
                    .arg(&pidfile),
            );
        }
        Daemonizer::StartStopDaemon => {
            timed(
                Command::new("start-stop-daemon")
                    .args([
                        "--stop",
                        "--remove-pidfile",
                        "--retry",
                        "TERM/5/KILL/5",
                        "--pidfile",
                    ])
                    .arg(&pidfile),
            );
        }
        Daemonizer::Libslack => {
            timed(
                Command::new("daemon")
                    .arg(format!("--name=b{i}"))
                    .arg(format!("--pidfile={}", pidfile.display()))
                    .arg("--stop"),
            );
        }
        Daemonizer::PythonDaemon | Daemonizer::Nohup => kill(sleep_pid, Signal::TERM),
    }
    wait_gone(&fd, Duration::from_secs(10)).then(|| t0.elapsed())
}

/// Figure 1: start and stop latency, alternating the tools each round.
pub fn daemonize(t: &Tools, rounds: usize) -> (Table, Table) {
    let mut tools = vec![
        Daemonizer::Warden,
        Daemonizer::StartStopDaemon,
        Daemonizer::Nohup,
    ];
    if have("daemon") {
        tools.push(Daemonizer::Libslack);
    }
    if t.venv_python.is_some() {
        tools.push(Daemonizer::PythonDaemon);
    }
    // The peers' daemons run before the first round, as a supervisor would.
    let mut running: Vec<(Daemonizer, PeerRunning)> = Vec::new();
    for p in &t.peers {
        match p.start("daemonize", &[]) {
            Some(r) => {
                tools.push(Daemonizer::Peer(p.kind));
                running.push((Daemonizer::Peer(p.kind), r));
            }
            None => eprintln!("  {} did not start", p.name),
        }
    }
    let peer_of = |d: Daemonizer| running.iter().find(|(k, _)| *k == d).map(|(_, r)| r);
    std::env::set_var("WARDEN_BIN", &t.warden);
    let mut start_rows: Vec<Row> = tools.iter().map(|d| Row::new(d.name())).collect();
    let mut stop_rows: Vec<Row> = tools.iter().map(|d| Row::new(d.name())).collect();
    let scratch = Scratch::new("daemonize");
    for round in 0..rounds {
        for (k, &d) in tools.iter().enumerate() {
            let i = round * 100 + k;
            if let Some((t_start, pid)) = start_one(t, d, &scratch.0, i, peer_of(d)) {
                start_rows[k].samples.push(t_start.as_secs_f64() * 1e3);
                if let Some(t_stop) = stop_one(d, &scratch.0, i, pid, peer_of(d)) {
                    stop_rows[k].samples.push(t_stop.as_secs_f64() * 1e3);
                }
                kill(pid, Signal::KILL);
            }
        }
    }
    for (k, d) in tools.iter().enumerate() {
        start_rows[k].note = format!("{}; verified running: {}", d.how(), d.verifies());
        stop_rows[k].note = match d {
            Daemonizer::Warden => "waits until gone (pidfd)".into(),
            Daemonizer::StartStopDaemon => "--retry TERM/5/KILL/5 (polls until gone)".into(),
            Daemonizer::Libslack => "--stop sends TERM and returns; time until gone".into(),
            Daemonizer::Peer(PeerKind::Pm2) => "`pm2 delete N`; time until gone".into(),
            Daemonizer::Peer(PeerKind::Circus) => "`circusctl rm N`; time until gone".into(),
            _ => "no stop command: kill TERM, time until gone".into(),
        };
    }
    drop(running);
    (
        Table {
            title: "Daemonize: invocation until `sleep` runs and its pidfile is written \
                    (warden with --startsecs 0: its default 1 s start window is not waited out)"
                .into(),
            unit: "ms",
            lower_is_better: true,
            target: "≤ 1.5 ms, ready-verified".into(),
            target_value: Some(1.5),
            not_measured: "a program that starts at once (`sleep`); not a program slow to \
                           become ready, not warden's default 1 s start window; for pm2 and \
                           circus not their daemon's own start (already running)"
                .into(),
            checks: Vec::new(),
            rows: start_rows,
        },
        Table {
            title: "Stop: invocation until the process is gone".into(),
            unit: "ms",
            lower_is_better: true,
            target: "≤ 1 ms after the process exits".into(),
            target_value: None,
            not_measured: "a program that exits at once on the stop signal; programs slow to \
                           stop are the slow-shutdown figure"
                .into(),
            checks: Vec::new(),
            rows: stop_rows,
        },
    )
}

// ---------------------------------------------------------------- figure 3

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    ExitAtOnce,
    Sigkill,
}

/// What a starter started: a child of ours, or a peer's daemon.
pub enum Handle {
    Child(std::process::Child),
    Peer(PeerRunning),
}

impl Handle {
    /// Kills it, its group and its descendants, by pid.
    pub fn finish(self) {
        match self {
            Handle::Child(c) => kill_child(c),
            Handle::Peer(p) => drop(p),
        }
    }
}

/// Starts a supervisor in a scratch directory on a program given as argv.
pub type Starter = Box<dyn Fn(&Path, &[String]) -> Option<Handle>>;

/// A supervisor under test for crash-to-restart: how to start it on a
/// program given as argv.
pub struct Supervisor {
    pub name: String,
    /// Starts the supervisor running `argv`; the returned child is killed
    /// (with its group) at the end.
    pub start: Starter,
    pub note: String,
}

fn service_dir(dir: &Path, argv: &[String]) -> PathBuf {
    let svc = dir.join("svc");
    std::fs::create_dir_all(&svc).expect("svc dir");
    let run = svc.join("run");
    let quoted: Vec<String> = argv.iter().map(|a| format!("'{a}'")).collect();
    std::fs::write(&run, format!("#!/bin/sh\nexec {}\n", quoted.join(" "))).expect("run script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    svc
}

fn spawn_group(cmd: &mut Command) -> Option<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let c = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    record_pid(c.id() as i32);
    Some(c)
}

/// The supervisors of figure 3 that exist on this machine.
pub fn restart_supervisors(t: &Tools, kinds: &[crate::supervisors::Kind]) -> Vec<Supervisor> {
    let mut v = Vec::new();
    for kind in kinds {
        let k = kind.clone();
        v.push(Supervisor {
            name: format!("{} (autorestart, startsecs=0)", kind.name),
            start: Box::new(move |dir, argv| {
                let quoted: Vec<String> = argv.iter().map(|a| format!("'{a}'")).collect();
                let body = format!(
                    "[program:crash]\ncommand={}\nautorestart=true\nstartsecs=0\nstartretries=1000000\n\
                     stdout_logfile=NONE\nstderr_logfile=NONE\n",
                    quoted.join(" ")
                );
                crate::supervisors::spawn_in(&k, dir, &body).map(Handle::Child)
            }),
            note: String::new(),
        });
    }
    for p in &t.peers {
        let peer = p.clone();
        v.push(Supervisor {
            name: p.name.clone(),
            start: Box::new(move |_, argv| {
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                // circus respawns on its periodic check (check_delay, 5 s
                // by default): made short, as the others' delays are 0.
                peer.start_tuned(
                    "restart",
                    &[Prog::new("crash", &argv)],
                    "check_delay = 0.1\n",
                )
                .map(Handle::Peer)
            }),
            note: match p.kind {
                PeerKind::Pm2 => "autorestart, restart_delay=0, min_uptime=0, max_restarts=1000000",
                PeerKind::Circus => {
                    "respawn=true, warmup_delay=0, check_delay=0.1 (it respawns on this \
                     periodic check; 5 s by default)"
                }
            }
            .into(),
        });
    }
    let warden = t.warden.clone();
    v.push(Supervisor {
        name: "warden --respawn".into(),
        start: Box::new(move |dir, argv| {
            spawn_group(
                Command::new(&warden)
                    .args(["start", "--foreground", "--respawn", "--respawn-delay", "0"])
                    .args(["--max-respawns", "1000000", "-p"])
                    .arg(dir.join("w.pid"))
                    .arg("--")
                    .args(argv),
            )
            .map(Handle::Child)
        }),
        note: "--respawn-delay 0".into(),
    });
    if have("runsv") {
        v.push(Supervisor {
            name: "runit runsv".into(),
            start: Box::new(|dir, argv| {
                spawn_group(Command::new("runsv").arg(service_dir(dir, argv))).map(Handle::Child)
            }),
            note: "restarts at most once a second by design".into(),
        });
    }
    if have("s6-supervise") {
        v.push(Supervisor {
            name: "s6-supervise".into(),
            start: Box::new(|dir, argv| {
                spawn_group(Command::new("s6-supervise").arg(service_dir(dir, argv)))
                    .map(Handle::Child)
            }),
            note: "restarts at most once a second by design".into(),
        });
    }
    if have("daemon") {
        v.push(Supervisor {
            name: "libslack daemon --respawn".into(),
            start: Box::new(|dir, argv| {
                spawn_group(
                    Command::new("daemon")
                        .args([
                            "--foreground",
                            "--respawn",
                            "--attempts=100",
                            "--delay=10",
                            "--name=crash",
                        ])
                        .arg(format!("--pidfiles={}", dir.display()))
                        .arg("--")
                        .args(argv),
                )
                .map(Handle::Child)
            }),
            note: "--attempts=100 --delay=10 (its minimum)".into(),
        });
    }
    v
}

fn starts(file: &Path) -> Vec<(u64, i32)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next()? == "start").then_some(())?;
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect()
}

fn exits(file: &Path) -> Vec<u64> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("exit ")?.parse().ok())
        .collect()
}

/// Figure 3: time from a child's death to the next spawn.
pub fn crash_to_restart(t: &Tools, sups: &[Supervisor], mode: Crash, restarts: usize) -> Table {
    let mut rows = Vec::new();
    for s in sups {
        let mut row = Row::new(&s.name);
        row.note.clone_from(&s.note);
        let scratch = Scratch::new("restart");
        let log = scratch.join("crash.log");
        let argv = vec![
            t.crasher.to_string_lossy().into_owned(),
            log.to_string_lossy().into_owned(),
            if mode == Crash::ExitAtOnce {
                "exit"
            } else {
                "sleep"
            }
            .into(),
        ];
        let Some(child) = (s.start)(&scratch.0, &argv) else {
            row.note = "could not start".into();
            rows.push(row);
            continue;
        };
        // Generous: the once-a-second supervisors need about `restarts` s.
        let limit = Duration::from_secs(restarts as u64 * 2 + 10);
        match mode {
            Crash::ExitAtOnce => {
                poll_until(limit, || starts(&log).len() > restarts);
                let (st, ex) = (starts(&log), exits(&log));
                for k in 0..restarts.min(st.len().saturating_sub(1)).min(ex.len()) {
                    row.samples
                        .push((st[k + 1].0.saturating_sub(ex[k])) as f64 / 1e6);
                }
            }
            Crash::Sigkill => {
                for k in 0..restarts {
                    if !poll_until(limit, || starts(&log).len() > k) {
                        break;
                    }
                    let pid = starts(&log)[k].1;
                    let t_kill = warden_sys::time::monotonic_ns();
                    kill(pid, Signal::KILL);
                    if !poll_until(limit, || starts(&log).len() > k + 1) {
                        break;
                    }
                    row.samples
                        .push((starts(&log)[k + 1].0.saturating_sub(t_kill)) as f64 / 1e6);
                }
            }
        }
        child.finish();
        for (_, pid) in starts(&log) {
            kill(pid, Signal::KILL);
        }
        rows.push(row);
    }
    let what = match mode {
        Crash::ExitAtOnce => "a program that exits at once",
        Crash::Sigkill => "a program killed with SIGKILL",
    };
    Table {
        title: format!("Crash to restart: {what}, death until the next spawn"),
        unit: "ms",
        lower_is_better: true,
        target: "≤ 1.5 ms".into(),
        target_value: Some(1.5),
        not_measured: "one program and no back-off (each tool set to restart at once where \
                       it can); not the default policies (the crash-storm figure), not many \
                       programs crashing together"
            .into(),
        checks: Vec::new(),
        rows,
    }
}

// ---------------------------------------------------------------- figure 4

/// What captures the flooding child's output in figure 4.
#[derive(Clone)]
enum Capture {
    WardenRespawn,
    Direct,
    Cat,
    S6Log,
    Svlogd,
    Libslack,
    Supervisor(crate::supervisors::Kind),
    Peer(Peer),
}

impl Capture {
    fn name(&self) -> String {
        match self {
            Capture::WardenRespawn => "warden --respawn -o FILE".into(),
            Capture::Direct => "limit: child writes the file itself".into(),
            Capture::Cat => "limit: child \\| cat > file".into(),
            Capture::S6Log => "s6-log".into(),
            Capture::Svlogd => "svlogd".into(),
            Capture::Libslack => "libslack daemon --stdout=FILE".into(),
            Capture::Supervisor(k) => format!("{} stdout_logfile", k.name),
            Capture::Peer(p) => match p.kind {
                PeerKind::Pm2 => format!("{} out_file", p.name),
                PeerKind::Circus => format!("{} FileStream", p.name),
            },
        }
    }

    fn note(&self) -> &'static str {
        match self {
            Capture::WardenRespawn => "pipe → splice into the file",
            Capture::Direct => "no capture at all",
            Capture::Cat => "one pipe, one copy",
            Capture::S6Log => "child \\| s6-log, rotating at 256 MiB (its maximum)",
            Capture::Svlogd => "child \\| svlogd, rotating at 256 MiB",
            Capture::Libslack => "",
            Capture::Supervisor(_) => "stdout_logfile_maxbytes=0 (no rotation)",
            Capture::Peer(_) => {
                "no rotation; time and CPU from the first byte in the file (the daemon's \
                 start-up left out)"
            }
        }
    }
}

/// Figure 4: one child writes `bytes` as fast as it can; throughput and the
/// capturing process's CPU seconds.
pub fn log_capture(
    t: &Tools,
    kinds: &[crate::supervisors::Kind],
    bytes: u64,
    rounds: usize,
) -> (Table, Table) {
    let mut cases = vec![Capture::WardenRespawn];
    cases.extend(kinds.iter().cloned().map(Capture::Supervisor));
    cases.extend(t.peers.iter().cloned().map(Capture::Peer));
    cases.extend([Capture::Direct, Capture::Cat]);
    if have("s6-log") {
        cases.push(Capture::S6Log);
    }
    if have("svlogd") {
        cases.push(Capture::Svlogd);
    }
    if have("daemon") {
        cases.push(Capture::Libslack);
    }
    let mut mbps: Vec<Row> = cases.iter().map(|c| Row::new(&c.name())).collect();
    let mut cpu: Vec<Row> = cases.iter().map(|c| Row::new(&c.name())).collect();
    for (k, c) in cases.iter().enumerate() {
        mbps[k].note = c.note().into();
    }
    for _ in 0..rounds {
        for (k, c) in cases.iter().enumerate() {
            let scratch = Scratch::new("capture");
            if let Some((secs, cpu_s)) = capture_once(t, c, &scratch.0, bytes) {
                mbps[k].samples.push(bytes as f64 / secs / 1e6);
                if let Some(c) = cpu_s {
                    cpu[k].samples.push(c);
                }
            }
        }
    }
    (
        Table {
            title: format!(
                "Log capture: one child writing {} MiB as fast as it can",
                bytes >> 20
            ),
            unit: "MB/s",
            lower_is_better: false,
            target: "≥ 1400 MB/s".into(),
            target_value: Some(1400.0),
            not_measured: "one program writing big blocks to tmpfs; not many programs \
                           writing small lines, not rotation (off where it can be), not a \
                           disk"
                .into(),
            checks: Vec::new(),
            rows: mbps,
        },
        Table {
            title: "Log capture: CPU seconds of the capturing process".into(),
            unit: "s",
            lower_is_better: true,
            target: "≤ 50 % of a core while capturing".into(),
            target_value: None,
            not_measured: "the capturing processes' CPU (all threads; the manager's start-up \
                           included); not the writer's CPU nor the kernel's page-cache work \
                           charged to no one"
                .into(),
            checks: Vec::new(),
            rows: cpu,
        },
    )
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Returns (seconds until all bytes are on disk, CPU seconds of the capturer).
fn capture_once(t: &Tools, case: &Capture, dir: &Path, bytes: u64) -> Option<(f64, Option<f64>)> {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).ok()?;
    let file = out.join("current");
    let flood = || {
        let mut c = Command::new(&t.flood);
        c.arg(bytes.to_string());
        c
    };
    let mut t0 = Instant::now();
    let mut peer = None;
    let mut cpu_base = None;
    let (children, capturer): (Vec<std::process::Child>, Option<i32>) = match case {
        Capture::Peer(p) => {
            let mut prog = Prog::new("flood", &[&t.flood.to_string_lossy(), &bytes.to_string()]);
            prog.autorestart = false;
            prog.stdout = Some(file.clone());
            // Timed from the first byte on disk: the daemon's and its
            // client's start-up left out (the start runs on a thread while
            // this one watches the file).
            let (r, first) = std::thread::scope(|sc| {
                let h = sc.spawn(|| p.start("capture", &[prog]));
                let mut first = None;
                poll_until(Duration::from_secs(60), || {
                    if dir_bytes(&out) > 0 {
                        first = Some(Instant::now());
                    }
                    first.is_some()
                });
                (h.join().ok().flatten(), first)
            });
            let r = r?;
            t0 = first?;
            let pid = r.pid();
            // CPU from the first byte too (Node's start-up is not capture).
            cpu_base = manager_cpu_seconds(pid);
            peer = Some(r);
            (Vec::new(), Some(pid))
        }
        Capture::WardenRespawn => {
            let c = spawn_group(
                Command::new(&t.warden)
                    .args(["start", "--foreground", "--respawn", "-p"])
                    .arg(dir.join("w.pid"))
                    .arg("-o")
                    .arg(&file)
                    .arg("--")
                    .arg(&t.flood)
                    .arg(bytes.to_string()),
            )?;
            let pid = c.id() as i32;
            (vec![c], Some(pid))
        }
        Capture::Supervisor(kind) => {
            let body = format!(
                "[program:flood]\ncommand={} {bytes}\nautorestart=false\nstartsecs=0\n\
                 stdout_logfile={}\nstdout_logfile_maxbytes=0\nstderr_logfile=NONE\n",
                t.flood.display(),
                file.display()
            );
            let c = crate::supervisors::spawn_in(kind, dir, &body)?;
            let pid = c.id() as i32;
            (vec![c], Some(pid))
        }
        Capture::Direct => {
            let f = std::fs::File::create(&file).ok()?;
            let c = flood().stdout(f).stdin(Stdio::null()).spawn().ok()?;
            (vec![c], None)
        }
        Capture::Cat | Capture::S6Log | Capture::Svlogd => {
            let mut producer = flood()
                .stdout(Stdio::piped())
                .stdin(Stdio::null())
                .spawn()
                .ok()?;
            let pipe = producer.stdout.take()?;
            let consumer = match case {
                Capture::S6Log => Command::new("s6-log")
                    .args(["n2", "s268435455"])
                    .arg(&out)
                    .stdin(pipe)
                    .spawn()
                    .ok()?,
                Capture::Svlogd => {
                    std::fs::write(out.join("config"), "s268435455\nn2\n").ok()?;
                    Command::new("svlogd").arg(&out).stdin(pipe).spawn().ok()?
                }
                _ => Command::new("cat")
                    .stdin(pipe)
                    .stdout(std::fs::File::create(&file).ok()?)
                    .spawn()
                    .ok()?,
            };
            let pid = consumer.id() as i32;
            (vec![producer, consumer], Some(pid))
        }
        Capture::Libslack => {
            let c = spawn_group(
                Command::new("daemon")
                    .args(["--foreground", "--name=flood"])
                    .arg(format!("--pidfiles={}", dir.display()))
                    .arg(format!("--stdout={}", file.display()))
                    .arg("--")
                    .arg(&t.flood)
                    .arg(bytes.to_string()),
            )?;
            let pid = c.id() as i32;
            (vec![c], Some(pid))
        }
    };
    // The supervisor's own log lands in `dir`, not in `out`: only output counts.
    let done = poll_until(Duration::from_secs(120), || dir_bytes(&out) >= bytes);
    let secs = t0.elapsed().as_secs_f64();
    let cpu = capturer
        .and_then(manager_cpu_seconds)
        .map(|c| c - cpu_base.unwrap_or(0.0));
    for c in children {
        kill_child(c);
    }
    drop(peer);
    done.then_some((secs, cpu))
}
