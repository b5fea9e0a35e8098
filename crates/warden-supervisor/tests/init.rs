//! A container's init and whole process trees, through the real binary:
//! as PID 1 of a PID namespace (`unshare --pid --fork --mount-proc`, as
//! root), orphans are reaped and SIGTERM ends everything within
//! `shutdown_timeout`; `killasgroup` reaches a double-forked grandchild in
//! its own session (with and without cgroups); a `kill -9` of the
//! supervisor leaves no program running and the next run starts no
//! duplicate; a program stopped by hand stays stopped across `reload` and a
//! restart; `NOTIFY_SOCKET` gets `READY=1`.
//!
//! Every wait polls until a deadline; what a test starts is killed by pid
//! (the supervisors) or by the scratch directory's mark (the programs).

mod helper;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use helper::{bin, wait_for, write_conf_with, Kind, Scratch, Sup, HEADER};

/// `HEADER` with `extra` lines in `[supervisord]`.
fn header(extra: &str) -> String {
    HEADER.replacen("[supervisord]\n", &format!("[supervisord]\n{extra}\n"), 1)
}

/// A shell script in `dir` named `name` (`SVCHILD` and `MARK` replaced by
/// the sv-child binary and `dir`).
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    let body = body
        .replace("SVCHILD", &bin("sv-child").to_string_lossy())
        .replace("MARK", &dir.to_string_lossy());
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    path
}

/// A supervisor in the foreground (`-n`), optionally as PID 1 of a new PID
/// namespace. Dropping it stops it (TERM, then KILL after 15 s), by pid.
struct Running {
    child: Child,
    /// The supervisor's pid as this test sees it.
    pid: i32,
    sup: Option<Sup>,
}

impl Running {
    fn start(dir: &Path, extra: &str, programs: &str, pid_ns: bool) -> Running {
        Running::start_with(dir, extra, programs, pid_ns, &[])
    }

