//! `notify-after MS [EXIT]`: sleeps MS milliseconds, then sends `READY=1` to
//! `$NOTIFY_SOCKET` and sleeps (or, with EXIT, exits with that status instead
//! of notifying).

#![forbid(unsafe_code)]

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ms: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(ms));
    if let Some(code) = args.get(1).and_then(|a| a.parse::<i32>().ok()) {
        std::process::exit(code);
    }
    let target = std::env::var("NOTIFY_SOCKET").expect("NOTIFY_SOCKET is set");
    let sock = UnixDatagram::unbound().expect("socket");
    sock.send_to(b"READY=1", target).expect("send READY=1");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
