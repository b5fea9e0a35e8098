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
//! - `--fcgi`: fd 0 must be a listening socket (else exit 9); prints
//!   `fd0: listening unix|inet|inet6` and then, for every connection it
//!   accepts, writes `hello from PID\n` to it and closes it, forever.
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
    if has("--fcgi") {
        fcgi();
    }
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

/// `--fcgi`: serve on the listening socket that is fd 0.
fn fcgi() -> ! {
    use std::os::fd::AsFd;
    let sock = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(socket2::Socket::from)
        .unwrap_or_else(|_| std::process::exit(9));
    if !sock.is_listener().unwrap_or(false) {
        println!("fd0: not a listening socket");
        std::process::exit(9);
    }
    let family = match sock.domain() {
        Ok(d) if d == socket2::Domain::UNIX => "unix",
        Ok(d) if d == socket2::Domain::IPV4 => "inet",
        Ok(d) if d == socket2::Domain::IPV6 => "inet6",
        _ => "other",
    };
    println!("fd0: listening {family}");
    let _ = std::io::stdout().flush();
    loop {
        if let Ok((mut conn, _)) = sock.accept() {
            let _ = conn.write_all(format!("hello from {}\n", std::process::id()).as_bytes());
        }
    }
}
