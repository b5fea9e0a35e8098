//! Differential tests: the real supervisord 4.3.0 and warden on the same
//! configs, driven by the real supervisorctl.

mod helper;

use std::time::{Duration, Instant};

use helper::{both, pair, same, wait_for, Kind, Scratch, Sup};

const PROGRAMS: &str = "
[program:sleeper]
command={child} --tag {tag}
startsecs=0

[program:manual]
command={child} --tag {tag}
autostart=false
startsecs=0

[program:oneshot]
command={child} --exit 0 --tag {tag}
startsecs=0
autorestart=false

[program:crasher]
command={child} --exit 3 --tag {tag}
startsecs=1
startretries=0

[program:stubborn]
command={child} --ignore-term --tag {tag}
startsecs=0
stopwaitsecs=1

[program:missing]
command=/nonexistent/program --tag {tag}
autostart=false

[program:adir]
command=/tmp --tag {tag}
autostart=false

[group:grp]
programs=ga,gb

[program:ga]
command={child} --tag {tag}
startsecs=0

[program:gb]
command={child} --tag {tag}
startsecs=0
";

#[test]
fn supervisorctl_commands_match() {
    let scratch = Scratch::new();
    let (r, w) = pair(&scratch, PROGRAMS);
    r.settle();
    w.settle();
    let status = same(&r, &w, &["status"]);
    assert!(status.contains("FATAL"), "{status}");
    for cmd in [
        &["status", "sleeper"][..],
        &["status", "grp:*"],
        &["status", "nosuch"],
        &["start", "manual"],
        &["start", "manual"],
        &["start", "nosuch"],
        &["start", "grp"],
        &["start", "missing"],
        &["start"],
        &["stop", "manual"],
        &["stop", "manual"],
        &["stop"],
        &["restart", "sleeper"],
        &["stop", "grp:*"],
        &["stop", "grp:*"],
        &["start", "grp:*"],
        &["restart", "grp:ga"],
        &["signal", "HUP", "manual"],
        &["signal", "BOGUS", "sleeper"],
        &["signal", "USR1", "stubborn"],
        &["pid", "manual"],
        &["pid", "all"],
        &["signal", "HUP", "grp:*"],
        &["status"],
        &["stop", "stubborn"],
        &["status"],
        &["avail"],
        &["reread"],
        &["version"],
        &["stop", "all"],
        &["status"],
        &["start", "all"],
    ] {
        if cmd == ["start", "all"] {
            // "start all" also starts the crasher (startsecs=1, no retries):
            // whether supervisord calls that an abnormal termination or a
            // spawn error, and so the exit code, depends on when its 1 s
            // tick looks. Every other line is deterministic.
            let ((a, _), (b, _)) = both(&r, &w, cmd);
            let others = |t: &str| {
                let mut l: Vec<String> = t
                    .lines()
                    // oneshot exits at once: whether supervisord's tick saw
                    // it RUNNING first is a race too
                    .filter(|l| !l.starts_with("crasher") && !l.starts_with("oneshot"))
                    .map(str::to_string)
                    .collect();
                l.sort();
                l
            };
            assert_eq!(others(&a), others(&b), "{cmd:?}");
            assert!(
                a.contains("crasher: ERROR") && b.contains("crasher: ERROR"),
                "{a}\n{b}"
            );
            continue;
        }
        if cmd
            .iter()
            .any(|a| a.ends_with(":*") || *a == "all" || *a == "grp")
        {
            helper::same_unordered(&r, &w, cmd);
        } else {
            same(&r, &w, cmd);
        }
        if cmd.first() == Some(&"signal") {
            r.settle();
            w.settle();
        }
    }
    r.settle();
    w.settle();
    same(&r, &w, &["status"]);
    let (out, code) = w.ctl(&["shutdown"]);
    assert_eq!((out.trim(), code), ("Shut down", 0));
    wait_for(Duration::from_secs(15), "warden exits", || {
        (!test_programs::alive(w.pid)).then_some(())
    });
}

/// Spawn times (seconds since the first) of `name` in a main log.
fn spawn_times(log: &str, name: &str) -> Vec<f64> {
    let needle = format!("spawned: '{name}'");
    let ts: Vec<f64> = log
        .lines()
        .filter(|l| l.contains(&needle))
        .filter_map(|l| {
            let t = l.get(11..23)?; // HH:MM:SS,mmm
            let (hms, ms) = t.split_once(',')?;
            let mut it = hms.split(':').map(|x| x.parse::<f64>().unwrap_or(0.0));
            let (h, m, s) = (it.next()?, it.next()?, it.next()?);
            Some(h * 3600.0 + m * 60.0 + s + ms.parse::<f64>().ok()? / 1000.0)
        })
        .collect();
    ts.iter().map(|t| t - ts[0]).collect()
}