    /// [`Running::start`] with more command-line arguments.
    fn start_with(dir: &Path, extra: &str, programs: &str, pid_ns: bool, args: &[&str]) -> Running {
        let conf = write_conf_with(dir, &header(extra), programs);
        let exe = bin("warden-supervisord");
        let mut cmd = if pid_ns {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let child = cmd
            .args(args)
            .arg("-n")
            .arg("-c")
            .arg(&conf)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the supervisor");
        let outer = i32::try_from(child.id()).unwrap();
        let mut running = Running {
            child,
            pid: outer,
            sup: None,
        };
        if pid_ns {
            // unshare forks: the supervisor is its child.
            running.pid = wait_for(
                Duration::from_secs(15),
                "the supervisor in its namespace",
                || child_of(outer),
            );
        }
        let sup = Sup {
            kind: Kind::Warden,
            dir: dir.to_path_buf(),
            conf,
            pid: running.pid,
        };
        wait_for(Duration::from_secs(15), "the socket answers", || {
            std::os::unix::net::UnixStream::connect(dir.join("sock"))
                .is_ok()
                .then_some(())
        });
        running.sup = Some(sup);
        running
    }

    fn sup(&self) -> &Sup {
        self.sup.as_ref().unwrap()
    }

    /// Waits for the supervisor to exit; its exit code (through `unshare`,
    /// which passes it on).
    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let mut code = None;
        test_programs::poll_until(limit, || {
            code = self.child.try_wait().unwrap().map(|st| st.code());
            code.is_some()
        });
        code.flatten()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Sup's drop: TERM, wait, KILL (by pid).
        drop(self.sup.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first child of `pid` found in `/proc`.
fn child_of(pid: i32) -> Option<i32> {
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .find(|&p| test_programs::stat(p).is_some_and(|s| s.ppid == pid))
}

/// The pid, as this test sees it, of the process marked with `dir` whose
/// pid inside its PID namespace is `ns_pid` (the last `NSpid` field).
fn host_pid(dir: &Path, ns_pid: i32) -> Option<i32> {
    test_programs::pids_with(&dir.to_string_lossy())
        .into_iter()
        .find(|&p| {
            test_programs::status_field(p, "NSpid")
                .and_then(|f| f.split_whitespace().last()?.parse::<i32>().ok())
                == Some(ns_pid)
        })
}

/// Zombies whose parent is `pid`.
fn zombies_of(pid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter(|&p| {
                    test_programs::stat(p).is_some_and(|s| s.ppid == pid && s.state == 'Z')
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `[program:tree]`: a main process and a grandchild it double-forks into a
/// session of its own (marked `DIR-main` and `DIR-gc`), plus `extra` keys.
fn tree_program(dir: &Path, extra: &str) -> String {
    let tree = script(
        dir,
        "tree.sh",
        "(setsid SVCHILD --tag MARK-gc &)\nexec SVCHILD --tag MARK-main\n",
    );
    format!(
        "[program:tree]\ncommand=/bin/sh {}\nstartsecs=0\n{extra}\n",
        tree.display()
    )
}

/// The grandchild of [`tree_program`] once `setsid` has made its session
/// and exec'd sv-child.
fn grandchild(dir: &Path) -> Option<i32> {
    test_programs::pids_with(&format!("{}-gc", dir.display()))
        .into_iter()
        .find(|&p| {
            test_programs::stat(p).is_some_and(|s| s.session == p)
                && std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "sv-child")
        })
}

fn stop(sup: &Sup, name: &str) -> String {
    sup.call("supervisor.stopProcess", &[name])
}

fn start(sup: &Sup, name: &str) -> String {
    sup.call("supervisor.startProcess", &[name])
}

fn state_of(sup: &Sup, name: &str) -> String {
    let body = sup.call("supervisor.getProcessInfo", &[name]);
    body.split("<name>statename</name>")
        .nth(1)
        .and_then(|s| s.split("<string>").nth(1))
        .and_then(|s| s.split('<').next())
        .unwrap_or("?")
        .to_string()
}

#[test]
fn as_pid_1_orphans_are_reaped_and_the_programs_kept() {
    let scratch = Scratch::new();
    let dir = scratch.join("ns");
    let orphans = script(
        &dir,
        "orphans.sh",
        "(sleep 0.3 &)\n(sleep 0.3 &)\n(sh -c 'exit 3' &)\nexec SVCHILD --tag MARK-main\n",
    );
    let progs = format!(
        "[program:main]\ncommand=/bin/sh {}\nstartsecs=0\n",
        orphans.display()
    );
    let r = Running::start(&dir, "", &progs, true);
    let pid = wait_for(Duration::from_secs(15), "main RUNNING", || {
        r.sup().running_pid("main")
    });
    // The orphans were re-parented to the supervisor (PID 1 here) and reaped.
    wait_for(Duration::from_secs(10), "three orphans reaped", || {
        (r.sup().mainlog().matches("reaped unknown pid").count() >= 3).then_some(())
    });
    let clean = test_programs::poll_until(Duration::from_secs(1), || zombies_of(r.pid).is_empty());
    assert!(clean, "zombies left after 1 s: {:?}", zombies_of(r.pid));
    // its own child is untouched
    assert_eq!(r.sup().running_pid("main"), Some(pid));
    let pid1 = r.sup().call("supervisor.getPID", &[]);
    assert!(pid1.contains("<int>1</int>"), "{pid1}");
}

#[test]
fn as_pid_1_sigterm_ends_everything_within_shutdown_timeout() {
    let scratch = Scratch::new();
    let dir = scratch.join("ns");
    let progs = "
[program:stubborn]
command={child} --ignore-term --tag {tag}
stopwaitsecs=60
startsecs=0

[program:polite]
command={child} --tag {tag}
startsecs=0
";
    let mut r = Running::start(&dir, "shutdown_timeout=2", progs, true);
    let stubborn = wait_for(Duration::from_secs(15), "both RUNNING", || {
        r.sup().running_pid("polite")?;
        r.sup().running_pid("stubborn")
    });
    // the stubborn one must be ignoring TERM before we start; the
    // supervisor reports its pid as seen inside the namespace
    let stubborn = wait_for(Duration::from_secs(10), "stubborn's host pid", || {
        host_pid(&dir, stubborn)
    });
    helper::wait_ignoring_term(stubborn);
    let t0 = Instant::now();
    test_programs::kill(r.pid, "TERM");
    let code = r.wait_exit(Duration::from_secs(10));
    let took = t0.elapsed();
    assert_eq!(code, Some(4), "exit code after a forced shutdown");
    assert!(took < Duration::from_millis(3500), "took {took:?}");
    assert!(took >= Duration::from_secs(2), "took {took:?}");
    let log = r.sup().mainlog();
    assert!(
        log.contains("shutdown_timeout (2 s) passed: killing "),
        "{log}"
    );
    assert!(
        log.contains("stopped: stubborn (terminated by SIGKILL)"),
        "{log}"
    );
    assert!(test_programs::pids_with(&dir.to_string_lossy()).is_empty());
}

/// `--init` outside a PID namespace is init mode all the same, with its
/// default shutdown deadline of 9 s (inside Docker's 10 s).
#[test]
fn the_init_flag_brings_the_9s_default_deadline() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let progs = "[program:stubborn]\ncommand={child} --ignore-term --tag {tag}\nstopwaitsecs=60\nstartsecs=0\n";
    let mut r = Running::start_with(&dir, "", progs, false, &["--init"]);
    let stubborn = wait_for(Duration::from_secs(15), "RUNNING", || {
        r.sup().running_pid("stubborn")
    });
    helper::wait_ignoring_term(stubborn);
    let t0 = Instant::now();
    test_programs::kill(r.pid, "TERM");
    let code = r.wait_exit(Duration::from_secs(15));
    let took = t0.elapsed();
    assert_eq!(code, Some(4), "exit code after a forced shutdown");
    assert!(took >= Duration::from_secs(9), "took {took:?}");
    assert!(took < Duration::from_millis(10_500), "took {took:?}");
    let log = r.sup().mainlog();
    assert!(
        log.contains("shutdown_timeout (9 s) passed: killing "),
        "{log}"
    );
}

#[test]
fn killasgroup_stop_leaves_nothing_of_a_double_forked_tree() {
    for cgroups in ["false", "true"] {
        let scratch = Scratch::new();
        let dir = scratch.join("w");
        let progs = tree_program(&dir, "killasgroup=true");
        let r = Running::start(&dir, &format!("cgroups={cgroups}"), &progs, false);
        let main = wait_for(Duration::from_secs(15), "tree RUNNING", || {
            r.sup().running_pid("tree")
        });
        let gc = wait_for(Duration::from_secs(15), "the grandchild", || {
            grandchild(&dir)
        });
        let st = test_programs::stat(gc).unwrap();
        assert_ne!(st.pgrp, main);
        let out = stop(r.sup(), "tree");
        assert!(out.contains("<boolean>1</boolean>"), "{out}");
        let gone = test_programs::poll_until(Duration::from_secs(2), || !test_programs::alive(gc));
        assert!(
            gone,
            "cgroups={cgroups}: the grandchild {gc} survived the stop"
        );
    }
}

#[test]
fn kill_9_of_the_supervisor_leaves_no_program_and_no_duplicate() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let progs = "[program:main]\ncommand={child} --tag {tag}-main\nstartsecs=0\n";
    let main_mark = format!("{}-main", dir.display());
    // The default pdeathsig: the program dies with the supervisor.
    {
        let r = Running::start(&dir, "", progs, false);
        let pid = wait_for(Duration::from_secs(15), "main RUNNING", || {
            r.sup().running_pid("main")
        });
        test_programs::kill(r.pid, "KILL");
        let gone = test_programs::poll_until(Duration::from_secs(3), || !test_programs::alive(pid));
        assert!(gone, "main {pid} outlived its supervisor");
    }
    // Without it, the program survives; the next run stops it before
    // starting its own.
    let old = {
        let r = Running::start(&dir, "pdeathsig=none", progs, false);
        let pid = wait_for(Duration::from_secs(15), "main RUNNING", || {
            r.sup().running_pid("main")
        });
        test_programs::kill(r.pid, "KILL");
        assert!(test_programs::poll_until(Duration::from_secs(3), || {
            !test_programs::alive(r.pid)
        }));
        // a pdeath signal would have been sent at the supervisor's death
        let died =
            test_programs::poll_until(Duration::from_millis(200), || !test_programs::alive(pid));
        assert!(!died, "no pdeathsig: main {pid} survives");
        pid
    };
    let r = Running::start(&dir, "pdeathsig=none", progs, false);
    let new = wait_for(Duration::from_secs(15), "main RUNNING again", || {
        r.sup().running_pid("main")
    });
    assert_ne!(new, old);
    assert!(
        !test_programs::alive(old),
        "the previous run's main {old} is still there"
    );
    // (RUNNING comes at once with startsecs=0: wait for the exec)
    let mains = test_programs::poll_until(Duration::from_secs(5), || {
        test_programs::pids_with(&main_mark) == [new]
    });
    assert!(
        mains,
        "not exactly one main: {:?}",
        test_programs::pids_with(&main_mark)
    );
    assert!(r.sup().mainlog().contains(&format!(
        "main:main (pid {old}) of a previous run is still running: stopping it"
    )));
}

/// `previous_run=adopt`: what a crashed run left running is taken over
/// (same pid, RUNNING, no second copy), its end is noticed without a
/// SIGCHLD and it is restarted; a program gone from the config is stopped.
#[test]
fn previous_run_adopt_takes_over_what_a_crash_left_running() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let extra = "pdeathsig=none\nprevious_run=adopt";
    let main = "[program:main]\ncommand={child} --tag {tag}-main\nstartsecs=0\n\n\
                [program:calm]\ncommand={child} --tag {tag}-calm\nstartsecs=0\n";
    let dropped = "[program:dropped]\ncommand={child} --tag {tag}-dropped\nstartsecs=0\n";
    let main_mark = format!("{}-main", dir.display());
    let (old, old_dropped, calm) = {
        let r = Running::start(&dir, extra, &format!("{main}\n{dropped}"), false);
        let pids = wait_for(Duration::from_secs(15), "all RUNNING", || {
            Some((
                r.sup().running_pid("main")?,
                r.sup().running_pid("dropped")?,
                r.sup().running_pid("calm")?,
            ))
        });
        test_programs::kill(r.pid, "KILL");
        assert!(test_programs::poll_until(Duration::from_secs(3), || {
            !test_programs::alive(r.pid)
        }));
        pids
    };
    // the crashed run's cgroup (cgroup v2 is delegated on the test machines)
    let state = std::fs::read_to_string(dir.join("sd.state")).unwrap();
    let old_root = serde_json::from_str::<serde_json::Value>(&state).unwrap()["cgroup"]
        .as_str()
        .map(std::path::PathBuf::from)
        .expect("the state file names the crashed run's cgroup");
    // the next run's config no longer has `dropped`
    let r = Running::start(&dir, extra, main, false);
    let pid = wait_for(Duration::from_secs(15), "main RUNNING", || {
        r.sup().running_pid("main")
    });
    assert_eq!(pid, old, "adopted, not started again");
    assert_eq!(test_programs::pids_with(&main_mark), [old], "one main");
    assert!(
        !test_programs::alive(old_dropped),
        "dropped {old_dropped}, gone from the config, is still there"
    );
    let log = r.sup().mainlog();
    assert!(
        log.contains(&format!("adopted: 'main' with pid {old}")),
        "{log}"
    );
    // a stop reaches an adopted process and ends as any stop does
    assert_eq!(r.sup().running_pid("calm"), Some(calm));
    let (out, _) = r.sup().ctl(&["stop", "calm"]);
    assert!(out.contains("calm: stopped"), "{out}");
    assert!(
        test_programs::poll_until(Duration::from_secs(3), || !test_programs::alive(calm)),
        "calm {calm} outlived its stop"
    );
    // its end comes through its pidfd: autorestart starts a new one
    test_programs::kill(old, "KILL");
    let new = wait_for(Duration::from_secs(15), "main restarted", || {
        r.sup().running_pid("main").filter(|p| *p != old)
    });
    assert_ne!(new, old);
    assert!(r.sup().mainlog().contains("exit status unknown"));
    // at its exit, the supervisor removes the crashed run's cgroup too
    assert!(old_root.exists(), "{old_root:?} held the adopted programs");
    drop(r);
    assert!(
        test_programs::poll_until(Duration::from_secs(5), || !old_root.exists()),
        "{old_root:?} is left behind"
    );
}

#[test]
fn stopped_by_hand_stays_stopped_across_reload_and_restart() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let progs = "
[program:a]
command={child} --tag {tag}
startsecs=0

[program:b]
command={child} --tag {tag}
startsecs=0
";
    let b_pid = {
        let r = Running::start(&dir, "", progs, false);
        let s = r.sup();
        wait_for(Duration::from_secs(15), "a and b RUNNING", || {
            (s.running_pid("a").is_some() && s.running_pid("b").is_some()).then_some(())
        });
        let out = stop(s, "a");
        assert!(out.contains("<boolean>1</boolean>"), "{out}");
        let before = s.running_pid("b").unwrap();
        assert!(s
            .call("supervisor.restart", &[])
            .contains("<boolean>1</boolean>"));
        let after = wait_for(Duration::from_secs(15), "b back after reload", || {
            s.running_pid("b").filter(|p| *p != before)
        });
        assert_eq!(state_of(s, "a"), "STOPPED", "a after reload");
        after
    };
    // a restart of the supervisor (the first one was stopped by TERM)
    let r = Running::start(&dir, "", progs, false);
    let s = r.sup();
    wait_for(Duration::from_secs(15), "b RUNNING", || {
        s.running_pid("b").filter(|p| *p != b_pid)
    });
    assert_eq!(state_of(s, "a"), "STOPPED", "a after a restart");
    let state = std::fs::read_to_string(dir.join("sd.state")).unwrap();
    assert!(state.contains("\"stopped_by_hand\":[\"a\"]"), "{state}");
    // started by hand: autostart applies again
    assert!(start(s, "a").contains("<boolean>1</boolean>"));
    drop(r);
    let r = Running::start(&dir, "", progs, false);
    wait_for(
        Duration::from_secs(15),
        "a RUNNING after a start by hand",
        || r.sup().running_pid("a"),
    );
}

#[test]
fn ready_is_sent_to_notify_socket() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    std::fs::create_dir_all(&dir).unwrap();
    let sock_path = dir.join("notify");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let conf = write_conf_with(
        &dir,
        HEADER,
        "[program:main]\ncommand={child} --tag {tag}\n",
    );
    let mut child = Command::new(bin("warden-supervisord"))
        .args(["-n", "-c"])
        .arg(&conf)
        .current_dir(&dir)
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    scratch.track(pid);
    let mut buf = [0u8; 512];
    let got = sock
        .recv(&mut buf)
        .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
    test_programs::kill(pid, "TERM");
    let _ = child.wait();
    let got = got.expect("a notification");
    assert!(got.lines().any(|l| l == "READY=1"), "{got:?}");
}

