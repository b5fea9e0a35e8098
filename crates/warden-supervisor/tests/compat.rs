//! The last details of supervisord compatibility, each compared with the
//! real supervisord 4.3.0 on the same config: the debug echo of child output,
//! fault texts, the log-reopen line, `-?`, the order of start-up lines and
//! syslog output.

mod helper;

use std::time::Duration;

use helper::{normalize, pair, pair_with, same, wait_for, Scratch, Sup, HEADER};

fn debug_header() -> String {
    HEADER.replace("loglevel=info", "loglevel=debug")
}

/// The main-log entries that echo child output (`'NAME' stdout output:` and
/// the text up to the next dated line), without their timestamps.
fn echoes(log: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in log.lines() {
        let dated = line.len() > 24 && line.as_bytes()[4] == b'-' && line.as_bytes()[19] == b',';
        if dated {
            out.extend(cur.take());
            if line.contains(" output:") {
                cur = Some(line[24..].to_string());
            }
        } else if let Some(c) = &mut cur {
            c.push('\n');
            c.push_str(line);
        }
    }
    out.extend(cur);
    out
}

#[test]
fn debug_echo_of_child_output_matches() {
    let scratch = Scratch::new();
    let script = scratch.join("emit.sh");
    std::fs::write(
        &script,
        "printf 'hello there\\n'\nsleep 0.5\nprintf 'bad \\377 byte\\n' >&2\nsleep 0.5\nprintf 'two\\nlines\\n'\nexec sleep 1000\n",
    )
    .unwrap();
    let progs = format!(
        "[program:talk]\ncommand=/bin/sh {}\nstartsecs=0\nautorestart=false\n",
        script.display()
    );
    let (r, w) = pair_with(&scratch, &debug_header(), &progs);
    let want = 3;
    let got = |s: &Sup| {
        wait_for(Duration::from_secs(15), "three echoes", || {
            let e = echoes(&s.mainlog());
            (e.len() >= want).then_some(e)
        })
    };
    let (a, b) = (got(&r), got(&w));
    assert_eq!(a, b, "real (left) vs warden (right)");
    assert!(
        b.iter()
            .any(|e| e.contains("Undecodable: b'bad \\xff byte\\n'")),
        "{b:?}"
    );
}

#[test]
fn no_file_and_cant_reread_texts_match() {
    let scratch = Scratch::new();
    let progs = "
[program:quiet]
command={child} --tag {tag}
startsecs=0
stdout_logfile=NONE
";
    let (r, w) = pair(&scratch, progs);
    r.settle();
    w.settle();
    let dirs = [r.dir.as_path(), w.dir.as_path()];
    // a log that is NONE: supervisord's fault text is just `NO_FILE`
    let params = "<param><value><string>quiet</string></value></param>\n<param><value><int>0</int></value></param>\n<param><value><int>100</int></value></param>\n";
    let a = normalize(&r.rpc("supervisor.readProcessStdoutLog", params), &dirs);
    let b = normalize(&w.rpc("supervisor.readProcessStdoutLog", params), &dirs);
    assert_eq!(a, b, "readProcessStdoutLog: real (left) vs warden (right)");
    assert!(b.contains("<string>NO_FILE</string>"), "{b}");
    // a config broken after start: reread and update print supervisord's words
    for bad in [
        "[program:bad]\ncommand=sleep 1\nstartsecs=abc\n",
        "[program:bad]\nstartsecs=1\n",
        "[program:bad]\ncommand=sleep 1\nautorestart=maybe\n",
        "[program:bad]\ncommand=sleep 1\nstopsignal=FOO\n",
        "[program:bad]\ncommand=sleep 1\nnumprocs=2\n",
    ] {
        let confs: Vec<String> = [&r, &w]
            .iter()
            .map(|s| std::fs::read_to_string(&s.conf).unwrap())
            .collect();
        for (s, c) in [&r, &w].iter().zip(&confs) {
            std::fs::write(&s.conf, format!("{c}\n{bad}")).unwrap();
        }
        let out = same(&r, &w, &["reread"]);
        assert!(
            out.contains("in section 'program:bad' (file: 'DIR/sup.conf')"),
            "{out}"
        );
        same(&r, &w, &["update"]);
        for (s, c) in [&r, &w].iter().zip(&confs) {
            std::fs::write(&s.conf, c).unwrap();
        }
    }
}

