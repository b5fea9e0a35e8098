//! `warden start`: resolve, detach, exec (or supervise with --respawn), then
//! watch the start window.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use warden_daemon::error::exit;
use warden_daemon::{Daemonize, Error, Forked, Mode, Stdio};
use warden_sys::fs::{search_path, Search};
use warden_sys::process::{self, ExitStatus, PidFd};
use warden_sys::{Pid, Signal};

use crate::cli::StartArgs;
use crate::output::{Marks, SHOWN_LINES};
use crate::record::{self, Record, Tracked};
use crate::{names, respawn, rundir, Failure};

/// systemd's default start timeout, used for `--notify` and `--forking`.
pub const DEFAULT_READY_TIMEOUT: f64 = 90.0;

/// How long after a `--forking` program exited its pidfile may take to appear.
const PIDFILE_GRACE: Duration = Duration::from_secs(5);

/// What `restart` replays from the record instead of looking again.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The executable as resolved by the original start.
    pub resolved: String,
    /// The program's environment at the original start (`None`: the
    /// caller's, for records that did not keep it).
    pub environment: Option<Vec<(String, String)>>,
}

/// Runs `warden start`; returns the exit code in the original process.
pub fn run(args: StartArgs, verbose: bool) -> Result<i32, Failure> {
    launch(args, None, verbose)
}

