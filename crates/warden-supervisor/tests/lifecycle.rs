//! warden's lifecycle keys through the real binary, with timelines:
//! readiness (`ready=` tcp, http, exec, log, notify), `depends_on`, health
//! checks, exponential backoff, `critical=true`, parallel stops, idle
//! wake-ups, and the same keys loading in the real supervisord 4.3.0.

mod helper;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use helper::{bin, free_port, pair, same, wait_for, Kind, Scratch, Sup};

/// Seconds since the epoch, as the scripts below write them.
fn read_times(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn write_script(dir: &Path, name: &str, body: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

fn status_of(sup: &Sup, name: &str) -> String {
    sup.ctl(&["status", name]).0
}

/// Sum of the voluntary context switches of every thread of `pid`.
fn wakeups(pid: i32) -> u64 {
    let mut total = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let s = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        total += s
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

const WEB: &str = r#"import socket, sys, time
port, stamp = int(sys.argv[1]), sys.argv[2]
time.sleep(1.5)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
with open(stamp, "a") as f:
    f.write("%f\n" % time.time())
while True:
    c, _ = s.accept()
    c.close()
"#;

const STAMP: &str = r#"import sys, time
with open(sys.argv[1], "a") as f:
    f.write("%f\n" % time.time())
time.sleep(3600)
"#;

#[test]
fn a_worker_that_depends_on_web_spawns_after_its_port_opens() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let port = free_port();
    let web = write_script(&dir, "web.py", WEB);
    let stamp = write_script(&dir, "stamp.py", STAMP);
    let d = dir.display();
    let w = Sup::start(
        Kind::Warden,
        &dir,
        &format!(
            "[program:web]\ncommand=python3 {web} {port} {d}/web.t\nready=tcp:{port}\nstartsecs=0\n\
             [program:worker]\ncommand=python3 {stamp} {d}/worker.t\ndepends_on=web\nstartsecs=0\n"
        ),
    );
    wait_for(Duration::from_secs(15), "worker stamp", || {
        w.running_pid("worker")?;
        (!read_times(&dir.join("worker.t")).is_empty()).then_some(())
    });
    let web_up = read_times(&dir.join("web.t"));
    let worker_up = read_times(&dir.join("worker.t"));
    assert_eq!(web_up.len(), 1);
    assert_eq!(worker_up.len(), 1);
    assert!(
        worker_up[0] >= web_up[0],
        "the worker started {:.3} s before the port opened",
        web_up[0] - worker_up[0]
    );
    let log = w.mainlog();
    assert!(
        log.contains("success: web entered RUNNING state, the process is ready"),
        "{log}"
    );
}

const HTTP: &str = r#"import http.server, sys, time
time.sleep(2)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

const LOG: &str = r#"import time
print("starting", flush=True)
time.sleep(2)
print("server ready on port 8000", flush=True)
time.sleep(3600)
"#;

#[test]
fn ready_http_exec_log_and_notify_hold_starting_until_ready() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let (port, port2) = (free_port(), free_port());
    let http = write_script(&dir, "srv.py", HTTP);
    let log = write_script(&dir, "log.py", LOG);
    let d = dir.display();
    let notify = bin("notify-after").display().to_string();
    // before the start: on a loaded machine the start itself can take a
    // while, and the programs' 2 s run from their spawn
    let t0 = Instant::now();
    let w = Sup::start(
        Kind::Warden,
        &dir,
        &format!(
            "[program:http]\ncommand=python3 {http} {port}\nready=http://127.0.0.1:{port}/health\nstartsecs=0\n\
             [program:exec]\ncommand=sleep 3600\nready=exec:test -e {d}/flag\nstartsecs=0\n\
             [program:log]\ncommand=python3 {log}\nready=log:ready on port \\d+\nstartsecs=0\n\
             [program:notify]\ncommand={notify} 2000\nready=notify\nstartsecs=0\n\
             [program:wrong]\ncommand=python3 {http} {port2}\nready=http://127.0.0.1:{port2}/missing\n\
             startsecs=0\nready_timeout=4\nstartretries=0\n"
        ),
    );
    let (s, _) = w.ctl(&["status"]);
    assert_eq!(s.matches("STARTING").count(), 5, "{s}\n{}", w.mainlog());
    // each goes RUNNING on its own probe, none before its program is ready
    // (2 s after its spawn)
    let mut when = std::collections::HashMap::new();
    wait_for(
        Duration::from_secs(15),
        "http, log and notify RUNNING",
        || {
            for name in ["http", "log", "notify"] {
                if !when.contains_key(name) && w.running_pid(name).is_some() {
                    when.insert(name, t0.elapsed());
                }
            }
            (when.len() == 3).then_some(())
        },
    );
    for (name, t) in &when {
        assert!(
            *t >= Duration::from_millis(1500),
            "{name} RUNNING after {t:?}"
        );
    }
    assert!(status_of(&w, "exec").contains("STARTING"), "no flag yet");
    // a server that answers, but 404: never ready, a failed start
    assert!(
        status_of(&w, "wrong").contains("STARTING"),
        "404 is not ready"
    );
    std::fs::write(dir.join("flag"), "").unwrap();
    wait_for(Duration::from_secs(10), "exec", || w.running_pid("exec"));
    wait_for(Duration::from_secs(15), "wrong FATAL", || {
        status_of(&w, "wrong").contains("FATAL").then_some(())
    });
    let log = w.mainlog();
    assert!(
        log.contains("not ready: wrong after 4 seconds (ready_timeout)"),
        "{log}"
    );
    assert!(
        log.contains("last readiness check of wrong: HTTP 404"),
        "{log}"
    );
    assert!(!log.contains("success: wrong"), "{log}");
}

#[test]
fn a_program_whose_health_check_fails_is_restarted_and_said_unhealthy() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let d = dir.display();
    let w = Sup::start(
        Kind::Warden,
        &dir,
        &format!(
            "[program:api]\ncommand=sleep 3600\nstartsecs=0\nhealthcheck=exec:test ! -e {d}/sick\n\
             healthcheck_interval=1\nhealthcheck_retries=3\n"
        ),
    );
    let first = wait_for(Duration::from_secs(10), "api RUNNING", || {
        w.running_pid("api")
    });
    std::fs::write(dir.join("sick"), "").unwrap();
    let said = wait_for(Duration::from_secs(10), "unhealthy in status", || {
        let s = status_of(&w, "api");
        s.contains("unhealthy (").then_some(s)
    });
    assert!(said.contains("RUNNING"), "{said}");
    assert!(said.contains("failed: exit status 1)"), "{said}");
    // /metrics says so too (while it lasts: the restart resets the count)
    let metrics = w.http("GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let failures = metrics
        .lines()
        .find(|l| l.starts_with("warden_process_health_failures{") && l.contains("name=\"api\""))
        .and_then(|l| l.rsplit(' ').next()?.parse::<i64>().ok());
    assert!(failures.is_some_and(|n| n >= 1), "{metrics}");
    let second = wait_for(Duration::from_secs(15), "a new pid", || {
        w.running_pid("api").filter(|p| *p != first)
    });
    std::fs::remove_file(dir.join("sick")).unwrap();
    assert_ne!(first, second);
    let log = w.mainlog();
    assert!(
        log.contains("unhealthy: api (unhealthy (3 checks failed"),
        "{log}"
    );
}

#[test]
fn a_crash_loop_with_exponential_backoff_spawns_at_0_1_3_7_11() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let d = dir.display();
    let _w = Sup::start(
        Kind::Warden,
        &dir,
        &format!(
            "[program:crash]\ncommand=sh -c 'date +%%s.%%N >> {d}/spawns; exit 1'\n\
             startretries=-1\nbackoff=exponential\nbackoff_max=4\n"
        ),
    );
    let times = wait_for(Duration::from_secs(20), "5 spawns", || {
        let t = read_times(&dir.join("spawns"));
        (t.len() >= 5).then_some(t)
    });
    let at: Vec<f64> = times.iter().map(|t| t - times[0]).collect();
    for (got, want) in at.iter().zip([0.0, 1.0, 3.0, 7.0, 11.0]) {
        assert!((got - want).abs() < 0.6, "spawns at {at:?}");
    }
}

