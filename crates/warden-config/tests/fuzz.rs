//! Fuzz target for the config reader (issue 20): the corpus in
//! `fuzz-corpus/` plus seeded mutations of it, each written to a file and
//! loaded as `warden supervise` would, for a bounded time
//! (`WARDEN_FUZZ_SECS`, default 4 s; `WARDEN_FUZZ_SEED` picks the run). Every
//! input must give a config or located errors, never a panic, quickly.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::ctx;
use test_programs::fuzz;
use warden_config::{load_with, parse_str_with};

const DICT: &[&[u8]] = &[
    b"\n[supervisord]\n",
    b"\n[program:p]\n",
    b"\n[program:",
    b"\n[group:g]\nprograms=",
    b"\n[eventlistener:e]\nevents=",
    b"\n[fcgi-program:f]\nsocket=",
    b"\n[include]\nfiles=",
    b"\n[DEFAULT]\n",
    b"\n[unix_http_server]\nfile=",
    b"\n[inet_http_server]\nport=",
    b"\ncommand=",
    b"\nprocess_name=",
    b"\nenvironment=",
    b"\nnumprocs=3\n",
    b"\n  continued",
    b"%(",
    b")s",
    b"%(here)s",
    b"%(process_num)d",
    b"%(process_num)0999999999d",
    b"%(program_name)09999s",
    b"%(ENV_HOME)s",
    b"%(ENV_NOPE)s",
    b"%%",
    b"%(",
    b"%(process_num).2147483648d",
    b";",
    b" ;comment",
    b"#",
    b"=",
    b":",
    b"\"",
    b"'",
    b",",
    b"*",
    b"?",
    b"[!a-z]",
    b"a*a*a*a*a*a*a*a*a*a*a*b",
    b"\xff\xfe",
    b"\r\n",
    b"\t",
    b"\0",
];

/// Loading is linear in `numprocs` (each process is a config of its own),
/// as it is in supervisord; inputs asking for many processes are skipped so
/// that each input stays fast. Inputs whose include patterns climb out of the
/// scratch directory or wildcard several directory levels are skipped too:
/// they would walk the host's file system.
fn worth_loading(input: &[u8]) -> bool {
    let text = String::from_utf8_lossy(input).to_lowercase();
    for (i, _) in text.match_indices("numprocs") {
        // The value runs to the end of the line and over continuation lines.
        let rest = &text[i..];
        let mut end = rest.len();
        for (j, _) in rest.match_indices('\n') {
            if !rest[j + 1..].starts_with([' ', '\t']) {
                end = j;
                break;
            }
        }
        let mut run = 0usize;
        for c in rest[..end].chars() {
            if c.is_ascii_digit() {
                if run > 0 || c != '0' {
                    run += 1;
                }
                if run > 2 {
                    return false;
                }
            } else {
                run = 0;
            }
        }
    }
    !text.split_whitespace().any(|token| {
        token.contains("..")
            || token
                .find(['*', '?', '['])
                .is_some_and(|w| token[w..].contains('/'))
    })
}

fn check(dir: &Path, input: &[u8], iter: usize, seed: u64) {
    let main = dir.join("main.conf");
    std::fs::write(&main, input).unwrap();
    let t = Instant::now();
    let c = ctx(&[("HOME", "/home/me")], dir);
    match load_with(&main, &c) {
        Ok(loaded) => {
            let _ = loaded.config.groups.len();
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an Err without errors");
            let _ = errors.to_string();
        }
    }
    let text = String::from_utf8_lossy(input);
    let _ = parse_str_with(&text, dir, &c).map_err(|e| e.to_string());
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "{took:?}; seed {seed}, iteration {iter}, input {text:?}"
    );
}

#[test]
fn fuzz_config_reader() {
    let corpus = fuzz::corpus(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(
        dir.path().join("conf.d/a.conf"),
        "[program:inc]\ncommand=/bin/true %(here)s\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("extra1.ini"), "[group:ig]\nprograms=a\n").unwrap();
    let seed = fuzz::seed();
    let mut m = fuzz::Mutator::new(seed, DICT, 256 * 1024);
    let budget = fuzz::budget(Duration::from_secs(4));
    let mut skipped = 0;
    let n = fuzz::run(&corpus, &mut m, budget, 200, |input, i| {
        if worth_loading(input) {
            check(dir.path(), input, i, seed);
        } else {
            skipped += 1;
        }
    });
    eprintln!("config fuzz: {n} inputs ({skipped} skipped), seed {seed}");
}

/// `%`-formatting on its own (issue 20 item 10): random format strings
/// never panic, and what they expand to stays within warden's limit.
#[test]
fn fuzz_format_strings() {
    use warden_config::expand::{py_format, Expansions, PyValue, MAX_EXPANDED};
    const PIECES: &[&[u8]] = &[
        b"%",
        b"%%",
        b"(",
        b")",
        b"process_num",
        b"program_name",
        b"nope",
        b"-",
        b"+",
        b" ",
        b"#",
        b"0",
        b"1",
        b"9",
        b"99999",
        b"131072",
        b"131073",
        b"2147483648",
        b"99999999999999999999",
        b".",
        b"*",
        b"l",
        b"h",
        b"d",
        b"i",
        b"u",
        b"o",
        b"x",
        b"X",
        b"s",
        b"r",
        b"a",
        b"q",
        b"\xc3\xa9",
        b"\\",
    ];
    let mut exp = Expansions::new();
    exp.insert("process_num".into(), PyValue::Int(-7));
    exp.insert("program_name".into(), "w\u{e9}b'\"".into());
    let seed = fuzz::seed();
    let mut m = fuzz::Mutator::new(seed, PIECES, 4096);
    let corpus: Vec<Vec<u8>> = [
        "%(process_num)05d",
        "%(program_name)-10.2s|%%|%(process_num)#x",
        "%(process_num)0131072d",
        "%(program_name)r %(process_num)+.3i",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let budget = fuzz::budget(Duration::from_secs(1));
    fuzz::run(&corpus, &mut m, budget, 1000, |input, i| {
        let text = String::from_utf8_lossy(input);
        if let Ok(out) = py_format(&text, &exp) {
            assert!(
                out.len() <= MAX_EXPANDED,
                "seed {seed}, iteration {i}: {text:?} gave {} bytes",
                out.len()
            );
        }
    });
}
