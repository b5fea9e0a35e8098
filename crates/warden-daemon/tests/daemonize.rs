//! Real-process tests of the library, through the `ticker` example and the
//! `daemon-probe` test program, checked from `/proc`. Each test uses its own
//! scratch directory; whatever it starts is killed by pid when it ends.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use test_programs::{
    alive, bin, fds, kill, pids_with, poll_until, read_pid, stat, status_field, wait_for, Scratch,
};

const T: Duration = Duration::from_secs(10);

fn ticker(args: &[&str], pidfile: &Path) -> Output {
    Command::new(bin("examples/ticker"))
        .args(args)
        .arg("--pidfile")
        .arg(pidfile)
        .stdin(Stdio::null())
        .output()
        .expect("run ticker")
}

fn probe(args: &[&str]) -> Output {
    Command::new(bin("daemon-probe"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run daemon-probe")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Starts the ticker through `with-context` (HUP ignored, USR2 blocked, fd 7
/// open) inside a pseudo-terminal (`script`), so the caller has a controlling
/// terminal the daemon must lose.
#[test]
fn ticker_start_gives_a_clean_detached_context() {
    let s = Scratch::new();
    let pidfile = s.join("t.pid");
    let out = s.join("out.log");
    let leak = s.join("leaked-fd");
    let cmd = format!(
        "{} {} -- {} start --pidfile {} --stdout {}; echo rc=$?",
        bin("with-context").display(),
        leak.display(),
        bin("examples/ticker").display(),
        pidfile.display(),
        out.display()
    );
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("rc=0"), "start failed: {text} {}", stderr(&o));
    // The pidfile is complete when start returns.
    let pid = read_pid(&pidfile).expect("pidfile holds a pid when start returns");
    assert!(alive(pid));
    let st = stat(pid).unwrap();
    assert_ne!(st.session, pid, "the daemon must not be a session leader");
    assert_eq!(st.tty_nr, 0, "the daemon must have no controlling terminal");
    assert_ne!(st.ppid, o.status.code().unwrap_or(-1));
    // Its parent is not the caller (which has exited): PID 1 or a subreaper.
    assert!(pids_with(&format!(
        "script -q -e -c {}",
        bin("with-context").display()
    ))
    .is_empty());
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );
    assert_eq!(status_field(pid, "Umask").unwrap(), "0022");
    assert_eq!(status_field(pid, "SigIgn").unwrap(), "0000000000000000");
    assert_eq!(status_field(pid, "SigBlk").unwrap(), "0000000000000000");
    // Descriptors: 0, 1, 2, the pidfile lock, and the ticker's own signal
    // socket pair (created after start); nothing inherited.
    let open = fds(pid);
    assert_eq!(open[0], (0, "/dev/null".to_string()));
    assert_eq!(open[1], (1, out.to_string_lossy().into_owned()));
    assert_eq!(open[2], (2, "/dev/null".to_string()));
    let rest: Vec<_> = open[3..]
        .iter()
        .filter(|(_, t)| !t.starts_with("socket:"))
        .collect();
    assert_eq!(
        rest,
        [&(rest[0].0, pidfile.to_string_lossy().into_owned())],
        "{open:?}"
    );
    assert!(
        open.iter()
            .filter(|(_, t)| t.starts_with("socket:"))
            .count()
            <= 2,
        "{open:?}"
    );
    assert!(
        !open.iter().any(|(_, t)| t.contains("leaked-fd")),
        "{open:?}"
    );
    // Ticks land in the file.
    wait_for(T, "the first tick", || {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|t| t.starts_with("1: "))
    });
    assert_eq!(code(&ticker(&["stop"], &pidfile)), 0);
    assert!(!alive(pid));
    assert!(!pidfile.exists(), "a clean exit removes the pidfile");
}

/// The literal check: a library daemon that opens nothing itself has exactly
/// 0, 1, 2 and the pidfile lock, even when the caller had fd 7 open.
#[test]
fn probe_daemon_has_exactly_stdio_and_the_lock() {
    let s = Scratch::new();
    let pidfile = s.join("p.pid");
    let o = Command::new(bin("with-context"))
        .arg(s.join("leak"))
        .arg("--")
        .arg(bin("daemon-probe"))
        .args(["--ignore-term", "--pidfile"])
        .arg(&pidfile)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = read_pid(&pidfile).unwrap();
    let open: Vec<i32> = fds(pid).into_iter().map(|(n, _)| n).collect();
    assert_eq!(open.len(), 4, "{:?}", fds(pid));
    assert_eq!(&open[..3], [0, 1, 2]);
    assert_eq!(fds(pid)[3].1, pidfile.to_string_lossy());
    assert_eq!(status_field(pid, "SigBlk").unwrap(), "0000000000000000");
}

