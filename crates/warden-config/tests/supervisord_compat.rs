//! Expected values below were obtained by loading the same configs with
//! supervisord 4.3.0's `ServerOptions` (Python 3.11).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use warden_config::*;

const SUP: &str = "[supervisord]\nlogfile=/tmp/x.log\n";

fn procs(l: &Loaded) -> Vec<&ProcessConfig> {
    l.config.processes().collect()
}

#[test]
fn program_defaults_match_supervisord() {
    let l = ok(&format!("{SUP}[program:cat]\ncommand=/bin/cat\n"));
    let p = procs(&l)[0];
    assert_eq!(p.name, "cat");
    assert_eq!(p.group, "cat");
    assert_eq!(p.command, "/bin/cat");
    assert_eq!(p.argv, Ok(vec!["/bin/cat".to_string()]));
    assert_eq!(p.priority, 999);
    assert!(p.autostart);
    assert_eq!(p.autorestart, AutoRestart::Unexpected);
    assert_eq!(p.startsecs, 1);
    assert_eq!(p.startretries, 3);
    assert_eq!(p.exitcodes, vec![0]);
    assert_eq!(p.stopsignal, libc::SIGTERM);
    assert_eq!(p.stopwaitsecs, 10);
    assert!(!p.stopasgroup && !p.killasgroup);
    assert_eq!(p.user, None);
    assert!(!p.redirect_stderr);
    for s in [&p.stdout, &p.stderr] {
        assert_eq!(s.logfile, LogFile::Auto);
        assert_eq!(s.logfile_maxbytes, 52_428_800);
        assert_eq!(s.logfile_backups, 10);
        assert_eq!(s.capture_maxbytes, 0);
        assert!(!s.events_enabled && !s.syslog);
    }
    assert_eq!(p.environment, vec![]);
    assert_eq!(p.directory, None);
    assert_eq!(p.umask, None);
    assert_eq!(p.serverurl, None);
    assert_eq!((p.numprocs, p.numprocs_start, p.process_num), (1, 0, 0));
    assert_eq!(p.kind, ProcessKind::Program);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn supervisord_defaults() {
    let l = ok("[supervisord]\n");
    let s = &l.config.supervisord;
    assert_eq!(s.logfile, PathBuf::from("/work/supervisord.log"));
    assert_eq!(s.pidfile, PathBuf::from("/work/supervisord.pid"));
    assert_eq!(s.logfile_maxbytes, 50 * 1024 * 1024);
    assert_eq!(s.logfile_backups, 10);
    assert_eq!(s.loglevel, LogLevel::Info);
    assert_eq!(s.umask, 0o22);
    assert!(!s.nodaemon && !s.silent && !s.nocleanup && !s.strip_ansi);
    assert_eq!((s.minfds, s.minprocs), (1024, 200));
    assert_eq!(s.childlogdir, PathBuf::from("/tmp"));
    assert_eq!(s.identifier, "supervisor");
    assert_eq!(s.user, None);
    assert_eq!(s.directory, None);
    assert!(l.config.groups.is_empty());
    assert_eq!(l.config.serverurl, None);
}

#[test]
fn supervisord_keys() {
    let l = parse_env("[supervisord]\nlogfile=~/sup.log\nlogfile_maxbytes=1KB\nloglevel=BLATHER\nuser=www\numask=077\nnodaemon=on\nminfds=4096\nidentifier=%(ENV_HOME)s\nchildlogdir=/tmp\ndirectory=/tmp\n", &[("HOME", "/tmp")]).unwrap();
    let s = &l.config.supervisord;
    assert_eq!(s.logfile, PathBuf::from("/tmp/sup.log"));
    assert_eq!(s.logfile_maxbytes, 1024);
    assert_eq!(s.loglevel, LogLevel::Blather);
    assert_eq!((s.user.as_deref(), s.uid), (Some("www"), Some(33)));
    assert_eq!(s.umask, 0o77);
    assert!(s.nodaemon);
    assert_eq!(s.minfds, 4096);
    assert_eq!(s.identifier, "/tmp");
    assert_eq!(s.directory, Some(PathBuf::from("/tmp")));
}

/// supervisord 4.3.0 output: names foo_0, foo_1, foo_10, foo_2 ... (string
/// sort), command "/bin/echo foo 00 1,2 bar baz;notcomment\ncontinued",
/// stdout_logfile /tmp/sv/000.log, exitcodes [], stopsignal 10,
/// autorestart RestartUnconditionally, environment A,B,C,FOO.
#[test]
fn numprocs_quirks_verified() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_string_lossy().into_owned();
    let text = r#"[DEFAULT]
dflt = %(here)s/x
[supervisord]
logfile=/tmp/sup.log  ; comment
environment=A="1,2",B=x/y.z,C='q'
[program:foo]
command=/bin/echo %(program_name)s %(process_num)02d %(ENV_A)s %(ENV_FOO)s;notcomment ;comment
  continued #c
process_name=%(program_name)s_%(process_num)d
numprocs=11
environment=FOO="bar baz"
stdout_logfile=%(here)s/%(process_num)03d.log
exitcodes=
stopsignal=sigusr1
autorestart=TRUE
[group:g]
[inet_http_server]
port=*:9001
username=u
password={SHA}abc
[unix_http_server]
file=%(here)s/s.sock
"#;
    let l = parse_str_with(text, dir.path(), &ctx(&[], Path::new("/"))).unwrap();
    let c = &l.config;
    assert_eq!(c.supervisord.logfile, PathBuf::from("/tmp/sup.log"));
    let env = vec![
        ("A".to_string(), "1,2".to_string()),
        ("B".into(), "x/y.z".into()),
        ("C".into(), "q".into()),
    ];
    assert_eq!(c.supervisord.environment, env);
    let foo = c.group("foo").unwrap();
    let names: Vec<&str> = foo.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "foo_0", "foo_1", "foo_10", "foo_2", "foo_3", "foo_4", "foo_5", "foo_6", "foo_7",
            "foo_8", "foo_9"
        ]
    );
    let p1 = &foo.processes[1];
    assert_eq!(
        p1.command,
        "/bin/echo foo 01 1,2 bar baz;notcomment\ncontinued"
    );
    assert_eq!(
        p1.argv.as_ref().unwrap(),
        &[
            "/bin/echo",
            "foo",
            "01",
            "1,2",
            "bar",
            "baz;notcomment",
            "continued"
        ]
    );
    assert_eq!(
        p1.stdout.logfile,
        LogFile::Path(PathBuf::from(format!("{d}/001.log")))
    );
    assert_eq!(p1.exitcodes, Vec::<u8>::new());
    assert_eq!(p1.stopsignal, libc::SIGUSR1);
    assert_eq!(p1.autorestart, AutoRestart::Always);
    let mut penv = env.clone();
    penv.push(("FOO".into(), "bar baz".into()));
    assert_eq!(p1.environment, penv);
    assert_eq!(p1.process_num, 1);
    // [group:g] without programs= is an empty group, not an error.
    let g = c.group("g").unwrap();
    assert!(g.heterogeneous && g.processes.is_empty());
    assert_eq!(
        c.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["foo", "g"]
    );
    let inet = c.inet_http_server().unwrap();
    assert_eq!((inet.host.as_str(), inet.port), ("", 9001));
    assert_eq!(inet.credentials.password.as_deref(), Some("{SHA}abc"));
    let unix = c.unix_http_server().unwrap();
    assert_eq!(unix.file, PathBuf::from(format!("{d}/s.sock")));
    assert_eq!(unix.chmod, 0o700);
    assert_eq!(
        c.serverurl.as_deref(),
        Some(format!("unix://{d}/s.sock").as_str())
    );
    // the DEFAULT key is visible in every section but unknown to programs
    assert!(l
        .warnings
        .iter()
        .all(|w| w.location.key.as_deref() != Some("dflt")));
}

