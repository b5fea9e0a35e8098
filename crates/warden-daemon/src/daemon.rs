//! The class-style API: a [`Daemon`] trait and [`serve`].

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_sys::fd;

use crate::error::exit;
use crate::{BoxError, Daemonize, Daemonized, Error};

/// A daemon: initialise, run until asked to stop, optionally reload.
///
/// ```no_run
/// use std::time::Duration;
/// use warden_daemon::{Control, Daemon, Daemonize, Wake};
///
/// struct Worker;
/// impl Daemon for Worker {
///     fn run(&mut self, ctl: &mut Control) -> Result<(), warden_daemon::BoxError> {
///         loop {
///             match ctl.wait(Duration::from_secs(1)) {
///                 Wake::Stop => return Ok(()),
///                 Wake::Reload => self.reload()?,
///                 Wake::Timeout => { /* do the periodic work */ }
///             }
///         }
///     }
/// }
/// warden_daemon::serve(Daemonize::new().pidfile("/tmp/worker.pid"), Worker);
/// ```
pub trait Daemon {
    /// Runs in the daemon after every daemonization step and before the
    /// caller is released. An error here makes the *original* process print
    /// it and exit non-zero (the pidfile is removed, nothing stays running).
    ///
    /// # Errors
    ///
    /// Whatever prevents the daemon from working.
    fn init(&mut self) -> Result<(), BoxError> {
        Ok(())
    }

    /// The daemon's work, after readiness. Return when [`Control::wait`]
    /// reports [`Wake::Stop`] (SIGTERM or SIGINT).
    ///
    /// # Errors
    ///
    /// A failure ends the daemon with exit status 1 (message on its stderr).
    fn run(&mut self, ctl: &mut Control) -> Result<(), BoxError>;

    /// Called by `run` on [`Wake::Reload`] (SIGHUP), by convention.
    ///
    /// # Errors
    ///
    /// A reload that failed.
    fn reload(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Why [`Control::wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The timeout passed.
    Timeout,
    /// SIGTERM or SIGINT: stop.
    Stop,
    /// SIGHUP: reload.
    Reload,
}

/// Signal-driven control of a running [`Daemon`]. The handlers only set a
/// flag and write a byte to one socket pair (the self-pipe trick); `wait`
/// sleeps on it. Two descriptors, no thread.
#[derive(Debug)]
pub struct Control {
    rx: UnixStream,
    _tx: UnixStream,
    stop: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
    handle: Option<Daemonized>,
}

impl Control {
    /// Installs the handlers for TERM, INT and HUP.
    ///
    /// # Errors
    ///
    /// Socket or handler registration errors.
    pub fn new() -> Result<Control, Error> {
        let reg = |e| Error::sys("install signal handlers", e);
        let (rx, tx) = UnixStream::pair().map_err(reg)?;
        rx.set_nonblocking(true).map_err(reg)?;
        tx.set_nonblocking(true).map_err(reg)?;
        let stop = Arc::new(AtomicBool::new(false));
        let hup = Arc::new(AtomicBool::new(false));
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        for (sig, flag) in [(SIGTERM, &stop), (SIGINT, &stop), (SIGHUP, &hup)] {
            // Flag first, then wake: `wait` re-checks the flags after waking.
            signal_hook::flag::register(sig, Arc::clone(flag)).map_err(reg)?;
            signal_hook::low_level::pipe::register_raw(sig, tx.as_raw_fd()).map_err(reg)?;
        }
        Ok(Control {
            rx,
            _tx: tx,
            stop,
            hup,
            handle: None,
        })
    }

    /// True once SIGTERM or SIGINT arrived.
    #[must_use]
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps up to `timeout`, waking early for a stop or reload request. A
    /// stop request is sticky: every later call returns [`Wake::Stop`] at once.
    pub fn wait(&mut self, timeout: Duration) -> Wake {
        let deadline = Instant::now() + timeout;
        loop {
            drain(&mut self.rx);
            if self.stop_requested() {
                if let Some(h) = &self.handle {
                    h.notify_stopping();
                }
                return Wake::Stop;
            }
            if self.hup.swap(false, Ordering::Relaxed) {
                return Wake::Reload;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wake::Timeout;
            }
            let _ = fd::poll_read(&[self.rx.as_fd()], Some(left));
        }
    }

    /// The daemon handle (pidfile, notifications), when run by [`serve`].
    #[must_use]
    pub fn daemon(&self) -> Option<&Daemonized> {
        self.handle.as_ref()
    }
}

fn drain(s: &mut UnixStream) -> bool {
    let mut buf = [0u8; 64];
    let mut any = false;
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        any = true;
    }
    any
}

/// Daemonizes with `settings`, then runs `daemon`: `init`, readiness, `run`.
/// Exits the process when done (0, or 1 if `run` failed), removing the
/// pidfile. Never returns.
pub fn serve<D: Daemon>(settings: Daemonize, mut daemon: D) -> ! {
    let mut handle = settings.start().unwrap_or_else(|e| e.exit());
    let mut ctl = match Control::new() {
        Ok(c) => c,
        Err(e) => handle.fail(exit::SETUP_FAILED, &e),
    };
    if let Err(e) = daemon.init() {
        handle.fail(exit::INIT_FAILED, &e);
    }
    handle.notify_ready();
    ctl.handle = Some(handle);
    let result = daemon.run(&mut ctl);
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    };
    drop(ctl); // removes the pidfile
    std::process::exit(code)
}