#[test]
fn usr2_logs_the_reopen_like_supervisord() {
    let scratch = Scratch::new();
    let (r, w) = pair(
        &scratch,
        "[program:calm]\ncommand={child} --tag {tag}\nstartsecs=0\n",
    );
    r.settle();
    w.settle();
    let lines = |s: &Sup| {
        test_programs::kill(s.pid, "USR2");
        wait_for(Duration::from_secs(15), "the reopen line", || {
            let log = s.mainlog();
            let v: Vec<String> = log
                .lines()
                .filter(|l| l.contains("SIGUSR2") || l.contains("logreopen"))
                .map(|l| l.get(24..).unwrap_or("").to_string())
                .collect();
            (v.len() >= 2).then_some(v)
        })
    };
    let (a, b) = (lines(&r), lines(&w));
    assert_eq!(a, b, "real (left) vs warden (right)");
    assert_eq!(
        b,
        [
            "INFO received SIGUSR2 indicating log reopen request",
            "INFO supervisord logreopen"
        ]
    );
}

#[test]
fn raised_limits_are_logged_like_supervisord() {
    // both daemons start with a soft limit of 1000 descriptors and raise it
    // to minfds (below the hard limit, which only CAP_SYS_RESOURCE may raise)
    let want = 1500u64;
    let scratch = Scratch::new();
    let header = HEADER.replace("loglevel=info", &format!("loglevel=info\nminfds={want}"));
    let progs = "[program:calm]\ncommand={child} --tag {tag}\nstartsecs=0\n";
    let prefix = ["prlimit", "--nofile=1000:"];
    let r = Sup::start_via(
        helper::Kind::Real,
        &scratch.join("real"),
        &header,
        progs,
        &prefix,
    );
    let w = Sup::start_via(
        helper::Kind::Warden,
        &scratch.join("warden"),
        &header,
        progs,
        &prefix,
    );
    r.settle();
    w.settle();
    let lines = |s: &Sup| -> Vec<String> {
        let head: Vec<String> = s
            .mainlog()
            .lines()
            .take_while(|l| !l.contains("supervisord started"))
            .map(|l| l.get(24..).unwrap_or("").to_string())
            .collect();
        let limit = std::fs::read_to_string(format!("/proc/{}/limits", s.pid)).unwrap();
        assert!(
            limit.lines().any(|l| l.starts_with("Max open files")
                && l.split_whitespace().nth(3) == Some(&want.to_string())),
            "{limit}"
        );
        head
    };
    let (a, b) = (lines(&r), lines(&w));
    assert_eq!(a, b, "real (left) vs warden (right)");
    assert!(
        b.contains(&format!("INFO Increased RLIMIT_NOFILE limit to {want}")),
        "{b:?}"
    );
}

#[test]
fn question_mark_is_help_like_supervisord() {
    let run = |exe: std::path::PathBuf, pre: &[&str]| {
        let out = std::process::Command::new(exe)
            .args(pre)
            .arg("-?")
            .output()
            .expect("run with -?");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.stderr.is_empty(),
        )
    };
    let real = run(helper::supervisor_bin().join("supervisord"), &[]);
    assert_eq!(real.0, Some(0));
    assert!(real.1.contains("Usage:") && real.2, "{real:?}");
    for (exe, pre) in [
        (helper::bin("warden-supervisord"), &[][..]),
        (helper::bin("warden"), &["supervise"][..]),
    ] {
        let (code, out, quiet) = run(exe, pre);
        assert_eq!(code, real.0, "{pre:?}: {out}");
        assert!(
            out.contains("Usage:") && out.contains("--configuration"),
            "{out}"
        );
        assert!(quiet, "{pre:?}: help goes to stdout only");
    }
}

