//! Integration tests of `warden-ctl`: differential against the real
//! supervisorctl 4.3.0, on servers started per test (see `support::SERVERS`).
//! Every wait is a poll with a deadline; every server is stopped by pid on drop.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::*;
use test_programs::Scratch;

/// The standard config: a running program with output, a program that
/// exits too quickly, a two-process group, and an echoing program for `fg`.
fn standard_config() -> String {
    let mut c = config_head("");
    c += &program("sleep", "--out hello --err oops", "");
    c += &program(
        "quick",
        "--exit 3",
        "autostart=false\nstartsecs=10\nstartretries=0\nautorestart=false",
    );
    c += "[group:web]\nprograms=a,b\n";
    c += &program("a", "", "");
    c += &program("b", "", "autostart=false");
    c
}

fn start_standard(start: StartServer) -> Server {
    let s = start(Scratch::new(), &standard_config());
    wait_state(&s, "sleep", "RUNNING");
    wait_state(&s, "web:a", "RUNNING");
    s
}

/// Both clients against the same server: for read-only commands.
fn same(server: &Server, args: &[&str]) {
    let w = run(&warden_ctl(), &server.conf, args);
    let p = run(&supervisorctl(), &server.conf, args);
    let d = [server.dir()];
    assert_eq!(
        (normalize(&w.stdout, &d), normalize(&w.stderr, &d), w.code),
        (normalize(&p.stdout, &d), normalize(&p.stderr, &d), p.code),
        "`{}` against {} (left: warden-ctl, right: supervisorctl)",
        args.join(" "),
        server.kind
    );
}

/// warden-ctl against `a`, supervisorctl against its twin `b`: for commands
/// that change state. `sorted` compares lines as sets, for results that
/// supervisord returns in completion order.
fn twins(a: &Server, b: &Server, args: &[&str], sorted: bool) {
    let w = run(&warden_ctl(), &a.conf, args);
    let p = run(&supervisorctl(), &b.conf, args);
    // Against warden, warden-ctl's update restarts only the processes that
    // changed and says so, one line each, where supervisorctl stops whole
    // groups: compare the group lines (and check the rest in `status`).
    let minimal = args.first() == Some(&"update") && a.kind == "warden supervise";
    let norm = |s: &str, d: &std::path::Path| {
        let mut n = normalize(s, &[d]);
        if minimal {
            n = n
                .lines()
                .filter(|l| l.starts_with("ERROR") || l.ends_with("process group"))
                .map(|l| format!("{l}\n"))
                .collect();
        }
        if sorted {
            let mut l: Vec<&str> = n.lines().collect();
            l.sort_unstable();
            l.join("\n")
        } else {
            n
        }
    };
    assert_eq!(
        (norm(&w.stdout, a.dir()), norm(&w.stderr, a.dir()), w.code),
        (norm(&p.stdout, b.dir()), norm(&p.stderr, b.dir()), p.code),
        "`{}` against {} (left: warden-ctl, right: supervisorctl)",
        args.join(" "),
        a.kind
    );
}