#[test]
fn backoff_timeline_matches() {
    let scratch = Scratch::new();
    let progs = "
[program:flap]
command={child} --exit 0 --tag {tag}
startsecs=1
startretries=3
autorestart=false
";
    let (r, w) = pair(&scratch, progs);
    for s in [&r, &w] {
        wait_for(Duration::from_secs(20), "FATAL", || {
            s.ctl(&["status", "flap"]).0.contains("FATAL").then_some(())
        });
    }
    let (rt, wt) = (
        spawn_times(&r.mainlog(), "flap"),
        spawn_times(&w.mainlog(), "flap"),
    );
    assert_eq!(rt.len(), 4, "real: {rt:?}");
    assert_eq!(wt.len(), 4, "warden: {wt:?}");
    for (i, want) in [0.0, 1.0, 3.0, 6.0].iter().enumerate() {
        // supervisord polls once a second, and a loaded machine adds to
        // that: the reference only has to be in the right second or two.
        assert!((rt[i] - want).abs() < 2.0, "real {rt:?}");
        assert!((wt[i] - want).abs() < 0.5, "warden {wt:?}");
    }
    let gave_up = "gave up: flap entered FATAL state, too many start retries too quickly";
    assert!(r.mainlog().contains(gave_up));
    assert!(w.mainlog().contains(gave_up));
    same(&r, &w, &["status"]);
}

