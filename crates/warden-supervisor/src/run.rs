//! The driver: daemonize, then run the engine on a single-threaded runtime,
//! feeding it signals, reaped children, requests and deadlines.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

use crate::core::engine::{Control, Engine, Mood, Parts};
use crate::core::events::Bus;
use crate::core::handle::{Command, Handle};
use crate::core::logs::{Level, MainLog};
use crate::os::{OsLauncher, SystemClock};
use crate::pid1::Init;
use crate::trees::Trees;
use crate::Options;

/// Runs the daemon: daemonize, runtime, engine. Returns the exit code.
/// `raised`: the resource limits raised at start (`minfds`, `minprocs`),
/// logged as supervisord logs them.
pub fn run(
    path: PathBuf,
    opts: Options,
    loaded: warden_config::Loaded,
    raised: Vec<String>,
) -> i32 {
    let mut config = loaded.config;
    let init = Init::new(opts.init, &config.supervisord);
    if init.active {
        // a container's init stays in the foreground, or the container ends
        config.supervisord.nodaemon = true;
    }
    let s = &config.supervisord;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut d = warden_daemon::Daemonize::new()
        .umask(s.umask)
        .pidfile(s.pidfile.clone())
        .working_directory(s.directory.clone().unwrap_or(cwd))
        .name("supervisord");
    if s.nodaemon {
        d = d
            .mode(warden_daemon::Mode::Foreground)
            .stdin(warden_daemon::Stdio::Inherit)
            .stdout(warden_daemon::Stdio::Inherit)
            .stderr(warden_daemon::Stdio::Inherit);
    }
    if let Some(u) = &s.user {
        if warden_sys::process::geteuid() == 0 {
            d = d.user(u.clone());
        }
    }
    let mut daemon = match d.start() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Error: {e}");
            return e.exit_code();
        }
    };
    // Daemonizing resets every signal to its default; a client that hangs up
    // must give EPIPE, not kill us. (Children get SIG_DFL back before exec.)
    if let Some(pipe) = warden_sys::Signal::from_raw(13) {
        let _ = warden_sys::signal::ignore(pipe);
    }
    let me = warden_sys::Pid::this().as_raw();
    // PID 1 gets every orphan anyway; otherwise the orphans of our programs
    // come to us instead of to PID 1 (see pid1.rs).
    let subreaper = if me == 1 {
        Ok(())
    } else {
        warden_sys::process::set_child_subreaper()
    };
    let state_path = crate::trees::state_path(&config.supervisord.pidfile);
    let trees = Rc::new(RefCell::new(Trees::new(
        me,
        Some(state_path.clone()),
        config.supervisord.cgroups,
    )));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => daemon.fail(1, &e),
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let echo = config.supervisord.nodaemon && !config.supervisord.silent;
        let log = match MainLog::for_config(&config, echo) {
            Ok(log) => log,
            Err(e) => daemon.fail(2, &e),
        };
        if let Err(e) = subreaper {
            log.log(
                Level::Warn,
                &format!("cannot become a child subreaper: {e}"),
            );
        }
        // Programs a crashed previous run left behind are stopped before
        // ours start; programs stopped by hand stay stopped.
        let previous = crate::trees::recover(&state_path, &config, &log);
        trees.borrow_mut().set_intent(&previous.intent);
        let bus = Bus::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = Handle::new(tx, bus.clone());
        let mut servers = match crate::http::start(&config, handle.clone()) {
            Ok(s) => s,
            Err(e) => {
                log.log(Level::Critical, &e);
                daemon.fail(2, &e)
            }
        };
        // readiness probes, health checks and $NOTIFY_SOCKET (warden's
        // lifecycle keys; the socket is bound when the first program that
        // uses `notify` starts, so nothing is opened without them)
        let (probe_tx, probe_rx) = mpsc::unbounded_channel();
        let mut launcher = OsLauncher::new(&config, bus.clone());
        // adopted processes (previous_run=adopt) end through this
        let (gone_tx, gone_rx) = mpsc::unbounded_channel();
        launcher.gone = Some(gone_tx);
        let notify = config.supervisord.childlogdir.join(format!(
            "warden-notify-{}.sock",
            warden_sys::Pid::this().as_raw()
        ));
        launcher.notify = Some(crate::probes::NotifySocket::new(
            notify.clone(),
            probe_tx.clone(),
        ));
        let parts = Parts {
            launcher: Box::new({
                launcher.trees = Some(trees.clone());
                launcher
            }),
            prober: Box::new(crate::probes::OsProber::new(probe_tx)),
            clock: Rc::new(SystemClock::new()),
            loader: Box::new(move || {
                let env = warden_config::host_env();
                Ok(crate::load_worded(&path, &env, &opts, crate::reread_words)?.config)
            }),
            bus: bus.clone(),
            log,
            pid: warden_sys::Pid::this().as_raw(),
        };
        let identifier = config.supervisord.identifier.clone();
        // Event listeners see everything from the first event on.
        let (listeners, tap) =
            crate::listeners::prepare(handle.clone(), identifier, &config.eventlisteners);
        let mut engine = Engine::new(config, parts);
        engine.set_listener_tap(tap);
        engine.set_intent(previous.intent);
        engine.set_raised_limits(raised);
        engine.set_adoptees(previous.adoptees);
        for w in &loaded.warnings {
            engine.log(Level::Warn, &w.to_string());
        }
        let signals = Signals::install(&init);
        engine.start();
        daemon.notify_ready();
        let ticks = tokio::task::spawn_local(crate::ticks::run(bus));
        let listening = tokio::task::spawn_local(listeners.run());
        let inputs = Inputs {
            signals,
            rx,
            probes: probe_rx,
            gone: gone_rx,
        };
        let code = drive(&mut engine, inputs, &mut servers, &trees, &init).await;
        trees.borrow_mut().finish();
        ticks.abort();
        listening.abort();
        daemon.notify_stopping();
        // Let the answer to a `shutdown` call reach its client, then close.
        let sockets = servers.unix_sockets();
        servers
            .shutdown(std::time::Duration::from_millis(500))
            .await;
        for s in sockets.into_iter().chain([notify]) {
            let _ = std::fs::remove_file(s);
        }
        code
    })
}