#[test]
fn startsecs_zero_logs_every_spawn_before_the_successes() {
    let scratch = Scratch::new();
    let progs = "
[program:a]
command={child} --tag {tag}
startsecs=0

[program:b]
command={child} --tag {tag}
startsecs=0

[program:c]
command={child} --tag {tag}
startsecs=0
";
    let (r, w) = pair(&scratch, progs);
    let order = |s: &Sup| {
        wait_for(Duration::from_secs(15), "three successes", || {
            let dirs = [r.dir.as_path(), w.dir.as_path()];
            let v: Vec<String> = s
                .mainlog()
                .lines()
                .filter(|l| l.contains(" spawned: ") || l.contains(" success: "))
                .map(|l| normalize(l.get(24..).unwrap_or(""), &dirs))
                .collect();
            (v.iter().filter(|l| l.contains("success:")).count() == 3).then_some(v)
        })
    };
    let (a, b) = (order(&r), order(&w));
    assert_eq!(a, b, "real (left) vs warden (right)");
    assert!(b[..3].iter().all(|l| l.contains("spawned:")), "{b:?}");
}

/// Runs its arguments with `$1` bound at `/dev/log`, in a private mount
/// namespace (started by `unshare`) whose `/dev` is a tmpfs holding only
/// the usual device nodes, so the host's `/dev` is never touched.
const WITH_DEV_LOG: &str = r#"set -e
S=$1; shift
O=$(mktemp -d)
mount --bind /dev "$O"
mount -t tmpfs tmpfs /dev
for n in null zero random urandom tty full; do touch /dev/$n; mount --bind "$O/$n" /dev/$n; done
ln -s /proc/self/fd /dev/fd
touch /dev/log
mount --bind "$S" /dev/log
umount -l "$O"
rmdir "$O"
exec "$@"
"#;

/// Starts `kind` in `scratch/sub`, in a mount namespace of its own whose
/// `/dev/log` is a datagram socket the test reads (returned, with a 200 ms
/// read timeout).
fn start_with_dev_log(
    scratch: &Scratch,
    kind: helper::Kind,
    sub: &str,
    header: &str,
    progs: &str,
) -> (Sup, std::os::unix::net::UnixDatagram) {
    let wrapper = scratch.join("with-dev-log.sh");
    std::fs::write(&wrapper, WITH_DEV_LOG).unwrap();
    let sock_path = scratch.join(&format!("{sub}.sock"));
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let prefix = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        wrapper.to_str().unwrap(),
        sock_path.to_str().unwrap(),
    ];
    let sup = Sup::start_via(kind, &scratch.join(sub), header, progs, &prefix);
    (sup, sock)
}

#[test]
fn syslog_output_matches_what_supervisord_sends() {
    let scratch = Scratch::new();
    let progs = r#"
[program:talk]
command=/bin/sh -c "printf 'hello\n\nworld\n'; sleep 0.3; printf 'err line\n' >&2; sleep 0.3; printf 'no newline'; exec sleep 1000"
stdout_syslog=true
stderr_syslog=true
startsecs=0
"#;
    let receive = |kind: helper::Kind, sub: &str| {
        let (sup, sock) = start_with_dev_log(&scratch, kind, sub, HEADER, progs);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        wait_for(Duration::from_secs(15), "five syslog messages", || {
            if let Ok(n) = sock.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            (got.len() >= 5).then_some(())
        });
        // nothing more arrives: once the tail shows the last line, its
        // syslog message was sent too (the same chunk)
        wait_for(Duration::from_secs(10), "the last line captured", || {
            sup.ctl(&["tail", "talk"])
                .0
                .contains("no newline")
                .then_some(())
        });
        while let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        let (tail, _) = sup.ctl(&["tail", "talk"]);
        // `<14>Dec  2 07:57:40 ...`: the time is the 15 characters after `>`
        let got: Vec<String> = got
            .iter()
            .map(|m| match m.split_once('>') {
                Some((pri, rest)) if rest.len() > 15 => format!("{pri}>TIME{}", &rest[15..]),
                _ => m.clone(),
            })
            .collect();
        (got, tail)
    };
    let (real, real_tail) = receive(helper::Kind::Real, "real");
    let (ward, ward_tail) = receive(helper::Kind::Warden, "warden");
    assert_eq!(real, ward, "real (left) vs warden (right)");
    assert_eq!(
        ward,
        [
            "<14>TIME supervisord: talk hello",
            "<14>TIME supervisord: talk ",
            "<14>TIME supervisord: talk world",
            "<14>TIME supervisord: talk err line",
            "<14>TIME supervisord: talk no newline",
        ]
    );
    // the log file still gets the output
    assert_eq!(real_tail, ward_tail);
    assert!(
        ward_tail.contains("hello\n\nworld\nno newline"),
        "{ward_tail:?}"
    );
}