#[test]
fn read_only_commands_match() {
    for (_, start) in SERVERS {
        let s = start_standard(*start);
        let cases: &[&[&str]] = &[
            &["status"],
            &["status", "all"],
            &["status", "web:*"],
            &["status", "web:a", "sleep"],
            &["status", "nope", "web:zz", "nogroup:"],
            &["pid"],
            &["pid", "all"],
            &["pid", "sleep"],
            &["pid", "quick"],
            &["pid", "nope"],
            &["avail"],
            &["avail", "x"],
            &["version"],
            &["version", "x"],
            &["help"],
            &["help", "help"],
            &["help", "status"],
            &["help", "tail"],
            &["help", "maintail"],
            &["help", "nope"],
            &["tail", "sleep"],
            &["tail", "-3", "sleep"],
            &["tail", "sleep", "stderr"],
            &["tail", "sleep", "STDERR"],
            &["tail", "nope"],
            &["tail"],
            &["tail", "a", "b", "c", "d"],
            &["tail", "-x", "sleep"],
            &["tail", "sleep", "bogus"],
            &["tail", "-5"],
            &["maintail", "x"],
            &["maintail", "-x"],
            &["maintail", "-1", "-2"],
            &["nope"],
            &["start"],
            &["stop"],
            &["restart"],
            &["signal"],
            &["signal", "HUP"],
            &["clear"],
            &["fg"],
            &["fg", "a", "b"],
            &["fg", "quick"],
            &["fg", "nope"],
            &["reread", "x"],
            &["shutdown", "x"],
            &["reload", "x"],
            &["open", "ftp://x"],
            &["start", "nope"],
            &["start", "nogroup:*"],
            &["start", "web"],
            &["start", "sleep"],
            &["stop", "nope", "nogroup:"],
            &["stop", "quick"],
            &["stop", "web:b"],
            &["signal", "HUP", "quick"],
            &["signal", "HUP", "nope", "nogroup:*"],
            &["signal", "BOGUS", "sleep"],
            &["add"],
            &["remove"],
            &["add", "nope"],
            &["add", "sleep"],
            &["remove", "nope"],
            &["remove", "sleep"],
            &["clear", "nope"],
            &["update", "nope"],
            &["status sleep"],
            &["?status"],
            &["maintail", "-300"],
            &["-i", "status", "sleep"],
        ];
        for args in cases {
            same(&s, args);
        }
        // The shell without a terminal: prompts, then each command.
        let input = "pid sleep\nbogus\nhelp quit\n\nstatus web:*\nEOF\nstatus\n";
        for (args, input) in [
            (&[][..], input),
            (&["-i"][..], "avail\n"),
            (&[][..], "quit\n"),
        ] {
            let w = run_input(&warden_ctl(), &s.conf, args, input);
            let p = run_input(&supervisorctl(), &s.conf, args, input);
            let d = [s.dir()];
            assert_eq!(
                (normalize(&w.stdout, &d), normalize(&w.stderr, &d), w.code),
                (normalize(&p.stdout, &d), normalize(&p.stderr, &d), p.code),
                "shell with input {input:?}"
            );
        }
    }
}

#[test]
fn option_and_connection_errors_match() {
    let scratch = Scratch::new();
    let conf = scratch.join("c.conf");
    std::fs::write(
        &conf,
        format!(
            "[supervisorctl]\nserverurl=unix://{}/missing.sock\n",
            scratch.path().display()
        ),
    )
    .unwrap();
    let noctl = scratch.join("noctl.conf");
    std::fs::write(&noctl, "[supervisord]\n").unwrap();
    let refused = scratch.join("refused.conf");
    std::fs::write(&refused, "[supervisorctl]\nserverurl=http://127.0.0.1:1\n").unwrap();
    let cases: Vec<(&std::path::Path, Vec<&str>)> = vec![
        (&conf, vec!["status"]),
        (&conf, vec!["version"]),
        (&conf, vec!["pid"]),
        (&conf, vec!["start", "x"]),
        (&conf, vec!["avail"]),
        (&conf, vec!["reread"]),
        (&conf, vec!["shutdown"]),
        (&conf, vec!["-x", "status"]),
        (&conf, vec!["-s", "foo", "status"]),
        (&conf, vec!["-s"]),
        (&conf, vec!["--serverurl"]),
        (&conf, vec!["--help=x"]),
        (&conf, vec!["-s", "unix:///nonexistent/x.sock", "status"]),
        (&conf, vec!["-s", "unix:///a", "-s", "unix:///b", "status"]),
        (&noctl, vec!["status"]),
        (&refused, vec!["status"]),
        (&refused, vec!["version"]),
        (&refused, vec!["shutdown"]),
    ];
    for (c, args) in cases {
        let w = run(&warden_ctl(), c, &args);
        let p = run(&supervisorctl(), c, &args);
        let d = [scratch.path()];
        assert_eq!(
            (normalize(&w.stdout, &d), normalize(&w.stderr, &d), w.code),
            (normalize(&p.stdout, &d), normalize(&p.stderr, &d), p.code),
            "{args:?} with {}",
            c.display()
        );
    }
    // -h: supervisorctl's text, then warden's additions (exit codes, --json, wait).
    let w = run(&warden_ctl(), &conf, &["-h"]);
    let p = run(&supervisorctl(), &conf, &["-h"]);
    let d = [scratch.path()];
    assert_eq!((w.code, p.code), (0, 0));
    assert!(normalize(&w.stdout, &d).starts_with(&normalize(&p.stdout, &d)));
    assert!(w.stdout.contains("status: 0 all listed processes running"));
    // A missing -c file.
    let missing = scratch.join("missing.conf");
    let w = run(&warden_ctl(), &missing, &["status"]);
    let p = run(&supervisorctl(), &missing, &["status"]);
    let d = [scratch.path()];
    assert_eq!(normalize(&w.stderr, &d), normalize(&p.stderr, &d));
    assert_eq!(w.code, p.code);
}

