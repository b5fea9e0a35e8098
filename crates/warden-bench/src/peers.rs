//! pm2 and circus: the process managers people pick instead of supervisord,
//! driven through their own command-line clients. pm2's daemon (its "God"
//! process, Node) daemonizes itself out of our reach: each run gets its own
//! `PM2_HOME` under `target/`, recorded for `--cleanup`, and ends with
//! `pm2 kill` and a SIGKILL of what is left, by pid.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::supervisors::Scale;
use crate::util::{
    descendants, kill_child, kill_tree, manager_cpu_seconds, manager_rss_mib, manager_wakeups,
    poll_until, read_pid, record_pid, record_pm2_home, run_limited, Scratch,
};

/// A client call that takes longer than this is given up (and killed).
const CALL_LIMIT: Duration = Duration::from_secs(120);

/// A stop of all programs that takes longer than this is given up.
const STOP_ALL_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PeerKind {
    Pm2,
    Circus,
}

/// An installed peer.
#[derive(Clone, Debug)]
pub struct Peer {
    pub kind: PeerKind,
    /// "pm2 7.0.4", "circus 0.19.0".
    pub name: String,
    /// pm2: the `pm2` script; circus: the venv's bin directory.
    pub bin: PathBuf,
    /// Where pm2 homes go (under `target/`, as the brief asks).
    pub home_base: PathBuf,
}

/// One program for a peer to run.
#[derive(Clone, Debug)]
pub struct Prog {
    pub name: String,
    pub argv: Vec<String>,
    pub autorestart: bool,
    /// Where its stdout goes (discarded when `None`).
    pub stdout: Option<PathBuf>,
}

impl Prog {
    pub fn new(name: &str, argv: &[&str]) -> Prog {
        Prog {
            name: name.into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            autorestart: true,
            stdout: None,
        }
    }
}

/// `n` programs running `sleep 100000`, output captured into `dir` (as
/// supervisord's `stdout_logfile=AUTO` does).
pub fn sleepers(n: usize, dir: &Path) -> Vec<Prog> {
    (0..n)
        .map(|i| {
            let name = format!("p{i:04}");
            let mut p = Prog::new(&name, &["sleep", "100000"]);
            p.stdout = Some(dir.join(format!("{name}.out")));
            p
        })
        .collect()
}

/// A running peer daemon. Dropping it kills it (and its programs) by pid.
pub struct PeerRunning {
    pub peer: Peer,
    /// pm2: `PM2_HOME`; circus: the scratch directory of its config.
    pub dir: PathBuf,
    _scratch: Option<Scratch>,
    /// circusd is our child; pm2's daemon is not.
    child: Option<Child>,
    pid: i32,
}

impl PeerRunning {
    /// The manager's pid (pm2's God daemon, circusd).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// A command of the peer's client against this daemon.
    pub fn ctl(&self, args: &[&str]) -> Command {
        match self.peer.kind {
            PeerKind::Pm2 => {
                let mut c = Command::new(&self.peer.bin);
                c.env("PM2_HOME", &self.dir).args(args);
                c
            }
            PeerKind::Circus => {
                let mut c = Command::new(self.peer.bin.join("circusctl"));
                c.arg("--endpoint")
                    .arg(circus_endpoint(&self.dir))
                    .arg("--timeout")
                    .arg("60")
                    .args(args);
                c
            }
        }
    }

    /// Runs a client command; its wall time when it succeeded.
    pub fn call(&self, args: &[&str]) -> Option<Duration> {
        let (t, ok, _) = run_limited(&mut self.ctl(args), CALL_LIMIT)?;
        ok.then_some(t)
    }

    /// How many programs run (pm2: `online`; circus: watchers `active`
    /// whose process lives).
    pub fn running(&self) -> Option<usize> {
        match self.peer.kind {
            PeerKind::Pm2 => {
                let (_, ok, out) = run_limited(&mut self.ctl(&["jlist"]), CALL_LIMIT)?;
                if !ok {
                    return None;
                }
                // jlist prints the JSON on its last line (after any notices).
                let json = out.lines().rev().find(|l| l.starts_with('['))?;
                let v: serde_json::Value = serde_json::from_str(json).ok()?;
                Some(
                    v.as_array()?
                        .iter()
                        .filter(|p| p["pm2_env"]["status"] == "online")
                        .count(),
                )
            }
            PeerKind::Circus => {
                let (_, ok, out) = run_limited(&mut self.ctl(&["status"]), CALL_LIMIT)?;
                if !ok {
                    return None;
                }
                // Its own circusd-stats would be a watcher too (off here).
                let active = out
                    .lines()
                    .filter(|l| l.ends_with(": active") && !l.starts_with("circusd-stats"))
                    .count();
                Some(active.min(self.children().len()))
            }
        }
    }