/// The container recipe (docs/operations.md): with `stdout_syslog=true` and
/// `WARDEN_SYSLOG_SOCKET=-`, program output reaches the supervisor's
/// stdout with the program's name on each line.
#[test]
fn container_logs_reach_stdout_with_the_program_name() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let progs = "
[program:web]
command={child} --print hello --tag {tag}
stdout_logfile=NONE
stdout_syslog=true
startsecs=0
";
    let conf = write_conf_with(&dir, HEADER, progs);
    let out_path = dir.join("stdout.txt");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(bin("warden-supervisord"))
        .args(["-n", "-c"])
        .arg(&conf)
        .current_dir(&dir)
        .env("WARDEN_SYSLOG_SOCKET", "-")
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    scratch.track(pid);
    let seen = test_programs::poll_until(Duration::from_secs(15), || {
        std::fs::read_to_string(&out_path).is_ok_and(|s| s.lines().any(|l| l == "web | hello"))
    });
    test_programs::kill(pid, "TERM");
    let _ = child.wait();
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(seen, "{text}");
    // the main log is echoed there too (nodaemon)
    assert!(text.contains("spawned: 'web'"), "{text}");
}

/// `forward_signals=USR1`: a USR1 to the supervisor goes to every program.
#[test]
fn forwarded_signals_reach_the_programs() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let progs = "[program:main]\ncommand={child} --tag {tag}\nstartsecs=0\nautorestart=false\n";
    let r = Running::start(&dir, "forward_signals=USR1", progs, false);
    let pid = wait_for(Duration::from_secs(15), "main RUNNING", || {
        r.sup().running_pid("main")
    });
    test_programs::kill(r.pid, "USR1");
    // sv-child does not catch USR1: it dies of it
    wait_for(Duration::from_secs(10), "main killed by USR1", || {
        r.sup()
            .mainlog()
            .contains("exited: main (terminated by SIGUSR1; not expected)")
            .then_some(())
    });
    assert!(!test_programs::alive(pid));
    assert!(test_programs::alive(r.pid), "the supervisor lives on");
}

