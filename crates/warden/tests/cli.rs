//! `warden start|stop|restart|status|list|signal` through the real binary.
//! Every test has its own run directory (WARDEN_RUNDIR) and kills what it
//! started when it ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use test_programs::{alive, bin, fds, pids_with, read_pid, stat, status_field, wait_for, Scratch};

const T: Duration = Duration::from_secs(10);

struct Env {
    s: Scratch,
}

impl Env {
    fn new() -> Env {
        Env { s: Scratch::new() }
    }

    fn rundir(&self) -> PathBuf {
        self.s.join("run")
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_warden"));
        c.env("WARDEN_RUNDIR", self.rundir()).stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run warden")
    }

    fn pid(&self, name: &str) -> Option<i32> {
        read_pid(&self.rundir().join(format!("{name}.pid")))
    }

    fn status_json(&self, name: &str) -> serde_json::Value {
        let o = self.run(&["status", "-n", name, "--json"]);
        serde_json::from_slice(&o.stdout).expect("status --json prints JSON")
    }
}

/// Starts `stubborn`, a process that ignores TERM; returns its pid.
fn start_stubborn(e: &Env) -> i32 {
    let o = e.run(&[
        "start",
        "-n",
        "stubborn",
        "--",
        "sh",
        "-c",
        "trap '' TERM; while :; do sleep 0.05; done",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = e.pid("stubborn").unwrap();
    e.s.track(pid);
    // The trap may come after the start window: wait until TERM is ignored
    // (bit 15 of SigIgn), or a TERM kills it.
    wait_for(T, "sh to ignore TERM", || {
        let ign = u64::from_str_radix(&status_field(pid, "SigIgn")?, 16).ok()?;
        (ign & (1 << 14) != 0).then_some(())
    });
    pid
}

/// Runs the shell command line `sh` on a pseudo-terminal (`script`); its
/// output, both streams, is the stdout of the result.
fn on_a_terminal(sh: &str) -> Output {
    Command::new("script")
        .args(["-q", "-e", "-c", sh, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn start_gives_sleep_a_clean_detached_context() {
    let e = Env::new();
    let leak = e.s.join("leaked-fd");
    let sh = format!(
        "WARDEN_RUNDIR={} {} {} -- {} start -- sleep 1000; echo rc=$?",
        e.rundir().display(),
        bin("with-context").display(),
        leak.display(),
        env!("CARGO_BIN_EXE_warden"),
    );
    let o = on_a_terminal(&sh);
    assert!(stdout(&o).contains("rc=0"), "{} {}", stdout(&o), stderr(&o));
    let pid = e.pid("sleep").expect("pidfile written when start returns");
    e.s.track(pid);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "sleep"
    );
    let st = stat(pid).unwrap();
    assert_ne!(st.session, pid);
    assert_eq!(st.tty_nr, 0);
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );
    assert_eq!(status_field(pid, "Umask").unwrap(), "0022");
    assert_eq!(status_field(pid, "SigIgn").unwrap(), "0000000000000000");
    assert_eq!(status_field(pid, "SigBlk").unwrap(), "0000000000000000");
    let open = fds(pid);
    let pidfile = e.rundir().join("sleep.pid");
    let log = e.rundir().join("sleep.log");
    assert_eq!(open.len(), 4, "{open:?}");
    assert_eq!(open[0].1, "/dev/null");
    assert_eq!(
        open[1].1,
        log.to_string_lossy(),
        "output is kept by default"
    );
    assert_eq!(open[2].1, log.to_string_lossy());
    assert_eq!(
        open[3].1,
        pidfile.to_string_lossy(),
        "the lock, held across exec"
    );
    assert_eq!(code(&e.run(&["status", "-n", "sleep"])), 0);
    assert_eq!(code(&e.run(&["stop", "-n", "sleep"])), 0);
    assert!(!alive(pid));
}

#[test]
fn start_exit_codes() {
    let e = Env::new();
    let o = e.run(&["start", "--", "sleep", "1000"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    e.s.track(e.pid("sleep").unwrap());
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "silent on success"
    );
    let o = e.run(&["start", "--", "sleep", "1000"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("already running as pid"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        code(&e.run(&["start", "--oknodo", "--", "sleep", "1000"])),
        0
    );
    let o = e.run(&["start", "--", "no-such-command-wrdn"]);
    assert_eq!(code(&o), 127);
    assert!(
        stderr(&o).contains("no-such-command-wrdn: command not found"),
        "{}",
        stderr(&o)
    );
    let noexec = e.s.join("noexec.sh");
    std::fs::write(&noexec, "#!/bin/sh\n").unwrap();
    let o = e.run(&["start", "--", noexec.to_str().unwrap()]);
    assert_eq!(code(&o), 126, "{}", stderr(&o));
    let missing = e.s.join("missing-dir");
    let o = e.run(&[
        "start",
        "-n",
        "cd",
        "-C",
        missing.to_str().unwrap(),
        "--",
        "sleep",
        "1",
    ]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("missing-dir"), "{}", stderr(&o));
    let o = e.run(&[
        "start",
        "-n",
        "u",
        "-u",
        "no-such-user-wrdn",
        "--",
        "sleep",
        "1",
    ]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("unknown user"), "{}", stderr(&o));
    let o = e.run(&[
        "start",
        "-n",
        "log",
        "-o",
        "/nonexistent-dir/x.log",
        "--",
        "sleep",
        "1",
    ]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("/nonexistent-dir/x.log"),
        "{}",
        stderr(&o)
    );
    let o = e.run(&["start", "--umask", "999", "--", "sleep", "1"]);
    assert_eq!(code(&o), 3, "a bad option value");
    assert!(stderr(&o).contains("--umask"), "{}", stderr(&o));
    for name in ["cd", "u", "log"] {
        assert!(
            !e.rundir().join(format!("{name}.pid")).exists(),
            "nothing left behind"
        );
    }
    assert_eq!(
        pids_with(&e.s.marker()).len(),
        0,
        "only the first sleep runs (no marker in argv)"
    );
}

#[test]
fn notify_waits_for_ready_and_reports_an_early_death() {
    let e = Env::new();
    let t0 = Instant::now();
    let o = e.run(&[
        "start",
        "--notify",
        "-n",
        "n",
        "--",
        bin("notify-after").to_str().unwrap(),
        "300",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "returned before READY=1"
    );
    let pid = e.pid("n").unwrap();
    e.s.track(pid);
    assert!(alive(pid));
    let o = e.run(&[
        "start",
        "--notify",
        "-n",
        "bad",
        "--",
        bin("notify-after").to_str().unwrap(),
        "50",
        "4",
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("exit status 4"), "{}", stderr(&o));
    assert!(!e.rundir().join("bad.pid").exists());
    let o = e.run(&[
        "start",
        "--notify",
        "--ready-timeout",
        "0.3",
        "-n",
        "slow",
        "--",
        bin("notify-after").to_str().unwrap(),
        "5000",
    ]);
    assert_ne!(code(&o), 0);
    assert!(
        stderr(&o).contains("not ready after 0.3 s"),
        "{}",
        stderr(&o)
    );
    assert!(
        e.pid("slow").is_none_or(|p| !alive(p)),
        "a start that timed out is stopped"
    );
}

#[test]
fn stop_status_and_signal_exit_codes() {
    let e = Env::new();
    assert_eq!(code(&e.run(&["status", "-n", "x"])), 3);
    assert_eq!(code(&e.run(&["stop", "-n", "x"])), 1);
    assert_eq!(code(&e.run(&["stop", "-n", "x", "--oknodo"])), 0);
    assert_eq!(code(&e.run(&["signal", "HUP", "-n", "x"])), 1);
    assert_eq!(
        code(&e.run(&["status"])),
        4,
        "usage error in status is LSB 4"
    );
    let pid = start_stubborn(&e);
    let o = e.run(&["stop", "-n", "stubborn", "--retry", "TERM/1"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(alive(pid));
    assert_eq!(code(&e.run(&["status", "-n", "stubborn"])), 0);
    assert_eq!(
        code(&e.run(&["stop", "-n", "stubborn", "--retry", "TERM/1/KILL/2"])),
        0
    );
    assert!(!alive(pid));
    // A verified stop removes the pidfile the exec'd program could not.
    assert_eq!(code(&e.run(&["status", "-n", "stubborn"])), 3);
    assert_eq!(e.status_json("stubborn")["state"], "stopped");
    // Killed behind warden's back, it leaves its pidfile: dead (1).
    assert_eq!(
        code(&e.run(&["start", "-n", "k", "--", "sleep", "1000"])),
        0
    );
    let k = e.pid("k").unwrap();
    test_programs::kill(k, "KILL");
    wait_for(T, "k to die", || (!alive(k)).then_some(()));
    assert_eq!(code(&e.run(&["status", "-n", "k"])), 1);
    assert_eq!(e.status_json("k")["state"], "dead");
    // An insecure (symlinked) pidfile: unknown (4).
    let link = e.s.join("link.pid");
    std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
    assert_eq!(code(&e.run(&["status", "-p", link.to_str().unwrap()])), 4);
    // signal: delivered to the running program.
    let out = e.s.join("sig.out");
    let o = e.run(&[
        "start",
        "-n",
        "sig",
        "-o",
        out.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.05; done",
    ]);
    assert_eq!(code(&o), 0);
    e.s.track(e.pid("sig").unwrap());
    wait_for(T, "the trap to be set", || {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|t| t.contains("ready"))
    });
    assert_eq!(code(&e.run(&["signal", "USR1", "-n", "sig"])), 0);
    wait_for(T, "the trap to run", || {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|t| t.contains("got-usr1"))
    });
    assert_eq!(code(&e.run(&["signal", "NOSUCHSIG", "-n", "sig"])), 3);
}

#[test]
fn foreground_returns_the_commands_own_status() {
    let e = Env::new();
    let o = e.run(&[
        "start",
        "--foreground",
        "-n",
        "f",
        "--",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(code(&o), 7);
    let o = e.run(&[
        "start",
        "--foreground",
        "-n",
        "g",
        "--",
        "sh",
        "-c",
        "kill -TERM $$",
    ]);
    assert_eq!(o.status.code(), None, "the signal is the command's own");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(o.status.signal(), Some(15));
    // Through a shell the convention is 128+N.
    let sh = format!(
        "WARDEN_RUNDIR={} {} start --foreground -n h -- sh -c 'kill -TERM $$'; echo rc=$?",
        e.rundir().display(),
        env!("CARGO_BIN_EXE_warden")
    );
    let o = Command::new("sh").args(["-c", &sh]).output().unwrap();
    assert!(stdout(&o).contains("rc=143"), "{}", stdout(&o));
}

#[test]
fn twenty_concurrent_starts_with_one_name_run_one() {
    let e = Env::new();
    let marker = e.s.join("marker");
    let children: Vec<_> = (0..20)
        .map(|_| {
            e.cmd()
                .args([
                    "start",
                    "-n",
                    "one",
                    "--",
                    "sh",
                    "-c",
                    // Short sleeps: none outlives the marked sh for long.
                    "while :; do sleep 1; done",
                    marker.to_str().unwrap(),
                ])
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<i32> = children
        .into_iter()
        .map(|c| code(&c.wait_with_output().unwrap()))
        .collect();
    assert_eq!(codes.iter().filter(|&&c| c == 0).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 1).count(), 19, "{codes:?}");
    let running = pids_with(&marker.to_string_lossy());
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(e.pid("one"), Some(running[0]));
}

#[test]
fn respawn_replaces_a_killed_child() {
    let e = Env::new();
    let o = e.run(&[
        "start",
        "--respawn",
        "--respawn-delay",
        "0.05",
        "-n",
        "r",
        "--",
        "sleep",
        "1000",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let sup = e.pid("r").unwrap();
    e.s.track(sup);
    let first = wait_for(T, "the first child", || {
        e.status_json("r")["child_pid"].as_i64()
    });
    e.s.track(first as i32);
    assert_eq!(
        stat(first as i32).unwrap().ppid,
        sup,
        "the pidfile names the supervisor"
    );
    test_programs::kill(first as i32, "KILL");
    let second = wait_for(T, "a new child", || {
        e.status_json("r")["child_pid"]
            .as_i64()
            .filter(|&c| c != first)
    });
    e.s.track(second as i32);
    assert!(alive(second as i32));
    // The count is saved just after the new child exists.
    wait_for(T, "the respawn to be counted", || {
        (e.status_json("r")["respawns"] == 1).then_some(())
    });
    assert_eq!(code(&e.run(&["stop", "-n", "r"])), 0);
    assert!(!alive(sup));
    wait_for(T, "the child to be stopped too", || {
        (!alive(second as i32)).then_some(())
    });
}

#[test]
fn respawn_gives_up_after_the_configured_tries() {
    let e = Env::new();
    let count = e.s.join("count");
    let err = e.s.join("err");
    let script = format!("echo run >> {}; exit 3", count.display());
    let t0 = Instant::now();
    let o = e.run(&[
        "start",
        "--foreground",
        "--respawn",
        "--max-respawns",
        "3",
        "--respawn-delay",
        "0.02",
        "-n",
        "crash",
        "-e",
        err.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(code(&o), 1, "giving up ends the supervisor non-zero");
    assert!(t0.elapsed() < Duration::from_secs(5));
    let runs = std::fs::read_to_string(&count).unwrap().lines().count();
    assert_eq!(runs, 4, "the first run and 3 respawns");
    let log = std::fs::read_to_string(&err).unwrap();
    assert!(log.contains("exited with status 3"), "{log}");
    assert!(log.contains("giving up"), "{log}");
    let j = e.status_json("crash");
    assert_eq!(j["state"], "stopped");
    assert!(j["gave_up"].as_str().unwrap().contains("giving up"));
}

#[test]
fn a_stop_during_the_backoff_delay_leaves_nothing_running() {
    let e = Env::new();
    let count = e.s.join("count");
    let script = format!("echo run >> {}; exit 1", count.display());
    let o = e.run(&[
        "start",
        "--startsecs",
        "0",
        "--respawn",
        "--respawn-delay",
        "3",
        "-n",
        "b",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let sup = e.pid("b").unwrap();
    e.s.track(sup);
    // The child ran and exited: the supervisor is now in its 3 s delay.
    wait_for(T, "the first run to end", || {
        let ran = std::fs::read_to_string(&count).is_ok_and(|t| t.lines().count() == 1);
        (ran && e.status_json("b")["child_pid"].is_null()).then_some(())
    });
    // `status` says what the supervisor is doing.
    let text = wait_for(T, "the backoff to be recorded", || {
        Some(stdout(&e.run(&["status", "-n", "b"]))).filter(|t| t.contains("restarting in"))
    });
    assert!(
        text.contains("b is restarting in 3 s (respawn 1),")
            || text.contains("b is restarting in 2 s (respawn 1),"),
        "{text}"
    );
    assert_eq!(e.status_json("b")["state"], "restarting");
    assert_eq!(code(&e.run(&["status", "-n", "b"])), 0);
    let t0 = Instant::now();
    assert_eq!(code(&e.run(&["stop", "-n", "b"])), 0);
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "stop waited {:?}",
        t0.elapsed()
    );
    assert!(!alive(sup));
    assert!(pids_with(&count.to_string_lossy()).is_empty());
    assert_eq!(
        std::fs::read_to_string(&count).unwrap().lines().count(),
        1,
        "no respawn after stop"
    );
}

#[test]
fn restart_by_name_keeps_the_options() {
    let e = Env::new();
    let out = e.s.join("out.log");
    let o = e.run(&[
        "start",
        "-n",
        "keep",
        "-o",
        out.to_str().unwrap(),
        "-E",
        "GREETING=hello-restart",
        "-C",
        "/tmp",
        "--",
        "sh",
        "-c",
        "echo $GREETING $(pwd); exec sleep 1000",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let a = e.pid("keep").unwrap();
    e.s.track(a);
    wait_for(T, "the first greeting", || {
        std::fs::read_to_string(&out).ok().filter(|t| !t.is_empty())
    });
    let o = e.run(&["restart", "-n", "keep"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b = e.pid("keep").unwrap();
    e.s.track(b);
    assert_ne!(a, b);
    assert!(!alive(a));
    let text = wait_for(T, "the second greeting", || {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|t| t.lines().count() == 2)
    });
    assert!(text.lines().all(|l| l == "hello-restart /tmp"), "{text}");
    let o = e.run(&["restart", "-n", "never-started"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("no record"), "{}", stderr(&o));
}

#[test]
fn sighup_reopens_the_output_file_after_a_move() {
    let e = Env::new();
    let log = e.s.join("app.log");
    let o = e.run(&[
        "start",
        "--respawn",
        "-n",
        "rot",
        "-o",
        log.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo line-$i; sleep 0.02; done",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    e.s.track(e.pid("rot").unwrap());
    wait_for(T, "output", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|t| t.contains("line-3"))
    });
    let moved = e.s.join("app.log.1");
    std::fs::rename(&log, &moved).unwrap();
    assert_eq!(code(&e.run(&["signal", "HUP", "-n", "rot"])), 0);
    let fresh = wait_for(T, "a new file", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|t| t.contains("line-"))
    });
    assert_eq!(code(&e.run(&["stop", "-n", "rot"])), 0);
    // Bytes unchanged and none lost: the two files hold consecutive lines.
    let old = std::fs::read_to_string(&moved).unwrap();
    let new = std::fs::read_to_string(&log).unwrap();
    let all: Vec<&str> = old
        .lines()
        .chain(new.lines())
        .filter(|l| l.starts_with("line-"))
        .collect();
    for (i, l) in all.iter().enumerate() {
        assert_eq!(*l, format!("line-{}", i + 1));
    }
    assert!(fresh.contains("line-"));
}

#[test]
fn a_relative_command_means_the_callers_directory() {
    let e = Env::new();
    let script = e.s.join("app.sh");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = e
        .cmd()
        .current_dir(e.s.path())
        .args(["start", "--", "./app.sh"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = e.pid("app.sh").unwrap();
    e.s.track(pid);
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );
    let j = e.status_json("app.sh");
    assert_eq!(j["state"], "running");
}

#[test]
fn list_shows_every_instance() {
    let e = Env::new();
    assert_eq!(
        code(&e.run(&["start", "-n", "a", "--", "sleep", "1000"])),
        0
    );
    e.s.track(e.pid("a").unwrap());
    assert_eq!(
        code(&e.run(&["start", "-n", "b", "--", "sleep", "1000"])),
        0
    );
    e.s.track(e.pid("b").unwrap());
    assert_eq!(code(&e.run(&["stop", "-n", "b"])), 0);
    // `list`: the live ones; `list --all`: the dead records too.
    let live = stdout(&e.run(&["list"]));
    assert_eq!(live.lines().count(), 2, "{live}");
    assert!(live.lines().nth(1).unwrap().starts_with("a "), "{live}");
    let text = stdout(&e.run(&["list", "--all"]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{text}");
    assert!(
        lines[1].starts_with("a ")
            && lines[1].contains("running")
            && lines[1].contains("sleep 1000"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("b ") && lines[2].contains("stopped"),
        "{text}"
    );
    let j: serde_json::Value =
        serde_json::from_slice(&e.run(&["list", "--all", "--json"]).stdout).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 2);
    let j: serde_json::Value = serde_json::from_slice(&e.run(&["list", "--json"]).stdout).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 1);
    assert_eq!(j[0]["pid"], e.pid("a").unwrap());
}

#[test]
fn the_exec_d_programs_children_do_not_hold_the_lock() {
    let e = Env::new();
    let bgpid = e.s.join("bg.pid");
    let o = e.run(&[
        "start",
        "-n",
        "parent",
        "--",
        "sh",
        "-c",
        &format!(
            "sleep 1000 & echo $! > {}; exec sleep 1000",
            bgpid.display()
        ),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = e.pid("parent").unwrap();
    e.s.track(pid);
    let bg = wait_for(T, "the background child", || read_pid(&bgpid));
    e.s.track(bg);
    test_programs::kill(pid, "KILL");
    wait_for(T, "the program to die", || (!alive(pid)).then_some(()));
    assert!(alive(bg));
    assert_eq!(
        code(&e.run(&["status", "-n", "parent"])),
        1,
        "dead: its child has the fd, not the lock"
    );
    assert_eq!(
        code(&e.run(&["start", "-n", "parent", "--", "sleep", "1000"])),
        0
    );
    e.s.track(e.pid("parent").unwrap());
}

#[test]
fn ctl_is_reachable_as_a_subcommand_and_as_supervisorctl() {
    let e = Env::new();
    let o = e.run(&["ctl", "-c", "/nonexistent/supervisord.conf", "status"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("could not find config file /nonexistent/supervisord.conf"),
        "{}",
        stderr(&o)
    );
    let link = e.s.join("supervisorctl");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_warden"), &link).unwrap();
    let o = Command::new(&link)
        .args(["-c", "/nonexistent/supervisord.conf", "status"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("could not find config file"),
        "{}",
        stderr(&o)
    );
    // As `warden ctl`, help lists warden's own commands after
    // supervisorctl's; as `supervisorctl`, the listing stays its own.
    let conf = e.s.join("ctl.conf");
    std::fs::write(
        &conf,
        "[supervisorctl]\nserverurl=unix:///nonexistent.sock\n",
    )
    .unwrap();
    let conf = conf.to_string_lossy().into_owned();
    let o = e.run(&["ctl", "-c", &conf, "help"]);
    assert!(stdout(&o).contains("version\n"), "{}", stdout(&o));
    assert!(stdout(&o).contains("warden commands"), "{}", stdout(&o));
    let own = stdout(&o)
        .split("warden commands")
        .nth(1)
        .map(|rest| {
            rest.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    assert!(
        own.iter().any(|w| w == "wait") && own.iter().any(|w| w == "events"),
        "{}",
        stdout(&o)
    );
    let o = Command::new(&link)
        .args(["-c", &conf, "help"])
        .output()
        .unwrap();
    assert!(!stdout(&o).contains("warden commands"), "{}", stdout(&o));
}

/// Regression: the death of a program that exits right after its exec could
/// be judged before the channel's "exec armed" + EOF were read, turning a
/// successful start into "ended before it was ready".
#[test]
fn a_program_that_exits_right_after_exec_was_started() {
    let e = Env::new();
    for i in 0..30 {
        // --startsecs 0: the exec-verified return, without the start window.
        let o = e.run(&[
            "start",
            "--startsecs",
            "0",
            "-n",
            &format!("t{i}"),
            "--",
            "true",
        ]);
        assert_eq!(code(&o), 0, "round {i}: {}", stderr(&o));
    }
}

/// As root: `-u USER` applies exactly the user's groups, `-u USER:GROUP`
/// exactly that group; real, effective and saved ids all change. Without root
/// the same request is a setup failure (3), never a silent no-op.
#[test]
fn user_switch_is_complete() {
    let e = Env::new();
    if warden_sys::process::geteuid() != 0 {
        let o = e.run(&["start", "-u", "nobody", "--", "sleep", "1000"]);
        assert_eq!(code(&o), 3);
        assert!(stderr(&o).contains("needs root"), "{}", stderr(&o));
        return;
    }
    // The run directory stays root's; the program runs as nobody.
    let o = e.run(&["start", "-n", "nob", "-u", "nobody", "--", "sleep", "1000"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = e.pid("nob").unwrap();
    e.s.track(pid);
    assert_eq!(
        status_field(pid, "Uid")
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["65534"; 4]
    );
    assert_eq!(
        status_field(pid, "Gid")
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["65534"; 4]
    );
    assert_eq!(
        status_field(pid, "Groups").unwrap(),
        "65534",
        "exactly nobody's groups, none of root's"
    );
    let o = e.run(&[
        "start",
        "-n",
        "grp",
        "-u",
        "nobody:daemon",
        "--",
        "sleep",
        "1000",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = e.pid("grp").unwrap();
    e.s.track(pid);
    assert_eq!(
        status_field(pid, "Gid")
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["1"; 4]
    );
    assert_eq!(status_field(pid, "Groups").unwrap(), "1");
    // The pidfile was created as root before the drop: nobody cannot rewrite it.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(e.rundir().join("nob.pid")).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o644));
    // Respawn mode: the supervisor and its child run as nobody; the child's
    // pid is still found (derived from /proc, not from a record nobody
    // cannot write).
    let o = e.run(&[
        "start",
        "--respawn",
        "-n",
        "rsp",
        "-u",
        "nobody",
        "--",
        "sleep",
        "1000",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    e.s.track(e.pid("rsp").unwrap());
    let child = wait_for(T, "the child", || {
        e.status_json("rsp")["child_pid"].as_i64()
    }) as i32;
    e.s.track(child);
    assert_eq!(
        status_field(child, "Uid")
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["65534"; 4]
    );
    assert_eq!(code(&e.run(&["stop", "-n", "rsp"])), 0);
    let o = e.run(&[
        "start",
        "-n",
        "bad",
        "-u",
        "nobody:no-such-group-wrdn",
        "--",
        "sleep",
        "1",
    ]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("unknown group"), "{}", stderr(&o));
}

/// As root in a sticky world-writable directory, nothing another user planted
/// is written through: not the temporaries of the pidfile and the record (for
/// the next pids), not the record's path, not a log path. Our own symlink to a
/// log is still followed.
#[test]
fn planted_symlinks_in_a_shared_directory_are_not_written_through() {
    use std::os::unix::fs::{lchown, symlink, PermissionsExt};
    if warden_sys::process::geteuid() != 0 {
        return; // planting another user's links needs root
    }
    let e = Env::new();
    let victim = e.s.join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let shared = e.s.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let plant = |name: &str| {
        let link = shared.join(name);
        symlink(&victim, &link).unwrap();
        lchown(&link, Some(65534), Some(65534)).unwrap();
    };
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for pid in last + 1..last + 400 {
        for name in ["x.json", "x.pid"] {
            plant(&format!(".{name}.{pid}.tmp"));
        }
    }
    let pidfile = shared.join("x.pid");
    let o = e.run(&[
        "start",
        "-p",
        pidfile.to_str().unwrap(),
        "-n",
        "x",
        "--",
        "sleep",
        "1000",
    ]);
    let pid = read_pid(&pidfile);
    if let Some(pid) = pid {
        e.s.track(pid);
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shared.join("x.json")).unwrap()).unwrap();
    assert_eq!(record["name"], "x");
    let o = e.run(&["stop", "-p", pidfile.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // The record's own path, planted: a clear refusal.
    plant("y.json");
    let y = shared.join("y.pid");
    let o = e.run(&["start", "-p", y.to_str().unwrap(), "--", "sleep", "1000"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("symbolic link owned by uid 65534"),
        "{}",
        stderr(&o)
    );
    assert!(read_pid(&y).is_none(), "nothing left running");

    // Log paths, planted: refused, in both modes.
    plant("out.log");
    let out = shared.join("out.log");
    for respawn in [false, true] {
        let mut args = vec!["start", "-n", "logs", "-o", out.to_str().unwrap()];
        if respawn {
            args.push("--respawn");
        }
        args.extend(["--", "sh", "-c", "echo owned; sleep 1000"]);
        let o = e.run(&args);
        if let Some(pid) = e.pid("logs") {
            e.s.track(pid);
        }
        assert_eq!(code(&o), 3, "respawn {respawn}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("refusing to follow the symbolic link"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");

    // Our own link is followed.
    let real = e.s.join("real.log");
    let mine = shared.join("mine.log");
    symlink(&real, &mine).unwrap();
    let o = e.run(&[
        "start",
        "-n",
        "mine",
        "-o",
        mine.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo hello; exec sleep 1000",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    e.s.track(e.pid("mine").unwrap());
    wait_for(T, "the output through our link", || {
        std::fs::read_to_string(&real)
            .ok()
            .filter(|s| s == "hello\n")
    });
    assert_eq!(code(&e.run(&["stop", "-n", "mine"])), 0);
}

/// Writes an executable file.
fn write_exe(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The environment of a process, from `/proc/PID/environ`.
fn environ(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|v| !v.is_empty())
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_python_program_that_raises_at_import_fails_the_start_window() {
    let e = Env::new();
    let app = e.s.join("app.py");
    std::fs::write(
        &app,
        "print('loading settings')\nraise RuntimeError('no database at import time')\n",
    )
    .unwrap();
    let t0 = Instant::now();
    let o = e
        .cmd()
        .current_dir(e.s.path())
        .args(["start", "-C", ".", "--", "python3", "app.py"])
        .output()
        .unwrap();
    assert_eq!(
        code(&o),
        125,
        "exit 1 would read as 'already running': {}",
        stderr(&o)
    );
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let err = stderr(&o);
    assert!(err.contains("app (pid "), "named after the script: {err}");
    assert!(
        err.contains("exited with status 1 within the start window (1 s)"),
        "{err}"
    );
    assert!(
        err.contains("RuntimeError: no database at import time"),
        "the exception's last line: {err}"
    );
    assert!(err.contains("loading settings"), "stdout too: {err}");
    assert!(!e.rundir().join("app.pid").exists(), "nothing left behind");
    // The output stays in the log, and status says what happened.
    let o = e.run(&["logs", "app", "-n", "1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "RuntimeError: no database at import time\n");
    let o = e.run(&["status", "-n", "app"]);
    assert_eq!(code(&o), 3);
    assert!(stdout(&o).contains("last start failed"), "{}", stdout(&o));
    // Without -C the relative script is not found in /: a hint says why.
    let o = e
        .cmd()
        .current_dir(e.s.path())
        .args(["start", "-n", "noc", "--", "python3", "app.py"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 125, "python exits 2: {}", stderr(&o));
    assert!(stderr(&o).contains("can't open file"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("hint: app.py is relative"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_start_window_reports_status_signal_and_success() {
    let e = Env::new();
    let o = e.run(&[
        "start",
        "-n",
        "seven",
        "--",
        "sh",
        "-c",
        "echo bye >&2; exit 7",
    ]);
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    assert!(stderr(&o).contains("| bye"), "{}", stderr(&o));
    let o = e.run(&["start", "-n", "killed", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(code(&o), 128 + 9, "{}", stderr(&o));
    assert!(stderr(&o).contains("SIGKILL"), "{}", stderr(&o));
    let o = e.run(&["start", "-n", "zero", "--", "sh", "-c", "exit 0"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(stderr(&o).contains("it wrote nothing"), "{}", stderr(&o));
    // Staying up for the window is success, and not before.
    let t0 = Instant::now();
    let o = e.run(&["start", "--startsecs", "0.5", "--", "sleep", "1000"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(t0.elapsed() >= Duration::from_millis(500));
    e.s.track(e.pid("sleep").unwrap());
    // --startsecs 0: back at once.
    let o = e.run(&[
        "start",
        "--startsecs",
        "0",
        "-n",
        "quick",
        "--",
        "sh",
        "-c",
        "exit 0",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Respawn mode: the supervisor watches the first run's window.
    let o = e.run(&[
        "start",
        "--respawn",
        "-n",
        "rsp",
        "--",
        "sh",
        "-c",
        "echo cannot-start; exit 4",
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("| cannot-start"), "{}", stderr(&o));
    assert!(
        e.pid("rsp").is_none_or(|p| !alive(p)),
        "the supervisor is gone"
    );
    assert!(!e.rundir().join("rsp.pid").exists());
}

#[test]
fn ready_timeout_and_start_window_have_their_own_exit_codes() {
    let e = Env::new();
    let o = e.run(&[
        "start",
        "--notify",
        "--ready-timeout",
        "0.3",
        "-n",
        "slow",
        "--",
        bin("notify-after").to_str().unwrap(),
        "5000",
    ]);
    assert_eq!(code(&o), 124, "{}", stderr(&o));
    let o = e.run(&["start", "-n", "w", "--", "sh", "-c", "exit 1"]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let help = stdout(&e.run(&["start", "--help"]));
    for text in [
        "124 not ready within --ready-timeout",
        "125 the start window failed",
        "[default: 90]",
    ] {
        assert!(help.contains(text), "{text}: {help}");
    }
}

#[test]
fn output_is_kept_by_default_and_logs_shows_and_follows_it() {
    let e = Env::new();
    let o = e.run(&[
        "start",
        "-n",
        "talk",
        "--",
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo line-$i; echo err-$i >&2; sleep 0.05; done",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    e.s.track(e.pid("talk").unwrap());
    let log = e.rundir().join("talk.log");
    wait_for(T, "output in NAME.log", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|t| t.contains("line-2") && t.contains("err-2"))
    });
    let all = stdout(&e.run(&["logs", "talk"]));
    assert!(all.starts_with("line-1\nerr-1\n"), "{all}");
    let last = stdout(&e.run(&["logs", "talk", "-n", "2"]));
    assert_eq!(last.lines().count(), 2, "{last}");
    // -f follows: lines written later show up.
    let mut f = e
        .cmd()
        .args(["logs", "talk", "-f", "-n", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    e.s.track(f.id() as i32);
    let upto: usize = std::fs::read_to_string(&log).unwrap().lines().count() / 2;
    let later = format!("line-{}", upto + 10);
    let mut out = f.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let mut seen = String::new();
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ = tx.send(seen.clone());
        }
    });
    let deadline = Instant::now() + T;
    let mut seen = String::new();
    while !seen.contains(&later) && Instant::now() < deadline {
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(100)) {
            seen = s;
        }
    }
    let _ = f.kill();
    let _ = f.wait();
    assert!(seen.contains(&later), "followed: {seen}");
    assert_eq!(code(&e.run(&["stop", "-n", "talk"])), 0);
    // -o /dev/null still discards.
    let o = e.run(&[
        "start",
        "-n",
        "quiet",
        "-o",
        "/dev/null",
        "--",
        "sleep",
        "1000",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = e.pid("quiet").unwrap();
    e.s.track(pid);
    let open = fds(pid);
    assert_eq!(open[1].1, "/dev/null", "{open:?}");
    assert_eq!(open[2].1, "/dev/null", "{open:?}");
    assert!(!e.rundir().join("quiet.log").exists());
    assert_eq!(code(&e.run(&["logs", "quiet"])), 3);
}

#[test]
fn python_output_is_unbuffered_unless_the_user_said_otherwise() {
    let e = Env::new();
    let app = e.s.join("srv.py");
    std::fs::write(
        &app,
        "import time\nprint('serving', flush=False)\ntime.sleep(1000)\n",
    )
    .unwrap();
    let o = e.run(&["start", "--", "python3", app.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = e.pid("srv").unwrap();
    e.s.track(pid);
    assert!(environ(pid).contains(&"PYTHONUNBUFFERED=1".to_string()));
    wait_for(T, "the print in the log while python runs", || {
        std::fs::read_to_string(e.rundir().join("srv.log"))
            .ok()
            .filter(|t| t.contains("serving"))
    });
    let o = e
        .cmd()
        .env("PYTHONUNBUFFERED", "")
        .args(["start", "-n", "mine", "--", "sleep", "1000"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = e.pid("mine").unwrap();
    e.s.track(pid);
    assert!(
        environ(pid).contains(&"PYTHONUNBUFFERED=".to_string()),
        "kept as set"
    );
}

#[test]
fn a_program_that_forks_and_exits_is_reported() {
    let e = Env::new();
    let bg = e.s.join("bg.pid");
    let script = format!(
        "sh -c 'while :; do sleep 1; done' {} & echo $! > {}; exit 0",
        e.s.marker(),
        bg.display()
    );
    let o = e.run(&["start", "-n", "forker", "--", "sh", "-c", &script]);
    let left = read_pid(&bg).expect("the background pid");
    e.s.track(left);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("daemonized itself"), "{err}");
    assert!(err.contains(&format!("left pid {left} running")), "{err}");
    assert!(err.contains("--forking PIDFILE"), "{err}");
    assert!(alive(left), "it is left running, not killed");
}

#[test]
fn forking_tracks_the_pid_the_program_wrote_by_pid_and_start_time() {
    let e = Env::new();
    let theirs = e.s.join("theirs.pid");
    let script = format!(
        "sh -c 'while :; do sleep 1; done' {} & echo $! > {}; exit 0",
        e.s.marker(),
        theirs.display()
    );
    let start = |name: &str| {
        e.run(&[
            "start",
            "-n",
            name,
            "--startsecs",
            "0.2",
            "--forking",
            theirs.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ])
    };
    let o = start("fk");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let daemon = read_pid(&theirs).unwrap();
    e.s.track(daemon);
    assert_eq!(
        e.pid("fk"),
        Some(daemon),
        "our pidfile names the tracked pid"
    );
    let j = e.status_json("fk");
    assert_eq!(j["state"], "running");
    assert_eq!(j["pid"], daemon);
    let o = start("fk");
    assert_eq!(code(&o), 1, "already running: {}", stderr(&o));
    assert_eq!(
        read_pid(&theirs),
        Some(daemon),
        "the second program never ran"
    );
    assert_eq!(code(&e.run(&["signal", "CONT", "-n", "fk"])), 0);
    // restart stops the tracked process and starts a new one.
    let o = e.run(&["restart", "-n", "fk"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let second = read_pid(&theirs).unwrap();
    e.s.track(second);
    assert_ne!(second, daemon);
    wait_for(T, "the first daemon to be gone", || {
        (!alive(daemon)).then_some(())
    });
    // A pid whose start time differs is someone else: never signalled.
    let rec_path = e.rundir().join("fk.json");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rec_path).unwrap()).unwrap();
    let t = rec["tracked"]["start_time"].as_u64().unwrap();
    rec["tracked"]["start_time"] = (t + 1).into();
    std::fs::write(&rec_path, serde_json::to_vec(&rec).unwrap()).unwrap();
    assert_eq!(
        code(&e.run(&["status", "-n", "fk"])),
        1,
        "dead: the pid is not ours"
    );
    assert_eq!(code(&e.run(&["stop", "-n", "fk"])), 1);
    assert_eq!(code(&e.run(&["signal", "TERM", "-n", "fk"])), 1);
    assert!(alive(second), "the look-alike was not signalled");
    rec["tracked"]["start_time"] = t.into();
    std::fs::write(&rec_path, serde_json::to_vec(&rec).unwrap()).unwrap();
    assert_eq!(code(&e.run(&["stop", "-n", "fk"])), 0);
    assert!(!alive(second));
    assert_eq!(code(&e.run(&["status", "-n", "fk"])), 3);
    // A pidfile naming a process that is not the program's: refused.
    let one = e.s.join("one.pid");
    let o = e.run(&[
        "start",
        "-n",
        "liar",
        "--forking",
        one.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &format!("echo 1 > {}", one.display()),
    ]);
    assert_eq!(code(&o), 125, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("names pid 1, which is not"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn restart_replays_the_recorded_start_from_anywhere() {
    let e = Env::new();
    let a = e.s.join("a");
    let b = e.s.join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let prog = a.join("prog.sh");
    write_exe(
        &prog,
        "#!/bin/sh\necho \"greeting=$GREETING\"\nexec sleep 1000\n",
    );
    let o = e
        .cmd()
        .current_dir(&a)
        .env("GREETING", "from-the-first-start")
        .args(["start", "-n", "p", "-o", "out.log", "--", "./prog.sh"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let first = e.pid("p").unwrap();
    e.s.track(first);
    // Another directory (with a prog.sh of its own), another environment.
    write_exe(&b.join("prog.sh"), "#!/bin/sh\nexit 42\n");
    let restart = || {
        e.cmd()
            .current_dir(&b)
            .env("GREETING", "from-the-caller")
            .env("PATH", "/nonexistent")
            .args(["restart", "-n", "p"])
            .output()
            .unwrap()
    };
    let o = restart();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let second = e.pid("p").unwrap();
    e.s.track(second);
    assert_ne!(first, second);
    let out = a.join("out.log");
    let text = wait_for(T, "two greetings", || {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|t| t.lines().count() == 2)
    });
    assert!(
        text.lines().all(|l| l == "greeting=from-the-first-start"),
        "{text}"
    );
    assert!(!b.join("out.log").exists());
    // A command that is no longer executable (or gone): nothing is stopped.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = restart();
    assert_eq!(code(&o), 126, "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing was stopped"), "{}", stderr(&o));
    assert!(alive(second));
    std::fs::remove_file(&prog).unwrap();
    let o = restart();
    assert_eq!(code(&o), 127, "{}", stderr(&o));
    assert!(alive(second));
    // A new start that fails says so plainly.
    write_exe(&prog, "#!/bin/sh\necho broken-now >&2\nexit 9\n");
    let o = restart();
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    assert!(!alive(second));
    let err = stderr(&o);
    assert!(
        err.contains("p was stopped but did not start again"),
        "{err}"
    );
    assert!(err.contains("broken-now"), "{err}");
}

#[test]
fn dash_c_resolves_a_relative_command_in_that_directory() {
    let e = Env::new();
    let dir = e.s.join("srv");
    std::fs::create_dir_all(&dir).unwrap();
    write_exe(&dir.join("prog"), "#!/bin/sh\nexec sleep 1000\n");
    let o = e
        .cmd()
        .current_dir(e.s.path())
        .args(["start", "-C", "srv", "--", "./prog"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = e.pid("prog").unwrap();
    e.s.track(pid);
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(), dir);
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.rundir().join("prog.json")).unwrap()).unwrap();
    assert_eq!(
        rec["resolved"][0],
        dir.join("prog").to_string_lossy().as_ref()
    );
    // Not in the caller's directory.
    let o = e
        .cmd()
        .current_dir(&dir)
        .args([
            "start",
            "-n",
            "other",
            "-C",
            e.s.path().to_str().unwrap(),
            "--",
            "./prog",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 127, "{}", stderr(&o));
}

#[test]
fn global_options_work_with_every_subcommand() {
    let e = Env::new();
    let sock = e.s.join("no.sock");
    let url = format!("unix://{}", sock.display());
    let plain = e.run(&["ctl", "-s", &url, "status"]);
    for v in ["-v", "--verbose"] {
        let o = e.run(&[v, "ctl", "-s", &url, "status"]);
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        assert_eq!(o.status.code(), plain.status.code(), "{}", stderr(&o));
        assert!(stderr(&o).contains("no such file") || stdout(&o).contains("no such file"));
    }
    let conf = e.s.join("none.conf");
    let plain = e.run(&["supervise", "-c", conf.to_str().unwrap()]);
    let o = e.run(&["--verbose", "supervise", "-c", conf.to_str().unwrap()]);
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(o.status.code(), plain.status.code());
    assert!(
        stderr(&o).contains("could not find config file"),
        "{}",
        stderr(&o)
    );
    assert_eq!(code(&e.run(&["-v", "status", "-n", "x"])), 3);
    assert_eq!(code(&e.run(&["-v", "status"])), 4, "usage error in status");
    assert_eq!(code(&e.run(&["-v", "list"])), 0);
    assert_eq!(code(&e.run(&["status", "-v", "-n", "x"])), 3);
}

#[test]
fn a_forgotten_double_dash_gets_a_hint() {
    let e = Env::new();
    let o = e.run(&["start", "-n", "x", "sleep", "10"]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o)
            .contains("hint: the command goes after `--`, as in: warden start -n x -- sleep 10"),
        "{}",
        stderr(&o)
    );
    assert!(e.pid("x").is_none());
    let o = e.run(&["start", "--no-such-option", "sleep", "10"]);
    assert_eq!(code(&o), 3);
    assert!(!stderr(&o).contains("hint: the command"), "{}", stderr(&o));
}

#[test]
fn names_come_from_the_script_an_interpreter_runs() {
    let e = Env::new();
    let bin_dir = e.s.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    // Stand-ins: the real interpreters need not be installed.
    for i in ["python3", "node", "java", "bash"] {
        write_exe(&bin_dir.join(i), "#!/bin/sh\nexec sleep 1000\n");
    }
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    for (cmd, name) in [
        (&["python3", "app.py"][..], "app"),
        (&["node", "server.js"][..], "server"),
        (&["java", "-jar", "x.jar"][..], "x"),
        (&["bash", "run.sh"][..], "run"),
    ] {
        let mut args = vec!["start", "--startsecs", "0", "-E"];
        let pathvar = format!("PATH={path}");
        args.push(&pathvar);
        args.push("--");
        args.extend(cmd);
        let o = e.run(&args);
        assert_eq!(code(&o), 0, "{cmd:?}: {}", stderr(&o));
        let pid = e
            .pid(name)
            .unwrap_or_else(|| panic!("{cmd:?} is named {name}"));
        e.s.track(pid);
    }
    let o = e.run(&["start", "--startsecs", "0", "--", "sleep", "1000"]);
    assert_eq!(code(&o), 0);
    e.s.track(e.pid("sleep").unwrap());
}

#[test]
fn stop_says_what_it_is_doing() {
    let e = Env::new();
    let pid = start_stubborn(&e);
    let o = e.run(&["-v", "stop", "-n", "stubborn", "--retry", "TERM/0.3/KILL/5"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "sent TERM to stubborn (pid {pid}), waiting up to 0.3 s"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "stubborn (pid {pid}) is still running after TERM: sent KILL"
        )),
        "{err}"
    );
    assert!(stdout(&o).contains(&format!("stopped stubborn (pid {pid})")));
    // Not a terminal, no -v: silent.
    let o = e.run(&["start", "-n", "s", "--", "sleep", "1000"]);
    assert_eq!(code(&o), 0);
    e.s.track(e.pid("s").unwrap());
    let o = e.run(&["stop", "-n", "s"]);
    assert_eq!(code(&o), 0);
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
    // On a terminal it speaks without -v.
    let o = e.run(&["start", "-n", "t", "--", "sleep", "1000"]);
    assert_eq!(code(&o), 0);
    let pid = e.pid("t").unwrap();
    e.s.track(pid);
    let sh = format!(
        "WARDEN_RUNDIR={} {} stop -n t; echo rc=$?",
        e.rundir().display(),
        env!("CARGO_BIN_EXE_warden"),
    );
    let text = stdout(&on_a_terminal(&sh));
    assert!(text.contains("rc=0"), "{text}");
    assert!(
        text.contains(&format!("sent TERM to t (pid {pid}), waiting up to 10 s")),
        "{text}"
    );
    assert!(text.contains(&format!("stopped t (pid {pid})")), "{text}");
}

#[test]
fn forget_removes_a_dead_record_and_its_files() {
    let e = Env::new();
    let o = e.run(&[
        "start",
        "-n",
        "f",
        "--",
        "sh",
        "-c",
        "echo hi; exec sleep 1000",
    ]);
    assert_eq!(code(&o), 0);
    e.s.track(e.pid("f").unwrap());
    let o = e.run(&["forget", "f"]);
    assert_eq!(code(&o), 1, "running: {}", stderr(&o));
    assert!(stderr(&o).contains("stop it first"));
    assert_eq!(code(&e.run(&["stop", "-n", "f"])), 0);
    assert!(stdout(&e.run(&["list", "--all"])).contains("f "));
    assert_eq!(code(&e.run(&["forget", "f"])), 0);
    for ext in ["json", "pid", "log"] {
        assert!(!e.rundir().join(format!("f.{ext}")).exists(), "f.{ext}");
    }
    assert_eq!(stdout(&e.run(&["list", "--all"])).lines().count(), 1);
    assert_eq!(code(&e.run(&["forget", "f"])), 3);
    // By pidfile, outside the run directory: only with warden's record.
    let foreign = e.s.join("foreign.pid");
    std::fs::write(&foreign, "1\n").unwrap();
    assert_eq!(
        code(&e.run(&["forget", "-p", foreign.to_str().unwrap()])),
        3
    );
    assert!(foreign.exists(), "not warden's: kept");
}

#[test]
fn arguments_that_are_not_utf8_are_refused_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"\xff");
    for args in [vec![std::ffi::OsStr::new("status"), bad], vec![bad]] {
        let out = Command::new(bin("warden")).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert!(matches!(out.status.code(), Some(2..=4)), "{:?}", out.status);
    }
}
