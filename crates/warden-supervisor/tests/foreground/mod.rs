//! `warden supervise -n` started as a child of the test, with a unix socket
//! and an inet port on 127.0.0.1 (Basic auth `user:pass`), raw HTTP on
//! both, and a kill by pid when dropped.

#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use test_programs::{bin, Scratch};

/// `user:pass`, base64.
pub const AUTH: &str = "Authorization: Basic dXNlcjpwYXNz\r\n";

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The config: main log, pidfile and child logs in `dir`, both servers, and
/// `programs` appended (`{child}` is the sv-child binary, `{tag}` the dir).
pub fn write_conf(dir: &Path, port: u16, programs: &str) -> PathBuf {
    let d = dir.display();
    let programs = programs
        .replace("{child}", &bin("sv-child").to_string_lossy())
        .replace("{tag}", &dir.to_string_lossy());
    let text = format!(
        "[supervisord]\nlogfile={d}/main.log\npidfile={d}/sd.pid\nchildlogdir={d}\nloglevel=debug\n\n\
         [unix_http_server]\nfile={d}/sock\n\n\
         [inet_http_server]\nport=127.0.0.1:{port}\nusername=user\npassword=pass\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=unix://{d}/sock\n\n{programs}\n"
    );
    let conf = dir.join("sup.conf");
    std::fs::write(&conf, text).expect("write config");
    conf
}

/// A TCP or unix stream.
trait Conn: Read + Write {
    fn set_timeouts(&self, t: Duration);
    fn close_write(&self);
}

impl Conn for std::net::TcpStream {
    fn set_timeouts(&self, t: Duration) {
        let _ = self.set_read_timeout(Some(t));
        let _ = self.set_write_timeout(Some(t));
    }
    fn close_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

impl Conn for std::os::unix::net::UnixStream {
    fn set_timeouts(&self, t: Duration) {
        let _ = self.set_read_timeout(Some(t));
        let _ = self.set_write_timeout(Some(t));
    }
    fn close_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

/// A running `warden supervise -n`.
pub struct Fg {
    pub child: Child,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub port: u16,
}

impl Fg {
    /// Starts the supervisor on `programs` in `dir` with `env` added to its
    /// environment, and waits until both sockets answer `getState`.
    pub fn start(dir: &Path, programs: &str, env: &[(OsString, OsString)]) -> Fg {
        let port = free_port();
        let conf = write_conf(dir, port, programs);
        let mut cmd = Command::new(bin("warden"));
        cmd.args(["supervise", "-n", "-c"])
            .arg(&conf)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout")).expect("stdout file"))
            .stderr(std::fs::File::create(dir.join("stderr")).expect("stderr file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn warden supervise");
        let mut fg = Fg {
            child,
            dir: dir.to_path_buf(),
            conf,
            port,
        };
        let up = test_programs::poll_until(Duration::from_secs(20), || {
            !fg.running() || (fg.state_ok(false) && fg.state_ok(true))
        });
        assert!(
            up && fg.running(),
            "supervisor did not come up: {}",
            fg.output()
        );
        fg
    }

    /// The supervisor's stderr and main log, for failure messages.
    pub fn output(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.join(n)).unwrap_or_default();
        format!("stderr: {}\nmain.log: {}", read("stderr"), read("main.log"))
    }

    /// The first panic message the supervisor wrote on stderr, if any. (A
    /// debug build unwinds: the connection task dies and the supervisor
    /// lives on; a release build, `panic = "abort"`, would die.)
    pub fn panic_message(&self) -> Option<String> {
        let err = std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default();
        let at = err.find("panicked")?;
        Some(err[at..].lines().take(3).collect::<Vec<_>>().join("\n"))
    }

    /// True while the supervisor process has not exited.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `req` as is over the unix socket (`inet == false`) or the TCP
    /// port, closes the sending side if `half_close` (the server may then
    /// drop the request unanswered, as hyper does), and returns what came
    /// back within `wait` (at most 1 MiB).
    pub fn raw(&self, inet: bool, req: &[u8], wait: Duration, half_close: bool) -> Vec<u8> {
        let mut conn: Box<dyn Conn> = if inet {
            match std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                Ok(s) => Box::new(s),
                Err(_) => return Vec::new(),
            }
        } else {
            match std::os::unix::net::UnixStream::connect(self.dir.join("sock")) {
                Ok(s) => Box::new(s),
                Err(_) => return Vec::new(),
            }
        };
        conn.set_timeouts(wait);
        let _ = conn.write_all(req);
        if half_close {
            conn.close_write();
        }
        // Reads until EOF, 1 MiB, or `wait` in all (a log tail streams on).
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        let mut buf = [0u8; 16384];
        while out.len() < 1 << 20 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            conn.set_timeouts(left);
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        out
    }

    /// True if `supervisor.getState` answers RUNNING on the chosen socket.
    pub fn state_ok(&self, inet: bool) -> bool {
        let body = "<?xml version='1.0'?>\n<methodCall>\n<methodName>supervisor.getState</methodName>\n<params>\n</params>\n</methodCall>\n";
        let req = format!(
            "POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\n{}Content-Length: {}\r\n\r\n{body}",
            if inet { AUTH } else { "" },
            body.len()
        );
        let out = self.raw(inet, req.as_bytes(), Duration::from_secs(10), false);
        let out = String::from_utf8_lossy(&out);
        out.starts_with("HTTP/1.0 200 ") && out.contains("<string>RUNNING</string>")
    }
}

impl Drop for Fg {
    fn drop(&mut self) {
        test_programs::kill(self.child.id() as i32, "TERM");
        let gone = test_programs::poll_until(Duration::from_secs(15), || {
            !matches!(self.child.try_wait(), Ok(None))
        });
        if !gone {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
