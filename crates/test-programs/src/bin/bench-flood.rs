//! `bench-flood BYTES [exit]`: writes BYTES of text lines to stdout as fast
//! as it can (64 KiB writes), then sleeps until killed (or exits).

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1 << 29);
    let line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n";
    let block: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
    let mut out = std::io::stdout().lock();
    let mut left = total;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        if out.write_all(&block[..n]).is_err() {
            std::process::exit(1);
        }
        left -= n as u64;
    }
    let _ = out.flush();
    if args.get(1).map(String::as_str) == Some("exit") {
        return;
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
