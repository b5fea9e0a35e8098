//! `bench-crasher FILE exit|sleep`: appends `start <monotonic ns> <pid>` to FILE,
//! then either appends `exit <ns>` and exits 1 at once, or sleeps until
//! killed. Measures crash-to-restart latency across supervisors.

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(file), Some(mode)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench-crasher FILE exit|sleep");
        std::process::exit(64);
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("open FILE");
    let _ = writeln!(
        f,
        "start {} {}",
        warden_sys::time::monotonic_ns(),
        std::process::id()
    );
    if mode == "exit" {
        let _ = writeln!(f, "exit {}", warden_sys::time::monotonic_ns());
        std::process::exit(1);
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
