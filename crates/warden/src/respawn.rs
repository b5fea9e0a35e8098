//! `--respawn`: the daemon stays as a small supervisor of COMMAND.
//!
//! One loop, one `poll`: a signal self-pipe, the child's pidfd, the child's
//! output pipes, the notify socket (with `--notify`) and, while backing off,
//! the respawn deadline. Nothing wakes up while the child runs quietly.
//!
//! * TERM/INT: stop the child (TERM, KILL after 10 s), then exit 0. During a
//!   backoff delay there is no child and nothing is spawned any more: a stop
//!   never races a respawn.
//! * HUP: reopen the output files (logrotate moved them).
//! * USR1, USR2: forwarded to the child.
//! * The child's output goes through pipes into the files unchanged.
//! * The start window (`--startsecs`, when detaching): the caller is told
//!   the start succeeded once the first child has run that long; if it ends
//!   sooner, the start fails with its status and last lines of output, and
//!   the supervisor exits.
//! * Backoff: `--respawn-delay`, doubled after each run shorter than
//!   `--respawn-window`, capped at 60 s; more than `--max-respawns` respawns
//!   within the window: give up, exit 1.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_daemon::error::exit;
use warden_daemon::Daemonized;
use warden_sys::process::PidFd;
use warden_sys::{fd, Signal};

use crate::cli::StartArgs;
use crate::output::{Marks, SHOWN_LINES};
use crate::record::{self, Record};
use crate::start::{ended, window_code};

const BACKOFF_CAP: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(10);

struct Flags {
    stop: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
    usr1: Arc<AtomicBool>,
    usr2: Arc<AtomicBool>,
}

/// Where the child's output goes; reopened on SIGHUP.
///
/// The files are not opened `O_APPEND` (the kernel refuses to `splice` into
/// those); every write seeks to the end first instead, which keeps appending
/// right after a truncation (logrotate's copytruncate). Each file has a single
/// writer: one pipe when stdout and stderr share a file.
pub struct Outputs {
    stdout_path: Option<PathBuf>,
    stderr_path: Option<PathBuf>,
    stdout: Option<File>,
    stderr: Option<File>,
    /// Cleared for good when a target refuses `splice` (a tty, a FIFO).
    splice: bool,
}

impl Outputs {
    pub fn open(args: &StartArgs) -> std::io::Result<Outputs> {
        let stdout_path = args.stdout.clone();
        let stderr_path = args.stderr.clone().or_else(|| stdout_path.clone());
        let mut o = Outputs {
            stdout_path,
            stderr_path,
            stdout: None,
            stderr: None,
            splice: true,
        };
        o.reopen()?;
        Ok(o)
    }

    fn reopen(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let open = |p: &PathBuf| {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true)
                .create(true)
                // Appended to: every write seeks to the end (see `Outputs`).
                .truncate(false)
                .mode(0o640);
            // A symlink planted in a shared directory is not followed.
            warden_sys::fs::open_protected(p, &opts, 0)
        };
        self.stdout = self.stdout_path.as_ref().map(open).transpose()?;
        self.stderr = if self.stderr_path == self.stdout_path {
            self.stdout.as_ref().map(File::try_clone).transpose()?
        } else {
            self.stderr_path.as_ref().map(open).transpose()?
        };
        Ok(())
    }

    /// A message of the supervisor itself, on the stderr target.
    fn say(&mut self, name: &str, msg: &str) {
        if let Some(f) = &self.stderr {
            let _ = fd::write_at_end(
                f,
                format!(
                    "warden: {name}: {msg}
"
                )
                .as_bytes(),
            );
        }
    }

    /// Moves what is available in `p` to its file: `Ok(false)` at EOF.
    fn pump(&mut self, p: &mut Pipe, buf: &mut [u8]) -> std::io::Result<bool> {
        let target = if p.to_stderr {
            &self.stderr
        } else {
            &self.stdout
        };
        let Some(file) = target else {
            // No file (cannot happen: no pipe is made then): discard.
            return p.reader.read(buf).map(|n| n > 0);
        };
        if self.splice {
            match fd::splice_to_end(p.reader.as_fd(), file.as_fd(), buf.len()) {
                Ok(n) => return Ok(n > 0),
                Err(e) if e.raw_os_error() == Some(warden_sys::consts::EINVAL) => {
                    self.splice = false
                }
                Err(e) => return Err(e),
            }
        }
        let n = p.reader.read(buf)?;
        if n > 0 {
            fd::write_at_end(file, &buf[..n])?;
        }
        Ok(n > 0)
    }
}

struct Running {
    child: Child,
    pidfd: PidFd,
    started: Instant,
    term_sent: Option<Instant>,
}