#[test]
fn state_changing_commands_match() {
    for (_, start) in SERVERS {
        let a = start_standard(*start);
        let b = start_standard(*start);
        let steps: &[(&[&str], bool)] = &[
            (&["stop", "sleep"], false),
            (&["stop", "sleep"], false),
            (&["status"], false),
            (&["start", "sleep"], false),
            (&["start", "sleep"], false),
            (&["restart", "sleep"], false),
            (&["signal", "USR1", "web:b"], false),
            (&["start", "web:*"], true),
            (&["signal", "HUP", "web:*"], true),
            (&["stop", "web:*"], true),
            (&["stop", "web:*"], true),
            (&["start", "quick"], false),
            (&["status"], false),
            (&["start", "web:a", "web:b"], false),
            (&["signal", "TERM", "all"], true),
            (&["stop", "all"], true),
            (&["start", "all"], true),
            (&["clear", "sleep", "web:a"], false),
            (&["clear", "all"], true),
            (&["restart", "all"], true),
            (&["reread"], false),
            (&["update"], false),
            (&["stop", "web:*"], true),
            (&["remove", "web"], false),
            (&["remove", "web"], false),
            (&["avail"], false),
            (&["add", "web"], false),
            (&["add", "web"], false),
            (&["status"], false),
        ];
        for (args, sorted) in steps {
            twins(&a, &b, args, *sorted);
            settle(&a);
            settle(&b);
        }
        // Change the config: a new group, a changed one and a removed one.
        let mut c = standard_config().replace("--out hello", "--out changed");
        c = c.replace("[group:web]\nprograms=a,b\n", "");
        c = c.replace("[program:a]", "[program:web_a]");
        c += &program("extra", "", "");
        for s in [&a, &b] {
            std::fs::write(&s.conf, &c).unwrap();
        }
        for (args, sorted) in [
            (&["reread"][..], false),
            (&["update", "nope"][..], false),
            (&["update", "sleep"][..], false),
            (&["update", "all"][..], false),
            (&["reread"][..], false),
            (&["status"][..], false),
            (&["shutdown"][..], false),
        ] {
            twins(&a, &b, args, sorted);
            for s in [&a, &b] {
                if args == ["shutdown"] {
                    wait_gone(s);
                } else {
                    settle(s);
                }
            }
        }
    }
}

fn wait_gone(s: &Server) {
    test_programs::wait_for(Duration::from_secs(20), "the server to exit", || {
        (run(&warden_ctl(), &s.conf, &["status"]).code == 4).then_some(())
    });
}

#[test]
fn reload_matches() {
    for (_, start) in SERVERS {
        let a = start_standard(*start);
        let b = start_standard(*start);
        twins(&a, &b, &["reload"], false);
        for s in [&a, &b] {
            wait_state(s, "sleep", "RUNNING");
            settle(s);
        }
        twins(&a, &b, &["status"], false);
    }
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", out.stdout))
}

