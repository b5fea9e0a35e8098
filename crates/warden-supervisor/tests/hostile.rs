//! Hostile clients and faults, through the real binary: requests that used
//! to panic the supervisor, descriptor exhaustion, connection and body
//! limits, idle connections.

mod helper;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use helper::{bin, wait_for, Kind, Scratch, Sup, HEADER};

/// Sends raw bytes over the unix socket; returns what came back.
fn raw(dir: &Path, bytes: &[u8]) -> String {
    let mut s = UnixStream::connect(dir.join("sock")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn state_ok(sup: &Sup) -> bool {
    sup.rpc("supervisor.getState", "")
        .contains("<name>statename</name>")
}

#[test]
fn a_percent_escape_that_splits_utf8_is_a_404_not_a_crash() {
    let scratch = Scratch::new();
    let w = Sup::start(
        Kind::Warden,
        &scratch.join("w"),
        "[program:web]\ncommand={child} --tag {tag}\nstartsecs=0\n",
    );
    for path in [
        &b"/logtail/%a\xc3\xa9"[..],
        b"/logtail/%c3",
        b"/logtail/%c3/stderr",
        b"/logtail/%ff%fe",
        b"/logtail/%",
        b"/logtail/web%2",
    ] {
        let mut req = b"GET ".to_vec();
        req.extend_from_slice(path);
        req.extend_from_slice(b" HTTP/1.0\r\nHost: x\r\n\r\n");
        let answer = raw(&w.dir, &req);
        let status = answer.lines().next().unwrap_or("").to_string();
        assert!(
            status.contains("404") || status.contains("400"),
            "{}: {status:?}",
            String::from_utf8_lossy(path)
        );
        assert!(
            test_programs::alive(w.pid),
            "supervisor died on {}",
            String::from_utf8_lossy(path)
        );
    }
    assert!(state_ok(&w));
}

#[test]
fn connections_over_the_limit_get_503_and_idle_ones_time_out() {
    let scratch = Scratch::new();
    let port = helper::free_port();
    let dir = scratch.join("w");
    let conf = format!(
        "http_max_connections=3\nhttp_idle_timeout=1\nhttp_max_body=1KB\n\n[inet_http_server]\nport=127.0.0.1:{port}\n"
    );
    let w = start_with(&dir, &conf, "");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Each is counted once accepted: wait until a fourth is refused.
    let refused = wait_for(Duration::from_secs(10), "a refusal over the limit", || {
        let mut s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.starts_with("HTTP/1.1 503").then_some(out)
    });
    assert!(refused.contains("too many connections"), "{refused}");
    // The idle ones are closed after http_idle_timeout (1 s).
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "an idle connection was not closed");
    }
    // Then there is room again.
    wait_for(Duration::from_secs(10), "a served request", || {
        state_ok(&w).then_some(())
    });
    // A body over http_max_body is refused with 413 before it is read whole.
    let body = "x".repeat(4096);
    let answer = w.http(&format!(
        "POST /RPC2 HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert!(answer.starts_with("HTTP/1.0 413"), "{answer}");
    assert!(state_ok(&w));
    // A reload applies new limits: the same body fits in 8KB.
    let text = std::fs::read_to_string(&w.conf).unwrap();
    std::fs::write(
        &w.conf,
        text.replace("http_max_body=1KB", "http_max_body=8KB"),
    )
    .unwrap();
    w.ctl(&["reload"]);
    let fits = wait_for(Duration::from_secs(20), "the new limit", || {
        let a = w.http(&format!(
            "POST /RPC2 HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        (!a.starts_with("HTTP/1.0 413")).then_some(a)
    });
    // read whole now, and refused as what it is: not XML-RPC
    assert!(fits.starts_with("HTTP/1.0 400"), "{fits}");
}

/// Starts warden with extra `[supervisord]` keys (`extra` goes right after
/// the header's `[supervisord]` lines) under `ulimit -n nofile` when given.
fn start_with(dir: &Path, extra: &str, programs: &str) -> Sup {
    start_limited(dir, extra, programs, None)
}

fn start_limited(dir: &Path, extra: &str, programs: &str, nofile: Option<u32>) -> Sup {
    std::fs::create_dir_all(dir).unwrap();
    let conf = dir.join("sup.conf");
    let head = HEADER.replacen("loglevel=info\n", &format!("loglevel=info\n{extra}\n"), 1);
    let body = programs
        .replace("{child}", &bin("sv-child").to_string_lossy())
        .replace("{tag}", &dir.to_string_lossy());
    std::fs::write(&conf, format!("{head}\n{body}")).unwrap();
    let exe = bin("warden-supervisord");
    let st = match nofile {
        None => Command::new(exe)
            .arg("-c")
            .arg(&conf)
            .current_dir(dir)
            .status(),
        Some(n) => Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {n} && exec \"$0\" -c \"$1\""))
            .arg(exe)
            .arg(&conf)
            .current_dir(dir)
            .status(),
    }
    .expect("start warden");
    assert!(st.success(), "warden failed to start: {st}");
    let pid = wait_for(Duration::from_secs(15), "pidfile", || {
        test_programs::read_pid(&dir.join("sd.pid"))
    });
    let sup = Sup {
        kind: Kind::Warden,
        dir: dir.to_path_buf(),
        conf,
        pid,
    };
    wait_for(Duration::from_secs(15), "socket answers", || {
        state_ok(&sup).then_some(())
    });
    sup
}

#[test]
fn running_out_of_descriptors_does_not_kill_the_listeners() {
    let scratch = Scratch::new();
    let port = helper::free_port();
    let dir = scratch.join("w");
    // Connections are not limited here, so the descriptors run out first.
    let conf = format!(
        "minfds=64\nhttp_max_connections=100000\n\n[inet_http_server]\nport=127.0.0.1:{port}\n"
    );
    let w = start_limited(
        &dir,
        &conf,
        "[program:crasher]\ncommand={child} --tag {tag}\nstartsecs=0\nstartretries=100\n",
        Some(100),
    );
    let first = wait_for(Duration::from_secs(10), "crasher running", || {
        w.running_pid("crasher")
    });
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // More connections than descriptors: once they run out, the rest wait
    // in the listen backlog until a connect times out.
    let mut hogs = Vec::new();
    let mut failures = 0;
    while hogs.len() < 300 && failures < 3 {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(s) => hogs.push(s),
            Err(_) => failures += 1,
        }
    }
    let n = hogs.len();
    let seen = test_programs::poll_until(Duration::from_secs(10), || {
        w.mainlog()
            .contains("HTTP server cannot accept a connection")
    });
    assert!(
        seen,
        "no accept error after {n} connections:\n{}",
        w.mainlog()
    );
    // The program crashes while no descriptor is left.
    test_programs::kill(first, "KILL");
    assert!(test_programs::poll_until(Duration::from_secs(5), || {
        !test_programs::alive(first)
    }));
    drop(hogs);
    // Descriptors are back: both listeners answer, the program runs again.
    let again = wait_for(Duration::from_secs(20), "crasher respawned", || {
        w.running_pid("crasher").filter(|p| *p != first)
    });
    assert_ne!(again, first);
    assert!(state_ok(&w), "unix listener dead");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /nothing HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.0 404"), "inet listener: {out:?}");
    assert!(w
        .mainlog()
        .contains("HTTP server accepts connections again"));
}

fn state_of(sup: &Sup, name: &str) -> String {
    let body = sup.call("supervisor.getProcessInfo", &[name]);
    body.split("<name>statename</name>")
        .nth(1)
        .and_then(|r| r.split("<string>").nth(1))
        .and_then(|r| r.split('<').next())
        .unwrap_or("")
        .to_string()
}

fn field(body: &str, name: &str) -> String {
    body.split(&format!("<name>{name}</name>"))
        .nth(1)
        .and_then(|r| r.split("<value>").nth(1))
        .map(|r| {
            r.trim_start_matches("<string>")
                .split('<')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

#[test]
fn stdin_writes_stay_in_order_and_whole_when_the_child_reads_late() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let out = dir.join("stdin.out");
    let w = start_with(
        &dir,
        "",
        &format!(
            "[program:late]\ncommand=/bin/sh -c \"sleep 1; exec cat > {}\"\nstartsecs=0\n",
            out.display()
        ),
    );
    wait_for(Duration::from_secs(10), "late running", || {
        (state_of(&w, "late") == "RUNNING").then_some(())
    });
    // 40 messages of 20 KiB: far more than a pipe holds before the child
    // starts reading, so most of them wait.
    let mut want = String::new();
    for i in 0..40 {
        let msg = format!("[{i:02}]{}\n", "abcdefgh".repeat(20 * 128));
        let r = w.call("supervisor.sendProcessStdin", &["late", &msg]);
        assert!(r.contains("<boolean>1</boolean>"), "{r}");
        want.push_str(&msg);
    }
    let got = wait_for(Duration::from_secs(20), "all bytes written", || {
        let got = std::fs::read_to_string(&out).ok()?;
        (got.len() >= want.len()).then_some(got)
    });
    assert!(got == want, "stdin reordered or torn: {} bytes", got.len());
}

#[test]
fn a_log_whose_directory_vanished_is_a_spawn_error_as_in_supervisord() {
    let scratch = Scratch::new();
    for d in ["real", "warden"] {
        std::fs::create_dir_all(scratch.join(d).join("logs")).unwrap();
    }
    let programs = "[program:nolog]\ncommand={child} --tag {tag}\nstdout_logfile=%(here)s/logs/out.log\nstartsecs=0\nstartretries=1\n";
    let (r, w) = helper::pair(&scratch, programs);
    for sup in [&r, &w] {
        wait_for(Duration::from_secs(20), "RUNNING", || {
            (state_of(sup, "nolog") == "RUNNING").then_some(())
        });
        std::fs::remove_dir_all(sup.dir.join("logs")).unwrap();
        let stop = sup.call("supervisor.stopProcess", &["nolog"]);
        assert!(stop.contains("<boolean>1</boolean>"), "{stop}");
    }
    let shown = |sup: &Sup| {
        let start = sup.call("supervisor.startProcess", &["nolog"]);
        let info = sup.call("supervisor.getProcessInfo", &["nolog"]);
        (
            start.contains("<int>50</int>"),
            field(&info, "spawnerr"),
            sup.mainlog()
                .contains("spawnerr: unknown error making dispatchers for 'nolog': ENOENT"),
        )
    };
    let (real, ours) = (shown(&r), shown(&w));
    assert_eq!(ours, real);
    assert_eq!(
        ours,
        (
            true,
            "unknown error making dispatchers for 'nolog': ENOENT".to_string(),
            true
        )
    );
    // BACKOFF, a retry that fails the same way, then FATAL, as supervisord
    for sup in [&r, &w] {
        wait_for(Duration::from_secs(20), "FATAL", || {
            (state_of(sup, "nolog") == "FATAL").then_some(())
        });
    }
    let gave_up = |sup: &Sup| {
        sup.mainlog()
            .lines()
            .filter(|l| l.contains("nolog") && (l.contains("gave up") || l.contains("spawnerr")))
            .map(|l| l.get(24..).unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(gave_up(&w), gave_up(&r), "warden (left) vs real (right)");
    assert!(
        gave_up(&w)
            .iter()
            .any(|l| l.contains("entered FATAL state")),
        "{:?}",
        gave_up(&w)
    );
    let children: Vec<i32> = test_programs::pids_with(&w.dir.to_string_lossy())
        .into_iter()
        .filter(|p| *p != w.pid && *p != r.pid)
        .collect();
    assert!(
        children.is_empty(),
        "a program runs with its output going nowhere: {children:?}"
    );
}

#[test]
fn an_unusable_main_log_refuses_to_start() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    std::fs::create_dir_all(dir.join("main.log")).unwrap(); // a directory
    let conf = helper::write_conf(&dir, "");
    let out = Command::new(bin("warden-supervisord"))
        .arg("-c")
        .arg(&conf)
        .current_dir(&dir)
        .output()
        .expect("run warden");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open the main log") && err.contains("main.log"),
        "{err}"
    );
    assert!(!dir.join("sd.pid").exists());
}

#[test]
fn lost_output_is_reported_once_in_the_main_log_and_in_status() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let w = start_with(
        &dir,
        "",
        "[program:full]\ncommand={child} --tick 20 --tag {tag}\nstartsecs=0\nstdout_logfile=/dev/full\n",
    );
    let info = wait_for(
        Duration::from_secs(10),
        "the failure in the description",
        || {
            let info = w.call("supervisor.getProcessInfo", &["full"]);
            field(&info, "description")
                .contains("cannot write to /dev/full")
                .then_some(info)
        },
    );
    assert!(field(&info, "description").starts_with("pid "), "{info}");
    // many ticks later, still one line
    wait_for(Duration::from_secs(5), "more ticks", || {
        test_programs::poll_until(Duration::from_millis(300), || false);
        Some(())
    });
    let lines = w
        .mainlog()
        .lines()
        .filter(|l| l.contains("'full' output lost"))
        .count();
    assert_eq!(lines, 1, "{}", w.mainlog());
}

#[test]
fn auto_logs_are_private_new_files() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let w = start_with(
        &dir,
        "",
        "[program:auto]\ncommand={child} --tag {tag}\nstartsecs=0\n",
    );
    let info = w.call("supervisor.getProcessInfo", &["auto"]);
    for key in ["stdout_logfile", "stderr_logfile"] {
        let path = field(&info, key);
        assert!(path.contains("auto-"), "{key}: {path}");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::symlink_metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{path}");
    }
}

#[test]
fn stopped_and_fatal_programs_hold_no_log_descriptors() {
    let scratch = Scratch::new();
    let count_fds = |programs: &str, tag: &str| {
        let dir = scratch.join(tag);
        let w = start_with(&dir, "", programs);
        wait_for(Duration::from_secs(20), "all FATAL", || {
            let all = w.rpc("supervisor.getAllProcessInfo", "");
            (!all.contains("STARTING") && !all.contains("BACKOFF")).then_some(())
        });
        test_programs::fds(w.pid).len()
    };
    let none = count_fds("", "none");
    let programs: String = (0..30)
        .map(|i| {
            format!("[program:f{i}]\ncommand={{child}} --exit 1 --tag {{tag}}\nstartretries=0\n")
        })
        .collect();
    let thirty = count_fds(&programs, "thirty");
    assert!(
        thirty < none + 10,
        "30 FATAL programs hold {} more descriptors",
        thirty - none
    );
}

#[test]
fn a_huge_stopwaitsecs_never_kills_at_once() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let w = start_with(
        &dir,
        "",
        "[program:stubborn]\ncommand={child} --ignore-term --tag {tag}\nstartsecs=0\nstopwaitsecs=9223372036854775807\n",
    );
    wait_for(Duration::from_secs(10), "running", || {
        w.running_pid("stubborn")
    });
    let pid = w.running_pid("stubborn").unwrap();
    // RUNNING comes at once (startsecs=0): wait until it ignores SIGTERM.
    helper::wait_ignoring_term(pid);
    let r = w.rpc(
        "supervisor.stopProcess",
        "<param><value><string>stubborn</string></value></param>\n<param><value><boolean>0</boolean></value></param>\n",
    );
    assert!(r.contains("<boolean>1</boolean>"), "{r}");
    // Had the deadline overflowed, SIGKILL would follow at once.
    let killed = test_programs::poll_until(Duration::from_secs(2), || !test_programs::alive(pid));
    assert!(!killed, "SIGKILL was sent");
    assert_eq!(state_of(&w, "stubborn"), "STOPPING");
    test_programs::kill(pid, "KILL");
}

