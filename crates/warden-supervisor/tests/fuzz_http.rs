//! Fuzz target for the HTTP front end (issue 20), black box: the real
//! `warden supervise -n` with a unix socket and an inet port with Basic
//! auth gets the raw requests in `fuzz-corpus/` and seeded mutations of
//! them (bad request lines, percent escapes that split UTF-8, invalid UTF-8
//! in paths, huge headers, bad chunked encoding and Content-Length, garbage
//! credentials, ...) over both sockets, for a bounded time
//! (`WARDEN_FUZZ_SECS`, default 8 s; `WARDEN_FUZZ_SEED` picks the run).
//! The supervisor must stay alive, keep answering `supervisor.getState` on
//! both sockets, and write no panic message, checked after every batch and
//! at the end (the test binaries are debug builds, which unwind: a panic
//! kills the connection task only, where a release build would abort).
//!
//! The corpus holds only calls without lasting effects (no shutdown,
//! restart, stop or reload), so that a mutation cannot turn into one.

mod foreground;

use std::path::Path;
use std::time::Duration;

use foreground::{Fg, Scratch};
use test_programs::fuzz;

const DICT: &[&[u8]] = &[
    b"%",
    b"%a",
    b"%c3",
    b"%a\xc3\xa9",
    b"%ff%fe",
    b"%00",
    b"%2F",
    b"\xc3\xa9",
    b"\xff",
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"/logtail/",
    b"/logtail/sleeper/stderr",
    b"/mainlogtail",
    b"/RPC2",
    b" HTTP/1.1\r\n",
    b" HTTP/1.0\r\n",
    b" HTTP/2.0\r\n",
    b"Host: x\r\n",
    b"Content-Length: 99999999999999999999\r\n",
    b"Content-Length: 0\r\n",
    b"Content-Length: 10\r\n",
    b"Content-Length: -1\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"ffffffffffffffffff\r\n",
    b"0\r\n\r\n",
    b"5;ext=\xff\r\nhello\r\n",
    b"Authorization: Basic \xff\xfe==\r\n",
    b"Authorization: Basic dXNlcjpwYXNz\r\n",
    b"Authorization: Basic dXNlcg==\r\n",
    b"Authorization: basic Og==\r\n",
    b"Authorization: Digest x\r\n",
    b"Authorization: Basic \r\n",
    b"Expect: 100-continue\r\n",
    b"Connection: keep-alive\r\n",
    b"Connection: close\r\n",
    b"Content-Type: text/xml\r\n",
    b"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    b"<methodName>supervisor.getProcessInfo</methodName>",
    b"<value><string>sleeper</string></value>",
    b"<value><int>99999999999</int></value>",
    b"<value><array><data>",
    b"&#xD800;",
    b"\0",
];

/// Inputs between two liveness checks.
const BATCH: usize = 50;

#[test]
fn fuzz_http_front_end() {
    let corpus = fuzz::corpus(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus"));
    let scratch = Scratch::new();
    let programs = "[program:sleeper]\ncommand={child} --tick 200 --tag {tag}\nstartsecs=0\n";
    let mut fg = Fg::start(scratch.path(), programs, &[]);
    let seed = fuzz::seed();
    let mut m = fuzz::Mutator::new(seed, DICT, 512 * 1024);
    let budget = fuzz::budget(Duration::from_secs(8));
    let mut batch: Vec<(usize, bool, Vec<u8>)> = Vec::new();
    let wait = Duration::from_millis(300);
    let check = |fg: &mut Fg, batch: &mut Vec<(usize, bool, Vec<u8>)>| {
        let alive = fg.running();
        let answers = alive && fg.state_ok(false) && fg.state_ok(true);
        let panicked = fg.panic_message();
        if !answers || panicked.is_some() {
            let shown: Vec<String> = batch
                .iter()
                .map(|(i, inet, req)| {
                    format!(
                        "#{i} {}: {:?}",
                        if *inet { "inet" } else { "unix" },
                        String::from_utf8_lossy(&req[..req.len().min(300)])
                    )
                })
                .collect();
            let what = match (&panicked, alive) {
                (Some(p), _) => format!("panicked ({p})"),
                (None, true) => "stopped answering".to_string(),
                (None, false) => "died".to_string(),
            };
            panic!(
                "supervisor {what} after one of these (seed {seed}):\n{}\n{}",
                shown.join("\n"),
                fg.output()
            );
        }
        batch.clear();
    };
    let n = fuzz::run(&corpus, &mut m, budget, 100, |input, i| {
        // Corpus entries go over both sockets; mutations alternate.
        let sockets: &[bool] = if i < corpus.len() {
            &[false, true]
        } else if i % 2 == 0 {
            &[false]
        } else {
            &[true]
        };
        for &inet in sockets {
            // Mostly with the sending side closed, so that an incomplete
            // request ends at once; every fourth left open, as a slow
            // client would.
            fg.raw(inet, input, wait, i % 4 != 3);
            batch.push((i, inet, input.to_vec()));
        }
        if i + 1 == corpus.len() || batch.len() >= BATCH {
            check(&mut fg, &mut batch);
        }
    });
    check(&mut fg, &mut batch);
    eprintln!("http fuzz: {n} inputs, seed {seed}");
}