/// The supervisor's own signals, caught from before it says it is ready.
struct Signals {
    chld: Signal,
    term: Signal,
    int: Signal,
    quit: Signal,
    hup: Signal,
    usr2: Signal,
    /// USR1 and WINCH, when forwarded.
    usr1: Option<Signal>,
    winch: Option<Signal>,
}

impl Signals {
    fn install(init: &Init) -> Signals {
        let sig = |k| signal(k).expect("UNWRAP: installing a signal handler on a live runtime");
        Signals {
            chld: sig(SignalKind::child()),
            term: sig(SignalKind::terminate()),
            int: sig(SignalKind::interrupt()),
            quit: sig(SignalKind::quit()),
            hup: sig(SignalKind::hangup()),
            usr2: sig(SignalKind::user_defined2()),
            usr1: init.extra_signal(10),
            winch: init.extra_signal(28),
        }
    }
}

/// What the supervisor's loop waits on besides deadlines.
struct Inputs {
    signals: Signals,
    /// Requests from the protocol adapters.
    rx: mpsc::UnboundedReceiver<Command>,
    /// Probe results and `$NOTIFY_SOCKET` messages.
    probes: mpsc::UnboundedReceiver<crate::probes::ProbeEvent>,
    /// The ends of adopted processes.
    gone: mpsc::UnboundedReceiver<i32>,
}