    /// The daemon's live descendants that are not the manager itself.
    pub fn children(&self) -> Vec<i32> {
        descendants(self.pid)
    }

    pub fn rss_mib(&self) -> Option<f64> {
        manager_rss_mib(self.pid)
    }

    pub fn cpu_seconds(&self) -> Option<f64> {
        manager_cpu_seconds(self.pid)
    }

    pub fn wakeups(&self) -> Option<f64> {
        manager_wakeups(self.pid)
    }

    /// The peer's own stop of everything (`pm2 stop all`, `circusctl
    /// stop`), given up after `STOP_ALL_LIMIT` (pm2 stops one program after
    /// the other, about 0.15 s each: 1000 would take minutes).
    pub fn stop_all(&self) -> Option<Duration> {
        let args: &[&str] = match self.peer.kind {
            PeerKind::Pm2 => &["stop", "all"],
            PeerKind::Circus => &["stop"],
        };
        let (t, ok, _) = run_limited(&mut self.ctl(args), STOP_ALL_LIMIT)?;
        ok.then_some(t)
    }

    /// The peer's own shutdown (`pm2 kill`, `circusctl quit`): time until
    /// the manager is gone.
    pub fn shutdown(&mut self) -> Option<Duration> {
        let fd = crate::util::pidfd(self.pid)?;
        let t = Instant::now();
        match self.peer.kind {
            PeerKind::Pm2 => self.call(&["kill"])?,
            PeerKind::Circus => self.call(&["quit"])?,
        };
        let gone = match self.child.as_mut() {
            Some(c) => poll_until(Duration::from_secs(60), || {
                c.try_wait().ok().flatten().is_some()
            }),
            None => crate::util::wait_gone(&fd, Duration::from_secs(60)),
        };
        gone.then(|| t.elapsed())
    }
}