/// A start, fresh or replayed.
pub fn launch(mut args: StartArgs, replay: Option<Replay>, verbose: bool) -> Result<i32, Failure> {
    absolutize(&mut args)?;
    let program = args.command[0].clone();
    let name = match &args.name {
        Some(n) => n.clone(),
        None => names::derive(&args.command),
    };
    rundir::check_name(&name)?;
    args.name = Some(name.clone());
    let pidfile = match &args.pidfile {
        Some(p) => p.clone(),
        None => {
            let dir = rundir::path();
            rundir::ensure(&dir)?;
            dir.join(format!("{name}.pid"))
        }
    };
    args.pidfile = Some(pidfile.clone());
    // Checked before detaching, so that 127/126 reach the caller directly.
    let (resolved, environment) = match replay {
        Some(r) => (
            resolve_program(&r.resolved, &args)?,
            r.environment.unwrap_or_else(|| environment(&args)),
        ),
        None => (resolve_program(&program, &args)?, environment(&args)),
    };
    // A --forking instance holds no lock: its record says whether it runs.
    if let Some(t) = Record::load(&pidfile)
        .ok()
        .flatten()
        .and_then(|r| r.tracked)
        .filter(Tracked::is_alive)
    {
        if args.oknodo {
            if verbose {
                println!("{name} is already running (pid {})", t.pid);
            }
            return Ok(exit::OK);
        }
        return Err(Failure {
            code: exit::ALREADY_RUNNING,
            message: format!(
                "already running as pid {} (tracked in {})",
                t.pid,
                record::path_for(&pidfile).display()
            ),
        });
    }
    // Output is kept by default: NAME.log beside the pidfile.
    if !args.foreground {
        if args.stdout.is_none() {
            args.stdout = Some(record::log_for(&pidfile));
        }
        if args.stderr.is_none() {
            args.stderr.clone_from(&args.stdout);
        }
    }
    let mut d = Daemonize::new()
        .name("warden")
        .pidfile(&pidfile)
        .umask(args.umask.unwrap_or(0o022))
        .working_directory(args.chdir.clone().unwrap_or_else(|| PathBuf::from("/")));
    if !args.respawn {
        let stdout = args.stdout.clone();
        let stderr = args.stderr.clone().or_else(|| stdout.clone());
        if let Some(p) = stdout {
            d = d.stdout(stdio(p));
        }
        if let Some(p) = stderr {
            d = d.stderr(stdio(p));
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
    // The whole environment is set explicitly: it is what the record keeps
    // and what `restart` replays.
    d = d.env_clear();
    for (k, v) in &environment {
        d = d.env(k, v);
    }
    let ready_timeout = args.ready_timeout.unwrap_or(DEFAULT_READY_TIMEOUT);
    if args.notify {
        d = d.ready_timeout(Duration::from_secs_f64(ready_timeout));
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
        environment,
        tracked: None,
        next_respawn_ms: None,
        failed: None,
    };
    // Written by the lock holder, before the privilege drop (the run
    // directory is the caller's, not the target user's).
    let to_save = record.clone();
    // A supervisor opens its output files here too, while it may.
    let opened = std::rc::Rc::new(std::cell::RefCell::new(None));
    let (open_now, slot, out_args) = (args.respawn, opened.clone(), args.clone());
    d = d.privileged_action(move || {
        to_save.save().map_err(|e| {
            let path = record::path_for(&to_save.pidfile);
            format!("write instance record {}: {e}", path.display())
        })?;
        if open_now {
            *slot.borrow_mut() = Some(respawn::Outputs::open(&out_args));
        }
        Ok(())
    });
    let marks = Marks::take(&args);
    let watch = Watch {
        name: &name,
        pidfile: &pidfile,
        marks: &marks,
        hint: relative_hint(&args),
    };
    match d.spawn() {
        Err(e) => Err(Failure::from(e)),
        Ok(Forked::Original(Ok(pid))) => {
            let pid = if let Some(theirs) = &args.forking {
                watch.adopt(pid, theirs, ready_timeout, args.startsecs)?
            } else if args.respawn || args.notify {
                // The supervisor watched its own window; READY=1 was the sign.
                pid
            } else {
                watch.window(pid, args.startsecs)?;
                pid
            };
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
        Ok(Forked::Original(Err(Error::Ended {
            status, message, ..
        }))) => Err(watch.failed(window_code(status), &format!("{name}: {message}"))),
        Ok(Forked::Original(Err(e))) if e.exit_code() == exit::READY_TIMEOUT => {
            Err(watch.failed(exit::READY_TIMEOUT, &format!("{name}: {e}")))
        }
        Ok(Forked::Original(Err(e))) => {
            // A supervisor's start window reports the child's end this way
            // (not "already running": that record is another start's).
            if args.respawn && matches!(e, Error::Daemon { .. }) {
                record_failure(&pidfile, &e.to_string());
            }
            Err(Failure::from(e))
        }
        Ok(Forked::Daemon(daemon)) => {
            if args.respawn {
                let opened = opened.borrow_mut().take();
                respawn::run(daemon, record, &args, opened)
            }
            let mut cmd = std::process::Command::new(&resolved);
            cmd.args(&args.command[1..]);
            daemon.exec(&mut cmd)
        }
    }
}

/// `-o /dev/null` is the null device, not a log file.
fn stdio(p: PathBuf) -> Stdio {
    if p == Path::new("/dev/null") {
        Stdio::Null
    } else {
        Stdio::File(p)
    }
}

/// The program's environment: the caller's (unless `--clear-env`), then
/// `--env`, then `PYTHONUNBUFFERED=1` unless set. Variables that are not
/// UTF-8 are left out (the record is JSON); so is `NOTIFY_SOCKET`, which
/// belongs to whoever started warden.
fn environment(args: &StartArgs) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = if args.clear_env {
        Vec::new()
    } else {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k != "NOTIFY_SOCKET")
            .collect()
    };
    for (k, v) in &args.env {
        env.retain(|(e, _)| e != k);
        env.push((k.clone(), v.clone()));
    }
    // Python buffers a file stdout in 8 KiB blocks: its lines would reach
    // the log late, or never if it is killed.
    if !env.iter().any(|(k, _)| k == "PYTHONUNBUFFERED") {
        env.push(("PYTHONUNBUFFERED".into(), "1".into()));
    }
    env
}

/// The exit code of a start whose command ended too soon: its status, or
/// 128+N for signal N; statuses 0 to 3 would read as warden's own codes and
/// become [`exit::START_WINDOW`].
pub fn window_code(status: ExitStatus) -> i32 {
    match status.shell_code() {
        0..=3 => exit::START_WINDOW,
        c => c,
    }
}

/// "exited with status N", "was killed by signal N (SIGX)".
pub fn ended(status: ExitStatus) -> String {
    match status {
        ExitStatus::Code(c) => format!("exited with status {c}"),
        s => format!("was {s}"),
    }
}

fn secs(s: f64) -> String {
    format!("{s} s")
}

/// Notes in the record why the last start failed (shown by `status`).
fn record_failure(pidfile: &Path, why: &str) {
    if let Ok(Some(mut r)) = Record::load(pidfile) {
        r.failed = Some(why.lines().next().unwrap_or_default().to_string());
        r.tracked = None;
        let _ = r.save();
    }
}

/// What the original process needs to judge a start.
struct Watch<'a> {
    name: &'a str,
    pidfile: &'a Path,
    marks: &'a Marks,
    /// Said after a failure when the command names relative paths.
    hint: Option<String>,
}

