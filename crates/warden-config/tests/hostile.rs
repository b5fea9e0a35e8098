//! Configs built to make loading slow or huge (issue 20, items 5 and 10):
//! each must load, or fail with a located error, in bounded time.

mod common;

use std::time::{Duration, Instant};

use common::ctx;
use warden_config::{load_with, ErrorKind};

/// Loads `main.conf` from `dir` and returns the result and how long it took.
fn timed_load(
    dir: &std::path::Path,
) -> (
    Result<warden_config::Loaded, warden_config::ConfigErrors>,
    Duration,
) {
    let t = Instant::now();
    let r = load_with(&dir.join("main.conf"), &ctx(&[], dir));
    (r, t.elapsed())
}

#[test]
fn pathological_include_glob_is_fast() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A backtracking matcher tries every way to share the long name among
    // the stars: exponential in their number.
    for i in 0..20 {
        std::fs::write(root.join(format!("{}{i}", "a".repeat(100))), "").unwrap();
    }
    let wanted = root.join(format!("{}b", "a".repeat(14)));
    std::fs::write(&wanted, "[program:globbed]\ncommand=/bin/true\n").unwrap();
    let pattern = format!("{}b", "a*".repeat(14));
    std::fs::write(
        root.join("main.conf"),
        format!("[supervisord]\n[include]\nfiles = {pattern}\n"),
    )
    .unwrap();
    let (r, took) = timed_load(root);
    assert!(took < Duration::from_secs(2), "loading took {took:?}");
    let loaded = r.expect("loads");
    assert!(loaded.config.group("globbed").is_some());
    assert_eq!(loaded.config.included_files, vec![wanted]);
}

#[test]
fn huge_format_width_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("main.conf"),
        "[supervisord]\n\n[program:wide]\ncommand=/bin/echo %(process_num)0999999999d\n",
    )
    .unwrap();
    let (r, took) = timed_load(root);
    assert!(took < Duration::from_secs(2), "loading took {took:?}");
    let e = r.expect_err("refused");
    let err = &e.0[0];
    assert_eq!(err.location.file, Some(root.join("main.conf")));
    assert_eq!(err.location.line, Some(4));
    assert_eq!(err.location.section.as_deref(), Some("program:wide"));
    assert_eq!(err.location.key.as_deref(), Some("command"));
    let ErrorKind::Expansion(msg) = &err.kind else {
        panic!("{err}")
    };
    assert!(
        msg.ends_with("width too big: 999999999 is over warden's limit of 131072"),
        "{msg}"
    );

    // Past Python's own limit: Python's words.
    std::fs::write(
        root.join("main.conf"),
        "[supervisord]\n\n[program:wide]\ncommand=/bin/echo %(process_num)09999999999999999999d\n",
    )
    .unwrap();
    let (r, took) = timed_load(root);
    assert!(took < Duration::from_secs(2), "loading took {took:?}");
    assert!(r.unwrap_err().to_string().ends_with(": width too big"));
}

#[test]
fn many_processes_with_a_bad_value_fail_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Every process gets its own error (the value differs per process), and
    // each error is reported once.
    std::fs::write(
        root.join("main.conf"),
        "[supervisord]\n\n[program:many]\ncommand=/bin/true\nnumprocs=20000\n\
         process_name=%(program_name)s_%(process_num)d\n\
         stdout_logfile_maxbytes=%(process_num)dQ\n",
    )
    .unwrap();
    let (r, took) = timed_load(root);
    let e = r.expect_err("refused");
    assert!(took < Duration::from_secs(3), "loading took {took:?}");
    assert_eq!(e.0.len(), 20000);
    let mut seen = std::collections::HashSet::new();
    assert!(e.0.iter().all(|x| seen.insert(x.to_string())), "repeats");
}