fn supervise_n(conf: &Path) -> std::process::Child {
    Command::new(bin("warden-supervisord"))
        .args(["-n", "-c"])
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    wait_for(limit, "supervisor exit", || child.try_wait().unwrap())
}

#[test]
fn a_critical_program_going_fatal_stops_the_others_and_exits_3() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let d = dir.display();
    let conf = helper::write_conf(
        &dir,
        &format!(
            "[program:other]\ncommand=sh -c \"trap 'echo stopped > {d}/other; exit 0' TERM; sleep 3600 & wait\"\n\
             startsecs=0\nstopasgroup=true\n\
             [program:main]\ncommand=sh -c 'sleep 0.3; exit 1'\nstartsecs=1\nstartretries=1\ncritical=true\n"
        ),
    );
    let mut sup = supervise_n(&conf);
    scratch.track(i32::try_from(sup.id()).unwrap());
    let st = wait_exit(&mut sup, Duration::from_secs(20));
    assert_eq!(st.code(), Some(3));
    assert_eq!(
        std::fs::read_to_string(dir.join("other")).unwrap_or_default(),
        "stopped\n"
    );
    let log = std::fs::read_to_string(dir.join("main.log")).unwrap();
    assert!(log.contains("critical program main is FATAL"), "{log}");
}

#[test]
fn a_dependency_cycle_is_refused_with_its_members_named() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let conf = helper::write_conf(
        &dir,
        "[program:a]\ncommand=sleep 1\ndepends_on=b\n[program:b]\ncommand=sleep 1\ndepends_on=c\n\
         [program:c]\ncommand=sleep 1\ndepends_on=a\n",
    );
    let mut sup = supervise_n(&conf);
    let st = wait_exit(&mut sup, Duration::from_secs(10));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut sup.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(
        err.contains("depends_on has a cycle: a -> b -> c -> a"),
        "{err}"
    );
    assert!(err.contains("sup.conf"), "{err}");
}

