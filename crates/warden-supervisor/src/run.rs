//! The driver: daemonize, then run the engine on a single-threaded runtime,
//! feeding it signals, reaped children, requests and deadlines.

use std::path::PathBuf;
use std::rc::Rc;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

use crate::core::engine::{Control, Engine, Parts};
use crate::core::events::Bus;
use crate::core::handle::{Command, Handle};
use crate::core::logs::{Level, MainLog};
use crate::os::{OsLauncher, SystemClock};
use crate::Options;

/// Runs the daemon: daemonize, runtime, engine. Returns the exit code.
pub fn run(path: PathBuf, opts: Options, loaded: warden_config::Loaded) -> i32 {
    let config = loaded.config;
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
        let bus = Bus::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = Handle::new(tx, bus.clone());
        let servers = match crate::http::start(&config, handle.clone()) {
            Ok(s) => s,
            Err(e) => {
                log.log(Level::Critical, &e);
                daemon.fail(2, &e)
            }
        };
        let sockets: Vec<PathBuf> = config
            .unix_http_servers
            .iter()
            .map(|s| s.file.clone())
            .collect();
        // readiness probes, health checks and $NOTIFY_SOCKET (warden's
        // lifecycle keys; the socket is bound when the first program that
        // uses `notify` starts, so nothing is opened without them)
        let (probe_tx, probe_rx) = mpsc::unbounded_channel();
        let mut launcher = OsLauncher::new(&config, bus.clone());
        let notify = config.supervisord.childlogdir.join(format!(
            "warden-notify-{}.sock",
            warden_sys::Pid::this().as_raw()
        ));
        launcher.notify = Some(crate::probes::NotifySocket::new(
            notify.clone(),
            probe_tx.clone(),
        ));
        let parts = Parts {
            launcher: Box::new(launcher),
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
        for w in &loaded.warnings {
            engine.log(Level::Warn, &w.to_string());
        }
        let signals = Signals::install();
        engine.start();
        daemon.notify_ready();
        let ticks = tokio::task::spawn_local(crate::ticks::run(bus));
        let listening = tokio::task::spawn_local(listeners.run());
        let code = drive(&mut engine, signals, rx, probe_rx).await;
        ticks.abort();
        listening.abort();
        daemon.notify_stopping();
        // Let the answer to a `shutdown` call reach its client, then close.
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
}

impl Signals {
    fn install() -> Signals {
        let sig = |k| signal(k).expect("UNWRAP: installing a signal handler on a live runtime");
        Signals {
            chld: sig(SignalKind::child()),
            term: sig(SignalKind::terminate()),
            int: sig(SignalKind::interrupt()),
            quit: sig(SignalKind::quit()),
            hup: sig(SignalKind::hangup()),
            usr2: sig(SignalKind::user_defined2()),
        }
    }
}

async fn drive(
    engine: &mut Engine,
    mut s: Signals,
    mut rx: mpsc::UnboundedReceiver<Command>,
    mut probes: mpsc::UnboundedReceiver<crate::probes::ProbeEvent>,
) -> i32 {
    loop {
        // A child may have exited before we were told (signals coalesce).
        let exits = crate::os::reap();
        if !exits.is_empty() {
            engine.reaped(exits);
        }
        if let Some(code) = engine.finished() {
            return code;
        }
        let sleep_for = engine
            .next_deadline()
            .map(|d| d.saturating_sub(engine.clock_now()));
        tokio::select! {
            _ = s.chld.recv() => {
                engine.log(Level::Debug, "received SIGCHLD indicating a child quit");
            }
            _ = s.term.recv() => engine.control(Control::Terminate("SIGTERM")),
            _ = s.int.recv() => engine.control(Control::Terminate("SIGINT")),
            _ = s.quit.recv() => engine.control(Control::Terminate("SIGQUIT")),
            _ = s.hup.recv() => engine.control(Control::Hangup),
            _ = s.usr2.recv() => engine.control(Control::ReopenLogs),
            Some(cmd) = rx.recv() => match cmd {
                Command::Call(req, reply) => engine.request(req, reply),
                Command::Log(level, msg) => engine.log(level, &msg),
            },
            Some(ev) = probes.recv() => crate::probes::deliver(engine, ev),
            () = tokio::time::sleep(std::time::Duration::from_millis(sleep_for.unwrap_or(0))), if sleep_for.is_some() => {
                engine.fire_due();
            }
        }
    }
}