#[test]
fn numprocs_start_and_zero() {
    // supervisord: group y (priority 3) has y_10, y_9; numprocs=0 gives an empty group x.
    let l = ok(&format!(
        "{SUP}[program:x]\ncommand=a\nnumprocs=0\n[program:y]\ncommand=b\nprocess_name=y_%(process_num)s\nnumprocs=2\nnumprocs_start=9\npriority=3\n"
    ));
    let c = &l.config;
    assert_eq!(c.groups[0].name, "y");
    assert_eq!(c.groups[0].priority, 3);
    let names: Vec<_> = c.groups[0]
        .processes
        .iter()
        .map(|p| p.name.clone())
        .collect();
    assert_eq!(names, ["y_10", "y_9"]);
    assert_eq!(c.groups[0].processes[0].process_num, 10);
    assert!(c.group("x").unwrap().processes.is_empty());
}

/// supervisord: `100%%` in a command gives `100%`; [supervisord]
/// environment and *_logfile values are expanded twice, so `%%%%` is needed
/// there for one `%`; a program's environment is expanded once.
#[test]
fn percent_escapes_and_double_expansion_verified() {
    let l = ok("[supervisord]\nenvironment=P=\"100%%%%\"\n[program:x]\ncommand=/bin/x 100%% %(ENV_P)s %(group_name)s %(host_node_name)s\nstdout_logfile=/tmp/x_%%%%.log\nenvironment=Q=\"a%%b\"\ndirectory=/srv/%(process_num)d\n");
    let p = procs(&l)[0];
    assert_eq!(p.command, "/bin/x 100% 100% x node1");
    assert_eq!(p.stdout.logfile, LogFile::Path("/tmp/x_%.log".into()));
    assert_eq!(p.directory.as_deref(), Some("/srv/0"));
    assert_eq!(
        p.environment,
        vec![
            ("P".to_string(), "100%".to_string()),
            ("Q".into(), "a%b".into())
        ]
    );
    // one level of %% in a logfile is not enough
    let e = errs("[supervisord]\n[program:x]\ncommand=a\nstdout_logfile=/tmp/x_%%.log\n");
    assert_eq!(e.0[0].location.key.as_deref(), Some("stdout_logfile"));
}