#[test]
fn json_matches_text() {
    // Two calls, two instants: an uptime may tick between them.
    let uptime = regex::Regex::new(r"uptime \d+:\d\d:\d\d").unwrap();
    for (_, start) in SERVERS {
        let s = start_standard(*start);
        let text = run(&warden_ctl(), &s.conf, &["status"]);
        let j = run(&warden_ctl(), &s.conf, &["--json", "status"]);
        assert_eq!(text.code, j.code);
        let arr = json(&j);
        let arr = arr.as_array().unwrap();
        let lines: Vec<&str> = text.stdout.lines().collect();
        assert_eq!(arr.len(), lines.len());
        for (o, l) in arr.iter().zip(&lines) {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(o["namespec"], f[0]);
            assert_eq!(o["statename"], f[1]);
            let desc = o["description"].as_str().unwrap();
            let (l, desc) = (
                uptime.replace(l, "uptime U"),
                uptime.replace(desc, "uptime U"),
            );
            assert!(l.ends_with(&*desc), "{l:?} should end with {desc:?}");
        }
        // The flag also works after the command.
        let j2 = run(&warden_ctl(), &s.conf, &["status", "web:*", "--json"]);
        assert_eq!(json(&j2).as_array().unwrap().len(), 2);

        let pid_text = run(&warden_ctl(), &s.conf, &["pid", "sleep"]);
        let pid_json = json(&run(&warden_ctl(), &s.conf, &["pid", "sleep", "--json"]));
        assert_eq!(pid_json[0]["pid"].to_string(), pid_text.stdout.trim());
        let sd = json(&run(&warden_ctl(), &s.conf, &["--json", "pid"]));
        let sd_text = run(&warden_ctl(), &s.conf, &["pid"]);
        assert_eq!(sd["supervisord"].to_string(), sd_text.stdout.trim());
        let all = run(&warden_ctl(), &s.conf, &["--json", "pid", "all"]);
        let all_text = run(&warden_ctl(), &s.conf, &["pid", "all"]);
        let pids: Vec<String> = json(&all)
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["pid"].to_string())
            .collect();
        assert_eq!(pids, all_text.stdout.lines().collect::<Vec<_>>());

        let avail = json(&run(&warden_ctl(), &s.conf, &["avail", "--json"]));
        let avail_text = run(&warden_ctl(), &s.conf, &["avail"]);
        let names: Vec<&str> = avail
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["namespec"].as_str().unwrap())
            .collect();
        let text_names: Vec<&str> = avail_text
            .stdout
            .lines()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(names, text_names);

        let rr = json(&run(&warden_ctl(), &s.conf, &["reread", "--json"]));
        assert_eq!(
            rr,
            serde_json::json!({"added": [], "changed": [], "removed": []})
        );

        let t = json(&run(&warden_ctl(), &s.conf, &["tail", "sleep", "--json"]));
        let t_text = run(&warden_ctl(), &s.conf, &["tail", "sleep"]);
        assert_eq!(
            t["data"].as_str().unwrap().to_string() + "\n",
            t_text.stdout
        );
        assert_eq!(t["channel"], "stdout");
        assert_eq!(t["offset"], t["data"].as_str().unwrap().len());
        let te = json(&run(
            &warden_ctl(),
            &s.conf,
            &["tail", "sleep", "stderr", "--json"],
        ));
        assert_eq!(te["data"], "oops\n");
    }
}