#[test]
fn twenty_concurrent_starts_make_exactly_one_daemon() {
    let s = Scratch::new();
    let pidfile = s.join("race.pid");
    let children: Vec<_> = (0..20)
        .map(|_| {
            Command::new(bin("examples/ticker"))
                .arg("start")
                .arg("--pidfile")
                .arg(&pidfile)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
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
    let running = pids_with(&pidfile.to_string_lossy());
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(read_pid(&pidfile), Some(running[0]));
}

#[test]
fn second_start_is_refused_and_names_the_first() {
    let s = Scratch::new();
    let pidfile = s.join("t.pid");
    assert_eq!(code(&ticker(&["start"], &pidfile)), 0);
    let first = read_pid(&pidfile).unwrap();
    let o = ticker(&["start"], &pidfile);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains(&format!("already running as pid {first}")),
        "{}",
        stderr(&o)
    );
    assert_eq!(read_pid(&pidfile), Some(first));
    assert!(alive(first));
}

#[test]
fn kill_9_leaves_a_stale_pidfile_that_never_blocks_a_start() {
    let s = Scratch::new();
    let pidfile = s.join("t.pid");
    assert_eq!(code(&ticker(&["start"], &pidfile)), 0);
    let first = read_pid(&pidfile).unwrap();
    kill(first, "KILL");
    wait_for(T, "the daemon to die", || (!alive(first)).then_some(()));
    assert_eq!(
        code(&ticker(&["status"], &pidfile)),
        1,
        "dead but pidfile exists"
    );
    assert_eq!(code(&ticker(&["start"], &pidfile)), 0);
    let second = read_pid(&pidfile).unwrap();
    assert_ne!(first, second);
    assert!(alive(second));
    assert_eq!(code(&ticker(&["status"], &pidfile)), 0);
}

#[test]
fn a_recycled_pid_in_an_unlocked_pidfile_is_never_signalled() {
    let s = Scratch::new();
    let pidfile = s.join("t.pid");
    let mut victim = Command::new("sleep").arg("300").spawn().unwrap();
    let vpid = victim.id() as i32;
    s.track(vpid);
    std::fs::write(&pidfile, format!("{vpid}\n")).unwrap();
    let st = ticker(&["status"], &pidfile);
    assert_eq!(code(&st), 1, "unlocked pidfile: dead, not running");
    assert!(String::from_utf8_lossy(&st.stdout).contains("not running"));
    assert_eq!(code(&ticker(&["stop", "--retry", "KILL/1"], &pidfile)), 1);
    assert!(alive(vpid), "stop must not signal an unrelated process");
    assert!(victim.try_wait().unwrap().is_none());
    victim.kill().unwrap();
    victim.wait().unwrap();
}

fn assert_failed_cleanly(o: &Output, elapsed: Duration, s: &Scratch, pidfile: &Path, needle: &str) {
    assert_ne!(code(o), 0, "must fail");
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    assert!(
        stderr(o).contains(needle),
        "stderr {:?} should name {needle:?}",
        stderr(o)
    );
    assert!(!pidfile.exists(), "no pidfile may be left behind");
    assert!(
        pids_with(&s.marker()).is_empty(),
        "nothing may be left running"
    );
}

#[test]
fn a_missing_working_directory_fails_the_start() {
    let s = Scratch::new();
    let pidfile = s.join("p.pid");
    let missing = s.join("no-such-dir");
    let t0 = Instant::now();
    let o = probe(&[
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--workdir",
        missing.to_str().unwrap(),
    ]);
    assert_failed_cleanly(&o, t0.elapsed(), &s, &pidfile, "no-such-dir");
    assert_eq!(code(&o), 3);
}

#[test]
fn an_unopenable_log_file_fails_the_start() {
    let s = Scratch::new();
    let pidfile = s.join("p.pid");
    let log = s.join("missing-dir/out.log");
    let t0 = Instant::now();
    let o = probe(&[
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--stdout",
        log.to_str().unwrap(),
    ]);
    assert_failed_cleanly(&o, t0.elapsed(), &s, &pidfile, "missing-dir/out.log");
    assert_eq!(code(&o), 3);
}

#[test]
fn an_unknown_user_fails_the_start() {
    let s = Scratch::new();
    let pidfile = s.join("p.pid");
    let t0 = Instant::now();
    let o = probe(&[
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--user",
        "no-such-user-wrdn",
    ]);
    assert_failed_cleanly(
        &o,
        t0.elapsed(),
        &s,
        &pidfile,
        "unknown user \"no-such-user-wrdn\"",
    );
    assert_eq!(code(&o), 3);
}

/// As root, DAC is bypassed, so the caller is made unprivileged with setpriv.
#[test]
fn an_unwritable_pidfile_directory_fails_the_start() {
    let s = Scratch::new();
    let dir = s.join("ro");
    std::fs::create_dir(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let pidfile = dir.join("p.pid");
    let mut cmd = if warden_sys::process::geteuid() == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.arg(bin("daemon-probe"));
        c
    } else {
        Command::new(bin("daemon-probe"))
    };
    let t0 = Instant::now();
    let o = cmd
        .arg("--pidfile")
        .arg(&pidfile)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_failed_cleanly(&o, t0.elapsed(), &s, &pidfile, "Permission denied");
    assert!(stderr(&o).contains("ro/p.pid"), "{}", stderr(&o));
}

#[test]
fn init_failure_after_the_fork_reaches_the_caller() {
    let s = Scratch::new();
    let pidfile = s.join("p.pid");
    let t0 = Instant::now();
    let o = probe(&[
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--fail-init",
        "database unreachable",
    ]);
    assert_failed_cleanly(
        &o,
        t0.elapsed(),
        &s,
        &pidfile,
        "init failed: database unreachable",
    );
    assert_eq!(code(&o), 1);
}

#[test]
fn dying_before_ready_is_a_failure_with_the_real_status() {
    let s = Scratch::new();
    let pidfile = s.join("p.pid");
    let o = probe(&[
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--exit-before-ready",
        "4",
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ended before it was ready: exit status 4"),
        "{}",
        stderr(&o)
    );
    let o = probe(&["--kill-self-before-ready"]);
    assert_eq!(code(&o), 128 + 9, "{}", stderr(&o));
    assert!(stderr(&o).contains("SIGKILL"), "{}", stderr(&o));
    let o = probe(&["--exit-before-ready", "0"]);
    assert_ne!(code(&o), 0, "EOF before ready is never a success");
    assert!(pids_with(&s.marker()).is_empty());
}

#[test]
fn a_multi_threaded_process_is_refused() {
    let o = probe(&["--spawn-thread"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("2 threads"), "{}", stderr(&o));
    assert!(stderr(&o).contains("tokio runtime"), "{}", stderr(&o));
}

#[test]
fn stop_follows_the_schedule_against_a_term_ignoring_daemon() {
    let s = Scratch::new();
    let pidfile = s.join("p.pid");
    let o = probe(&["--pidfile", pidfile.to_str().unwrap(), "--ignore-term"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = read_pid(&pidfile).unwrap();
    let o = ticker(&["stop", "--retry", "TERM/1"], &pidfile);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(alive(pid), "TERM is ignored: it must still run");
    let t0 = Instant::now();
    let o = ticker(&["stop", "--retry", "TERM/1/KILL/2"], &pidfile);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!alive(pid));
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "KILL ends the wait at once"
    );
    assert_eq!(
        code(&ticker(&["stop"], &pidfile)),
        1,
        "nothing left to stop"
    );
}

#[test]
fn text_printed_before_start_appears_exactly_once() {
    let s = Scratch::new();
    let out = s.join("daemon-stdout");
    let o = probe(&[
        "--pidfile",
        s.join("p.pid").to_str().unwrap(),
        "--stdout",
        out.to_str().unwrap(),
        "--print-before",
        "ONCE-ONLY",
        "--exit-after-ms",
        "50",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    wait_for(T, "the daemon to exit", || {
        pids_with(&s.marker()).is_empty().then_some(())
    });
    let total = String::from_utf8_lossy(&o.stdout)
        .matches("ONCE-ONLY")
        .count()
        + std::fs::read_to_string(&out)
            .unwrap_or_default()
            .matches("ONCE-ONLY")
            .count();
    assert_eq!(total, 1);
}

#[test]
fn start_is_fast_with_a_huge_descriptor_limit() {
    let s = Scratch::new();
    let pidfile = s.join("t.pid");
    let script = format!(
        "ulimit -n 1048576 2>/dev/null || ulimit -n $(ulimit -Hn); exec {} start --pidfile {}",
        bin("examples/ticker").display(),
        pidfile.display()
    );
    let t0 = Instant::now();
    let o = Command::new("sh").args(["-c", &script]).output().unwrap();
    let took = t0.elapsed();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(took < Duration::from_millis(500), "start took {took:?}");
    let pid = read_pid(&pidfile).unwrap();
    s.track(pid);
    // The daemon closes the readiness pipe's write end just after start
    // returns: wait for the count to settle rather than catching it open.
    let count = || {
        fds(pid)
            .iter()
            .filter(|(_, t)| !t.starts_with("socket:"))
            .count()
    };
    let settled = poll_until(T, || count() == 4);
    assert!(settled, "the daemon kept {:?}", fds(pid));
}

#[test]
fn the_lock_is_not_inherited_by_the_daemons_children() {
    let s = Scratch::new();
    let pidfile = s.join("p.pid");
    let out = s.join("out");
    let o = probe(&[
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--stdout",
        out.to_str().unwrap(),
        "--spawn-grandchild",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let grandchild: i32 = wait_for(T, "the grandchild's pid", || {
        let t = std::fs::read_to_string(&out).ok()?;
        t.lines()
            .find_map(|l| l.strip_prefix("grandchild ")?.parse().ok())
    });
    s.track(grandchild);
    assert_eq!(code(&ticker(&["stop"], &pidfile)), 0);
    assert!(alive(grandchild));
    assert_eq!(code(&ticker(&["status"], &pidfile)), 3);
    let o = probe(&["--pidfile", pidfile.to_str().unwrap()]);
    assert_eq!(
        code(&o),
        0,
        "the grandchild must not hold the lock: {}",
        stderr(&o)
    );
}

#[test]
fn the_daemon_reading_its_own_pidfile_keeps_the_lock() {
    let s = Scratch::new();
    let pidfile = s.join("p.pid");
    let out = s.join("out");
    let o = probe(&[
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--stdout",
        out.to_str().unwrap(),
        "--read-pidfile",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("self-status Running"), "{text}");
    assert_eq!(code(&probe(&["--pidfile", pidfile.to_str().unwrap()])), 1);
}

#[test]
fn only_our_own_pidfile_is_removed() {
    let s = Scratch::new();
    let pidfile = s.join("t.pid");
    assert_eq!(code(&ticker(&["start"], &pidfile)), 0);
    let a = read_pid(&pidfile).unwrap();
    std::fs::remove_file(&pidfile).unwrap();
    assert_eq!(code(&ticker(&["start"], &pidfile)), 0);
    let b = read_pid(&pidfile).unwrap();
    kill(a, "TERM");
    wait_for(T, "A to exit", || (!alive(a)).then_some(()));
    assert_eq!(read_pid(&pidfile), Some(b), "A must not remove B's pidfile");
}

#[test]
fn symlinked_and_world_writable_pidfiles_are_refused() {
    let s = Scratch::new();
    let target = s.join("elsewhere");
    std::fs::write(&target, "1\n").unwrap();
    let link = s.join("link.pid");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = ticker(&["start"], &link);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "1\n");
    if warden_sys::process::geteuid() == 0 {
        use std::os::unix::fs::PermissionsExt;
        let ww = s.join("ww.pid");
        std::fs::write(&ww, "1\n").unwrap();
        std::fs::set_permissions(&ww, std::fs::Permissions::from_mode(0o666)).unwrap();
        let o = ticker(&["start"], &ww);
        assert_eq!(code(&o), 3);
        assert!(stderr(&o).contains("writable by others"), "{}", stderr(&o));
        assert_eq!(code(&ticker(&["status"], &ww)), 4, "status refuses it too");
    }
}

#[test]
fn restart_is_a_verified_stop_then_a_start() {
    let s = Scratch::new();
    let pidfile = s.join("t.pid");
    assert_eq!(
        code(&ticker(&["restart"], &pidfile)),
        0,
        "restart of a stopped daemon starts it"
    );
    let a = read_pid(&pidfile).unwrap();
    assert_eq!(code(&ticker(&["restart"], &pidfile)), 0);
    let b = read_pid(&pidfile).unwrap();
    assert_ne!(a, b);
    assert!(
        !alive(a),
        "the old daemon is gone before the new one starts"
    );
    assert!(alive(b));
}

#[test]
fn systemd_notify_gets_ready_and_stopping() {
    let s = Scratch::new();
    let sock_path = s.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(T)).unwrap();
    let pidfile = s.join("p.pid");
    let out = s.join("out");
    let o = Command::new(bin("daemon-probe"))
        .arg("--pidfile")
        .arg(&pidfile)
        .arg("--spawn-grandchild")
        .arg("--stdout")
        .arg(&out)
        .env("NOTIFY_SOCKET", &sock_path)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = read_pid(&pidfile).unwrap();
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]),
        format!("READY=1\nMAINPID={pid}")
    );
    let grandchild: i32 = wait_for(T, "the grandchild's pid", || {
        let t = std::fs::read_to_string(&out).ok()?;
        t.lines()
            .find_map(|l| l.strip_prefix("grandchild ")?.parse().ok())
    });
    s.track(grandchild);
    let env = std::fs::read(format!("/proc/{grandchild}/environ")).unwrap();
    assert!(
        !String::from_utf8_lossy(&env).contains("NOTIFY_SOCKET"),
        "the variable is consumed, not passed to the daemon's children"
    );
    assert_eq!(code(&ticker(&["stop"], &pidfile)), 0);
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
}

#[test]
fn foreground_mode_does_every_step_but_detaching() {
    let s = Scratch::new();
    let pidfile = s.join("p.pid");
    let mut child = Command::new(bin("daemon-probe"))
        .args(["--foreground", "--pidfile"])
        .arg(&pidfile)
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    s.track(pid);
    wait_for(T, "the pidfile", || {
        (read_pid(&pidfile) == Some(pid)).then_some(())
    });
    assert_eq!(
        stat(pid).unwrap().ppid,
        std::process::id() as i32,
        "not detached"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );
    assert_eq!(code(&ticker(&["status"], &pidfile)), 0);
    kill(pid, "TERM");
    assert!(child.wait().unwrap().success());
    assert!(!pidfile.exists());
}

/// `HostFork` (what the Python package uses, forking with its own fork path):
/// the same guarantees as `start` — a live pid in the pidfile when the caller
/// returns, detached, exactly 0-2 and the lock, a second start refused, an
/// init failure reported with its message and nothing left behind.
#[test]
fn host_fork_gives_the_same_daemon_as_start() {
    let s = Scratch::new();
    let pidfile = s.join("h.pid");
    let p = pidfile.to_str().unwrap();
    let o = Command::new(bin("with-context"))
        .arg(s.join("leak"))
        .arg("--")
        .arg(bin("daemon-probe"))
        .args(["--host-fork", "--ignore-term", "--pidfile", p])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pid = read_pid(&pidfile).expect("pidfile holds a pid when the caller returns");
    s.track(pid);
    assert!(alive(pid));
    let st = stat(pid).unwrap();
    assert_ne!(st.session, pid, "the daemon must not be a session leader");
    assert_eq!(st.tty_nr, 0);
    wait_for(T, "only 0-2 and the lock", || {
        (fds(pid).len() == 4).then_some(())
    });
    assert_eq!(fds(pid)[3].1, pidfile.to_string_lossy());
    assert_eq!(status_field(pid, "SigBlk").unwrap(), "0000000000000000");
    // with-context ignored HUP: reset. TERM is ignored by --ignore-term itself.
    assert_eq!(status_field(pid, "SigIgn").unwrap(), "0000000000004000");
    let again = probe(&["--host-fork", "--pidfile", p]);
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    assert!(stderr(&again).contains(&format!("already running as pid {pid}")));
    kill(pid, "KILL");
    wait_for(T, "the daemon to exit", || (!alive(pid)).then_some(()));

    let t0 = Instant::now();
    let o = probe(&["--host-fork", "--pidfile", p, "--fail-init", "no config"]);
    assert_failed_cleanly(&o, t0.elapsed(), &s, &pidfile, "init failed: no config");
    assert_eq!(code(&o), 1);
}