#[test]
fn env_home_and_program_env_override() {
    let l = parse_env(
        "[supervisord]\nenvironment=SHARED=sup\n[program:x]\ncommand=%(ENV_HOME)s/bin/x %(ENV_SHARED)s\nenvironment=SHARED=prog\n",
        &[("HOME", "/home/u"), ("SHARED", "os")],
    )
    .unwrap();
    let p = procs(&l)[0];
    assert_eq!(p.command, "/home/u/bin/x prog");
    assert_eq!(
        p.environment,
        vec![("SHARED".to_string(), "prog".to_string())]
    );
}

#[test]
fn here_for_main_config() {
    let l = ok("[supervisord]\n[program:x]\ncommand=%(here)s/run\n");
    assert_eq!(procs(&l)[0].command, "/etc/sv/run");
}

/// Verified layout: main.conf includes conf.d/*.conf (a.conf, b.conf, and a
/// hidden .hidden.conf that must not match), extra.ini and a missing glob.
/// supervisord: lst(-1, EventListenerPool), web(1: b then a), main(5);
/// %(here)s from [DEFAULT] resolves per including file.
#[test]
fn include_globs_verified() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let d = root.to_string_lossy().into_owned();
    std::fs::create_dir(root.join("conf.d")).unwrap();
    std::fs::write(
        root.join("main.conf"),
        "[DEFAULT]\nstdout_logfile = %(here)s/%(program_name)s.out\nstartsecs = 7\n\n[supervisord]\nlogfile = %(here)s/sup.log\nenvironment = GLOBAL=\"g v\",SHARED=from_sup\n\n[include]\nfiles = conf.d/*.conf   extra.ini missing/*.conf\n\n[program:main]\ncommand = /bin/main\npriority = 5\n",
    )
    .unwrap();
    std::fs::write(
        root.join("conf.d/b.conf"),
        "[program:b]\ncommand = /bin/b %(here)s %(ENV_GLOBAL)s %(ENV_SHARED)s\nenvironment = SHARED=from_prog\nstdout_logfile = %(ENV_SHARED)s.log\npriority = 5\n",
    )
    .unwrap();
    std::fs::write(
        root.join("conf.d/a.conf"),
        "[program:a]\ncommand = /bin/a\n[group:web]\nprograms = b,a\npriority = 1\n",
    )
    .unwrap();
    std::fs::write(
        root.join("conf.d/.hidden.conf"),
        "[program:hidden]\ncommand=/bin/h\n",
    )
    .unwrap();
    std::fs::write(
        root.join("extra.ini"),
        "[eventlistener:lst]\ncommand = /bin/listener\nevents = PROCESS_STATE,tick_60\n[unix_http_server]\nfile = %(here)s/sock\nchmod = 0770\n",
    )
    .unwrap();
    let l = load_with(&root.join("main.conf"), &ctx(&[("GLOBAL", "x")], root)).unwrap();
    let c = &l.config;
    assert_eq!(
        c.included_files,
        vec![
            root.join("conf.d/a.conf"),
            root.join("conf.d/b.conf"),
            root.join("extra.ini")
        ]
    );
    type ProcSummary = (String, String, i64, i64, LogFile);
    let summary: Vec<(String, i64, Vec<ProcSummary>)> = c
        .groups
        .iter()
        .map(|g| {
            (
                g.name.clone(),
                g.priority,
                g.processes
                    .iter()
                    .map(|p| {
                        (
                            p.name.clone(),
                            p.command.clone(),
                            p.priority,
                            p.startsecs,
                            p.stdout.logfile.clone(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let path = |s: String| LogFile::Path(PathBuf::from(s));
    assert_eq!(
        summary,
        vec![
            (
                "web".to_string(),
                1,
                vec![
                    (
                        "b".to_string(),
                        format!("/bin/b {d}/conf.d g v from_prog"),
                        5,
                        7,
                        path("from_prog.log".into())
                    ),
                    (
                        "a".to_string(),
                        "/bin/a".to_string(),
                        999,
                        7,
                        path(format!("{d}/conf.d/a.out"))
                    ),
                ]
            ),
            (
                "main".to_string(),
                5,
                vec![(
                    "main".to_string(),
                    "/bin/main".to_string(),
                    5,
                    7,
                    path(format!("{d}/main.out"))
                )]
            ),
        ]
    );
    assert_eq!(
        c.group("web").unwrap().processes[1].environment,
        vec![
            ("GLOBAL".to_string(), "g v".to_string()),
            ("SHARED".into(), "from_sup".into())
        ]
    );
    assert_eq!(c.eventlisteners.len(), 1);
    let lst = &c.eventlisteners[0];
    assert_eq!(
        (lst.name.as_str(), lst.priority, lst.buffer_size),
        ("lst", -1, 10)
    );
    assert_eq!(lst.events, ["PROCESS_STATE", "TICK_60"]);
    assert_eq!(lst.processes[0].kind, ProcessKind::EventListener);
    assert_eq!(
        lst.processes[0].stdout.logfile,
        path(format!("{d}/lst.out"))
    );
    let unix = c.unix_http_server().unwrap();
    assert_eq!((unix.file.clone(), unix.chmod), (root.join("sock"), 0o770));
    assert!(l.warnings.iter().any(|w| w.kind
        == WarningKind::IncludeNoMatch {
            pattern: format!("{d}/missing/*.conf")
        }));
    assert!(c.group("hidden").is_none());
}

#[test]
fn include_requires_files() {
    let e = errs("[supervisord]\n[include]\n");
    assert_eq!(e.0[0].location.section.as_deref(), Some("include"));
    assert!(e.0[0].to_string().contains("no files setting"));
}

#[test]
fn include_errors_name_the_included_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("main.conf"),
        "[supervisord]\n[include]\nfiles=*.ini\n",
    )
    .unwrap();
    std::fs::write(
        root.join("bad.ini"),
        "[program:bad]\ncommand=/bin/x\nstartsecs=soon\n",
    )
    .unwrap();
    let e = load_with(&root.join("main.conf"), &ctx(&[], root)).unwrap_err();
    let err = &e.0[0];
    assert_eq!(err.location.file, Some(root.join("bad.ini")));
    assert_eq!(err.location.line, Some(3));
    assert_eq!(err.location.section.as_deref(), Some("program:bad"));
    assert_eq!(err.location.key.as_deref(), Some("startsecs"));
    assert_eq!(
        err.kind,
        ErrorKind::InvalidValue {
            value: "soon".into(),
            reason: "invalid literal for int() with base 10: 'soon'".into()
        }
    );
}

#[test]
fn errors_are_collected_with_locations() {
    let e = errs("[supervisord]\nloglevel=loud\n[program:a]\nautostart=maybe\n[program:b]\ncommand=x\nnumprocs=2\n[program:c]\ncommand=%(nope)s\n");
    let keys: Vec<(Option<&str>, Option<&str>, Option<usize>)> =
        e.0.iter()
            .map(|e| {
                (
                    e.location.section.as_deref(),
                    e.location.key.as_deref(),
                    e.location.line,
                )
            })
            .collect();
    assert!(keys.contains(&(Some("supervisord"), Some("loglevel"), Some(2))));
    assert!(keys.contains(&(Some("program:a"), Some("autostart"), Some(4))));
    assert!(keys.contains(&(Some("program:a"), Some("command"), Some(3))));
    assert!(keys.contains(&(Some("program:b"), Some("process_name"), Some(5))));
    assert!(keys.contains(&(Some("program:c"), Some("command"), Some(9))));
    let text = e.to_string();
    assert!(text.contains("/etc/sv/<string>:2: [supervisord] loglevel: invalid value \"loud\": bad logging level name 'loud'"), "{text}");
    assert!(text.contains("program section program:a does not specify a command"));
    assert!(text.contains("%(process_num) must be present within process_name when numprocs > 1"));
    assert!(text.contains("contains names ('nope') which cannot be expanded. Available names: ENV_HOME, group_name, here, host_node_name, numprocs, process_num, program_name"), "{text}");
}

#[test]
fn syntax_errors_and_missing_sections() {
    let e = errs("[supervisord]\njunk line\n[program:x]\ncommand=a\nmore junk\n");
    assert_eq!(e.0.len(), 2);
    assert_eq!(e.0[0].location.line, Some(2));
    assert_eq!(e.0[1].location.line, Some(5));
    let e = errs("key=value\n[supervisord]\n");
    assert!(matches!(
        e.0[0].kind,
        ErrorKind::MissingSectionHeader { .. }
    ));
    let e = errs("[program:x]\ncommand=a\n");
    assert_eq!(e.0[0].kind, ErrorKind::MissingSupervisordSection);
}

#[test]
fn unknown_keys_and_sections_are_warnings() {
    let l = ok(&format!(
        "{SUP}[program:x]\ncommand=a\nrequires=b\nHealthcheck_Cmd=c\n[unknown]\nk=v\n[ctlplugin:p]\nsupervisor.ctl_factory=x\n"
    ));
    let w: Vec<(Option<&str>, Option<&str>, &WarningKind)> = l
        .warnings
        .iter()
        .map(|w| {
            (
                w.location.section.as_deref(),
                w.location.key.as_deref(),
                &w.kind,
            )
        })
        .collect();
    assert_eq!(
        w,
        vec![
            (
                Some("program:x"),
                Some("requires"),
                &WarningKind::UnknownKey
            ),
            (
                Some("program:x"),
                Some("healthcheck_cmd"),
                &WarningKind::UnknownKey
            ),
            (Some("unknown"), None, &WarningKind::UnknownSection),
        ]
    );
}

#[test]
fn value_checks() {
    let l = ok(&format!(
        "{SUP}[program:x]\ncommand=a\nautorestart=false\nexitcodes=0, 2\nstopsignal=9\nstopasgroup=true\numask=002\nuser=33\nstdout_logfile=NONE\nstderr_logfile=Off\nstdout_logfile_maxbytes=1GB\nserverurl=AUTO\npriority=-5\n"
    ));
    let p = procs(&l)[0];
    assert_eq!(p.autorestart, AutoRestart::Never);
    assert_eq!(p.exitcodes, vec![0, 2]);
    assert_eq!(p.stopsignal, 9);
    assert!(
        p.stopasgroup && p.killasgroup,
        "killasgroup defaults to stopasgroup"
    );
    assert_eq!(p.umask, Some(0o2));
    assert_eq!(p.uid, Some(33));
    assert_eq!(p.stdout.logfile, LogFile::None);
    assert_eq!(p.stderr.logfile, LogFile::None);
    assert_eq!(p.stdout.logfile_maxbytes, 1 << 30);
    assert_eq!(p.serverurl, None);
    assert_eq!(p.priority, -5);

    for (key, value) in [
        ("autorestart", "sometimes"),
        ("exitcodes", "256"),
        ("stopsignal", "NOPE"),
        ("umask", "9"),
        ("user", "nobody-here"),
        ("stdout_logfile_maxbytes", "5XB"),
        ("startretries", "1.5"),
        ("stdout_logfile", "/no/such/dir/x.log"),
    ] {
        let e = errs(&format!("{SUP}[program:x]\ncommand=a\n{key}={value}\n"));
        assert_eq!(e.0.len(), 1, "{key}: {e}");
        assert_eq!(e.0[0].location.key.as_deref(), Some(key));
        assert_eq!(e.0[0].location.line, Some(5));
    }
    let e = errs(&format!(
        "{SUP}[program:x]\ncommand=a\nstopasgroup=true\nkillasgroup=false\n"
    ));
    assert!(e
        .to_string()
        .contains("Cannot set stopasgroup=true and killasgroup=false"));
}

#[test]
fn redirect_stderr_and_log_warnings() {
    let l = ok(&format!(
        "{SUP}[program:x]\ncommand=a\nredirect_stderr=true\nstderr_logfile=/tmp/e.log\nstdout_logfile=syslog\n[program:y]\ncommand=b\nstdout_logfile_maxbytes=0\n"
    ));
    let x = l.config.group("x").unwrap();
    assert_eq!(x.processes[0].stderr.logfile, LogFile::None);
    assert_eq!(x.processes[0].stdout.logfile, LogFile::None);
    assert!(x.processes[0].stdout.syslog);
    let kinds: Vec<&WarningKind> = l.warnings.iter().map(|w| &w.kind).collect();
    assert!(kinds.contains(&&WarningKind::StderrLogfileIgnored));
    assert!(kinds
        .iter()
        .any(|k| matches!(k, WarningKind::DeprecatedSyslogLogfile { .. })));
    assert!(kinds.contains(&&WarningKind::AutoLogWithoutRollover {
        key: "stdout_logfile".into()
    }));
}

#[test]
fn heterogeneous_groups_and_priorities() {
    let l = ok(&format!(
        "{SUP}[program:b]\ncommand=b\npriority=10\n[program:a]\ncommand=a\npriority=20\n[program:solo]\ncommand=s\npriority=1\n[group:svc]\nprograms=a, b\npriority=5\n"
    ));
    let c = &l.config;
    let order: Vec<(&str, i64, bool)> = c
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.priority, g.heterogeneous))
        .collect();
    assert_eq!(order, [("solo", 1, false), ("svc", 5, true)]);
    let svc: Vec<(&str, &str)> = c.groups[1]
        .processes
        .iter()
        .map(|p| (p.name.as_str(), p.group.as_str()))
        .collect();
    assert_eq!(
        svc,
        [("a", "svc"), ("b", "svc")],
        "order of programs= is kept"
    );
    assert!(c.group("a").is_none() && c.group("b").is_none());

    let e = errs(&format!("{SUP}[group:svc]\nprograms=ghost\n"));
    assert!(e
        .to_string()
        .contains("[group:svc] names unknown program or fcgi-program ghost"));
    assert_eq!(e.0[0].location.key.as_deref(), Some("programs"));
}

#[test]
fn names_are_checked() {
    let e = errs(&format!("{SUP}[program:a b]\ncommand=x\n"));
    assert!(e
        .to_string()
        .contains("Invalid name: 'a b' because of character: ' '"));
    let e = errs(&format!("{SUP}[program:a]\ncommand=x\nprocess_name=a/b\n"));
    assert_eq!(e.0[0].location.key.as_deref(), Some("process_name"));
}

#[test]
fn servers_and_auth() {
    let l = ok(&format!(
        "{SUP}[inet_http_server]\nport=127.0.0.1:9002\n[unix_http_server]\nfile=/run/sv.sock\nchmod=0777\nchown=www:www\nusername=u\npassword=p\n[supervisorctl]\nserverurl=unix:///run/../run/sv.sock\n"
    ));
    let c = &l.config;
    let i = c.inet_http_server().unwrap();
    assert_eq!((i.host.as_str(), i.port), ("127.0.0.1", 9002));
    let u = c.unix_http_server().unwrap();
    assert_eq!(u.chmod, 0o777);
    assert_eq!(u.chown, Some((33, Some(33))));
    assert_eq!(c.serverurl.as_deref(), Some("unix:///run/sv.sock"));
    let ctl = c.supervisorctl.as_ref().unwrap();
    assert_eq!(ctl.serverurl, "unix:///run/sv.sock");
    assert_eq!(ctl.prompt, "supervisor");

    let l = ok(&format!("{SUP}[inet_http_server]\nport=9001\n"));
    assert_eq!(l.config.serverurl.as_deref(), Some("http://localhost:9001"));

    for bad in [
        "[inet_http_server]\nport=9001\nusername=u\n",
        "[inet_http_server]\n",
        "[inet_http_server]\nport=host:\n",
        "[unix_http_server]\nfile=/x\nchmod=99\n",
        "[unix_http_server]\nfile=/x\nchown=nobody-here\n",
        "[unix_http_server]\n",
    ] {
        assert!(parse(&format!("{SUP}{bad}")).is_err(), "{bad}");
    }
}

#[test]
fn eventlistener_checks() {
    for (bad, needle) in [
        ("command=x\n", "requires an \"events\" line"),
        ("command=x\nevents=NOPE\n", "Unknown event type NOPE"),
        (
            "command=x\nevents=TICK_5\nredirect_stderr=true\n",
            "redirect_stderr=true",
        ),
        (
            "command=x\nevents=TICK_5\nbuffer_size=0\n",
            "invalid buffer_size (0)",
        ),
    ] {
        let e = errs(&format!("{SUP}[eventlistener:l]\n{bad}"));
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn fcgi_programs_parse() {
    let l = ok(&format!(
        "{SUP}[fcgi-program:f]\ncommand=/bin/f\nsocket=unix:///run/%(program_name)s.sock\nsocket_mode=0666\n[fcgi-program:t]\ncommand=/bin/t\nsocket=tcp://LocalHost:9000\nsocket_backlog=64\n"
    ));
    let f = &l.config.fcgi_programs;
    assert_eq!(f.len(), 2);
    assert_eq!(
        f[0].socket,
        FcgiSocket::Unix {
            path: "/run/f.sock".into(),
            mode: 0o666,
            owner: None
        }
    );
    assert_eq!(
        f[1].socket,
        FcgiSocket::Tcp {
            host: "localhost".into(),
            port: 9000
        }
    );
    assert_eq!(f[1].socket_backlog, Some(64));
    assert_eq!(f[0].processes[0].kind, ProcessKind::FcgiProgram);
    assert!(l.config.groups.is_empty());
    assert!(parse(&format!("{SUP}[fcgi-program:f]\ncommand=x\n")).is_err());
    assert!(parse(&format!(
        "{SUP}[fcgi-program:f]\ncommand=x\nsocket=unix://rel\n"
    ))
    .is_err());
    assert!(parse(&format!(
        "{SUP}[fcgi-program:f]\ncommand=x\nsocket=tcp://h:1\nsocket_mode=0700\n"
    ))
    .is_err());
}

#[test]
fn rpcinterfaces() {
    let l = ok(&format!(
        "[DEFAULT]\nd=1\n{SUP}[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\nretries=%(ENV_HOME)s\n"
    ));
    let r = &l.config.rpcinterfaces[0];
    assert_eq!(r.name, "supervisor");
    assert_eq!(r.factory, "supervisor.rpcinterface:make_main_rpcinterface");
    assert_eq!(
        r.extras,
        vec![
            ("retries".to_string(), "/home/me".to_string()),
            ("d".into(), "1".into())
        ]
    );
    assert!(parse(&format!("{SUP}[rpcinterface:x]\nfoo=1\n")).is_err());
}

#[test]
fn default_section_is_not_an_expansion_source() {
    // supervisord: "contains names ('logroot') which cannot be expanded"
    let e = errs(&format!(
        "[DEFAULT]\nlogroot=/l\n{SUP}[program:a]\ncommand=/bin/a %(logroot)s\n"
    ));
    assert!(e.to_string().contains("('logroot')"));
    let l = ok(&format!(
        "[DEFAULT]\nstartsecs=7\n{SUP}[program:a]\ncommand=/bin/a\n"
    ));
    assert_eq!(procs(&l)[0].startsecs, 7);
}

#[test]
fn default_search_paths() {
    let c = default_config_candidates(Path::new("/cwd"), Path::new("/opt/sv/bin"));
    let want: Vec<PathBuf> = [
        "/opt/sv/etc/supervisord.conf",
        "/opt/sv/supervisord.conf",
        "/cwd/supervisord.conf",
        "/cwd/etc/supervisord.conf",
        "/etc/supervisord.conf",
        "/etc/supervisor/supervisord.conf",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(c, want);
    // invoked as a bare name: supervisord's here is '' and the first two are cwd-relative
    let c = default_config_candidates(Path::new("/cwd"), Path::new(""));
    assert_eq!(c[0], PathBuf::from("/cwd/etc/supervisord.conf"));
    assert_eq!(c[1], PathBuf::from("/cwd/supervisord.conf"));
}

#[test]
fn load_reports_missing_file() {
    let e = load_with(Path::new("/no/such/file.conf"), &ctx(&[], Path::new("/"))).unwrap_err();
    assert!(matches!(e.0[0].kind, ErrorKind::Read { .. }));
    assert_eq!(
        e.0[0].location.file,
        Some(PathBuf::from("/no/such/file.conf"))
    );
}
