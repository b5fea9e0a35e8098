//! Shared test support: the server under test as a parameter, running the
//! two clients, and output normalisation.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use test_programs::Scratch;

/// The directory holding the real `supervisord` and `supervisorctl` 4.3.0:
/// `WARDEN_SUPERVISOR_BIN`, else what `scripts/ensure-supervisor` installs.
pub fn supervisor_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(d) = std::env::var_os("WARDEN_SUPERVISOR_BIN") {
            return PathBuf::from(d);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = Command::new(root.join("scripts/ensure-supervisor"))
            .current_dir(&root)
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/ensure-supervisor");
        assert!(out.status.success(), "scripts/ensure-supervisor failed");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
    .clone()
}

/// The real `supervisorctl`.
pub fn supervisorctl() -> PathBuf {
    supervisor_bin().join("supervisorctl")
}

/// `warden-ctl` (built by cargo for this test).
pub fn warden_ctl() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_warden-ctl"))
}

/// The `ctl-child` test program, built on demand when `cargo test -p
/// warden-ctl` did not build test-programs' binaries.
pub fn child_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let path = test_programs::target_dir().join("ctl-child");
        if !path.exists() {
            let target = test_programs::target_dir();
            let target_root = target.parent().expect("target/<profile>");
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "-p",
                    "test-programs",
                    "--bin",
                    "ctl-child",
                    "--target-dir",
                ])
                .arg(target_root)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build for ctl-child");
            assert!(status.success(), "building ctl-child failed");
        }
        test_programs::bin("ctl-child")
    })
    .clone()
}

/// A running server under test. Dropping it stops the server (by pid) and
/// then kills anything left carrying the scratch marker.
pub struct Server {
    /// What the server is (for messages).
    pub kind: &'static str,
    /// The config file.
    pub conf: PathBuf,
    /// The unix socket.
    pub sock: PathBuf,
    /// The server process.
    pub child: Option<Child>,
    /// Its directory (dropped last).
    pub scratch: Scratch,
}

impl Server {
    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id() as i32;
            if c.try_wait().ok().flatten().is_none() {
                test_programs::kill(pid, "TERM");
                test_programs::poll_until(Duration::from_secs(10), || {
                    c.try_wait().ok().flatten().is_some()
                });
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// Starts "a supervisord" in `scratch` with `config` (which must be complete,
/// with `%(here)s` for paths). The differential tests take one of these.
pub type StartServer = fn(Scratch, &str) -> Server;

/// The servers the differential tests run against. warden's own supervisor
/// gets one more line here.
pub const SERVERS: &[(&str, StartServer)] = &[
    ("supervisord", start_supervisord),
    ("warden supervise", start_warden),
];

/// Start the real supervisord 4.3.0 in the foreground (`-n`) in `scratch`.
pub fn start_supervisord(scratch: Scratch, config: &str) -> Server {
    let mut cmd = Command::new(supervisor_bin().join("supervisord"));
    cmd.arg("-n");
    start_server("supervisord", cmd, scratch, config)
}

/// Start `warden supervise` in the foreground (`-n`) in `scratch`.
pub fn start_warden(scratch: Scratch, config: &str) -> Server {
    let mut cmd = Command::new(test_programs::bin("warden"));
    cmd.args(["supervise", "-n"]);
    start_server("warden supervise", cmd, scratch, config)
}

fn start_server(kind: &'static str, mut cmd: Command, scratch: Scratch, config: &str) -> Server {
    let conf = scratch.join("supervisord.conf");
    std::fs::write(&conf, config).unwrap();
    let sock = scratch.join("s.sock");
    let child = cmd
        .arg("-c")
        .arg(&conf)
        .current_dir(scratch.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the supervisor");
    let server = Server {
        kind,
        conf,
        sock,
        child: Some(child),
        scratch,
    };
    test_programs::wait_for(Duration::from_secs(20), "the supervisor to answer", || {
        let out = run(&warden_ctl(), &server.conf, &["version"]);
        (out.code == 0).then_some(())
    });
    server
}

/// The common head of every test config: unix socket, log, pidfile, RPC.
pub fn config_head(extra_supervisorctl: &str) -> String {
    format!(
        "[unix_http_server]
file=%(here)s/s.sock

[supervisord]
logfile=%(here)s/supervisord.log
pidfile=%(here)s/supervisord.pid
childlogdir=%(here)s
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/s.sock
{extra_supervisorctl}
"
    )
}

/// A `[program:x]` running `ctl-child` with `args`, tagged with the scratch dir.
pub fn program(name: &str, args: &str, extra: &str) -> String {
    format!(
        "[program:{name}]\ncommand={} {args} %(here)s\nstartsecs=0\nstdout_logfile=%(here)s/{name}.out\nstderr_logfile=%(here)s/{name}.err\n{extra}\n",
        child_bin().display()
    )
}

/// The result of running a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Stdout.
    pub stdout: String,
    /// Stderr.
    pub stderr: String,
    /// Exit code.
    pub code: i32,
}

/// Run `bin -c conf args...` with a 60 s kill-switch.
pub fn run(bin: &Path, conf: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg(conf).args(args);
    run_cmd(cmd)
}

/// Run a prepared command with a 60 s kill-switch and `LANG=C` (as Ansible does).
pub fn run_cmd(cmd: Command) -> Output {
    run_cmd_input(cmd, None)
}

/// Like [`run`], feeding `input` on stdin (a pipe, not a terminal).
pub fn run_input(bin: &Path, conf: &Path, args: &[&str], input: &str) -> Output {
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg(conf).args(args);
    run_cmd_input(cmd, Some(input))
}

fn run_cmd_input(mut cmd: Command, input: Option<&str>) -> Output {
    cmd.env("LANG", "C")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn client");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, input.as_bytes()).unwrap();
    }
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut s);
        s
    });
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(s) => s.expect("wait"),
        Err(_) => {
            test_programs::kill(pid, "KILL");
            panic!("client did not finish within 60 s: {cmd:?}");
        }
    };
    Output {
        stdout: String::from_utf8_lossy(&t1.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&t2.join().unwrap()).into_owned(),
        code: status.code().unwrap_or(-1),
    }
}