#[test]
fn slow_logtail_readers_of_a_flooding_program_cost_little_memory() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let flood: u64 = 150 << 20;
    let w = start_with(
        &dir,
        "",
        &format!(
            // the flood starts once the readers are connected
            "[program:flood]\ncommand=/bin/sh -c \"while [ ! -e %(here)s/go ]; do sleep 0.05; done; exec {{child}} --flood {flood} --tag {{tag}}\"\nstartsecs=0\nstdout_logfile=%(here)s/flood.log\nstdout_logfile_maxbytes=0\n"
        ),
    );
    // Three readers that ask for the stream and never read it.
    let readers: Vec<UnixStream> = (0..3)
        .map(|_| {
            let mut s = UnixStream::connect(dir.join("sock")).unwrap();
            s.write_all(b"GET /logtail/flood HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    let rss_kb = || -> u64 {
        test_programs::status_field(w.pid, "VmRSS")
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let before = rss_kb();
    std::fs::write(dir.join("go"), b"").unwrap();
    let mut peak = 0;
    wait_for(Duration::from_secs(60), "the flood written", || {
        peak = peak.max(rss_kb());
        let len = std::fs::metadata(dir.join("flood.log")).map_or(0, |m| m.len());
        (len >= flood).then_some(())
    });
    peak = peak.max(rss_kb());
    assert!(
        peak < before + 64 * 1024,
        "RSS grew from {before} kB to {peak} kB with three slow readers"
    );
    drop(readers);
    assert!(state_ok(&w));
}

#[test]
fn warden_ctl_version_says_which_warden_after_the_server_version() {
    let scratch = Scratch::new();
    let w = start_with(&scratch.join("w"), "", "");
    let out = Command::new(bin("warden"))
        .args(["ctl", "-c"])
        .arg(&w.conf)
        .arg("version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "4.3.0",
            &format!("warden ctl {}", env!("CARGO_PKG_VERSION"))
        ],
        "{text}"
    );
}