#[test]
fn twenty_programs_with_a_1s_stop_handler_shut_down_in_about_1s() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let programs: String = (0..20)
        .map(|i| {
            format!(
                "[program:p{i}]\ncommand=sh -c \"trap 'sleep 1; exit 0' TERM; sleep 3600 & wait\"\n\
                 startsecs=0\nstopasgroup=true\n"
            )
        })
        .collect();
    let w = Sup::start(Kind::Warden, &dir, &programs);
    wait_for(Duration::from_secs(30), "all RUNNING", || {
        let (s, _) = w.ctl(&["status"]);
        (s.matches("RUNNING").count() == 20).then_some(())
    });
    let t0 = Instant::now();
    test_programs::kill(w.pid, "TERM");
    let pid = w.pid;
    assert!(test_programs::poll_until(Duration::from_secs(20), || {
        !test_programs::alive(pid)
    }));
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    assert!(took >= Duration::from_millis(900), "shutdown took {took:?}");
}

/// Waits (up to 5 s) until `pid` has had no wake-up for 100 ms (the
/// start-up's work is done); its count then.
fn quiet(pid: i32) -> u64 {
    let mut last = wakeups(pid);
    wait_for(Duration::from_secs(5), "start-up activity to end", || {
        std::thread::sleep(Duration::from_millis(100));
        let now = wakeups(pid);
        let still = now == last;
        last = now;
        still.then_some(now)
    })
}

#[test]
fn idle_wakeups_are_zero_without_probes_and_one_per_health_interval() {
    let scratch = Scratch::new();
    let idle = Sup::start(
        Kind::Warden,
        &scratch.join("idle"),
        "[program:a]\ncommand=sleep 3600\nstartsecs=0\n[program:b]\ncommand=sleep 3600\nstartsecs=0\n",
    );
    idle.settle();
    let before = quiet(idle.pid);
    // the measurement window
    std::thread::sleep(Duration::from_secs(2));
    let idle_wakeups = wakeups(idle.pid) - before;
    assert!(idle_wakeups <= 1, "{idle_wakeups} wake-ups in 2 s idle");
    drop(idle);

    let port = free_port();
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let checked = Sup::start(
        Kind::Warden,
        &scratch.join("checked"),
        &format!(
            "[program:a]\ncommand=sleep 3600\nstartsecs=0\nhealthcheck=tcp:{port}\nhealthcheck_interval=1\n"
        ),
    );
    checked.settle();
    let before = wakeups(checked.pid);
    // the measurement window
    std::thread::sleep(Duration::from_secs(3));
    let n = wakeups(checked.pid) - before;
    drop(listener);
    // two per check (the timer, then the connection's completion), and 3
    // checks in the window (2 to 4 by where its edges fall); 6 measured
    assert!((4..=8).contains(&n), "{n} wake-ups in 3 s with a 1 s check");
}

#[test]
fn the_same_config_with_warden_keys_loads_in_supervisord() {
    let scratch = Scratch::new();
    let (r, w) = pair(
        &scratch,
        "[program:web]\ncommand=sleep 3600\nready=exec:true\nready_timeout=30\n\
         healthcheck=tcp:1\nhealthcheck_interval=3600\nhealthcheck_timeout=2\n\
         healthcheck_retries=5\nhealthcheck_start_period=10\nbackoff=exponential\n\
         backoff_max=30\nbackoff_reset=120\ncritical=false\n\
         [program:worker]\ncommand=sleep 3600\ndepends_on=web\n",
    );
    r.settle();
    w.settle();
    let out = same(&r, &w, &["status"]);
    assert_eq!(out.matches("RUNNING").count(), 2, "{out}");
}

#[test]
fn ctl_stop_asks_for_with_dependents_then_stops_dependents_first() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let w = Sup::start(
        Kind::Warden,
        &dir,
        "[program:db]\ncommand=sleep 3600\nstartsecs=0\n\
         [program:api]\ncommand=sleep 3600\nstartsecs=0\ndepends_on=db\n",
    );
    wait_for(Duration::from_secs(10), "api RUNNING", || {
        w.running_pid("api")
    });
    let ctl = |args: &[&str]| {
        let out = Command::new(bin("warden"))
            .arg("ctl")
            .arg("-c")
            .arg(&w.conf)
            .args(args)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status.code(),
        )
    };
    let (out, code) = ctl(&["stop", "db"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("running programs depend on db: api:api"),
        "{out}"
    );
    assert!(w.running_pid("db").is_some(), "db was not stopped");
    let (out, code) = ctl(&["stop", "--with-dependents", "db"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "api: stopped\ndb: stopped\n");
    let log = w.mainlog();
    let api = log.find("stopped: api").unwrap();
    let db = log.find("stopped: db").unwrap();
    assert!(api < db, "{log}");
}