/// Makes each raw XML-RPC call on both servers, in order, and compares the
/// answers (normalised; pids and times inside structs left out; results of
/// group and "all" calls compared as sets, since supervisord lists them in
/// completion order).
fn same_answers(r: &Sup, w: &Sup, calls: &[(&str, String)]) -> String {
    let dirs = [r.dir.as_path(), w.dir.as_path()];
    let mut seen = String::new();
    for (m, p) in calls {
        let a = helper::normalize(&r.rpc(m, p), &dirs);
        let b = helper::normalize(&w.rpc(m, p), &dirs);
        let strip = |x: &str| {
            // times and pids inside info structs differ by nature
            x.lines()
                .filter(|l| !l.contains("<int>") || l.contains("fault") || m.contains("Config"))
                .map(|l| l.replace("HTTP/1.1", "HTTP/1.0"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let (a, b) = if m.ends_with("Group") || m.contains("All") {
            (helper::sort_structs(&a), helper::sort_structs(&b))
        } else {
            (a, b)
        };
        assert_eq!(strip(&a), strip(&b), "{m}({p})");
        seen.push_str(&a);
    }
    seen
}

/// The methods `xmlrpc_faults_match` does not call, each at least once
/// (aliases included), with the faults they raise; together the two tests
/// call all 41 names of `system.listMethods`.
/// Programs whose every state is deterministic (no exit racing supervisord's
/// 1 s tick): the start/stop/signal-all results can be compared exactly.
const STEADY: &str = "
[program:sleeper]
command={child} --tag {tag}
startsecs=0

[program:manual]
command={child} --tag {tag}
autostart=false
startsecs=0

[program:missing]
command=/nonexistent/program --tag {tag}
autostart=false

[program:adir]
command=/tmp --tag {tag}
autostart=false

[group:grp]
programs=ga,gb

[program:ga]
command={child} --tag {tag}
startsecs=0

[program:gb]
command={child} --tag {tag}
startsecs=0
";

#[test]
fn every_remaining_method_answers_like_supervisord() {
    let scratch = Scratch::new();
    let (r, w) = pair(&scratch, STEADY);
    r.settle();
    w.settle();
    let s = |v: &str| format!("<param><value><string>{v}</string></value></param>\n");
    let i = |v: i32| format!("<param><value><int>{v}</int></value></param>\n");
    let b = |v: bool| {
        format!(
            "<param><value><boolean>{}</boolean></value></param>\n",
            u8::from(v)
        )
    };
    let log = |name: &str| format!("{}{}{}", s(name), i(0), i(0));
    let calls: Vec<(&str, String)> = vec![
        ("supervisor.getAllProcessInfo", String::new()),
        ("supervisor.startProcess", s("sleeper")), // ALREADY_STARTED
        ("supervisor.readProcessLog", log("nosuch")),
        ("supervisor.tailProcessLog", log("nosuch")),
        ("supervisor.readProcessStderrLog", log("nosuch")),
        ("supervisor.tailProcessStderrLog", log("nosuch")),
        ("supervisor.readProcessStderrLog", log("sleeper")),
        ("supervisor.readMainLog", format!("{}{}", i(-1), i(1))),
        ("supervisor.clearProcessLogs", s("nosuch")),
        ("supervisor.clearProcessLog", s("sleeper")),
        ("supervisor.clearAllProcessLogs", String::new()),
        ("supervisor.clearLog", String::new()),
        (
            "supervisor.signalProcessGroup",
            format!("{}{}", s("grp"), s("WINCH")),
        ),
        (
            "supervisor.signalProcessGroup",
            format!("{}{}", s("nosuch"), s("WINCH")),
        ),
        ("supervisor.signalAllProcesses", s("WINCH")),
        ("supervisor.startProcessGroup", s("grp")),
        ("supervisor.stopAllProcesses", b(true)),
        ("supervisor.startAllProcesses", b(true)),
        (
            "supervisor.sendRemoteCommEvent",
            format!("{}{}", s("type"), s("data")),
        ),
        ("supervisor.getAllProcessInfo", String::new()),
    ];
    let seen = same_answers(&r, &w, &calls);
    // What the calls were chosen to provoke, as the real supervisord answers.
    for needle in [
        "ALREADY_STARTED: sleeper",
        "BAD_NAME: nosuch",
        "BAD_ARGUMENTS",
        "NO_FILE: can't find command",
        "NOT_EXECUTABLE: command at",
    ] {
        assert!(seen.contains(needle), "no {needle} in:\n{seen}");
    }
}

#[test]
fn xmlrpc_faults_match() {
    let scratch = Scratch::new();
    let (r, w) = pair(&scratch, PROGRAMS);
    r.settle();
    w.settle();
    let s = |v: &str| format!("<param><value><string>{v}</string></value></param>\n");
    let i = |v: i32| format!("<param><value><int>{v}</int></value></param>\n");
    let calls: Vec<(&str, String)> = vec![
        ("supervisor.getAPIVersion", String::new()),
        ("supervisor.getVersion", String::new()),
        ("supervisor.getSupervisorVersion", String::new()),
        ("supervisor.getIdentification", String::new()),
        ("supervisor.getState", String::new()),
        ("supervisor.getState", i(1)),
        ("supervisor.nosuch", String::new()),
        ("a.b.c", String::new()),
        ("supervisor._update", String::new()),
        ("system.listMethods", String::new()),
        ("system.methodHelp", s("x.y")),
        ("system.methodSignature", s("supervisor.getState")),
        ("supervisor.getProcessInfo", s("nosuch")),
        ("supervisor.getProcessInfo", s("grp:*")),
        ("supervisor.startProcess", s("sleeper")),
        ("supervisor.startProcess", s("missing")),
        ("supervisor.startProcess", s("adir")),
        ("supervisor.stopProcess", s("manual")),
        ("supervisor.signalProcess", format!("{}{}", s("sleeper"), s("NOPE"))),
        ("supervisor.signalProcess", format!("{}{}", s("manual"), s("HUP"))),
        ("supervisor.readLog", format!("{}{}", i(-1), i(1))),
        ("supervisor.readProcessStdoutLog", format!("{}{}{}", s("nosuch"), i(0), i(0))),
        ("supervisor.tailProcessStdoutLog", format!("{}{}{}", s("manual"), i(0), i(10))),
        ("supervisor.removeProcessGroup", s("sleeper")),
        ("supervisor.removeProcessGroup", s("nosuch")),
        ("supervisor.addProcessGroup", s("sleeper")),
        ("supervisor.addProcessGroup", s("nosuch")),
        ("supervisor.sendProcessStdin", format!("{}{}", s("manual"), s("hi"))),
        ("supervisor.stopProcessGroup", s("grp")),
        ("supervisor.stopProcessGroup", s("grp")),
        ("supervisor.getProcessInfo", s("grp:ga")),
        ("supervisor.reloadConfig", String::new()),
        (
            "system.multicall",
            "<param><value><array><data>\n<value><struct><member><name>methodName</name><value><string>supervisor.getAPIVersion</string></value></member></struct></value>\n<value><struct><member><name>methodName</name><value><string>supervisor.getProcessInfo</string></value></member><member><name>params</name><value><array><data><value><string>zz</string></value></data></array></value></member></struct></value>\n<value><struct><member><name>methodName</name><value><string>system.multicall</string></value></member></struct></value>\n</data></array></value></param>\n".to_string(),
        ),
        ("supervisor.getAllConfigInfo", String::new()),
    ];
    let _ = same_answers(&r, &w, &calls);
    let bad = "POST /RPC2 HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello";
    assert!(w.http(bad).contains(" 400 "));
    assert!(r.http(bad).contains(" 400 "));
}

#[test]
fn reread_update_add_remove_match() {
    let scratch = Scratch::new();
    let base = "
[program:keep]
command={child} --tag {tag}
startsecs=0

[program:change]
command={child} --tag {tag}
startsecs=0

[program:drop]
command={child} --tag {tag}
startsecs=0
";
    let (r, w) = pair(&scratch, base);
    r.settle();
    w.settle();
    same(&r, &w, &["reread"]);
    let next = "
[program:keep]
command={child} --tag {tag}
startsecs=0

[program:change]
command={child} --print changed --tag {tag}
startsecs=0

[program:fresh]
command={child} --tag {tag}
startsecs=0
";
    helper::write_conf(&r.dir, next);
    helper::write_conf(&w.dir, next);
    same(&r, &w, &["reread"]);
    same(&r, &w, &["avail"]);
    same(&r, &w, &["update"]);
    r.settle();
    w.settle();
    same(&r, &w, &["status"]);
    same(&r, &w, &["remove", "fresh"]);
    same(&r, &w, &["stop", "fresh"]);
    same(&r, &w, &["remove", "fresh"]);
    same(&r, &w, &["add", "fresh"]);
    same(&r, &w, &["add", "fresh"]);
    same(&r, &w, &["add"]);
    r.settle();
    w.settle();
    same(&r, &w, &["status"]);
}

#[test]
fn logs_tail_and_clear_match() {
    let scratch = Scratch::new();
    let progs = "
[program:talker]
command={child} --print hello-out --eprint hello-err --tag {tag}
startsecs=0

[program:merged]
command={child} --print one --eprint two --tag {tag}
startsecs=0
redirect_stderr=true

[program:quiet]
command={child} --print nothing --tag {tag}
startsecs=0
stdout_logfile=NONE
";
    let (r, w) = pair(&scratch, progs);
    r.settle();
    w.settle();
    for s in [&r, &w] {
        wait_for(Duration::from_secs(10), "output logged", || {
            s.ctl(&["tail", "talker", "stderr"])
                .0
                .contains("hello-err")
                .then_some(())
        });
    }
    same(&r, &w, &["tail", "talker"]);
    let merged = same(&r, &w, &["tail", "merged"]);
    assert!(merged.contains("one") && merged.contains("two"), "{merged}");
    same(&r, &w, &["tail", "merged", "stderr"]);
    same(&r, &w, &["tail", "talker", "stderr"]);
    same(&r, &w, &["tail", "-5", "talker"]);
    same(&r, &w, &["tail", "quiet"]);
    same(&r, &w, &["tail", "nosuch"]);
    same(&r, &w, &["clear", "talker"]);
    same(&r, &w, &["tail", "talker"]);
    same(&r, &w, &["clear", "all"]);
    let (out, code) = w.ctl(&["maintail", "-2000"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("spawned: 'talker'"),
        "{out:?} {:?}",
        w.mainlog()
    );
}

#[test]
fn reload_and_hup_restart_in_place() {
    let scratch = Scratch::new();
    let progs = "
[program:auto]
command={child} --tag {tag}
startsecs=0

[program:byhand]
command={child} --tag {tag}
startsecs=0
autostart=false
";
    let (r, w) = pair(&scratch, progs);
    r.settle();
    w.settle();
    same(&r, &w, &["start", "byhand"]);
    same(&r, &w, &["reload"]);
    for s in [&r, &w] {
        wait_for(Duration::from_secs(20), "back after reload", || {
            let (o, _) = s.ctl(&["status"]);
            (o.contains("auto ") && o.contains("RUNNING") && !o.contains("STARTING")).then_some(())
        });
    }
    same(&r, &w, &["status"]);
    assert!(test_programs::alive(w.pid), "same pid after reload");
}

/// A reload serves the HTTP sections of the new config, as supervisord's
/// does: an `[inet_http_server]` moved to another port answers there and no
/// longer on the old one; the unix socket (unchanged) keeps working.
#[test]
fn reload_moves_an_inet_http_server_like_supervisord() {
    let scratch = Scratch::new();
    let answers = |port: u16| {
        use std::io::{Read, Write};
        let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = c.write_all(b"GET /RPC2 HTTP/1.0\r\n\r\n");
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        out.starts_with("HTTP/1.")
    };
    for kind in [Kind::Real, Kind::Warden] {
        let dir = scratch.join(&format!("{kind:?}"));
        let (a, b) = (helper::free_port(), helper::free_port());
        let inet = |port: u16| format!("[inet_http_server]\nport=127.0.0.1:{port}\n");
        let progs = "[program:calm]\ncommand={child} --tag {tag}\nstartsecs=0\n";
        let sup = Sup::start_with(
            kind,
            &dir,
            &format!("{}\n{}", helper::HEADER, inet(a)),
            progs,
        );
        sup.settle();
        assert!(answers(a), "{kind:?}: port {a} before the reload");
        let conf = std::fs::read_to_string(&sup.conf).unwrap();
        std::fs::write(&sup.conf, conf.replace(&inet(a), &inet(b))).unwrap();
        sup.ctl(&["reload"]);
        wait_for(Duration::from_secs(20), "the new port", || {
            answers(b).then_some(())
        });
        assert!(
            !answers(a),
            "{kind:?}: port {a} still answers after the reload"
        );
        let (status, _) = sup.ctl(&["status"]);
        assert!(status.contains("calm"), "{kind:?}: {status}");
    }
}

#[test]
fn thousand_programs_start_and_list() {
    let scratch = Scratch::new();
    let progs = "
[program:many]
command={child} --tag {tag}
process_name=%(program_name)s_%(process_num)04d
numprocs=1000
startsecs=0
";
    let t0 = Instant::now();
    let w = Sup::start(Kind::Warden, &scratch.join("w"), progs);
    wait_for(Duration::from_secs(60), "1000 RUNNING", || {
        let (o, _) = w.ctl(&["status"]);
        (o.lines().filter(|l| l.contains("RUNNING")).count() == 1000).then_some(())
    });
    let (o, code) = w.ctl(&["status"]);
    assert_eq!(o.lines().count(), 1000);
    assert_eq!(code, 0);
    eprintln!("1000 programs RUNNING and listed in {:?}", t0.elapsed());
    let (o, _) = w.ctl(&["stop", "all"]);
    assert_eq!(o.lines().filter(|l| l.ends_with(": stopped")).count(), 1000);
}

#[test]
fn exec_failure_and_sigkill_escalation_match() {
    let scratch = Scratch::new();
    for d in ["real", "warden"] {
        let dir = scratch.join(d);
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("notabinary");
        std::fs::write(&bad, b"\x7fELF garbage").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let progs = "
[program:badexec]
command=%(here)s/notabinary {tag}
startsecs=0
autorestart=false

[program:stubborn]
command={child} --ignore-term --tag {tag}
startsecs=0
stopwaitsecs=1

[program:family]
command={child} --grandchild --tag {tag}
startsecs=0
stopasgroup=true
";
    let (r, w) = pair(&scratch, progs);
    r.settle();
    w.settle();
    same(&r, &w, &["status", "badexec"]);
    let err = same(&r, &w, &["tail", "badexec", "stderr"]);
    assert!(
        err.contains("supervisor: couldn't exec DIR/notabinary: ENOEXEC"),
        "{err}"
    );
    let t0 = Instant::now();
    same(&r, &w, &["stop", "stubborn"]);
    assert!(t0.elapsed() >= Duration::from_millis(900));
    for s in [&r, &w] {
        let log = s.mainlog();
        assert!(log.contains("killing 'stubborn' ("), "{:?}: {log}", s.kind);
        assert!(log.contains("stopped: stubborn (terminated by SIGKILL)"));
    }
    // stopasgroup: the grandchild goes with its parent
    let marker = w.dir.to_string_lossy().into_owned();
    wait_for(Duration::from_secs(20), "grandchild started", || {
        test_programs::pids_with("sleep 1000")
            .into_iter()
            .find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/environ")).is_ok_and(|e| {
                    e.contains(&marker) || e.contains("SUPERVISOR_PROCESS_NAME=family")
                })
            })
    });
    same(&r, &w, &["stop", "family"]);
    for s in [&r, &w] {
        let pids: Vec<i32> = test_programs::pids_with("sleep 1000")
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/environ")).is_ok_and(|e| {
                    e.contains(&format!("SUPERVISOR_SERVER_URL=unix://{}", s.dir.display()))
                })
            })
            .collect();
        assert!(pids.is_empty(), "{:?} left a grandchild: {pids:?}", s.kind);
    }
}

