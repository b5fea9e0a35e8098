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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
    let port = free_port();
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

fn proc_pid(sup: &Sup, name: &str) -> Option<i32> {
    let body = sup.rpc(
        "supervisor.getProcessInfo",
        &format!("<param><value><string>{name}</string></value></param>\n"),
    );
    let running = body.contains("<string>RUNNING</string>");
    let pid = body
        .split("<name>pid</name>")
        .nth(1)?
        .split("<int>")
        .nth(1)?
        .split('<')
        .next()?
        .parse()
        .ok()?;
    (running && pid > 0).then_some(pid)
}

#[test]
fn running_out_of_descriptors_does_not_kill_the_listeners() {
    let scratch = Scratch::new();
    let port = free_port();
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
        proc_pid(&w, "crasher")
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
        proc_pid(&w, "crasher").filter(|p| *p != first)
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
