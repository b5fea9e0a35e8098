//! `with-context FILE -- PROGRAM ARGS...`: ignores SIGHUP, blocks SIGUSR2,
//! opens FILE as descriptor 7 (inheritable), then execs PROGRAM. A hostile
//! caller context the daemon must not inherit.

#![forbid(unsafe_code)]

use std::os::fd::AsFd;

use warden_sys::{fd, signal, Signal};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (file, rest) = match args.split_first() {
        Some((f, rest)) if rest.first().map(String::as_str) == Some("--") && rest.len() > 1 => {
            (f, &rest[1..])
        }
        _ => {
            eprintln!("usage: with-context FILE -- PROGRAM ARGS...");
            std::process::exit(64);
        }
    };
    signal::ignore(Signal::HUP).expect("ignore HUP");
    signal::block(Signal::USR2).expect("block USR2");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("open FILE");
    fd::dup2(f.as_fd(), 7).expect("dup2 to 7");
    // A raw execvp: std's Command::exec would reset the mask we just set.
    let argv: Vec<std::ffi::CString> = rest
        .iter()
        .map(|a| std::ffi::CString::new(a.as_str()).expect("argument without NUL"))
        .collect();
    let err = warden_sys::process::execvp(&argv);
    eprintln!("with-context: exec {}: {err}", rest[0]);
    std::process::exit(127);
}
