#![forbid(unsafe_code)]
//! `warden-ctl`: the `warden ctl` command as a standalone binary (for tests
//! and benchmarks).

fn main() {
    std::process::exit(warden_ctl::main(std::env::args_os().collect()));
}