#[test]
fn logtail_streams_follow() {
    let scratch = Scratch::new();
    let progs = "
[program:ticker]
command={child} --tick 100 --tag {tag}
startsecs=0
";
    let (r, w) = pair(&scratch, progs);
    for s in [&r, &w] {
        let nf = s.http("GET /logtail/nosuch HTTP/1.0\r\n\r\n");
        assert!(nf.starts_with("HTTP/1.") && nf.contains(" 404 "), "{nf}");
    }
    {
        let s = &w;
        let mut sock = std::os::unix::net::UnixStream::connect(s.dir.join("sock")).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        use std::io::{Read, Write};
        sock.write_all(b"GET /logtail/ticker HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let n = sock.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&got).matches("tick").count() >= 5 {
                break;
            }
        }
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1."), "{:?}: {text}", s.kind);
        assert!(text.matches("tick").count() >= 5, "{:?}: {text}", s.kind);
    }
    // the follower hung up above: more output must not hurt the daemon (EPIPE, not SIGPIPE)
    let log = w.ctl(&["status", "ticker"]).0;
    assert!(log.contains("RUNNING"), "{log}");
    let tick_log = std::fs::read_dir(&w.dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("ticker-stdout---"))
        .expect("ticker log");
    let len = || std::fs::metadata(&tick_log).map_or(0, |m| m.len());
    let start = len();
    wait_for(
        Duration::from_secs(10),
        "ticker writes after the hang-up",
        || (len() > start + 20).then_some(()),
    );
    let (out, code) = w.ctl(&["maintail"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("spawned: 'ticker'"));
    assert!(test_programs::alive(w.pid));
}

