//! A daemon built on `warden-daemon` whose behaviour the tests choose with
//! flags, to inject the failures the library must report:
//!
//! ```text
//! daemon-probe [--pidfile P] [--stdout F] [--stderr F] [--workdir D] [--user U]
//!              [--print-before TEXT] [--fail-init MSG] [--exit-before-ready CODE]
//!              [--kill-self-before-ready] [--spawn-thread] [--ignore-term]
//!              [--spawn-grandchild] [--read-pidfile] [--ready-after-ms N]
//!              [--exit-after-ms N] [--foreground] [--host-fork]
//! ```
//!
//! `--host-fork` daemonizes the way an interpreter does (the Python package):
//! `Daemonize::prepare_host_fork`, then the program's own fork, setsid, fork
//! around `HostFork::wait` / `HostFork::setup`.
//!
//! Once ready it sleeps until SIGTERM/SIGINT (unless `--ignore-term`).

#![forbid(unsafe_code)]

use std::io::Write;
use std::time::Duration;

use warden_daemon::{control, Daemonize, Daemonized, Mode, Stdio};
use warden_sys::process::{self, ForkResult};
use warden_sys::{signal, Signal};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut d = Daemonize::new().name("daemon-probe");
    let mut fail_init = None;
    let mut exit_before_ready = None;
    let mut kill_self = false;
    let mut ignore_term = false;
    let mut grandchild = false;
    let mut read_pidfile = false;
    let mut ready_after = 0u64;
    let mut exit_after = None;
    let mut pidfile = None;
    let mut host_fork = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--pidfile" => {
                let p = val();
                pidfile = Some(p.clone());
                d = d.pidfile(p);
            }
            "--stdout" => d = d.stdout(Stdio::File(val().into())),
            "--stderr" => d = d.stderr(Stdio::File(val().into())),
            "--workdir" => d = d.working_directory(val()),
            "--user" => d = d.user(val()),
            "--print-before" => {
                print!("{}", val());
            }
            "--fail-init" => fail_init = Some(val()),
            "--exit-before-ready" => exit_before_ready = Some(val().parse::<i32>().unwrap()),
            "--kill-self-before-ready" => kill_self = true,
            "--spawn-thread" => {
                std::thread::spawn(|| std::thread::sleep(Duration::from_secs(60)));
            }
            "--ignore-term" => ignore_term = true,
            "--spawn-grandchild" => grandchild = true,
            "--read-pidfile" => read_pidfile = true,
            "--ready-after-ms" => ready_after = val().parse().unwrap(),
            "--exit-after-ms" => exit_after = Some(val().parse::<u64>().unwrap()),
            "--foreground" => d = d.mode(Mode::Foreground),
            "--host-fork" => host_fork = true,
            other => {
                eprintln!("daemon-probe: unknown flag {other}");
                std::process::exit(64);
            }
        }
    }
    let mut daemon = if host_fork {
        start_by_host_fork(d)
    } else {
        d.start().unwrap_or_else(|e| e.exit())
    };
    if ignore_term {
        signal::ignore(Signal::TERM).unwrap();
    }
    if let Some(code) = exit_before_ready {
        std::process::exit(code);
    }
    if kill_self {
        let _ = signal::kill_process(warden_daemon::Pid::this(), Signal::KILL);
    }
    if let Some(msg) = fail_init {
        daemon.fail(1, &format!("init failed: {msg}"));
    }
    if grandchild {
        // A long-lived child that must not inherit the pidfile lock.
        let child = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        println!("grandchild {}", child.id());
        std::mem::forget(child);
    }
    if read_pidfile {
        // The library's own status helper, called inside the daemon, must not
        // release the lock.
        let p = pidfile.clone().expect("--read-pidfile needs --pidfile");
        let s = control::status(std::path::Path::new(&p)).unwrap();
        println!("self-status {s:?}");
    }
    // Handlers before readiness: a stop may follow the start at once. With
    // --ignore-term none is installed, so SIGTERM stays ignored.
    let mut ctl = (!ignore_term).then(|| warden_daemon::Control::new().unwrap());
    std::thread::sleep(Duration::from_millis(ready_after));
    daemon.notify_ready();
    let _ = std::io::stdout().flush();
    let start = std::time::Instant::now();
    loop {
        if exit_after.is_some_and(|ms| start.elapsed() >= Duration::from_millis(ms)) {
            break;
        }
        match ctl.as_mut() {
            Some(c) => {
                if c.wait(Duration::from_millis(100)) == warden_daemon::Wake::Stop {
                    break;
                }
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    daemon.notify_stopping();
    drop(daemon);
}

/// Forks like a host that must use its own fork path, leaving every other
/// step to `HostFork`. Returns only in the daemon.
fn start_by_host_fork(d: Daemonize) -> Daemonized {
    let host = d.prepare_host_fork().unwrap_or_else(|e| e.exit());
    match process::fork_single_threaded() {
        Ok(ForkResult::Parent(intermediate)) => match host.wait(intermediate) {
            Ok(Ok(_)) => std::process::exit(0),
            Ok(Err(e)) | Err(e) => e.exit(),
        },
        Ok(ForkResult::Child) => {
            if let Err(e) = process::setsid() {
                host.fail(&format!("setsid: {e}"));
            }
            match process::fork_single_threaded() {
                Ok(ForkResult::Parent(_)) => process::exit_immediately(0),
                Ok(ForkResult::Child) => host.setup(),
                Err(_) => host.fail(&"second fork failed"),
            }
        }
        Err(_) => {
            eprintln!("daemon-probe: fork failed");
            std::process::exit(3)
        }
    }
}