/// One output pipe of a child: which target it feeds.
struct Pipe {
    reader: std::io::PipeReader,
    to_stderr: bool,
}

/// Runs the supervisor in the daemon. Never returns. `opened`: the output
/// files, if they were opened before the privilege drop (`--user`: the run
/// directory is root's).
pub fn run(
    mut daemon: Daemonized,
    mut record: Record,
    args: &StartArgs,
    opened: Option<std::io::Result<Outputs>>,
) -> ! {
    let (sig_rx, sig_tx) = match UnixStream::pair() {
        Ok(p) => p,
        Err(e) => daemon.fail(exit::SETUP_FAILED, &format!("signal pipe: {e}")),
    };
    let _ = sig_rx.set_nonblocking(true);
    let _ = sig_tx.set_nonblocking(true);
    let flags = Flags {
        stop: Arc::new(AtomicBool::new(false)),
        hup: Arc::new(AtomicBool::new(false)),
        usr1: Arc::new(AtomicBool::new(false)),
        usr2: Arc::new(AtomicBool::new(false)),
    };
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    for (sig, flag) in [
        (SIGTERM, &flags.stop),
        (SIGINT, &flags.stop),
        (SIGHUP, &flags.hup),
        (SIGUSR1, &flags.usr1),
        (SIGUSR2, &flags.usr2),
    ] {
        let reg = signal_hook::flag::register(sig, Arc::clone(flag))
            .and_then(|_| signal_hook::low_level::pipe::register_raw(sig, sig_tx.as_raw_fd()));
        if let Err(e) = reg {
            daemon.fail(exit::SETUP_FAILED, &format!("install signal handlers: {e}"));
        }
    }
    let mut out = match opened.unwrap_or_else(|| Outputs::open(args)) {
        Ok(o) => o,
        Err(e) => daemon.fail(exit::SETUP_FAILED, &format!("open output file: {e}")),
    };
    // With --notify, the child reports readiness to us; we pass it on.
    let notify = if args.notify {
        let path = record.pidfile.with_extension("notify");
        let _ = std::fs::remove_file(&path);
        match UnixDatagram::bind(&path) {
            Ok(s) => Some((s, path)),
            Err(e) => daemon.fail(exit::SETUP_FAILED, &format!("bind {}: {e}", path.display())),
        }
    } else {
        None
    };
    let name = record.name.clone();
    let window = Duration::from_secs_f64(args.respawn_window);
    let first_delay = Duration::from_secs_f64(args.respawn_delay);
    let mut respawn_times: VecDeque<Instant> = VecDeque::new();
    let mut quick_failures: u32 = 0;
    let mut pipes: Vec<Pipe> = Vec::new();
    let mut running: Option<Running> = None;
    let mut next_spawn: Option<Instant> = Some(Instant::now());
    let mut stopping = false;
    let mut code = 0;
    let mut first = true;
    let mut buf = vec![0u8; CHUNK];
    let marks = Marks::take(args);
    let mut window_end: Option<Instant> = None;

    loop {
        // Spawn when due.
        if !stopping && running.is_none() && next_spawn.is_some_and(|t| t <= Instant::now()) {
            next_spawn = None;
            let notify_path = notify.as_ref().map(|(_, p)| p.clone());
            match spawn(&record, &out, notify_path) {
                Ok((r, new_pipes)) => {
                    if !first {
                        record.respawns += 1;
                        record.next_respawn_ms = None;
                        let _ = record.save();
                    }
                    pipes.extend(new_pipes);
                    running = Some(r);
                    if first && !args.notify {
                        if args.startsecs > 0.0 && !args.foreground {
                            window_end =
                                Some(Instant::now() + Duration::from_secs_f64(args.startsecs));
                        } else {
                            daemon.notify_ready();
                        }
                    }
                }
                Err(e) if first => {
                    let code = match e.kind() {
                        std::io::ErrorKind::NotFound => exit::NOT_FOUND,
                        _ => exit::NOT_EXECUTABLE,
                    };
                    daemon.fail(code, &format!("cannot execute {}: {e}", record.resolved[0]));
                }
                Err(e) => {
                    out.say(
                        &name,
                        &format!("cannot execute {}: {e}", record.resolved[0]),
                    );
                    next_spawn = Some(Instant::now() + backoff(first_delay, quick_failures));
                    quick_failures += 1;
                }
            }
            first = false;
        }
        let deadline = if stopping {
            running
                .as_ref()
                .and_then(|r| r.term_sent)
                .map(|t| t + STOP_GRACE)
        } else {
            match (next_spawn, window_end) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        let mut fds: Vec<BorrowedFd<'_>> = vec![sig_rx.as_fd()];
        if let Some(r) = &running {
            fds.push(r.pidfd.as_fd());
        }
        if let Some((s, _)) = &notify {
            fds.push(s.as_fd());
        }
        let pipe_base = fds.len();
        for p in &pipes {
            fds.push(p.reader.as_fd());
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let ready = fd::poll_read(&fds, timeout).unwrap_or_default();
        let child_ended = running.is_some() && ready.get(1).is_some_and(|r| r.readable || r.hangup);
        let notified = notify.is_some()
            && ready
                .get(if running.is_some() { 2 } else { 1 })
                .is_some_and(|r| r.readable);
        let pipe_ready: Vec<bool> = (0..pipes.len())
            .map(|i| {
                ready
                    .get(pipe_base + i)
                    .is_some_and(|r| r.readable || r.hangup)
            })
            .collect();
        drop(fds);

        // Output first, so nothing the child wrote before dying is lost.
        let mut closed = Vec::new();
        for (i, p) in pipes.iter_mut().enumerate() {
            if !pipe_ready[i] {
                continue;
            }
            if !out.pump(p, &mut buf).unwrap_or(false) {
                closed.push(i);
            }
        }
        for i in closed.into_iter().rev() {
            pipes.remove(i);
        }

        if notified {
            if let Some((s, _)) = &notify {
                let mut dgram = [0u8; 4096];
                if let Ok(n) = s.recv(&mut dgram) {
                    if String::from_utf8_lossy(&dgram[..n])
                        .lines()
                        .any(|l| l == "READY=1")
                    {
                        daemon.notify_ready();
                    }
                }
            }
        }

        // Signals.
        let mut b = [0u8; 64];
        while (&sig_rx).read(&mut b).is_ok_and(|n| n > 0) {}
        if flags.hup.swap(false, Ordering::Relaxed) {
            match out.reopen() {
                Ok(()) => out.say(&name, "reopened output files"),
                Err(e) => out.say(&name, &format!("reopening output files failed: {e}")),
            }
        }
        for (flag, sig) in [(&flags.usr1, Signal::USR1), (&flags.usr2, Signal::USR2)] {
            if flag.swap(false, Ordering::Relaxed) {
                if let Some(r) = &running {
                    let _ = r.pidfd.send_signal(sig);
                }
            }
        }
        if flags.stop.load(Ordering::Relaxed) && !stopping {
            stopping = true;
            next_spawn = None;
            daemon.notify_stopping();
            if let Some(r) = running.as_mut() {
                let _ = r.pidfd.send_signal(Signal::TERM);
                r.term_sent = Some(Instant::now());
            }
        }
        if stopping {
            if let Some(r) = &running {
                if r.term_sent.is_some_and(|t| t.elapsed() >= STOP_GRACE) {
                    let _ = r.pidfd.send_signal(Signal::KILL);
                }
            }
        }

        if window_end.is_some_and(|t| t <= Instant::now()) && running.is_some() && !child_ended {
            window_end = None;
            daemon.notify_ready();
        }

        // The child ended.
        if child_ended {
            let mut r = running.take().expect("UNWRAP: child_ended implies a child");
            let waited = r.child.wait();
            if window_end.is_some() && !stopping {
                // Within the start window: the start fails, with what it wrote.
                drain(&mut pipes, &mut out);
                let st = waited
                    .as_ref()
                    .map_or(warden_sys::process::ExitStatus::Code(0), |s| {
                        use std::os::unix::process::ExitStatusExt;
                        match (s.code(), s.signal()) {
                            (Some(c), _) => warden_sys::process::ExitStatus::Code(c),
                            (None, sig) => warden_sys::process::ExitStatus::Signaled {
                                signal: sig.unwrap_or(0),
                                core_dumped: s.core_dumped(),
                            },
                        }
                    });
                // Exit 0 at once is often a program that forked into the
                // background: that cannot be respawned.
                let why = if st.success() {
                    " (if it forks into the background, run it in the foreground \
                     instead, or use --forking without --respawn)"
                } else {
                    ""
                };
                let msg = format!(
                    "{name} (pid {}) {} within the start window ({} s){why}{}",
                    r.child.id(),
                    ended(st),
                    args.startsecs,
                    marks.last_lines(SHOWN_LINES)
                );
                if let Some((_, p)) = &notify {
                    let _ = std::fs::remove_file(p);
                }
                daemon.fail(window_code(st), &msg);
            }
            let status = waited
                .map(|s| describe(&s))
                .unwrap_or_else(|e| e.to_string());
            if !stopping {
                out.say(&name, &format!("{} {status}", record.resolved[0]));
                let now = Instant::now();
                if r.started.elapsed() >= window {
                    quick_failures = 0;
                }
                while respawn_times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > window)
                {
                    respawn_times.pop_front();
                }
                if respawn_times.len() as u32 >= args.max_respawns {
                    let why = format!(
                        "respawned {} times within {} s; giving up",
                        respawn_times.len(),
                        window.as_secs_f64()
                    );
                    out.say(&name, &why);
                    record.gave_up = Some(why);
                    record.next_respawn_ms = None;
                    let _ = record.save();
                    code = 1;
                    stopping = true;
                } else {
                    let delay = backoff(first_delay, quick_failures);
                    quick_failures += 1;
                    respawn_times.push_back(now + delay);
                    next_spawn = Some(now + delay);
                    // For `status`: "restarting in N s".
                    let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                    record.next_respawn_ms = Some(record::now_ms().saturating_add(ms));
                    let _ = record.save();
                }
            }
        }
        if stopping && running.is_none() {
            drain(&mut pipes, &mut out);
            if let Some((_, p)) = &notify {
                let _ = std::fs::remove_file(p);
            }
            drop(daemon); // removes the pidfile
            std::process::exit(code);
        }
    }
}

fn backoff(first: Duration, quick_failures: u32) -> Duration {
    first
        .saturating_mul(1u32 << quick_failures.min(16))
        .min(BACKOFF_CAP)
}

fn describe(s: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(sig)) => {
            let name = Signal::from_raw(sig).map_or(sig.to_string(), |s| s.name());
            format!("was killed by signal {sig} (SIG{name})")
        }
        _ => "ended".into(),
    }
}