/// With cgroups, a restart after a `kill -9` of the supervisor also stops
/// what the previous run's programs left behind (a double-forked grandchild
/// that `pdeathsig` cannot reach): one tree, never two.
#[test]
fn a_restart_after_a_crash_stops_the_previous_trees() {
    // No silent skip: the test machines have cgroup v2; without it this
    // test fails and says so.
    assert!(
        warden_sys::cgroup::own_dir().is_some(),
        "no cgroup v2 here: this test needs it"
    );
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    // (killasgroup: the last shutdown takes the grandchild along)
    let progs = tree_program(&dir, "killasgroup=true");
    let gc_mark = format!("{}-gc", dir.display());
    let old_gc = {
        let r = Running::start(&dir, "", &progs, false);
        wait_for(Duration::from_secs(15), "tree RUNNING", || {
            r.sup().running_pid("tree")
        });
        let gc = wait_for(Duration::from_secs(15), "the grandchild", || {
            grandchild(&dir)
        });
        assert!(
            std::fs::read_to_string(dir.join("sd.state")).is_ok_and(|s| s.contains("warden.")),
            "cgroup v2 is not delegated to the supervisor here: this test needs it"
        );
        test_programs::kill(r.pid, "KILL");
        assert!(test_programs::poll_until(Duration::from_secs(3), || {
            !test_programs::alive(r.pid)
        }));
        let died =
            test_programs::poll_until(Duration::from_millis(200), || !test_programs::alive(gc));
        assert!(!died, "the grandchild {gc} outlives a kill -9");
        gc
    };
    let r = Running::start(&dir, "", &progs, false);
    wait_for(Duration::from_secs(15), "tree RUNNING again", || {
        r.sup().running_pid("tree")
    });
    assert!(
        !test_programs::alive(old_gc),
        "the previous run's grandchild {old_gc} is still there"
    );
    let new_gc = wait_for(Duration::from_secs(15), "the new grandchild", || {
        grandchild(&dir)
    });
    assert_ne!(new_gc, old_gc);
    let one = test_programs::poll_until(Duration::from_secs(2), || {
        test_programs::pids_with(&gc_mark).len() == 1
    });
    assert!(
        one,
        "grandchildren: {:?}",
        test_programs::pids_with(&gc_mark)
    );
}

/// `forward_signals=TERM`: every program gets the supervisor's SIGTERM at
/// once; the shutdown then waits for them in order as usual.
#[test]
fn a_forwarded_term_reaches_every_program_at_once() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    // zz stops first (reverse order) and ignores TERM for stopwaitsecs;
    // without forwarding, aa would get its TERM only after that.
    let progs = "
[program:aa]
command={child} --tag {tag}
startsecs=0

[program:zz]
command={child} --ignore-term --tag {tag}
startsecs=0
stopwaitsecs=5
";
    let mut r = Running::start(&dir, "forward_signals=TERM", progs, false);
    let (aa, zz) = wait_for(Duration::from_secs(15), "both RUNNING", || {
        Some((r.sup().running_pid("aa")?, r.sup().running_pid("zz")?))
    });
    // zz must be ignoring TERM already
    helper::wait_ignoring_term(zz);
    test_programs::kill(r.pid, "TERM");
    let aa_gone = test_programs::poll_until(Duration::from_secs(2), || !test_programs::alive(aa));
    assert!(aa_gone, "aa did not get the forwarded TERM");
    assert!(
        test_programs::alive(zz),
        "zz ignores TERM until its SIGKILL"
    );
    assert_eq!(r.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(!test_programs::alive(zz));
}
