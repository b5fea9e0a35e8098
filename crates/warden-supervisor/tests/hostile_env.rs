//! Hostile environment and config through the real binary (issue 20, items
//! 5, 6 and 10): a non-UTF-8 environment variable, an `[include]` pattern
//! that a backtracking matcher takes exponential time on, a format width
//! that asks for a gigabyte, and thousands of per-process errors.

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
    let (_, took) = check_config(&conf, Duration::from_secs(10));
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// Runs `warden supervise --check-config -c CONF` and returns its stderr,
/// killing it if it runs past `limit`.
fn check_config(conf: &std::path::Path, limit: Duration) -> (String, Duration) {
    let err_path = conf.with_extension("stderr");
    let t = Instant::now();
    let mut child = Command::new(bin("warden"))
        .args(["supervise", "--check-config", "-c"])
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("warden supervise --check-config");
    let done = test_programs::poll_until(limit, || !matches!(child.try_wait(), Ok(None)));
    if !done {
        let _ = child.kill();
        let _ = child.wait();
    }
    let took = t.elapsed();
    assert!(done, "--check-config still running after {limit:?}");
    (std::fs::read_to_string(&err_path).unwrap_or_default(), took)
}

#[test]
fn exploding_config_values_fail_fast_with_their_location() {
    let scratch = Scratch::new();
    let conf = scratch.join("wide.conf");
    std::fs::write(
        &conf,
        "[supervisord]\n\n[program:wide]\ncommand=/bin/echo %(process_num)0999999999d\n",
    )
    .unwrap();
    let (err, took) = check_config(&conf, Duration::from_secs(20));
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(
        err.contains(&format!("{}:4: [program:wide] command:", conf.display()))
            && err.contains("width too big"),
        "{err}"
    );

    // One bad per-process value with many processes: one error each,
    // collected in linear time.
    let conf = scratch.join("many.conf");
    std::fs::write(
        &conf,
        "[supervisord]\n\n[program:many]\ncommand=/bin/true\nnumprocs=20000\n\
         process_name=%(program_name)s_%(process_num)d\n\
         stdout_logfile_maxbytes=%(process_num)dQ\n",
    )
    .unwrap();
    let (err, took) = check_config(&conf, Duration::from_secs(60));
    // About 2 s in a debug build; 30 s with the quadratic de-duplication.
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(
        err.contains("20000 configuration errors")
            && err.contains(":7: [program:many] stdout_logfile_maxbytes: invalid value \"19999Q\""),
        "{}",
        &err[..err.len().min(2000)]
    );
}
