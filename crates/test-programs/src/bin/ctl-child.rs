//! A child program for `warden ctl` tests: prints lines to stdout and
//! stderr, optionally echoes stdin to stdout, then sleeps or exits.
//!
//! `ctl-child [--out TEXT]... [--err TEXT]... [--echo] [--exit N] [MARKER...]`
//! Trailing arguments are ignored; tests pass their scratch directory so the
//! process can be found and killed.

#![forbid(unsafe_code)]

use std::io::{BufRead, Write};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut exit: Option<i32> = None;
    let mut echo = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => {
                let t = args.next().unwrap_or_default();
                let mut o = std::io::stdout().lock();
                let _ = writeln!(o, "{t}");
                let _ = o.flush();
            }
            "--err" => {
                let t = args.next().unwrap_or_default();
                let _ = writeln!(std::io::stderr(), "{t}");
            }
            "--exit" => exit = args.next().and_then(|n| n.parse().ok()),
            "--echo" => echo = true,
            _ => {}
        }
    }
    if let Some(code) = exit {
        std::process::exit(code);
    }
    if echo {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "echo: {line}");
            let _ = o.flush();
        }
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
