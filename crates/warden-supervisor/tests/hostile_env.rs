//! Hostile environment and config through the real binary (issue 20, items
//! 5 and 6): a non-UTF-8 environment variable, and an `[include]` pattern
//! that a backtracking matcher takes exponential time on.

mod foreground;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use foreground::{bin, Fg, Scratch};
use test_programs::wait_for;

fn bad_env() -> Vec<(OsString, OsString)> {
    vec![(
        OsString::from("WARDEN_BAD"),
        OsString::from_vec(b"x\xffy".to_vec()),
    )]
}

#[test]
fn non_utf8_environment_reaches_children_byte_for_byte() {
    let scratch = Scratch::new();
    let dir = scratch.path();
    let programs = "[program:printer]\n\
         command=/usr/bin/printenv WARDEN_BAD\n\
         stdout_logfile=%(here)s/printer.out\n\
         startsecs=0\nautorestart=false\n";
    let mut fg = Fg::start(dir, programs, &bad_env());
    let out = dir.join("printer.out");
    let seen = wait_for(Duration::from_secs(20), "the child's output", || {
        std::fs::read(&out).ok().filter(|b| !b.is_empty())
    });
    assert_eq!(seen, b"x\xffy\n");
    assert!(fg.running(), "{}", fg.output());

    // warden ctl with the same environment.
    let ctl = Command::new(bin("warden"))
        .args(["ctl", "-c"])
        .arg(&fg.conf)
        .arg("status")
        .envs(bad_env())
        .stdin(Stdio::null())
        .output()
        .expect("warden ctl");
    let text = String::from_utf8_lossy(&ctl.stdout);
    assert!(
        text.contains("printer") && text.contains("EXITED"),
        "ctl status: {text}\nstderr: {}",
        String::from_utf8_lossy(&ctl.stderr)
    );
}

#[test]
fn non_utf8_variable_named_in_the_config_is_a_config_error() {
    let scratch = Scratch::new();
    let conf = foreground::write_conf(
        scratch.path(),
        foreground::free_port(),
        "[program:p]\ncommand=/bin/echo %(ENV_WARDEN_BAD)s\n",
    );
    let out = Command::new(bin("warden"))
        .args(["supervise", "--check-config", "-c"])
        .arg(&conf)
        .envs(bad_env())
        .stdin(Stdio::null())
        .output()
        .expect("warden supervise --check-config");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("[program:p] command") && err.contains("'ENV_WARDEN_BAD'"),
        "{err}"
    );
}

#[test]
fn pathological_include_glob_checks_quickly() {
    let scratch = Scratch::new();
    let dir = scratch.path();
    for i in 0..10 {
        std::fs::write(dir.join(format!("{}{i}", "a".repeat(100))), "").unwrap();
    }
    let conf = dir.join("main.conf");
    std::fs::write(
        &conf,
        format!("[supervisord]\n[include]\nfiles = {}b\n", "a*".repeat(14)),
    )
    .unwrap();
    let t = Instant::now();
    let mut child = Command::new(bin("warden"))
        .args(["supervise", "--check-config", "-c"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("warden supervise --check-config");
    let done = test_programs::poll_until(Duration::from_secs(10), || {
        !matches!(child.try_wait(), Ok(None))
    });
    if !done {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(done, "--check-config still running after 10 s");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}