fn spawn(
    record: &Record,
    out: &Outputs,
    notify: Option<PathBuf>,
) -> std::io::Result<(Running, Vec<Pipe>)> {
    let mut cmd = Command::new(&record.resolved[0]);
    cmd.args(&record.resolved[1..])
        .stdin(std::process::Stdio::null());
    if let Some(p) = notify {
        cmd.env("NOTIFY_SOCKET", p);
    }
    let mut pipes = Vec::new();
    // One pipe when both streams go to the same file keeps their interleaving.
    let same = out.stdout_path.is_some() && out.stdout_path == out.stderr_path;
    if same {
        let (r, w) = capture_pipe()?;
        cmd.stdout(w.try_clone()?).stderr(w);
        pipes.push(Pipe {
            reader: r,
            to_stderr: false,
        });
    } else {
        for (is_err, target) in [(false, &out.stdout_path), (true, &out.stderr_path)] {
            if target.is_some() {
                let (r, w) = capture_pipe()?;
                if is_err {
                    cmd.stderr(w);
                } else {
                    cmd.stdout(w);
                }
                pipes.push(Pipe {
                    reader: r,
                    to_stderr: is_err,
                });
            } else if is_err {
                cmd.stderr(std::process::Stdio::null());
            } else {
                cmd.stdout(std::process::Stdio::null());
            }
        }
    }
    let child = cmd.spawn()?;
    drop(cmd); // closes our copies of the write ends
    let pid = warden_sys::Pid::from_raw(child.id() as i32).expect("UNWRAP: child pid is positive");
    let pidfd = PidFd::open(pid)?;
    Ok((
        Running {
            child,
            pidfd,
            started: Instant::now(),
            term_sent: None,
        },
        pipes,
    ))
}

/// Bytes moved per read: a flooding child fills the 1 MiB pipe, and one
/// large read per wake-up keeps the pipe lock handoffs (and wake-ups) few.
const CHUNK: usize = 1 << 20;

/// A capture pipe, grown to 1 MiB where the kernel allows it.
fn capture_pipe() -> std::io::Result<(std::io::PipeReader, std::io::PipeWriter)> {
    let (r, w) = std::io::pipe()?;
    let _ = fd::set_pipe_size(r.as_fd(), CHUNK);
    Ok((r, w))
}

/// Copies what is left in the pipes, without waiting on grandchildren that
/// keep them open.
fn drain(pipes: &mut Vec<Pipe>, out: &mut Outputs) {
    let mut buf = vec![0u8; CHUNK];
    for p in pipes.iter_mut() {
        loop {
            let r = fd::poll_read(&[p.reader.as_fd()], Some(Duration::ZERO)).unwrap_or_default();
            if !r.first().is_some_and(|r| r.readable) {
                break;
            }
            if !out.pump(p, &mut buf).unwrap_or(false) {
                break;
            }
        }
    }
    pipes.clear();
}