async fn drive(
    engine: &mut Engine,
    inputs: Inputs,
    servers: &mut crate::http::Servers,
    trees: &RefCell<Trees>,
    init: &Init,
) -> i32 {
    let Inputs {
        signals: mut s,
        mut rx,
        mut probes,
        mut gone,
    } = inputs;
    let mut reloads = engine.reloads();
    // The shutdown deadline, once a shutdown began (with shutdown_timeout).
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut forced = false;
    let mut state_error = false;
    loop {
        // A child may have exited before we were told (signals coalesce).
        let exits = crate::os::reap();
        if !exits.is_empty() {
            trees.borrow_mut().exited(exits.iter().map(|(pid, _)| *pid));
            engine.reaped(exits);
        }
        if let Err(e) = trees.borrow_mut().flush() {
            // once: it would repeat at every change
            if !std::mem::replace(&mut state_error, true) {
                engine.log(Level::Error, &e);
            }
        }
        if engine.reloads() != reloads {
            // a reload read a new config: serve its HTTP sections
            reloads = engine.reloads();
            if let Err(e) = servers.reconcile(engine.config()).await {
                engine.log(Level::Critical, &e);
            }
        }
        if let Some(code) = engine.finished() {
            return if forced && code == 0 {
                crate::pid1::EXIT_FORCED
            } else {
                code
            };
        }
        if deadline.is_none() && engine.mood() == Mood::Shutdown {
            deadline = init
                .shutdown_timeout
                .map(|t| tokio::time::Instant::now() + t);
        }
        let sleep_for = engine
            .next_deadline()
            .map(|d| d.saturating_sub(engine.clock_now()));
        tokio::select! {
            _ = s.chld.recv() => {
                engine.log(Level::Debug, "received SIGCHLD indicating a child quit");
            }
            _ = s.term.recv() => terminate(engine, trees, init, 15, "SIGTERM"),
            _ = s.int.recv() => terminate(engine, trees, init, 2, "SIGINT"),
            _ = s.quit.recv() => terminate(engine, trees, init, 3, "SIGQUIT"),
            _ = s.hup.recv() => if init.forwards(1) {
                forward(engine, trees, 1);
            } else {
                engine.control(Control::Hangup);
            },
            _ = s.usr2.recv() => if init.forwards(12) {
                forward(engine, trees, 12);
            } else {
                engine.control(Control::ReopenLogs);
            },
            () = crate::pid1::recv(&mut s.usr1) => forward(engine, trees, 10),
            () = crate::pid1::recv(&mut s.winch) => forward(engine, trees, 28),
            () = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() && !forced => {
                forced = true;
                let names = trees.borrow_mut().kill_everything();
                let secs = init.shutdown_timeout.map_or(0, |t| t.as_secs());
                engine.log(
                    Level::Warn,
                    &format!(
                        "shutdown_timeout ({secs} s) passed: killing {}",
                        names.join(", ")
                    ),
                );
            }
            Some(cmd) = rx.recv() => match cmd {
                Command::Call(req, reply) => engine.request(req, reply),
                Command::Log(level, msg) => engine.log(level, &msg),
            },
            Some(ev) = probes.recv() => crate::probes::deliver(engine, ev),
            Some(pid) = gone.recv() => {
                // an adopted process ended; its status is not ours to collect
                trees.borrow_mut().exited([pid]);
                engine.reaped([(pid, crate::core::state::Exit::Unknown)]);
            }
            () = tokio::time::sleep(std::time::Duration::from_millis(sleep_for.unwrap_or(0))), if sleep_for.is_some() => {
                engine.fire_due();
            }
        }
    }
}

/// Passes a received signal on to every running program.
fn forward(engine: &Engine, trees: &RefCell<Trees>, signo: i32) {
    let n = trees.borrow().forward(signo);
    engine.log(
        Level::Info,
        &format!(
            "received {} indicating forwarding: sent to {n} programs",
            warden_sys::signal::signame(signo)
        ),
    );
}

/// TERM, INT, QUIT: a shutdown; when forwarded, every program gets the
/// signal at once first (the shutdown then waits for them in order).
fn terminate(
    engine: &mut Engine,
    trees: &RefCell<Trees>,
    init: &Init,
    signo: i32,
    name: &'static str,
) {
    if init.forwards(signo) {
        forward(engine, trees, signo);
    }
    engine.control(Control::Terminate(name));
}