#[test]
fn wait_for_running_and_timeout() {
    for (_, start) in SERVERS {
        let mut c = config_head("");
        c += &program("slow", "", "autostart=false\nstartsecs=1");
        c += &program("idle", "", "autostart=false");
        let s = start(Scratch::new(), &c);
        // Start `slow` in the background (start blocks for startsecs).
        let mut starter = Command::new(warden_ctl())
            .arg("-c")
            .arg(&s.conf)
            .args(["start", "slow"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        s.scratch.track(starter.id() as i32);
        let t0 = Instant::now();
        let out = run(
            &warden_ctl(),
            &s.conf,
            &["wait", "--timeout", "20", "slow", "--for", "running"],
        );
        assert_eq!(out.code, 0, "{out:?}");
        assert!(t0.elapsed() < Duration::from_secs(20));
        let st = run(&warden_ctl(), &s.conf, &["status", "slow"]);
        assert!(st.stdout.contains("RUNNING"), "{st:?}");
        let _ = starter.wait();

        let t0 = Instant::now();
        let out = run(
            &warden_ctl(),
            &s.conf,
            &["wait", "--timeout", "0.5", "idle"],
        );
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stdout.contains("timed out"), "{out:?}");
        assert!(t0.elapsed() >= Duration::from_millis(500));
        assert!(t0.elapsed() < Duration::from_secs(10));

        let out = run(
            &warden_ctl(),
            &s.conf,
            &["wait", "--timeout", "5", "idle", "--for", "stopped"],
        );
        assert_eq!(out.code, 0, "{out:?}");
        let out = run(
            &warden_ctl(),
            &s.conf,
            &["wait", "--timeout", "0.3", "nope"],
        );
        assert_eq!(out.code, 1, "{out:?}");
        let out = run(&warden_ctl(), &s.conf, &["wait"]);
        assert_eq!(out.code, 2, "{out:?}");
    }
    // Nothing listening: exit 4 at the timeout.
    let scratch = Scratch::new();
    let conf = scratch.join("c.conf");
    std::fs::write(
        &conf,
        format!(
            "[supervisorctl]\nserverurl=unix://{}/none.sock\n",
            scratch.path().display()
        ),
    )
    .unwrap();
    let out = run(&warden_ctl(), &conf, &["wait", "--timeout", "0.3", "x"]);
    assert_eq!(out.code, 4, "{out:?}");
}

#[test]
fn status_exit_codes() {
    for (_, start) in SERVERS {
        let s = start_standard(*start);
        assert_eq!(run(&warden_ctl(), &s.conf, &["status", "sleep"]).code, 0);
        assert_eq!(
            run(&warden_ctl(), &s.conf, &["status", "sleep", "web:b"]).code,
            3
        );
        assert_eq!(
            run(&warden_ctl(), &s.conf, &["status", "sleep", "nope"]).code,
            4
        );
        assert_eq!(
            run(&warden_ctl(), &s.conf, &["status", "--strict", "sleep"]).code,
            0
        );
    }
}

#[test]
fn auth_over_tcp() {
    for (_, start) in SERVERS {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let head = config_head("").replace(
            "[supervisorctl]\nserverurl=unix://%(here)s/s.sock\n",
            &format!("[supervisorctl]\nserverurl=http://127.0.0.1:{port}\nusername=user\npassword=secret\n"),
        );
        let c = format!(
            "{head}[inet_http_server]\nport=127.0.0.1:{port}\nusername=user\npassword=secret\n{}",
            program("sleep", "", "")
        );
        let s = start(Scratch::new(), &c);
        wait_state(&s, "sleep", "RUNNING");
        same(&s, &["status"]);
        same(&s, &["-u", "user", "-p", "wrong", "status"]);
        same(
            &s,
            &[
                "-s",
                &format!("unix://{}", s.sock.display()),
                "-p",
                "wrong",
                "status",
            ],
        );
        same(&s, &["-p", "wrong", "version"]);
        same(&s, &["tail", "sleep"]);
        let out = run(&warden_ctl(), &s.conf, &["stop", "sleep"]);
        assert_eq!((out.stdout.as_str(), out.code), ("sleep: stopped\n", 0));
        let out = run(&warden_ctl(), &s.conf, &["start", "sleep"]);
        assert_eq!((out.stdout.as_str(), out.code), ("sleep: started\n", 0));
    }
}

#[test]
fn tail_follow_streams_until_interrupted() {
    for (_, start) in SERVERS {
        let s = start_standard(*start);
        for args in [&["tail", "-f", "sleep"][..], &["maintail", "-f"][..]] {
            let mut child = Command::new(warden_ctl())
                .arg("-c")
                .arg(&s.conf)
                .args(args)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id() as i32;
            s.scratch.track(pid);
            let mut stdout = child.stdout.take().unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match std::io::Read::read(&mut stdout, &mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if tx.send(buf[..n].to_vec()).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
            let want = if args[0] == "tail" {
                "hello\n"
            } else {
                "success: sleep"
            };
            let mut got = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            while !String::from_utf8_lossy(&got).contains(want) {
                assert!(
                    Instant::now() < deadline,
                    "no log data: {:?}",
                    String::from_utf8_lossy(&got)
                );
                if let Ok(d) = rx.recv_timeout(Duration::from_millis(100)) {
                    got.extend(d);
                }
            }
            assert!(String::from_utf8_lossy(&got).starts_with("==> Press Ctrl-C to exit <==\n"));
            test_programs::kill(pid, "INT");
            let status = test_programs::wait_for(
                Duration::from_secs(10),
                "tail -f to stop on SIGINT",
                || child.try_wait().unwrap(),
            );
            assert_eq!(status.code(), Some(0));
            while let Ok(d) = rx.recv_timeout(Duration::from_millis(500)) {
                got.extend(d);
            }
            assert!(got.ends_with(b"\n"));
        }
    }
}

#[test]
fn fg_sends_stdin_and_shows_output() {
    for (_, start) in SERVERS {
        let mut c = config_head("");
        c += &program("echo", "--echo", "");
        let s = start(Scratch::new(), &c);
        wait_state(&s, "echo", "RUNNING");
        let mut child = Command::new(warden_ctl())
            .arg("-c")
            .arg(&s.conf)
            .args(["fg", "echo"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        s.scratch.track(child.id() as i32);
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, b"ping\n").unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !String::from_utf8_lossy(&got).contains("echo: ping") {
            assert!(
                Instant::now() < deadline,
                "no echo: {:?}",
                String::from_utf8_lossy(&got)
            );
            if let Ok(d) = rx.recv_timeout(Duration::from_millis(100)) {
                got.extend(d);
            }
        }
        drop(stdin); // EOF ends fg.
        let mut status = None;
        let ended = test_programs::poll_until(Duration::from_secs(10), || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        if !ended {
            while let Ok(d) = rx.recv_timeout(Duration::from_millis(100)) {
                got.extend(d);
            }
            let pid = child.id();
            let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            panic!(
                "fg did not end on EOF: {:?} {st}",
                String::from_utf8_lossy(&got)
            );
        }
        let status = status.expect("UNWRAP: poll_until saw it end");
        assert_eq!(status.code(), Some(0));
        while let Ok(d) = rx.recv_timeout(Duration::from_millis(500)) {
            got.extend(d);
        }
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("==> Press Ctrl-C to exit <==\n"), "{text}");
        assert!(text.ends_with("Exiting foreground\n"), "{text}");
    }
}

#[test]
fn interactive_shell_in_a_pty() {
    for (_, start) in SERVERS {
        let s = start_standard(*start);
        let history = s.dir().join("history");
        let cmd = format!(
            "{} -c {} -r {}",
            warden_ctl().display(),
            s.conf.display(),
            history.display()
        );
        let mut p = rexpect::spawn(&cmd, Some(20_000)).expect("spawn in pty");
        // The shell prints `status` first, then the prompt.
        p.exp_string("sleep").unwrap();
        p.exp_string("supervisor> ").unwrap();
        // Completion of a command, then of a process name.
        p.send("sta\t").unwrap();
        p.flush().unwrap();
        p.send("\t").unwrap();
        p.flush().unwrap();
        p.exp_string("status").unwrap();
        p.send_control('u').unwrap();
        p.flush().unwrap();
        p.send("pid sl\t").unwrap();
        p.flush().unwrap();
        p.exp_string("pid sleep ").unwrap();
        p.send("\r").unwrap();
        p.flush().unwrap();
        p.exp_regex(r"\r\n\d+\r\n").unwrap();
        p.exp_string("supervisor> ").unwrap();
        p.send("stop web:\t").unwrap();
        p.flush().unwrap();
        p.send("\t").unwrap();
        p.flush().unwrap();
        p.exp_string("web:*").unwrap();
        p.send_control('u').unwrap();
        p.flush().unwrap();
        p.send_line("bogus").unwrap();
        p.exp_string("*** Unknown syntax: bogus").unwrap();
        // History: up-arrow recalls the last line.
        p.send_line("version").unwrap();
        p.exp_string("4.3.0").unwrap();
        p.exp_string("supervisor> ").unwrap();
        p.send("\x1b[A").unwrap();
        p.flush().unwrap();
        p.send("\r").unwrap();
        p.flush().unwrap();
        p.exp_string("4.3.0").unwrap();
        p.exp_string("supervisor> ").unwrap();
        // Confirmation prompt for shutdown, declined.
        p.send_line("shutdown").unwrap();
        p.exp_string("Really shut the remote supervisord process down y/N? ")
            .unwrap();
        p.send_line("n").unwrap();
        p.exp_string("supervisor> ").unwrap();
        p.send_line("quit").unwrap();
        p.exp_eof().unwrap();
        let h = std::fs::read_to_string(&history).unwrap_or_default();
        assert!(h.contains("version"), "history file: {h:?}");
        assert!(run(&warden_ctl(), &s.conf, &["status", "sleep"]).code == 0);
    }
}