#[test]
fn inet_server_with_sha_auth_matches() {
    let scratch = Scratch::new();
    let (pr, pw) = (helper::free_port(), helper::free_port());
    let progs = |port: u16| {
        format!(
            "
[inet_http_server]
port=127.0.0.1:{port}
username=user
password={{SHA}}a94a8fe5ccb19ba61c4c0873d391e987982fbbd3

[program:web]
command={{child}} --tag {{tag}}
startsecs=0
"
        )
    };
    let rd = scratch.join("real");
    let pr_conf = progs(pr);
    let t = std::thread::spawn(move || Sup::start(Kind::Real, &rd, &pr_conf));
    let w = Sup::start(Kind::Warden, &scratch.join("warden"), &progs(pw));
    let r = t.join().unwrap();
    r.settle();
    w.settle();
    let dirs = [r.dir.as_path(), w.dir.as_path()];
    for (user, pass) in [("user", "test"), ("user", "wrong")] {
        let run = |s: &Sup, port: u16| {
            let url = format!("http://127.0.0.1:{port}");
            let (o, c) = s.ctl(&["-s", &url, "-u", user, "-p", pass, "status"]);
            (helper::normalize(&o, &dirs), c)
        };
        assert_eq!(run(&r, pr), run(&w, pw), "{user}:{pass}");
    }
}

#[test]
fn daemon_signals_hup_and_usr2() {
    let scratch = Scratch::new();
    let progs = "
[program:auto]
command={child} --tag {tag}
startsecs=0
";
    let w = Sup::start(Kind::Warden, &scratch.join("w"), progs);
    w.settle();
    let before = w.ctl(&["pid", "auto"]).0;
    test_programs::kill(w.pid, "HUP");
    wait_for(Duration::from_secs(15), "restarted", || {
        let o = w.ctl(&["pid", "auto"]).0;
        (o != before && o.trim() != "0" && !o.trim().is_empty()).then_some(())
    });
    assert!(test_programs::alive(w.pid));
    assert!(w
        .mainlog()
        .contains("received SIGHUP indicating restart request"));
    std::fs::rename(w.dir.join("main.log"), w.dir.join("main.log.old")).unwrap();
    test_programs::kill(w.pid, "USR2");
    wait_for(Duration::from_secs(10), "log reopened", || {
        w.dir.join("main.log").exists().then_some(())
    });
    let old = std::fs::read_to_string(w.dir.join("main.log.old")).unwrap();
    assert!(old.contains("received SIGUSR2 indicating log reopen request"));
    test_programs::kill(w.pid, "TERM");
    wait_for(Duration::from_secs(15), "exit on TERM", || {
        (!test_programs::alive(w.pid)).then_some(())
    });
    let log = std::fs::read_to_string(w.dir.join("main.log")).unwrap();
    assert!(log.contains("received SIGTERM indicating exit request"));
    assert!(log.contains("stopped: auto (terminated by SIGTERM)"));
}

