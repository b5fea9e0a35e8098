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

#[test]
fn syslog_output_matches_what_supervisord_sends() {
    use std::os::unix::net::UnixDatagram;
    let scratch = Scratch::new();
    let wrapper = scratch.join("with-dev-log.sh");
    std::fs::write(&wrapper, WITH_DEV_LOG).unwrap();
    let progs = r#"
[program:talk]
command=/bin/sh -c "printf 'hello\n\nworld\n'; sleep 0.3; printf 'err line\n' >&2; sleep 0.3; printf 'no newline'; exec sleep 1000"
stdout_syslog=true
stderr_syslog=true
startsecs=0
"#;
    let receive = |kind: helper::Kind, sub: &str| {
        let sock_path = scratch.join(&format!("{sub}.sock"));
        let sock = UnixDatagram::bind(&sock_path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let dir = scratch.join(sub);
        let prefix = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            wrapper.to_str().unwrap(),
            sock_path.to_str().unwrap(),
        ];
        let sup = Sup::start_via(kind, &dir, HEADER, progs, &prefix);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        wait_for(Duration::from_secs(15), "five syslog messages", || {
            if let Ok(n) = sock.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            (got.len() >= 5).then_some(())
        });
        // nothing more arrives
        std::thread::sleep(Duration::from_millis(300));
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
