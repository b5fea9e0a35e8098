//! `warden`: daemonize any command, correctly.
//!
//! `warden start|stop|restart|status|list|signal` replace nohup,
//! start-stop-daemon and libslack `daemon`. Exit codes: see
//! [`cli::EXIT_CODES_HELP`] (also printed by `--help`).

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod record;
mod respawn;
mod rundir;
mod start;

use std::process::ExitCode;

use clap::Parser;
use warden_daemon::error::exit;

/// A failure to report: `warden: message` on stderr, then exit `code`.
#[derive(Debug)]
pub struct Failure {
    code: i32,
    message: String,
}

impl Failure {
    fn setup(message: String) -> Failure {
        Failure {
            code: exit::SETUP_FAILED,
            message,
        }
    }
}

impl From<warden_daemon::Error> for Failure {
    fn from(e: warden_daemon::Error) -> Failure {
        Failure {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

/// `warden ctl ARGS` and `warden supervise ARGS` (and links named
/// `supervisorctl` and `supervisord`) hand over to the supervisorctl- and
/// supervisord-compatible front ends before clap sees anything.
fn delegate() -> Option<i32> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv0 = args.first()?.clone();
    let invoked_as = std::path::Path::new(&argv0)
        .file_name()?
        .to_string_lossy()
        .into_owned();
    if invoked_as == "supervisorctl" {
        return Some(warden_ctl::main(args));
    }
    if invoked_as == "supervisord" {
        return Some(warden_supervisor::main(args));
    }
    if args.get(1).is_some_and(|a| a == "supervise") {
        let mut name = argv0;
        name.push(" supervise");
        args.splice(0..2, [name]);
        return Some(warden_supervisor::main(args));
    }
    if args.get(1).is_some_and(|a| a == "ctl") {
        // The client names itself after argv[0] in its messages.
        let mut name = argv0;
        name.push(" ctl");
        args.splice(0..2, [name]);
        return Some(warden_ctl::main(args));
    }
    None
}

fn main() -> ExitCode {
    if let Some(code) = delegate() {
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    let args: Vec<String> = std::env::args().collect();
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                // LSB: usage errors of status are "unknown" (4); elsewhere the
                // start-stop-daemon convention, 3.
                _ if args.get(1).map(String::as_str) == Some("status") => ExitCode::from(4),
                _ => ExitCode::from(exit::SETUP_FAILED as u8),
            };
        }
    };
    let verbose = cli.verbose;
    let result = match cli.command {
        cli::Command::Start(a) => start::run(a, verbose),
        cli::Command::Stop(a) => commands::stop(&a, verbose),
        cli::Command::Restart(a) => commands::restart(&a, verbose),
        cli::Command::Status(a) => commands::status(&a),
        cli::Command::List(a) => commands::list(&a),
        cli::Command::Signal(a) => commands::signal(&a),
        cli::Command::Ctl { .. } | cli::Command::Supervise { .. } => {
            unreachable!("handled by delegate()")
        }
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(f) => {
            eprintln!("warden: {}", f.message);
            ExitCode::from(f.code.clamp(1, 255) as u8)
        }
    }
}
