//! superlance, unchanged, against warden and against the real supervisord
//! 4.3.0: crashmail, memmon, httpok and fatalmailbatch do their job on both.
//! (superlance is installed from PyPI into the test venv by
//! `scripts/ensure-supervisor`.)

mod helper;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use helper::{pair, supervisor_bin, wait_for, Scratch, Sup};

fn tool(name: &str) -> PathBuf {
    let p = supervisor_bin().join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/ensure-supervisor",
        p.display()
    );
    p
}

/// Runs `check` on both supervisors at once (each has its own directory).
fn on_both(r: &Sup, w: &Sup, check: impl Fn(&Sup) + Sync) {
    std::thread::scope(|s| {
        let t = s.spawn(|| check(r));
        check(w);
        t.join().expect("the real supervisord's check");
    });
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn crashmail_mails_an_unexpected_exit() {
    let scratch = Scratch::new();
    for d in ["real", "warden"] {
        let dir = scratch.join(d);
        let p = write(
            &dir,
            "sendmail",
            "#!/bin/sh\ncat >> \"$(dirname \"$0\")/mail.txt\"\n",
        );
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let programs = format!(
        "[eventlistener:crashmail]\ncommand={} -a -m ops@example.invalid -s %(here)s/sendmail\nevents=PROCESS_STATE_EXITED\n\n\
         [program:crashy]\ncommand={{child}} --after 1500 --exit 2 --tag {{tag}}\nstartsecs=1\nautorestart=false\n",
        tool("crashmail").display()
    );
    let (r, w) = pair(&scratch, &programs);
    on_both(&r, &w, |sup| {
        let mail = wait_for(Duration::from_secs(30), "crashmail's mail", || {
            let m = std::fs::read_to_string(sup.dir.join("mail.txt")).ok()?;
            m.contains("crashy").then_some(m)
        });
        assert!(mail.contains("To: ops@example.invalid"), "{mail}");
        assert!(mail.contains("crashy crashed at"), "{mail}");
    });
}

#[test]
fn memmon_restarts_a_program_over_its_limit() {
    let scratch = Scratch::new();
    let programs = format!(
        "[eventlistener:memmon]\ncommand={} -p hog=20MB\nevents=TICK_5\n\n\
         [program:hog]\ncommand=python3 -c \"import time; x = bytearray(48 << 20); x[::4096] = b'1' * len(x[::4096]); time.sleep(1000)\"\nstartsecs=0\n",
        tool("memmon").display()
    );
    let (r, w) = pair(&scratch, &programs);
    on_both(&r, &w, |sup| {
        let first = wait_for(Duration::from_secs(20), "hog running", || {
            sup.running_pid("hog")
        });
        let second = wait_for(Duration::from_secs(30), "hog restarted by memmon", || {
            sup.running_pid("hog").filter(|p| *p != first)
        });
        assert_ne!(first, second);
    });
}

#[test]
fn httpok_restarts_a_program_whose_url_stops_answering() {
    let scratch = Scratch::new();
    let programs = |port: u16| {
        format!(
            "[eventlistener:httpok]\ncommand={} -p web -t 2 http://127.0.0.1:{port}/\nevents=TICK_5\n\n\
             [program:web]\ncommand=python3 -m http.server --bind 127.0.0.1 {port}\ndirectory=%(here)s\nstartsecs=1\nstopwaitsecs=1\n",
            tool("httpok").display()
        )
    };
    // each supervisor gets its own port, so write the configs by hand
    let (rp, wp) = (helper::free_port(), helper::free_port());
    let rd = scratch.join("real");
    let (r, w) = std::thread::scope(|s| {
        let t = s.spawn(|| Sup::start(helper::Kind::Real, &rd, &programs(rp)));
        let w = Sup::start(helper::Kind::Warden, &scratch.join("warden"), &programs(wp));
        (t.join().unwrap(), w)
    });
    on_both(&r, &w, |sup| {
        let first = wait_for(Duration::from_secs(20), "web running", || {
            sup.running_pid("web")
        });
        wait_for(Duration::from_secs(20), "the page answering", || {
            let port = if sup.kind == helper::Kind::Real {
                rp
            } else {
                wp
            };
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        // The server stops answering (accepts, never replies).
        test_programs::kill(first, "STOP");
        let second = wait_for(Duration::from_secs(40), "web restarted by httpok", || {
            sup.running_pid("web").filter(|p| *p != first)
        });
        assert_ne!(first, second);
    });
}

/// A minimal SMTP server that appends each message to a file.
const SMTP_SINK: &str = r#"
import socketserver, sys
out = sys.argv[2]
class H(socketserver.StreamRequestHandler):
    def handle(self):
        w = lambda s: self.wfile.write((s + "\r\n").encode())
        w("220 sink")
        data = False
        while True:
            line = self.rfile.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\r\n")
            if data:
                if text == ".":
                    data = False
                    w("250 ok")
                else:
                    open(out, "a").write(text + "\n")
                continue
            verb = text.split(" ")[0].upper()
            if verb == "EHLO":
                w("250 sink")
            elif verb == "DATA":
                data = True
                w("354 go")
            elif verb == "QUIT":
                w("221 bye")
                return
            else:
                w("250 ok")
socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn fatalmailbatch_sends_one_mail_when_a_program_goes_fatal() {
    let scratch = Scratch::new();
    let mut sinks = Vec::new();
    let mut programs = Vec::new();
    for d in ["real", "warden"] {
        let dir = scratch.join(d);
        let port = helper::free_port();
        let script = write(&dir, "smtp.py", SMTP_SINK);
        sinks.push(Sink(
            Command::new(supervisor_bin().join("python"))
                .arg(&script)
                .arg(port.to_string())
                .arg(dir.join("mail.txt"))
                .spawn()
                .unwrap(),
        ));
        wait_for(Duration::from_secs(10), "the SMTP sink", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        programs.push(format!(
            "[eventlistener:fatal]\ncommand={} --toEmail=ops@example.invalid --fromEmail=sup@example.invalid --smtpHost=127.0.0.1:{port} --tickEvent=TICK_5 --interval=0.05\nevents=PROCESS_STATE,TICK_5\n\n\
             [program:doomed]\ncommand={{child}} --exit 1 --tag {{tag}}\nstartsecs=1\nstartretries=1\n",
            tool("fatalmailbatch").display()
        ));
    }
    let rd = scratch.join("real");
    let (r, w) = std::thread::scope(|s| {
        let t = s.spawn(|| Sup::start(helper::Kind::Real, &rd, &programs[0]));
        let w = Sup::start(helper::Kind::Warden, &scratch.join("warden"), &programs[1]);
        (t.join().unwrap(), w)
    });
    on_both(&r, &w, |sup| {
        let mail = wait_for(Duration::from_secs(30), "the batch mail", || {
            let m = std::fs::read_to_string(sup.dir.join("mail.txt")).ok()?;
            m.contains("doomed failed to start too many times")
                .then_some(m)
        });
        assert!(
            mail.contains("Subject: Fatal start alert from supervisord"),
            "{mail}"
        );
        assert_eq!(mail.matches("Subject:").count(), 1, "one mail: {mail}");
    });
    drop(sinks);
}
