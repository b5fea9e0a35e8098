//! `warden start`: resolve, detach, exec (or supervise with --respawn).

use std::path::{Path, PathBuf};
use std::time::Duration;

use warden_daemon::error::exit;
use warden_daemon::{Daemonize, Error, Forked, Mode, Stdio};
use warden_sys::fs::{search_path, Search};

use crate::cli::StartArgs;
use crate::record::{self, Record};
use crate::{respawn, rundir, Failure};

/// Runs `warden start`; returns the exit code in the original process.
pub fn run(mut args: StartArgs, verbose: bool) -> Result<i32, Failure> {
    absolutize(&mut args)?;
    let program = args.command[0].clone();
    let name = match &args.name {
        Some(n) => n.clone(),
        None => Path::new(&program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    rundir::check_name(&name)?;
    let pidfile = match &args.pidfile {
        Some(p) => p.clone(),
        None => {
            let dir = rundir::path();
            rundir::ensure(&dir)?;
            dir.join(format!("{name}.pid"))
        }
    };
    // Checked before detaching, so that 127/126 reach the caller directly.
    let resolved = resolve_program(&program, &args)?;
    let mut d = Daemonize::new()
        .name("warden")
        .pidfile(&pidfile)
        .umask(args.umask.unwrap_or(0o022))
        .working_directory(args.chdir.clone().unwrap_or_else(|| PathBuf::from("/")));
    if !args.respawn {
        let stdout = args.stdout.clone();
        let stderr = args.stderr.clone().or_else(|| stdout.clone());
        if let Some(p) = stdout {
            d = d.stdout(Stdio::File(p));
        }
        if let Some(p) = stderr {
            d = d.stderr(Stdio::File(p));
        }
        // The program itself will hold the lock, across exec, and its own
        // children will not inherit it.
        d = d.lock_survives_exec(true).notify_socket(args.notify);
    }
    if let Some(spec) = &args.user {
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec.as_str(), None),
        };
        if !user.is_empty() {
            d = d.user(user);
        }
        if let Some(g) = group.filter(|g| !g.is_empty()) {
            d = d.group(g);
        }
    }
    if let Some(root) = &args.chroot {
        d = d.chroot(root);
    }
    if args.clear_env {
        d = d.env_clear();
    }
    for (k, v) in &args.env {
        d = d.env(k, v);
    }
    if let Some(t) = args.ready_timeout {
        d = d.ready_timeout(Duration::from_secs_f64(t));
    }
    if args.foreground {
        d = d.mode(Mode::Foreground);
    }
    let record = Record {
        name: name.clone(),
        pidfile: pidfile.clone(),
        resolved: std::iter::once(resolved.to_string_lossy().into_owned())
            .chain(args.command[1..].iter().cloned())
            .collect(),
        options: args.clone(),
        started: record::now(),
        respawns: 0,
        gave_up: None,
    };
    // Written by the lock holder, before the privilege drop (the run
    // directory is the caller's, not the target user's).
    let to_save = record.clone();
    d = d.privileged_action(move || {
        to_save.save().map_err(|e| {
            let path = record::path_for(&to_save.pidfile);
            format!("write instance record {}: {e}", path.display()).into()
        })
    });
    match d.spawn() {
        Err(e) => Err(Failure::from(e)),
        Ok(Forked::Original(Ok(pid))) => {
            if verbose {
                println!("started {name} (pid {pid})");
            }
            Ok(exit::OK)
        }
        Ok(Forked::Original(Err(Error::AlreadyRunning { pid, .. }))) if args.oknodo => {
            if verbose {
                let pid = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
                println!("{name} is already running{pid}");
            }
            Ok(exit::OK)
        }
        Ok(Forked::Original(Err(e))) => Err(Failure::from(e)),
        Ok(Forked::Daemon(daemon)) => {
            if args.respawn {
                respawn::run(daemon, record, &args)
            }
            let mut cmd = std::process::Command::new(&resolved);
            cmd.args(&args.command[1..]);
            daemon.exec(&mut cmd)
        }
    }
}

/// Makes every path option absolute against the caller's working directory,
/// so that the record (and `restart`) means the same thing from anywhere.
fn absolutize(args: &mut StartArgs) -> Result<(), Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::setup(format!("cannot read the current directory: {e}")))?;
    for p in [
        &mut args.pidfile,
        &mut args.stdout,
        &mut args.stderr,
        &mut args.chdir,
        &mut args.chroot,
    ]
    .into_iter()
    .flatten()
    {
        if p.is_relative() {
            *p = cwd.join(&*p);
        }
    }
    Ok(())
}

/// Finds the program the way `execvp` would, but before detaching and, with
/// `--chroot`, inside the new root. A relative name with a `/` (`./app.py`)
/// means the caller's directory, like every other path option; inside a
/// `--chroot` it means the working directory there.
fn resolve_program(program: &str, args: &StartArgs) -> Result<PathBuf, Failure> {
    let root = args.chroot.clone().unwrap_or_else(|| PathBuf::from("/"));
    let base = if args.chroot.is_some() {
        args.chdir.clone().unwrap_or_else(|| PathBuf::from("/"))
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
    };
    let path = args
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| {
            if args.clear_env {
                None
            } else {
                std::env::var("PATH").ok()
            }
        })
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_string());
    match search_path(program, &path, &base, &root) {
        Search::Found(p) => Ok(p),
        Search::NotExecutable(c) => Err(Failure {
            code: exit::NOT_EXECUTABLE,
            message: format!("{}: not executable", c.display()),
        }),
        Search::NotFound => Err(Failure {
            code: exit::NOT_FOUND,
            message: format!("{program}: command not found"),
        }),
    }
}