/// Replace what legitimately differs between two runs: pids, uptimes, stop
/// dates, scratch paths, program names in usage hints, and Python's
/// traceback location.
pub fn normalize(s: &str, dirs: &[&Path]) -> String {
    let mut s = s.to_string();
    for d in dirs {
        s = s.replace(&d.display().to_string(), "<DIR>");
    }
    s = s.replace(&warden_ctl().display().to_string(), "<CTL>");
    s = s.replace(&supervisorctl().display().to_string(), "<CTL>");
    let re_pid = regex::Regex::new(r"pid \d+, uptime \d+:\d\d:\d\d").unwrap();
    s = re_pid.replace_all(&s, "pid N, uptime U").into_owned();
    let re_date = regex::Regex::new(r"[A-Z][a-z]{2} \d\d \d\d:\d\d [AP]M").unwrap();
    s = re_date.replace_all(&s, "DATE").into_owned();
    let re_num = regex::Regex::new(r"(?m)(^|> )[1-9]\d*$").unwrap();
    s = re_num.replace_all(&s, "${1}PID").into_owned();
    let re_tb = regex::Regex::new(r"file: \S+ line: \d+").unwrap();
    s = re_tb.replace_all(&s, "file: F line: L").into_owned();
    s
}

/// Poll until no process of the server is in a transitional state.
pub fn settle(server: &Server) {
    test_programs::wait_for(Duration::from_secs(20), "processes to settle", || {
        let out = run(&warden_ctl(), &server.conf, &["status"]);
        let busy = out.stdout.lines().any(|l| {
            l.contains(" STARTING ") || l.contains(" STOPPING ") || l.contains(" BACKOFF ")
        });
        (!busy && out.code != 4).then_some(())
    });
}

/// Poll until `name` is in `state`.
pub fn wait_state(server: &Server, name: &str, state: &str) {
    test_programs::wait_for(
        Duration::from_secs(20),
        &format!("{name} to be {state}"),
        || {
            let out = run(&warden_ctl(), &server.conf, &["status", name]);
            out.stdout
                .split_whitespace()
                .nth(1)
                .is_some_and(|s| s == state)
                .then_some(())
        },
    );
}