impl Drop for PeerRunning {
    fn drop(&mut self) {
        let tree = descendants(self.pid);
        if self.peer.kind == PeerKind::Pm2 && crate::util::pidfd(self.pid).is_some() {
            let _ = run_limited(&mut self.ctl(&["kill"]), Duration::from_secs(20));
        }
        kill_tree(self.pid);
        for d in tree {
            kill_tree(d);
        }
        if let Some(c) = self.child.take() {
            kill_child(c);
        }
        if self.peer.kind == PeerKind::Pm2 {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn circus_endpoint(dir: &Path) -> String {
    format!("ipc://{}/ctl.sock", dir.display())
}

fn unique(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        warden_sys::time::monotonic_ns()
    )
}

impl Peer {
    /// Starts the daemon with `progs` and returns once its client answers
    /// (pm2: once `pm2 start` of the ecosystem file returned).
    pub fn start(&self, tag: &str, progs: &[Prog]) -> Option<PeerRunning> {
        self.start_tuned(tag, progs, "")
    }

    /// `start`, with extra lines for circus's `[circus]` section (e.g.
    /// `check_delay`); pm2 has no daemon-wide setting used here.
    pub fn start_tuned(&self, tag: &str, progs: &[Prog], circus: &str) -> Option<PeerRunning> {
        match self.kind {
            PeerKind::Pm2 => self.start_pm2(tag, progs),
            PeerKind::Circus => self.start_circus(tag, progs, circus),
        }
    }

    fn start_pm2(&self, tag: &str, progs: &[Prog]) -> Option<PeerRunning> {
        let home = self.home_base.join(unique(tag));
        std::fs::create_dir_all(&home).ok()?;
        record_pm2_home(&self.bin, &home);
        let apps: Vec<serde_json::Value> = progs.iter().map(pm2_app).collect();
        let eco = home.join("ecosystem.json");
        std::fs::write(&eco, serde_json::json!({ "apps": apps }).to_string()).ok()?;
        let mut r = PeerRunning {
            peer: self.clone(),
            dir: home.clone(),
            _scratch: None,
            child: None,
            pid: 0,
        };
        // With no program, `pm2 ping` starts the daemon alone.
        let eco_arg = eco.to_string_lossy().into_owned();
        let args: Vec<&str> = if progs.is_empty() {
            vec!["ping"]
        } else {
            vec!["start", &eco_arg]
        };
        let ok = r.call(&args).is_some();
        r.pid = read_pid(&home.join("pm2.pid")).unwrap_or(0);
        if r.pid > 0 {
            record_pid(r.pid);
        }
        (ok && r.pid > 0).then_some(r)
    }

    fn start_circus(&self, tag: &str, progs: &[Prog], settings: &str) -> Option<PeerRunning> {
        use std::os::unix::process::CommandExt;
        let scratch = Scratch::new(tag);
        let dir = scratch.0.clone();
        let mut ini = format!(
            "[circus]\nendpoint = {}\npubsub_endpoint = ipc://{d}/pub.sock\n\
             statsd = false\n{settings}\n",
            circus_endpoint(&dir),
            d = dir.display()
        );
        for p in progs {
            ini += &circus_watcher(p);
        }
        let conf = dir.join("circus.ini");
        std::fs::write(&conf, ini).ok()?;
        let child = Command::new(self.bin.join("circusd"))
            .arg("--log-output")
            .arg(dir.join("circus.log"))
            .arg(&conf)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .ok()?;
        let pid = child.id() as i32;
        record_pid(pid);
        let r = PeerRunning {
            peer: self.clone(),
            dir,
            _scratch: Some(scratch),
            child: Some(child),
            pid,
        };
        let sock = r.dir.join("ctl.sock");
        let up = poll_until(Duration::from_secs(60), || sock.exists())
            && poll_until(Duration::from_secs(60), || r.call(&["list"]).is_some());
        up.then_some(r)
    }

    /// Adds and starts one program on a running daemon (`pm2 start`,
    /// `circusctl add --start`): returns the client's wall time.
    pub fn add(&self, r: &PeerRunning, p: &Prog) -> Option<Duration> {
        match self.kind {
            PeerKind::Pm2 => {
                let mut args = vec!["start", &p.argv[0], "--name", &p.name];
                args.extend(["--interpreter", "none"]);
                if !p.autorestart {
                    args.push("--no-autorestart");
                }
                args.push("--");
                args.extend(p.argv[1..].iter().map(String::as_str));
                r.call(&args)
            }
            PeerKind::Circus => {
                let cmd = p.argv.join(" ");
                r.call(&["add", "--start", &p.name, &cmd])
            }
        }
    }

    /// Stops and removes one program (`pm2 delete`, `circusctl rm`).
    pub fn remove(&self, r: &PeerRunning, name: &str) -> Option<Duration> {
        match self.kind {
            PeerKind::Pm2 => r.call(&["delete", name]),
            PeerKind::Circus => r.call(&["rm", name]),
        }
    }

    /// How the peer's client shows the status of all programs.
    pub fn status_args(&self) -> &'static [&'static str] {
        match self.kind {
            PeerKind::Pm2 => &["list"],
            PeerKind::Circus => &["status"],
        }
    }

    pub fn status_how(&self) -> &'static str {
        match self.kind {
            PeerKind::Pm2 => "`pm2 list`",
            PeerKind::Circus => "`circusctl status`",
        }
    }
}

fn pm2_app(p: &Prog) -> serde_json::Value {
    serde_json::json!({
        "name": p.name,
        "script": p.argv[0],
        "args": p.argv[1..],
        "interpreter": "none",
        // SIGTERM, as every other tool here sends (pm2's default is SIGINT).
        "kill_signal": "SIGTERM",
        "autorestart": p.autorestart,
        // No give-up and no delay: the closest to startretries=∞, startsecs=0.
        "max_restarts": 1_000_000,
        "min_uptime": 0,
        "restart_delay": 0,
        "merge_logs": true,
        "out_file": p.stdout.as_ref().map_or("/dev/null".into(), |f| f.display().to_string()),
        "error_file": "/dev/null",
    })
}