#[test]
fn flooding_child_does_not_stall_the_engine() {
    let scratch = Scratch::new();
    let progs = "
[program:flood]
command={child} --flood 100000000 --exit 0 --tag {tag}
startsecs=0
autorestart=false
stdout_logfile=%(here)s/flood.log
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=2

[program:calm]
command={child} --tag {tag}
startsecs=0
";
    let w = Sup::start(Kind::Warden, &scratch.join("w"), progs);
    let t0 = Instant::now();
    let (o, _) = w.ctl(&["status", "calm"]);
    assert!(o.contains("RUNNING"), "{o}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    wait_for(Duration::from_secs(60), "flood done", || {
        w.ctl(&["status", "flood"])
            .0
            .contains("EXITED")
            .then_some(())
    });
    assert!(w.dir.join("flood.log.1").exists());
    assert!(w.dir.join("flood.log.2").exists());
    assert!(!w.dir.join("flood.log.3").exists());
}

#[test]
fn config_errors_exit_2_in_both() {
    let scratch = Scratch::new();
    for kind in [Kind::Real, Kind::Warden] {
        let dir = scratch.join(&format!("{kind:?}"));
        let conf = helper::write_conf(
            &dir,
            "[program:bad]\ncommand={child} --tag {tag}\nstartsecs=notanumber\n",
        );
        let exe = match kind {
            Kind::Real => helper::supervisor_bin().join("supervisord"),
            Kind::Warden => helper::bin("warden-supervisord"),
        };
        let out = std::process::Command::new(exe)
            .arg("-c")
            .arg(&conf)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{kind:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("startsecs") || err.contains("notanumber"),
            "{kind:?}: {err}"
        );
        assert!(!dir.join("sd.pid").exists());
    }
    let conf = helper::write_conf(&scratch.join("ok"), PROGRAMS);
    let out = std::process::Command::new(helper::bin("warden-supervisord"))
        .args(["--check-config", "-c"])
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("grp:ga") && text.contains("sleeper:sleeper"),
        "{text}"
    );
}

#[test]
fn child_environment_user_directory_umask_match() {
    let scratch = Scratch::new();
    let progs = "
[supervisord]
environment=GLOBAL=g1,SHARED=from-supervisord

[program:envy]
command=/bin/sh -c 'echo $SUPERVISOR_ENABLED $SUPERVISOR_PROCESS_NAME $SUPERVISOR_GROUP_NAME $SUPERVISOR_SERVER_URL $GLOBAL $SHARED $OWN; pwd; umask; id -u; exec {child} --tag {tag}'
environment=OWN=mine,SHARED=from-program
directory=/tmp
umask=027
user=nobody
startsecs=0

[group:pack]
programs=envy
";
    let (r, w) = pair(&scratch, progs);
    r.settle();
    w.settle();
    for s in [&r, &w] {
        wait_for(Duration::from_secs(10), "env printed", || {
            let o = s.ctl(&["tail", "pack:envy"]).0;
            (o.lines().count() >= 4).then_some(())
        });
    }
    let out = same(&r, &w, &["tail", "pack:envy"]);
    assert!(
        out.contains("1 envy pack unix://DIR/sock g1 from-program mine"),
        "{out}"
    );
    assert!(out.contains("/tmp\nN\nN"), "{out}");
    let raw = w.ctl(&["tail", "pack:envy"]).0;
    assert!(raw.contains("/tmp\n0027\n65534\n"), "{raw}");
    same(&r, &w, &["status"]);
}

#[test]
fn start_while_stopping_and_stop_while_stopping_match() {
    let scratch = Scratch::new();
    let progs = "
[program:stubborn]
command={child} --ignore-term --tag {tag}
startsecs=0
stopwaitsecs=3
";
    let (r, w) = pair(&scratch, progs);
    r.settle();
    w.settle();
    let s = |v: &str| format!("<param><value><string>{v}</string></value></param>\n");
    let no_wait = "<param><value><boolean>0</boolean></value></param>\n";
    let dirs = [r.dir.as_path(), w.dir.as_path()];
    for (m, p) in [
        (
            "supervisor.stopProcess",
            format!("{}{no_wait}", s("stubborn")),
        ),
        ("supervisor.stopProcess", s("stubborn")),
        ("supervisor.startProcess", s("stubborn")),
    ] {
        let a = helper::normalize(&r.rpc(m, &p), &dirs);
        let b = helper::normalize(&w.rpc(m, &p), &dirs);
        assert_eq!(a.replace("HTTP/1.1", "HTTP/1.0"), b, "{m}({p})");
    }
    r.settle();
    w.settle();
    same(&r, &w, &["status"]);
}