#[test]
fn a_main_log_to_syslog_matches_what_supervisord_sends() {
    let scratch = Scratch::new();
    let header = HEADER.replace("logfile=%(here)s/main.log", "logfile=syslog");
    let progs = "[program:talk]\ncommand=sleep 1000\nstartsecs=0\n";
    let receive = |kind: helper::Kind, sub: &str| {
        let (sup, sock) = start_with_dev_log(&scratch, kind, sub, &header, progs);
        let dir = sup.dir.clone();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        wait_for(Duration::from_secs(15), "the success line", || {
            if let Ok(n) = sock.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            got.iter()
                .any(|m| m.contains("success: talk"))
                .then_some(())
        });
        // a record of several lines is one message per line
        sup.ctl(&["stop", "talk"]);
        wait_for(Duration::from_secs(15), "the stop line", || {
            if let Ok(n) = sock.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            got.iter()
                .any(|m| m.contains("stopped: talk"))
                .then_some(())
        });
        // readLog has no file to read
        let (maintail, _) = sup.ctl(&["maintail"]);
        // `<14>Dec  2 07:57:40 supervisord: 2026-12-02 07:57:40,123 INFO ...`
        let got: Vec<String> = got
            .iter()
            .map(|m| match m.split_once('>') {
                Some((pri, rest)) if rest.len() > 15 => {
                    let rest = &rest[15..];
                    let rest = match rest.split_once(": ") {
                        Some((ident, msg)) if msg.len() > 23 => {
                            format!("{ident}: STAMP{}", &msg[23..])
                        }
                        _ => rest.to_string(),
                    };
                    // (normalize drops the newline the record ends with)
                    let end = if m.ends_with('\n') { "\n" } else { "" };
                    normalize(&format!("{pri}>TIME{rest}"), &[&dir]) + end
                }
                _ => m.clone(),
            })
            .collect();
        (got, maintail)
    };
    let (real, real_tail) = receive(helper::Kind::Real, "real");
    let (ward, ward_tail) = receive(helper::Kind::Warden, "warden");
    assert_eq!(real, ward, "real (left) vs warden (right)");
    for want in [
        "<14>TIME supervisord: STAMP INFO spawned: 'talk' with pid N\n",
        "<14>TIME supervisord: STAMP WARN stopped: talk (terminated by SIGTERM)\n",
    ] {
        assert!(ward.iter().any(|m| m == want), "{want:?} in {ward:#?}");
    }
    assert_eq!(real_tail, ward_tail);
}

