//! A scripted child for supervisor tests.
//!
//! Flags (any order, applied in this order):
//! - `--print TEXT`: print TEXT and a newline on stdout at start.
//! - `--eprint TEXT`: print TEXT and a newline on stderr at start.
//! - `--flood N`: write N bytes of `x` (in lines of 80) to stdout.
//! - `--ignore-term`: ignore SIGTERM (via the `trap`-free route: a shell is
//!   not used; the signal is ignored with `warden-sys`).
//! - `--grandchild`: spawn `sleep 1000` as a grandchild (same process group).
//! - `--tick MS`: print `tick N` every MS milliseconds, forever.
//! - `--after MS`: sleep MS milliseconds before exiting.
//! - `--exit N`: exit with code N (default 0) at the end.
//! - `--tag ANY`: ignored (marks the command line for cleanup).
//!
//! Without `--after`, `--tick` or `--exit`, it sleeps forever.

use std::io::Write;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--ignore-term") {
        let _ = warden_sys::signal::ignore(warden_sys::Signal::from_raw(15).expect("SIGTERM"));
    }
    // each line in one write(2), as a reader sees it whole
    if let Some(t) = get("--print") {
        let _ = std::io::stdout().write_all(format!("{t}\n").as_bytes());
        let _ = std::io::stdout().flush();
    }
    if let Some(t) = get("--eprint") {
        let _ = std::io::stderr().write_all(format!("{t}\n").as_bytes());
    }
    if let Some(n) = get("--flood").and_then(|n| n.parse::<usize>().ok()) {
        let mut out = std::io::stdout().lock();
        let mut block = Vec::with_capacity(80 * 1024);
        for _ in 0..1024 {
            block.extend_from_slice(&[b'x'; 79]);
            block.push(b'\n');
        }
        let mut left = n;
        while left > 0 {
            let k = left.min(block.len());
            if out.write_all(&block[..k]).is_err() {
                break;
            }
            left -= k;
        }
        let _ = out.flush();
    }
    let _ = std::io::stdout().flush();
    if has("--grandchild") {
        let _ = std::process::Command::new("sleep").arg("1000").spawn();
    }
    if let Some(ms) = get("--tick").and_then(|n| n.parse::<u64>().ok()) {
        let mut i = 0u64;
        loop {
            println!("tick {i}");
            let _ = std::io::stdout().flush();
            i += 1;
            std::thread::sleep(Duration::from_millis(ms));
        }
    }
    let after = get("--after").and_then(|n| n.parse::<u64>().ok());
    let exit = get("--exit").and_then(|n| n.parse::<i32>().ok());
    match (after, exit) {
        (None, None) => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        (a, e) => {
            if let Some(ms) = a {
                std::thread::sleep(Duration::from_millis(ms));
            }
            std::process::exit(e.unwrap_or(0));
        }
    }
}