#[test]
fn a_waiting_call_does_not_block_other_requests() {
    let scratch = Scratch::new();
    let progs = "
[program:stubborn]
command={child} --ignore-term --tag {tag}
startsecs=0
stopwaitsecs=4
";
    let w = Sup::start(Kind::Warden, &scratch.join("w"), progs);
    w.settle();
    std::thread::scope(|s| {
        let t0 = Instant::now();
        let stopper = s.spawn(|| w.ctl(&["stop", "stubborn"]));
        wait_for(Duration::from_secs(5), "STOPPING seen", || {
            w.ctl(&["status", "stubborn"])
                .0
                .contains("STOPPING")
                .then_some(())
        });
        assert!(t0.elapsed() < Duration::from_secs(3), "status was blocked");
        let (out, code) = stopper.join().unwrap();
        assert_eq!((out.trim(), code), ("stubborn: stopped", 0));
        assert!(t0.elapsed() >= Duration::from_millis(3500));
    });
    // supervisord's stop report: repeated while the stop takes long
    let reports = w.mainlog().matches("waiting for stubborn to stop").count();
    assert!(reports >= 2, "{}", w.mainlog());
}

#[test]
fn without_rpcinterface_section_supervisorctl_says_so() {
    let scratch = Scratch::new();
    let mut outs = Vec::new();
    for kind in [Kind::Real, Kind::Warden] {
        let dir = scratch.join(&format!("{kind:?}"));
        let conf = helper::write_conf(&dir, "[program:a]\ncommand={child} --tag {tag}\n");
        let text = std::fs::read_to_string(&conf).unwrap().replace(
            "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            "",
        );
        std::fs::write(&conf, text).unwrap();
        let exe = match kind {
            Kind::Real => helper::supervisor_bin().join("supervisord"),
            Kind::Warden => helper::bin("warden-supervisord"),
        };
        assert!(std::process::Command::new(exe)
            .arg("-c")
            .arg(&conf)
            .status()
            .unwrap()
            .success());
        let sup = Sup {
            kind,
            dir: dir.clone(),
            conf: conf.clone(),
            pid: wait_for(Duration::from_secs(15), "pidfile", || {
                test_programs::read_pid(&dir.join("sd.pid"))
            }),
        };
        wait_for(Duration::from_secs(15), "socket", || {
            dir.join("sock").exists().then_some(())
        });
        let (o, c) = sup.ctl(&["status"]);
        outs.push((helper::normalize(&o, &[&dir]), c));
    }
    assert_eq!(outs[0], outs[1]);
    assert!(
        outs[1].0.contains("[rpcinterface:supervisor]"),
        "{:?}",
        outs[1]
    );
}

#[test]
fn main_log_lines_match() {
    let scratch = Scratch::new();
    let progs = "
[program:once]
command={child} --after 1500 --exit 1 --tag {tag}
startsecs=1
autorestart=false

[program:calm]
command={child} --tag {tag}
startsecs=0
";
    let (r, w) = pair(&scratch, progs);
    for s in [&r, &w] {
        wait_for(Duration::from_secs(15), "once EXITED", || {
            s.ctl(&["status", "once"])
                .0
                .contains("EXITED")
                .then_some(())
        });
        test_programs::kill(s.pid, "TERM");
        wait_for(Duration::from_secs(15), "daemon exits", || {
            (!test_programs::alive(s.pid)).then_some(())
        });
    }
    let dirs = [r.dir.as_path(), w.dir.as_path()];
    let lines = |s: &Sup| -> Vec<String> {
        let mut v: Vec<String> = s
            .mainlog()
            .lines()
            .filter(|l| !l.contains(" DEBG "))
            .map(|l| helper::normalize(l.get(24..).unwrap_or(""), &dirs))
            .collect();
        v.sort();
        v
    };
    assert_eq!(lines(&r), lines(&w));
    assert!(lines(&w).contains(&"WARN exited: once (exit status 1; not expected)".to_string()));
}

#[test]
fn shutdown_state_and_cant_reread_faults_match() {
    let scratch = Scratch::new();
    let progs = "
[program:stubborn]
command={child} --ignore-term --tag {tag}
startsecs=0
stopwaitsecs=3
";
    let (r, w) = pair(&scratch, progs);
    r.settle();
    w.settle();
    let code = |x: &str| {
        x.split("<name>faultCode</name>")
            .nth(1)
            .and_then(|t| t.split("<int>").nth(1))
            .and_then(|t| t.split('<').next())
            .map(str::to_string)
    };
    // a broken config: reloadConfig gives CANT_REREAD (92), nothing changes
    for sup in [&r, &w] {
        let conf = std::fs::read_to_string(&sup.conf).unwrap();
        std::fs::write(&sup.conf, format!("{conf}\n[program:bad]\nstartsecs=x\n")).unwrap();
        let out = sup.rpc("supervisor.reloadConfig", "");
        assert_eq!(code(&out).as_deref(), Some("92"), "{:?}: {out}", sup.kind);
        std::fs::write(&sup.conf, conf).unwrap();
    }
    // while stopping for shutdown, supervisor.* answers SHUTDOWN_STATE (6)
    for sup in [&r, &w] {
        assert!(sup
            .rpc("supervisor.shutdown", "")
            .contains("<boolean>1</boolean>"));
    }
    let dirs = [r.dir.as_path(), w.dir.as_path()];
    for (m, p) in [
        ("supervisor.getState", String::new()),
        ("supervisor.getPID", String::new()),
        ("system.listMethods", String::new()),
    ] {
        let a = helper::normalize(&r.rpc(m, &p), &dirs).replace("HTTP/1.1", "HTTP/1.0");
        let b = helper::normalize(&w.rpc(m, &p), &dirs);
        assert_eq!(a, b, "{m}");
    }
    assert_eq!(
        code(&w.rpc("supervisor.getState", "")).as_deref(),
        Some("6")
    );
}