impl Watch<'_> {
    /// A failed start: the reason, then the last lines the
    /// program wrote; noted in the record.
    fn failed(&self, code: i32, what: &str) -> Failure {
        record_failure(self.pidfile, what);
        let mut message = what.to_string();
        message.push_str(&self.marks.last_lines(SHOWN_LINES));
        if let Some(h) = &self.hint {
            message.push_str(&format!("\nwarden: hint: {h}"));
        }
        Failure { code, message }
    }

    /// The start window: the program (our child: we are a subreaper) must
    /// stay up `startsecs`. If it ends sooner, the start fails; if it exited
    /// 0 but left a process running, it daemonized itself: say which.
    fn window(&self, pid: Pid, startsecs: f64) -> Result<(), Failure> {
        if startsecs <= 0.0 {
            return Ok(());
        }
        let window = Duration::from_secs_f64(startsecs);
        let pidfd =
            PidFd::open(pid).map_err(|e| Failure::setup(format!("open pidfd of {pid}: {e}")))?;
        if !pidfd.wait_exit(window).unwrap_or(false) {
            return Ok(());
        }
        let status = process::wait(pid)
            .map_err(|e| Failure::setup(format!("reap {} (pid {pid}): {e}", self.name)))?;
        warden_daemon::pidfile::remove_if_stale(self.pidfile, pid);
        let left = orphans();
        if status.success() && !left.is_empty() {
            let list = left
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(self.failed(
                exit::START_WINDOW,
                &format!(
                    "{} (pid {pid}) exited with status 0 within the start window ({}) \
                     and left pid {list} running: it daemonized itself, so warden cannot \
                     track it. Run it in the foreground (most programs have an option \
                     for that), or start it with --forking PIDFILE naming the pidfile it \
                     writes; pid {list} was left running",
                    self.name,
                    secs(startsecs)
                ),
            ));
        }
        let left = if left.is_empty() {
            String::new()
        } else {
            format!(
                "; it left pid {} running",
                left.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Err(self.failed(
            window_code(status),
            &format!(
                "{} (pid {pid}) {} within the start window ({}){left}",
                self.name,
                ended(status),
                secs(startsecs)
            ),
        ))
    }

    /// `--forking`: wait for the program to exit 0, read the pid it wrote to
    /// `theirs`, check that it is one of its processes (our descendant), track
    /// it by pid and start time, then watch it for the start window.
    fn adopt(&self, pid: Pid, theirs: &Path, timeout: f64, startsecs: f64) -> Result<Pid, Failure> {
        let pidfd =
            PidFd::open(pid).map_err(|e| Failure::setup(format!("open pidfd of {pid}: {e}")))?;
        if !pidfd
            .wait_exit(Duration::from_secs_f64(timeout))
            .unwrap_or(false)
        {
            let _ = pidfd.send_signal(Signal::TERM);
            if !pidfd.wait_exit(Duration::from_secs(1)).unwrap_or(true) {
                let _ = pidfd.send_signal(Signal::KILL);
            }
            let _ = process::wait(pid);
            warden_daemon::pidfile::remove_if_stale(self.pidfile, pid);
            return Err(self.failed(
                exit::READY_TIMEOUT,
                &format!(
                    "{} (pid {pid}) did not fork and exit within {} (--forking); stopped it",
                    self.name,
                    secs(timeout)
                ),
            ));
        }
        let status = process::wait(pid)
            .map_err(|e| Failure::setup(format!("reap {} (pid {pid}): {e}", self.name)))?;
        warden_daemon::pidfile::remove_if_stale(self.pidfile, pid);
        if !status.success() {
            return Err(self.failed(
                window_code(status),
                &format!("{} (pid {pid}) {}", self.name, ended(status)),
            ));
        }
        let deadline = Instant::now() + PIDFILE_GRACE;
        let (main, tracked) = loop {
            let named = std::fs::read_to_string(theirs)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
                .filter(|p| *p > 0);
            if let Some(p) = named {
                match Tracked::of(p) {
                    Some(t) if is_descendant(p) => break (p, t),
                    _ if Instant::now() < deadline => {}
                    _ => {
                        return Err(self.failed(
                            exit::START_WINDOW,
                            &format!(
                                "{}: {} names pid {p}, which is not a running process \
                                 of {} (not tracked, not signalled)",
                                self.name,
                                theirs.display(),
                                self.name
                            ),
                        ))
                    }
                }
            } else if Instant::now() >= deadline {
                return Err(self.failed(
                    exit::START_WINDOW,
                    &format!(
                        "{} exited 0 but {} holds no pid {} s later",
                        self.name,
                        theirs.display(),
                        PIDFILE_GRACE.as_secs()
                    ),
                ));
            }
            // The program may write its pidfile just after its parent exits.
            std::thread::sleep(Duration::from_millis(20));
        };
        let main_pid = Pid::from_raw(main).expect("UNWRAP: checked positive");
        self.track(tracked)?;
        if startsecs > 0.0 {
            let window = Duration::from_secs_f64(startsecs);
            if let Some(fd) = tracked.pidfd() {
                if fd.wait_exit(window).unwrap_or(false) {
                    // Our child if its parent is gone (we are a subreaper).
                    let how = process::try_wait(main_pid)
                        .ok()
                        .flatten()
                        .map_or_else(|| "ended".to_string(), ended);
                    let _ = std::fs::remove_file(self.pidfile);
                    return Err(self.failed(
                        exit::START_WINDOW,
                        &format!(
                            "{} (pid {main}, from {}) {how} within the start window ({})",
                            self.name,
                            theirs.display(),
                            secs(startsecs)
                        ),
                    ));
                }
            }
        }
        Ok(main_pid)
    }

    /// Records the tracked process and writes its pid to our pidfile.
    fn track(&self, t: Tracked) -> Result<(), Failure> {
        let mut rec = Record::load(self.pidfile)
            .ok()
            .flatten()
            .ok_or_else(|| Failure::setup(format!("the record of {} is gone", self.name)))?;
        rec.tracked = Some(t);
        rec.save().map_err(|e| {
            Failure::setup(format!(
                "write instance record {}: {e}",
                record::path_for(self.pidfile).display()
            ))
        })?;
        write_pidfile(self.pidfile, t.pid)
            .map_err(|e| Failure::setup(format!("write {}: {e}", self.pidfile.display())))
    }
}

/// Without `-C` the command runs in `/`: an argument naming a file in the
/// caller's directory by a relative path (`python3 app.py`) is not found
/// there. Worth a hint when such a start fails.
fn relative_hint(args: &StartArgs) -> Option<String> {
    if args.chdir.is_some() || args.chroot.is_some() {
        return None;
    }
    let cwd = std::env::current_dir().ok()?;
    let arg = args.command[1..]
        .iter()
        .find(|a| !a.starts_with('-') && Path::new(a).is_relative() && cwd.join(a).exists())?;
    Some(format!(
        "{arg} is relative, and the command runs in / by default: \
         add -C {} (or give its absolute path)",
        cwd.display()
    ))
}

/// Writes `pid` to `path` atomically (temporary file, then rename).
fn write_pidfile(path: &Path, pid: i32) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let (mut f, tmp) = warden_sys::fs::create_temp_in(dir, &format!(".{base}."), ".tmp", 0o644)?;
    let done = writeln!(f, "{pid}").and_then(|()| warden_sys::fs::rename_over(&tmp, path));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// Our children that are still running: what a program that exited left
/// behind (its orphans are re-parented to us, a subreaper).
fn orphans() -> Vec<i32> {
    let me = std::process::id();
    let mut v: Vec<i32> = std::fs::read_dir(format!("/proc/{me}/task"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .filter(|p| Tracked::of(*p).is_some())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Whether `pid` descends from this process.
fn is_descendant(pid: i32) -> bool {
    let me = std::process::id() as i32;
    let mut p = pid;
    for _ in 0..4096 {
        match record::proc_stat(p) {
            Some((_, ppid, _)) if ppid == me => return true,
            Some((_, ppid, _)) if ppid > 1 => p = ppid,
            _ => return false,
        }
    }
    false
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
        &mut args.forking,
    ]
    .into_iter()
    .flatten()
    {
        if p.is_relative() {
            // `components` drops the `.` steps: `-C .` is the directory itself.
            *p = cwd.join(&*p).components().collect();
        }
    }
    Ok(())
}

/// Finds the program the way `execvp` would, but before detaching and, with
/// `--chroot`, inside the new root. A relative name with a `/` (`./app.py`)
/// means the working directory given with `-C` (inside a `--chroot`, the one
/// there), else the caller's directory, like every other path option.
fn resolve_program(program: &str, args: &StartArgs) -> Result<PathBuf, Failure> {
    let root = args.chroot.clone().unwrap_or_else(|| PathBuf::from("/"));
    let base = match &args.chdir {
        Some(dir) => dir.clone(),
        None if args.chroot.is_some() => PathBuf::from("/"),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
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
        Search::Found(p) => Ok(p.components().collect()),
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