fn circus_watcher(p: &Prog) -> String {
    let mut w = format!(
        "[watcher:{}]\ncmd = {}\nnumprocesses = 1\nrespawn = {}\nwarmup_delay = 0\n",
        p.name,
        p.argv.join(" "),
        if p.autorestart { "true" } else { "false" }
    );
    if let Some(f) = &p.stdout {
        w += &format!(
            "stdout_stream.class = FileStream\nstdout_stream.filename = {}\n",
            f.display()
        );
    }
    w + "\n"
}

/// The installed peers: pm2 (its `pm2` script) and circus (a venv's bin).
pub fn find(pm2: Option<&Path>, circus_bin: Option<&Path>, home_base: &Path) -> Vec<Peer> {
    let mut v = Vec::new();
    if let Some(pm2) = pm2.filter(|p| p.is_file()) {
        // node_modules/.bin/pm2 → node_modules/pm2/package.json
        let version = pm2
            .parent()
            .and_then(Path::parent)
            .map(|nm| nm.join("pm2/package.json"))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v["version"].as_str().map(str::to_string))
            .unwrap_or_else(|| "?".into());
        v.push(Peer {
            kind: PeerKind::Pm2,
            name: format!("pm2 {version}"),
            bin: pm2.to_path_buf(),
            home_base: home_base.to_path_buf(),
        });
    }
    if let Some(bin) = circus_bin.filter(|b| b.join("circusd").is_file()) {
        let version = Command::new(bin.join("python"))
            .args(["-c", "import circus; print(circus.__version__)"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| "?".into());
        v.push(Peer {
            kind: PeerKind::Circus,
            name: format!("circus {version}"),
            bin: bin.to_path_buf(),
            home_base: home_base.to_path_buf(),
        });
    }
    v
}

/// One round of the scale figure for a peer: the same work as
/// `supervisors::scale_round` through the peer's own client.
pub fn scale_round(peer: &Peer, n: usize, idle: Duration, out: &mut Scale) {
    let logs = Scratch::new("peer-logs");
    let t0 = Instant::now();
    let Some(mut r) = peer.start("scale", &sleepers(n, &logs.0)) else {
        eprintln!("  {} did not start with {n} programs", peer.name);
        out.note(
            "running",
            &format!(
                "did not start with {n} programs (its client gave up or took over {} s)",
                CALL_LIMIT.as_secs()
            ),
        );
        return;
    };
    let all = poll_until(Duration::from_secs(120), || {
        r.children().len() >= n && r.running() == Some(n)
    });
    if all {
        out.running_s.push(t0.elapsed().as_secs_f64());
    } else {
        out.note("running", "not all running within 120 s");
    }
    if let Some(m) = r.rss_mib() {
        out.rss_mib.push(m);
    }
    if !idle.is_zero() {
        let (c0, w0) = (r.cpu_seconds(), r.wakeups());
        std::thread::sleep(idle);
        if let (Some(c0), Some(c1), Some(w0), Some(w1)) = (c0, r.cpu_seconds(), w0, r.wakeups()) {
            out.idle_cpu_pct
                .push((c1 - c0) / idle.as_secs_f64() * 100.0);
            out.idle_wakeups.push((w1 - w0) / idle.as_secs_f64());
        }
    }
    let reps = if n >= 1000 { 3 } else { 5 };
    for _ in 0..reps {
        if let Some(t) = r.call(peer.status_args()) {
            out.status_ms.push(t.as_secs_f64() * 1e3);
        }
    }
    out.note("status", peer.status_how());
    out.note("rpc", "no XML-RPC interface");
    let how = match peer.kind {
        PeerKind::Pm2 => "`pm2 stop all`",
        PeerKind::Circus => "`circusctl stop`",
    };
    match r.stop_all() {
        Some(t) => {
            out.stop_all_s.push(t.as_secs_f64());
            out.note("stop_all", how);
        }
        None => out.note(
            "stop_all",
            &format!(
                "{how} did not finish within {} s (given up)",
                STOP_ALL_LIMIT.as_secs()
            ),
        ),
    }
    if let Some(t) = r.shutdown() {
        out.shutdown_s.push(t.as_secs_f64());
    }
    out.note(
        "shutdown",
        match peer.kind {
            PeerKind::Pm2 => "`pm2 kill`",
            PeerKind::Circus => "`circusctl quit`",
        },
    );
}
