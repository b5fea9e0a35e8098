//! Runs the real supervisord 4.3.0 and warden side by side on the same
//! config, drives both with the real `supervisorctl`, and normalises pids and
//! times so their outputs can be compared. Everything waits by polling with a
//! deadline and kills what it started, by pid.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub use test_programs::{bin, wait_for, Scratch};

/// The real supervisor's bin directory: `$WARDEN_SUPERVISOR_BIN`, or what
/// `scripts/ensure-supervisor` installs (never skipped).
pub fn supervisor_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("WARDEN_SUPERVISOR_BIN") {
            return PathBuf::from(p);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ensure-supervisor");
        let out = Command::new(&script)
            .output()
            .expect("running scripts/ensure-supervisor");
        assert!(
            out.status.success(),
            "ensure-supervisor failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Real,
    Warden,
}

/// One running daemon in its own directory.
pub struct Sup {
    pub kind: Kind,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub pid: i32,
}

pub const HEADER: &str = "[supervisord]
logfile=%(here)s/main.log
pidfile=%(here)s/sd.pid
childlogdir=%(here)s
loglevel=info

[unix_http_server]
file=%(here)s/sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/sock
";

/// `{child}` becomes the sv-child binary and `{tag}` the directory.
pub fn write_conf(dir: &Path, programs: &str) -> PathBuf {
    write_conf_with(dir, HEADER, programs)
}

/// [`write_conf`] with another header (e.g. [`HEADER`] at `loglevel=debug`).
pub fn write_conf_with(dir: &Path, header: &str, programs: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let conf = dir.join("sup.conf");
    let body = programs
        .replace("{child}", &bin("sv-child").to_string_lossy())
        .replace("{tag}", &dir.to_string_lossy());
    std::fs::write(&conf, format!("{header}\n{body}")).unwrap();
    conf
}

impl Sup {
    pub fn start(kind: Kind, dir: &Path, programs: &str) -> Sup {
        Sup::start_with(kind, dir, HEADER, programs)
    }

    /// [`Sup::start`] with another config header.
    pub fn start_with(kind: Kind, dir: &Path, header: &str, programs: &str) -> Sup {
        Sup::start_via(kind, dir, header, programs, &[])
    }

    /// [`Sup::start_with`], the daemon started through `prefix` (a command
    /// that ends by running its arguments, e.g. `unshare ...`).
    pub fn start_via(kind: Kind, dir: &Path, header: &str, programs: &str, prefix: &[&str]) -> Sup {
        let conf = write_conf_with(dir, header, programs);
        let exe = match kind {
            Kind::Real => supervisor_bin().join("supervisord"),
            Kind::Warden => bin("warden-supervisord"),
        };
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let st = cmd
            .arg("-c")
            .arg(&conf)
            .current_dir(dir)
            .status()
            .expect("start daemon");
        assert!(st.success(), "{kind:?} failed to start: {st}");
        let pidfile = dir.join("sd.pid");
        let pid = wait_for(Duration::from_secs(15), "pidfile", || {
            test_programs::read_pid(&pidfile)
        });
        let sup = Sup {
            kind,
            dir: dir.to_path_buf(),
            conf,
            pid,
        };
        wait_for(Duration::from_secs(15), "socket answers", || {
            (sup.ctl(&["version"]).1 == 0).then_some(())
        });
        sup
    }

    /// Runs the real supervisorctl: (stdout + stderr, exit code).
    pub fn ctl(&self, args: &[&str]) -> (String, i32) {
        let out = Command::new(supervisor_bin().join("supervisorctl"))
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .env("LANG", "C")
            .output()
            .expect("supervisorctl");
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&out.stderr));
        (s, out.status.code().unwrap_or(-1))
    }

    /// A raw XML-RPC call over the unix socket; returns the HTTP body.
    pub fn rpc(&self, method: &str, params: &str) -> String {
        let body = format!(
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>{method}</methodName>\n<params>\n{params}</params>\n</methodCall>\n"
        );
        self.http(&format!(
            "POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    /// The pid of `name` while it is RUNNING, from getProcessInfo.
    pub fn running_pid(&self, name: &str) -> Option<i32> {
        let body = self.call("supervisor.getProcessInfo", &[name]);
        if !body.contains("<string>RUNNING</string>") {
            return None;
        }
        body.split("<name>pid</name>")
            .nth(1)?
            .split("<int>")
            .nth(1)?
            .split('<')
            .next()?
            .parse()
            .ok()
            .filter(|p| *p > 0)
    }

    /// A raw XML-RPC call with string parameters; returns the body.
    pub fn call(&self, method: &str, params: &[&str]) -> String {
        let params: String = params
            .iter()
            .map(|p| format!("<param><value><string>{p}</string></value></param>\n"))
            .collect();
        self.rpc(method, &params)
    }

    /// Sends a raw HTTP/1.0 request; returns status line + body.
    pub fn http(&self, req: &str) -> String {
        let mut s = std::os::unix::net::UnixStream::connect(self.dir.join("sock")).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text.lines().next().unwrap_or("").to_string();
        let body = text
            .split_once("\r\n\r\n")
            .map(|x| x.1)
            .unwrap_or("")
            .to_string();
        format!("{status}\n{body}")
    }

    pub fn mainlog(&self) -> String {
        std::fs::read_to_string(self.dir.join("main.log")).unwrap_or_default()
    }

    /// Polls `status` until no process is in a transient state.
    pub fn settle(&self) {
        wait_for(Duration::from_secs(30), "states to settle", || {
            let (s, _) = self.ctl(&["status"]);
            (!s.contains("STARTING") && !s.contains("STOPPING") && !s.contains("BACKOFF"))
                .then_some(())
        });
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        test_programs::kill(self.pid, "TERM");
        let pid = self.pid;
        // A zombie counts as gone (PID 1 reaps slowly here).
        let gone =
            test_programs::poll_until(Duration::from_secs(15), || !test_programs::alive(pid));
        if !gone {
            test_programs::kill(self.pid, "KILL");
        }
    }
}

/// Replaces pids, uptimes, dates and the test directories with fixed tokens.
pub fn normalize(s: &str, dirs: &[&Path]) -> String {
    let mut s = s.to_string();
    for d in dirs {
        s = s.replace(&*d.to_string_lossy(), "DIR");
    }
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let starts = |i: usize, p: &str| b[i..].iter().take(p.len()).copied().eq(p.chars());
    while i < b.len() {
        if starts(i, "pid ") && b.get(i + 4).is_some_and(char::is_ascii_digit) {
            out.push_str("pid N");
            i += 4;
            while b.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            continue;
        }
        if starts(i, "uptime ") {
            out.push_str("uptime U");
            i += 7;
            while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == ':') {
                i += 1;
            }
            continue;
        }
        if months.iter().any(|m| starts(i, m))
            && i + 15 <= b.len()
            && (starts(i + 13, "AM") || starts(i + 13, "PM"))
        {
            out.push_str("DATE");
            i += 15;
            continue;
        }
        if starts(i, "---supervisor-") && i + 22 <= b.len() {
            out.push_str("---supervisor-RAND");
            i += 22;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    // a line that is only digits is a pid
    out.lines()
        .map(|l| {
            if !l.is_empty() && l.chars().all(|c| c.is_ascii_digit()) {
                "N"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts the real daemon and warden on the same programs, each in its own
/// sub-directory of `scratch`.
pub fn pair(scratch: &Scratch, programs: &str) -> (Sup, Sup) {
    pair_with(scratch, HEADER, programs)
}

/// [`pair`] with another config header.
pub fn pair_with(scratch: &Scratch, header: &str, programs: &str) -> (Sup, Sup) {
    let real_dir = scratch.join("real");
    let ward_dir = scratch.join("warden");
    let p = programs.to_string();
    let h = header.to_string();
    let rd = real_dir.clone();
    let t = std::thread::spawn(move || Sup::start_with(Kind::Real, &rd, &h, &p));
    let w = Sup::start_with(Kind::Warden, &ward_dir, header, programs);
    let r = t.join().expect("real supervisord started");
    (r, w)
}

/// Runs the same supervisorctl command on both and returns both normalised.
pub fn both(r: &Sup, w: &Sup, args: &[&str]) -> ((String, i32), (String, i32)) {
    let dirs = [r.dir.as_path(), w.dir.as_path()];
    let (a, b) = std::thread::scope(|s| {
        let ta = s.spawn(|| r.ctl(args));
        let b = w.ctl(args);
        (ta.join().unwrap(), b)
    });
    ((normalize(&a.0, &dirs), a.1), (normalize(&b.0, &dirs), b.1))
}

/// Asserts that a command gives the same output and exit code on both.
pub fn same(r: &Sup, w: &Sup, args: &[&str]) -> String {
    let (a, b) = both(r, w, args);
    assert_eq!(
        a, b,
        "supervisorctl {args:?}: real (left) vs warden (right)"
    );
    a.0
}

/// Like [`same`], but ignores line order: group and `all` results come back
/// in the order the processes finished, which differs from run to run.
pub fn same_unordered(r: &Sup, w: &Sup, args: &[&str]) -> String {
    let (a, b) = both(r, w, args);
    let sorted = |s: &str| {
        let mut v: Vec<&str> = s.lines().collect();
        v.sort_unstable();
        v.join("\n")
    };
    assert_eq!(
        (sorted(&a.0), a.1),
        (sorted(&b.0), b.1),
        "supervisorctl {args:?}: real (left) vs warden (right)"
    );
    a.0
}

/// Sorts the `<struct>` elements of a result array (for order-free compares).
pub fn sort_structs(x: &str) -> String {
    const END: &str = "</struct></value>";
    let mut parts: Vec<String> = x.split("<value><struct>").map(str::to_string).collect();
    let head = parts.remove(0);
    // The last block carries the rest of the document after its own end:
    // peel it off, or it would travel with whichever struct sorts last.
    let tail = match parts.last_mut() {
        Some(last) => match last.find(END) {
            Some(i) => last.split_off(i + END.len()),
            None => String::new(),
        },
        None => String::new(),
    };
    for p in &mut parts {
        while p.ends_with('\n') {
            p.pop();
        }
    }
    parts.sort_unstable();
    format!(
        "{head}<value><struct>{}{tail}",
        parts.join("\n<value><struct>")
    )
}

#[test]
fn sort_structs_keeps_the_document_whole() {
    let doc =
        "<data>\n<value><struct>B</struct></value>\n<value><struct>A</struct></value>\n</data>";
    assert_eq!(
        sort_structs(doc),
        "<data>\n<value><struct>A</struct></value>\n<value><struct>B</struct></value>\n</data>"
    );
    assert_eq!(sort_structs(&sort_structs(doc)), sort_structs(doc));
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (up to 10 s) until `pid` ignores SIGTERM (`sv-child --ignore-term`
/// is RUNNING before its handler is set when startsecs=0).
#[allow(dead_code)]
pub fn wait_ignoring_term(pid: i32) {
    wait_for(Duration::from_secs(10), "SIGTERM ignored", || {
        let mask = test_programs::status_field(pid, "SigIgn")?;
        let mask = u64::from_str_radix(&mask, 16).ok()?;
        (mask & (1 << 14) != 0).then_some(())
    });
}