#[test]
fn dev_stdout_logging_in_the_foreground_is_never_deleted() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let conf = helper::write_conf(
        &dir,
        "[program:loud]\ncommand={child} --print to-the-terminal --tag {tag}\nstartsecs=0\nstdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n",
    );
    let out = std::fs::File::create(dir.join("fg.out")).unwrap();
    let mut child = std::process::Command::new(helper::bin("warden-supervisord"))
        .args(["-n", "-c"])
        .arg(&conf)
        .stdout(out)
        .spawn()
        .unwrap();
    scratch.track(i32::try_from(child.id()).unwrap());
    let sup = Sup {
        kind: Kind::Warden,
        dir: dir.clone(),
        conf,
        pid: i32::try_from(child.id()).unwrap(),
    };
    wait_for(
        Duration::from_secs(15),
        "child output on our stdout",
        || {
            std::fs::read_to_string(dir.join("fg.out"))
                .ok()
                .filter(|s| s.contains("to-the-terminal") && s.contains("spawned: 'loud'"))
        },
    );
    let (o, c) = sup.ctl(&["clear", "loud"]);
    assert_eq!((o.trim(), c), ("loud: cleared", 0));
    assert!(std::path::Path::new("/dev/stdout").exists());
    drop(sup); // SIGTERM
    let status = wait_for(Duration::from_secs(15), "foreground daemon exits", || {
        child.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
}

/// `minfds` above what the environment allows: both refuse to start, with
/// supervisord's message (quirk included) and a usage exit (2). Run
/// unprivileged, since root may raise the hard limit.
#[test]
fn minfds_beyond_the_limit_is_refused_like_supervisord() {
    let scratch = Scratch::new();
    let dir = scratch.path();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let conf = dir.join("min.conf");
    std::fs::write(
        &conf,
        format!(
            "[supervisord]\nnodaemon=true\nlogfile={d}/m.log\npidfile={d}/p.pid\nminfds=10000000\n\
             [unix_http_server]\nfile={d}/s.sock\n[rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = |exe: std::path::PathBuf| {
        let mut c = if warden_sys::process::geteuid() == 0 {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        };
        let o = c.arg("-c").arg(&conf).current_dir("/").output().unwrap();
        let text = String::from_utf8_lossy(&o.stderr).into_owned();
        // The usage line names the program.
        let first = text.lines().next().unwrap_or_default().to_string();
        (first, o.status.code())
    };
    let real = run(helper::supervisor_bin().join("supervisord"));
    let ours = run(test_programs::bin("warden-supervisord"));
    assert_eq!(real.1, Some(2));
    assert!(
        real.0.contains("minimum number of file descriptors"),
        "{real:?}"
    );
    assert_eq!(ours, real);
}

/// warden's own `update` (not supervisord's): only the program whose
/// command changed restarts; the others of its group keep their pids; a
/// program new in the group is just added. supervisorctl's `update`
/// against warden keeps supervisord's whole-group behaviour (tested above).
#[test]
fn warden_ctl_update_restarts_only_the_changed_program() {
    let scratch = Scratch::new();
    let trio = |b: &str, d: bool| {
        let mut s = format!(
            "[group:trio]\nprograms=a,b,c{}\n",
            if d { ",d" } else { "" }
        );
        for (n, extra) in [("a", ""), ("b", b), ("c", "")] {
            s.push_str(&format!(
                "\n[program:{n}]\ncommand={{child}} --tag {{tag}} {extra}\nstartsecs=0\n"
            ));
        }
        if d {
            s.push_str("\n[program:d]\ncommand={child} --tag {tag}\nstartsecs=0\n");
        }
        s
    };
    let w = Sup::start(Kind::Warden, &scratch.join("w"), &trio("", false));
    w.settle();
    let pid = |n: &str| {
        wait_for(Duration::from_secs(10), n, || {
            w.running_pid(&format!("trio:{n}"))
        })
    };
    let before: Vec<i32> = ["a", "b", "c"].iter().map(|n| pid(n)).collect();
    helper::write_conf(&w.dir, &trio("--print changed", true));
    let update = || {
        let out = std::process::Command::new(test_programs::bin("warden"))
            .args(["ctl", "-c"])
            .arg(&w.conf)
            .arg("update")
            .output()
            .expect("warden ctl update");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}{err}");
        text
    };
    assert_eq!(
        update(),
        "trio:b: restarted\ntrio:d: added\ntrio: updated process group\n"
    );
    let after: Vec<i32> = ["a", "b", "c"].iter().map(|n| pid(n)).collect();
    assert_eq!(
        (after[0], after[2]),
        (before[0], before[2]),
        "a and c untouched"
    );
    assert_ne!(after[1], before[1], "b restarted");
    assert!(pid("d") > 0, "d added and running");
    assert!(
        test_programs::poll_until(Duration::from_secs(10), || {
            std::fs::read_to_string(w.dir.join("main.log"))
                .unwrap_or_default()
                .contains("stopped: b (terminated by SIGTERM)")
        }),
        "{}",
        w.mainlog()
    );
    // Nothing changed: nothing to say, nothing restarted.
    assert_eq!(update(), "");
    assert_eq!(pid("b"), after[1]);
}