/// The inode of the socket that is `pid`'s fd 0 (`socket:[N]`).
fn fd0_socket(pid: i32) -> String {
    std::fs::read_link(format!("/proc/{pid}/fd/0"))
        .map(|l| l.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Connects and reads the greeting of `sv-child --fcgi`.
fn greet(addr: &Result<u16, std::path::PathBuf>) -> std::io::Result<String> {
    use std::io::Read;
    let mut out = String::new();
    match addr {
        Ok(port) => {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", *port))?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.read_to_string(&mut out)?;
        }
        Err(path) => {
            let mut s = std::os::unix::net::UnixStream::connect(path)?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.read_to_string(&mut out)?;
        }
    }
    Ok(out)
}

/// `[fcgi-program:x]`: every process of the group gets the socket the
/// supervisor made as its fd 0 (a listening socket of the right family, on
/// which it accepts the test's connections), for TCP and unix sockets, with
/// `socket_mode`; restarting one process keeps the socket; removing the
/// group closes it. The same on both.
#[test]
fn fcgi_program_sockets_match() {
    let scratch = Scratch::new();
    let conf = |port: u16| {
        format!(
            "
[fcgi-program:web]
command={{child}} --fcgi --tag {{tag}}
socket=tcp://127.0.0.1:{port}
socket_backlog=7
process_name=%(program_name)s_%(process_num)s
numprocs=2
startsecs=0
stdout_logfile=%(here)s/web-%(process_num)s.log

[fcgi-program:local]
command={{child}} --fcgi --tag {{tag}}
socket=unix://%(here)s/fcgi.sock
socket_mode=0660
socket_owner=nobody:nogroup
startsecs=0
stdout_logfile=%(here)s/local.log
"
        )
    };
    let (rp, wp) = (helper::free_port(), helper::free_port());
    let r = Sup::start(helper::Kind::Real, &scratch.join("r"), &conf(rp));
    let w = Sup::start(helper::Kind::Warden, &scratch.join("w"), &conf(wp));
    r.settle();
    w.settle();
    same(&r, &w, &["status"]);
    for (s, port) in [(&r, rp), (&w, wp)] {
        let who = format!("{:?}", s.kind);
        let pids: Vec<i32> = ["web:web_0", "web:web_1"]
            .iter()
            .map(|n| wait_for(Duration::from_secs(10), n, || s.running_pid(n)))
            .collect();
        let hello = greet(&Ok(port)).expect("connect to the tcp socket");
        // a listening socket's Send-Q is its backlog
        let ss = std::process::Command::new("ss")
            .args(["-Hltn", &format!("sport = :{port}")])
            .output()
            .expect("ss (iproute2; scripts/test installs it)");
        let ss = String::from_utf8_lossy(&ss.stdout).into_owned();
        assert_eq!(
            ss.split_whitespace().nth(2),
            Some("7"),
            "{who}: socket_backlog: {ss}"
        );
        assert!(
            pids.iter().any(|p| hello == format!("hello from {p}\n")),
            "{who}: {hello:?} from one of {pids:?}"
        );
        let local = s.dir.join("fcgi.sock");
        let hello = greet(&Err(local.clone())).expect("connect to the unix socket");
        assert!(hello.starts_with("hello from "), "{who}: {hello:?}");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&local).unwrap().permissions(),
        );
        assert_eq!(mode & 0o7777, 0o660, "{who}: socket_mode");
        let meta = std::fs::metadata(&local).unwrap();
        let owner = (
            std::os::unix::fs::MetadataExt::uid(&meta),
            std::os::unix::fs::MetadataExt::gid(&meta),
        );
        assert_eq!(owner, (65534, 65534), "{who}: socket_owner nobody:nogroup");
        for (log, family) in [
            ("web-0.log", "inet"),
            ("web-1.log", "inet"),
            ("local.log", "unix"),
        ] {
            let text = std::fs::read_to_string(s.dir.join(log)).unwrap_or_default();
            assert_eq!(text, format!("fd0: listening {family}\n"), "{who}: {log}");
        }
        // Both processes share one socket, and it outlives a restart.
        let inode = fd0_socket(pids[0]);
        assert!(inode.starts_with("socket:["), "{who}: {inode}");
        assert_eq!(fd0_socket(pids[1]), inode, "{who}: one socket");
        s.ctl(&["restart", "web:web_0"]);
        let again = wait_for(Duration::from_secs(10), "web_0 again", || {
            s.running_pid("web:web_0").filter(|p| *p != pids[0])
        });
        assert_eq!(
            fd0_socket(again),
            inode,
            "{who}: same socket after a restart"
        );
        assert!(greet(&Ok(port)).is_ok(), "{who}");
    }
    // group results come in completion order on supervisord
    helper::same_unordered(&r, &w, &["stop", "web:*"]);
    same(&r, &w, &["remove", "web"]);
    for (s, port) in [(&r, rp), (&w, wp)] {
        let refused = greet(&Ok(port)).map_err(|e| e.kind());
        assert_eq!(
            refused,
            Err(std::io::ErrorKind::ConnectionRefused),
            "{:?}: the socket is closed with its group",
            s.kind
        );
    }
    // warden keeps a group's socket while its processes are stopped
    // (supervisord closes it): connections wait in the backlog.
    same(&r, &w, &["stop", "local"]);
    let local = w.dir.join("fcgi.sock");
    assert!(std::os::unix::net::UnixStream::connect(&local).is_ok());
    assert!(
        w.mainlog().contains("Creating socket unix://"),
        "{}",
        w.mainlog()
    );
}
