//! `warden`: daemonize any command, correctly.
//!
//! `warden start|stop|restart|status|list|signal|logs|forget` replace nohup,
//! start-stop-daemon and libslack `daemon`. Exit codes: see
//! [`cli::EXIT_CODES_HELP`] (also printed by `--help`).

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod manuals;
mod names;
mod output;
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

/// Global options, accepted before any subcommand (`warden -v ctl status`).
const GLOBAL_FLAGS: &[&str] = &["-v", "--verbose"];

/// `warden ctl ARGS` and `warden supervise ARGS` (and links named
/// `supervisorctl` and `supervisord`) hand over to the supervisorctl- and
/// supervisord-compatible front ends before clap sees anything: their
/// arguments are theirs, verbatim (`warden ctl -c FILE status`). Global
/// options before the subcommand are warden's and are not passed on.
fn delegate() -> Option<i32> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
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
    let sub = args
        .iter()
        .skip(1)
        .position(|a| !GLOBAL_FLAGS.iter().any(|g| a == g))?
        + 1;
    let which = args[sub].to_str()?;
    if which != "ctl" && which != "supervise" {
        return None;
    }
    Some(hand_over(&argv0, which, args[sub + 1..].to_vec()))
}

/// Runs the supervisor or the client with `rest` as its arguments; it names
/// itself `warden ctl` / `warden supervise` in its messages.
fn hand_over(argv0: &std::ffi::OsStr, which: &str, rest: Vec<std::ffi::OsString>) -> i32 {
    let mut name = argv0.to_owned();
    name.push(format!(" {which}"));
    let argv: Vec<std::ffi::OsString> = std::iter::once(name).chain(rest).collect();
    if which == "ctl" {
        warden_ctl::main(argv)
    } else {
        warden_supervisor::main(argv)
    }
}

/// `warden start sleep 10`: the command must follow `--`. Suggests the
/// command line with `--` in place.
fn forgotten_dashes(args: &[String], e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument || args.iter().any(|a| a == "--") {
        return None;
    }
    if subcommand(args) != Some("start") {
        return None;
    }
    let sub = args.iter().position(|a| a == "start")?;
    // An unknown option is just that; a word is the start of a command.
    let Some(ContextValue::String(bad)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    if bad.starts_with('-') {
        return None;
    }
    let at = sub + 1 + args[sub + 1..].iter().position(|a| a == bad)?;
    let quote = |a: &String| {
        if !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
        {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    let mut line: Vec<String> = vec!["warden".into()];
    line.extend(args[1..at].iter().map(quote));
    line.push("--".into());
    line.extend(args[at..].iter().map(quote));
    Some(format!(
        "hint: the command goes after `--`, as in: {}",
        line.join(" ")
    ))
}

/// The subcommand word, after any global options.
fn subcommand(args: &[String]) -> Option<&str> {
    args.iter()
        .skip(1)
        .find(|a| !GLOBAL_FLAGS.contains(&a.as_str()))
        .map(String::as_str)
}

fn args_os0() -> std::ffi::OsString {
    std::env::args_os()
        .next()
        .unwrap_or_else(|| "warden".into())
}

fn main() -> ExitCode {
    if let Some(code) = delegate() {
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    // Arguments that are not UTF-8 reach clap as they are (it rejects them
    // where a text is required, with a message); the hints read them lossily.
    let args_os: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args: Vec<String> = args_os
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match cli::Cli::try_parse_from(&args_os) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let _ = e.print();
            if let Some(hint) = forgotten_dashes(&args, &e) {
                eprintln!("{hint}");
            }
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                // LSB: usage errors of status are "unknown" (4); elsewhere the
                // start-stop-daemon convention, 3.
                _ if subcommand(&args) == Some("status") => ExitCode::from(4),
                _ => ExitCode::from(exit::SETUP_FAILED as u8),
            };
        }
    };
    let verbose = cli.verbose;
    let result = match cli.command {
        cli::Command::Start(a) => start::run(*a, verbose),
        cli::Command::Stop(a) => commands::stop(&a, verbose),
        cli::Command::Restart(a) => commands::restart(&a, verbose),
        cli::Command::Status(a) => commands::status(&a),
        cli::Command::List(a) => commands::list(&a),
        cli::Command::Signal(a) => commands::signal(&a),
        cli::Command::Logs(a) => output::logs(&a),
        cli::Command::Forget(a) => commands::forget(&a),
        cli::Command::Completions { shell } => manuals::completions(shell),
        cli::Command::Manpages { dir } => manuals::manpages(&dir),
        // Normally handed over by delegate() before parsing; kept working
        // should clap ever get here (e.g. a global option it parsed first).
        cli::Command::Ctl { args } => Ok(hand_over(std::ffi::OsStr::new(&args_os0()), "ctl", args)),
        cli::Command::Supervise { args } => Ok(hand_over(
            std::ffi::OsStr::new(&args_os0()),
            "supervise",
            args,
        )),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(f) => {
            eprintln!("warden: {}", f.message);
            ExitCode::from(f.code.clamp(1, 255) as u8)
        }
    }
}
