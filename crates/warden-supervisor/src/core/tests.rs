//! The engine's behaviour through a fake launcher and a fake clock: no real
//! process, no real time.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use tokio::sync::oneshot;
use warden_types::{Namespec, ProcessState};

use crate::core::api::{Outcome, Reply, Request, Target};
use crate::core::engine::{Engine, Parts};
use crate::core::events::{Bus, EventKind, Interest};
use crate::core::logs::{Level, MainLog, Sink};
use crate::core::seams::{Clock, Launcher, ProbeRequest, Prober, SpawnSpec, Spawned};
use crate::core::state::{Exit, Ms};

#[derive(Default)]
struct World {
    now: Cell<Ms>,
    next_pid: Cell<i32>,
    /// (program, pid, time)
    spawns: RefCell<Vec<(String, i32, Ms)>>,
    /// (pid, signal, group, time)
    signals: RefCell<Vec<(i32, i32, bool, Ms)>>,
    /// program -> live pid
    live: RefCell<HashMap<String, i32>>,
    /// probes asked for, with the time
    probes: RefCell<Vec<(ProbeRequest, Ms)>>,
}

struct FakeProber(Rc<World>);

impl Prober for FakeProber {
    fn probe(&mut self, req: ProbeRequest) {
        let w = &self.0;
        w.probes.borrow_mut().push((req, w.now.get()));
    }
}

struct FakeLauncher(Rc<World>);

impl Launcher for FakeLauncher {
    fn spawn(&mut self, spec: &SpawnSpec<'_>) -> Result<Spawned, String> {
        let w = &self.0;
        let pid = w.next_pid.get() + 100;
        w.next_pid.set(w.next_pid.get() + 1);
        let name = spec.config.name.clone();
        w.spawns.borrow_mut().push((name.clone(), pid, w.now.get()));
        w.live.borrow_mut().insert(name, pid);
        Ok(Spawned { pid, stdin: None })
    }

    fn adopt(
        &mut self,
        who: &crate::core::seams::Adoptee,
        _: &warden_config::ProcessConfig,
    ) -> Result<(), String> {
        self.0.live.borrow_mut().insert(who.name.clone(), who.pid);
        Ok(())
    }

    fn signal(&mut self, pid: i32, signal: i32, group: bool) -> std::io::Result<()> {
        let w = &self.0;
        w.signals
            .borrow_mut()
            .push((pid, signal, group, w.now.get()));
        Ok(())
    }

    fn auto_log(&mut self, _: &str, _: &str) -> std::io::Result<PathBuf> {
        Err(std::io::Error::other("no files in these tests"))
    }

    fn open_log(&mut self, _: &Path, _: i64, _: i64) -> std::io::Result<Rc<Sink>> {
        Err(std::io::Error::other("no files in these tests"))
    }

    fn open_socket(
        &mut self,
        _: &crate::core::engine::FcgiSpec,
    ) -> std::io::Result<std::os::fd::OwnedFd> {
        Ok(std::fs::File::open("/dev/null")?.into())
    }
}

struct FakeClock(Rc<World>);

impl Clock for FakeClock {
    fn now(&self) -> Ms {
        self.0.now.get()
    }
    fn wall(&self) -> i64 {
        1_700_000_000 + i64::try_from(self.0.now.get() / 1000).unwrap_or(0)
    }
}

fn program(name: &str, extra: &str) -> String {
    format!(
        "[program:{name}]\ncommand=/bin/true\nstdout_logfile=NONE\nstderr_logfile=NONE\n{extra}\n"
    )
}

fn parse(programs: &str) -> warden_config::Config {
    let text = format!("[supervisord]\nlogfile=/dev/null\n\n{programs}");
    warden_config::parse_str(&text, Path::new("/tmp"), &HashMap::new())
        .expect("test config")
        .config
}

struct Harness {
    engine: Engine,
    world: Rc<World>,
    /// What the loader reads (for reread tests).
    text: Rc<RefCell<String>>,
    bus: Rc<Bus>,
}

impl Harness {
    fn new(programs: &str) -> Harness {
        Harness::adopting(programs, Vec::new())
    }

    /// [`Harness::new`], taking over `adoptees` at start-up.
    fn adopting(programs: &str, adoptees: Vec<crate::core::seams::Adoptee>) -> Harness {
        let world = Rc::new(World::default());
        let text = Rc::new(RefCell::new(programs.to_string()));
        let bus = Bus::new();
        let source = text.clone();
        let parts = Parts {
            launcher: Box::new(FakeLauncher(world.clone())),
            clock: Rc::new(FakeClock(world.clone())),
            loader: Box::new(move || Ok(parse(&source.borrow()))),
            bus: bus.clone(),
            log: MainLog {
                syslog: false,
                sink: None,
                level: Level::Debug,
                echo: false,
            },
            pid: 1,
            prober: Box::new(FakeProber(world.clone())),
        };
        let mut engine = Engine::new(parse(programs), parts);
        engine.set_adoptees(adoptees);
        engine.start();
        Harness {
            engine,
            world,
            text,
            bus,
        }
    }

    /// Moves the clock to `to`, firing every deadline on the way.
    fn advance(&mut self, to: Ms) {
        while let Some(t) = self.engine.next_deadline() {
            if t > to {
                break;
            }
            self.world.now.set(t.max(self.world.now.get()));
            self.engine.fire_due();
        }
        self.world.now.set(to);
    }

    fn call(&mut self, req: Request) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.engine.request(req, tx);
        rx
    }

    fn now(&mut self, req: Request) -> Reply {
        let mut rx = self.call(req);
        rx.try_recv().expect("answered at once").expect("ok")
    }

    fn state(&mut self, name: &str) -> ProcessState {
        match self.now(Request::ProcessInfo(Namespec::parse(name))) {
            Reply::Process(p) => p.state,
            other => panic!("{other:?}"),
        }
    }

    fn pid(&self, name: &str) -> i32 {
        self.world.live.borrow()[name]
    }

    /// The child of `name` exits.
    fn exit(&mut self, name: &str, exit: Exit) {
        let pid = self.world.live.borrow_mut().remove(name).expect("live");
        self.engine.reaped([(pid, exit)]);
    }

    fn spawn_times(&self, name: &str) -> Vec<Ms> {
        self.world
            .spawns
            .borrow()
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, _, t)| *t)
            .collect()
    }
}

impl Harness {
    /// Answers every probe asked for so far with `result`; how many.
    fn answer_probes(&mut self, result: Result<(), String>) -> usize {
        let asked: Vec<ProbeRequest> = self
            .world
            .probes
            .borrow_mut()
            .drain(..)
            .map(|(r, _)| r)
            .collect();
        for r in &asked {
            self.engine
                .probed(r.id, r.generation, r.check, result.clone());
        }
        asked.len()
    }

    fn description(&mut self, name: &str) -> Option<String> {
        match self.now(Request::ProcessInfo(Namespec::parse(name))) {
            Reply::Process(p) => p.log_failure,
            other => panic!("{other:?}"),
        }
    }
}

fn pending(rx: &mut oneshot::Receiver<Outcome>) -> bool {
    matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty))
}

#[test]
fn a_waiting_stop_resolves_when_the_exit_is_reaped() {
    let mut h = Harness::new(&program("web", "startsecs=0"));
    assert_eq!(h.state("web"), ProcessState::Running);
    let pid = h.pid("web");
    let mut rx = h.call(Request::Stop {
        target: Target::Spec(Namespec::parse("web")),
        wait: true,
    });
    assert!(pending(&mut rx), "answered before the process ended");
    assert_eq!(h.world.signals.borrow().as_slice(), [(pid, 15, false, 0)]);
    // No time passes: the reaped exit alone resolves the ticket.
    h.exit(
        "web",
        Exit::Signaled {
            signal: 15,
            core_dumped: false,
        },
    );
    assert!(matches!(rx.try_recv(), Ok(Ok(Reply::Ok))));
    assert_eq!(h.state("web"), ProcessState::Stopped);
}

#[test]
fn a_waiting_start_resolves_when_startsecs_pass() {
    let mut h = Harness::new(&program("web", "autostart=false\nstartsecs=2"));
    let mut rx = h.call(Request::Start {
        target: Target::Spec(Namespec::parse("web")),
        wait: true,
    });
    assert!(pending(&mut rx));
    h.advance(2000);
    assert!(
        pending(&mut rx),
        "RUNNING needs strictly more than startsecs"
    );
    h.advance(2001);
    assert!(matches!(rx.try_recv(), Ok(Ok(Reply::Ok))));
}

#[test]
fn sigkill_escalation_arms_exactly_one_timer() {
    let mut h = Harness::new(&program(
        "stubborn",
        "startsecs=0\nstopwaitsecs=2\nkillasgroup=true",
    ));
    let pid = h.pid("stubborn");
    assert_eq!(h.engine.armed_deadlines(), 0, "RUNNING needs no timer");
    let _ = h.now(Request::Stop {
        target: Target::Spec(Namespec::parse("stubborn")),
        wait: false,
    });
    assert_eq!(h.engine.armed_deadlines(), 1);
    assert_eq!(h.engine.next_deadline(), Some(2000));
    // Other work on the process does not arm a second one.
    let _ = h.now(Request::AllProcessInfo);
    assert_eq!(h.engine.armed_deadlines(), 1);
    h.advance(1999);
    assert_eq!(h.world.signals.borrow().len(), 1);
    h.advance(2000);
    assert_eq!(
        h.world.signals.borrow().as_slice(),
        [(pid, 15, false, 0), (pid, 9, true, 2000)]
    );
    assert_eq!(h.engine.armed_deadlines(), 1);
    h.exit(
        "stubborn",
        Exit::Signaled {
            signal: 9,
            core_dumped: false,
        },
    );
    assert_eq!(h.engine.armed_deadlines(), 0);
    assert_eq!(h.engine.next_deadline(), None, "nothing left to wake for");
    assert_eq!(h.state("stubborn"), ProcessState::Stopped);
}

#[test]
fn shutdown_stops_priority_tiers_one_after_another_each_at_once() {
    let mut h = Harness::new(
        &[
            program("a1", "startsecs=0\npriority=1"),
            program("a2", "startsecs=0\npriority=1"),
            program("b1", "startsecs=0\npriority=2"),
            program("b2", "startsecs=0\npriority=2"),
            program("b3", "startsecs=0\npriority=2"),
        ]
        .concat(),
    );
    let _ = h.now(Request::Shutdown);
    let term = Exit::Signaled {
        signal: 15,
        core_dumped: false,
    };
    let signalled =
        |h: &Harness| -> Vec<i32> { h.world.signals.borrow().iter().map(|s| s.0).collect() };
    let b: Vec<i32> = ["b3", "b2", "b1"].iter().map(|n| h.pid(n)).collect();
    assert_eq!(signalled(&h), b, "the priority-2 tier at once");
    h.exit("b1", term);
    h.exit("b3", term);
    assert_eq!(signalled(&h).len(), 3, "b2 still stopping");
    h.exit("b2", term);
    let a: Vec<i32> = ["a2", "a1"].iter().map(|n| h.pid(n)).collect();
    assert_eq!(signalled(&h)[3..], a);
    h.exit("a1", term);
    h.exit("a2", term);
    assert_eq!(h.engine.finished(), Some(0));
}

#[test]
fn dependents_start_after_and_stop_before_their_dependencies() {
    let mut h = Harness::new(
        &[
            program("web", "startsecs=0\nready=tcp:1\npriority=5"),
            program("worker", "startsecs=0\ndepends_on=web\npriority=1"),
        ]
        .concat(),
    );
    assert_eq!(h.spawn_times("web"), [0]);
    assert!(h.spawn_times("worker").is_empty(), "waits for web");
    assert_eq!(h.state("web"), ProcessState::Starting);
    h.advance(1500);
    assert_eq!(h.answer_probes(Err("connection refused".into())), 1);
    h.advance(1750);
    assert_eq!(h.state("web"), ProcessState::Starting);
    assert_eq!(h.world.probes.borrow().len(), 1, "probes every 250 ms");
    h.answer_probes(Ok(()));
    assert_eq!(h.state("web"), ProcessState::Running);
    assert_eq!(h.spawn_times("worker"), [1750]);
    assert_eq!(h.state("worker"), ProcessState::Running);
    // shutdown: the worker first, though its priority is lower
    let _ = h.now(Request::Shutdown);
    let signalled: Vec<i32> = h.world.signals.borrow().iter().map(|s| s.0).collect();
    assert_eq!(signalled, [h.pid("worker")]);
    h.exit("worker", Exit::Code(0));
    let signalled: Vec<i32> = h.world.signals.borrow().iter().map(|s| s.0).collect();
    assert_eq!(signalled[1..], [h.pid("web")]);
}

#[test]
fn crash_loop_with_exponential_backoff_spawns_at_0_1_3_7_11() {
    let mut h = Harness::new(&program(
        "crash",
        "startsecs=1\nstartretries=-1\nbackoff=exponential\nbackoff_max=4",
    ));
    while h.spawn_times("crash").len() < 6 {
        if h.world.live.borrow().contains_key("crash") {
            h.exit("crash", Exit::Code(1));
        }
        let next = h.engine.next_deadline().expect("a retry is armed");
        h.advance(next);
    }
    let times = h.spawn_times("crash");
    assert_eq!(times, [0, 1001, 3002, 7003, 11_004, 15_005]);
}

#[test]
fn failing_health_checks_show_then_restart() {
    let mut h = Harness::new(&program(
        "api",
        "startsecs=0\nhealthcheck=tcp:1\nhealthcheck_interval=2\nhealthcheck_retries=3",
    ));
    assert_eq!(h.state("api"), ProcessState::Running);
    let sub = h.bus.subscribe(Interest::changes(), 64);
    let health = || {
        std::iter::from_fn(|| sub.try_next())
            .filter_map(|d| match &d.event.kind {
                EventKind::ProcessHealth {
                    failures, error, ..
                } => Some((*failures, error.clone())),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        h.engine.next_deadline(),
        Some(2000),
        "one wake-up per interval"
    );
    h.advance(2000);
    assert_eq!(h.answer_probes(Ok(())), 1);
    assert_eq!(h.description("api"), None);
    assert_eq!(health(), [], "a passing check is no news");
    h.advance(4000);
    h.answer_probes(Err("connection refused".into()));
    assert_eq!(
        h.description("api").as_deref(),
        Some("unhealthy (1 check failed: connection refused)")
    );
    assert_eq!(health(), [(1, Some("connection refused".to_string()))]);
    // a check passing again is an event too
    h.advance(6000);
    h.answer_probes(Ok(()));
    assert_eq!(health(), [(0, None)]);
    assert_eq!(h.description("api"), None);
    h.advance(8000);
    h.answer_probes(Err("connection refused".into()));
    h.advance(10_000);
    h.answer_probes(Err("connection refused".into()));
    let pid = h.pid("api");
    assert!(h.world.signals.borrow().is_empty());
    h.advance(12_000);
    h.answer_probes(Err("connection refused".into()));
    assert_eq!(h.state("api"), ProcessState::Stopping);
    assert_eq!(
        h.description("api").as_deref(),
        Some("unhealthy (3 checks failed: connection refused)")
    );
    assert_eq!(health().len(), 3);
    assert_eq!(
        h.world.signals.borrow().as_slice(),
        [(pid, 15, false, 12_000)]
    );
    h.exit("api", Exit::Code(0));
    assert_eq!(h.state("api"), ProcessState::Running, "restarted");
    assert_eq!(h.spawn_times("api"), [0, 12_000]);
    assert_eq!(h.description("api"), None);
}

#[test]
fn idle_wakeups_are_zero_without_probes() {
    let mut h = Harness::new(&[program("a", "startsecs=0"), program("b", "startsecs=0")].concat());
    assert_eq!(h.state("a"), ProcessState::Running);
    assert_eq!(h.engine.next_deadline(), None);
    assert!(h.world.probes.borrow().is_empty());
}

#[test]
fn a_critical_program_going_fatal_stops_everything_with_exit_code_3() {
    let mut h = Harness::new(
        &[
            program("db", "startsecs=0"),
            program("app", "startsecs=1\nstartretries=0\ncritical=true"),
        ]
        .concat(),
    );
    h.exit("app", Exit::Code(1));
    let db = h.pid("db");
    assert_eq!(h.world.signals.borrow().as_slice(), [(db, 15, false, 0)]);
    assert_eq!(h.engine.finished(), None);
    h.exit("db", Exit::Code(0));
    assert_eq!(
        h.engine.finished(),
        Some(crate::core::health::CRITICAL_EXIT)
    );
}

#[test]
fn a_critical_program_that_exits_for_good_stops_everything_with_exit_code_3() {
    let mut h = Harness::new(
        &[
            program("db", "startsecs=0"),
            program("job", "startsecs=0\nautorestart=false\ncritical=true"),
        ]
        .concat(),
    );
    assert_eq!(h.state("job"), ProcessState::Running);
    // an expected exit, but it will not be restarted
    h.exit("job", Exit::Code(0));
    let db = h.pid("db");
    assert_eq!(h.world.signals.borrow().as_slice(), [(db, 15, false, 0)]);
    h.exit("db", Exit::Code(0));
    assert_eq!(
        h.engine.finished(),
        Some(crate::core::health::CRITICAL_EXIT)
    );
}

#[test]
fn a_program_that_autorestart_brings_back_is_not_critical_when_it_exits() {
    let mut h = Harness::new(&program("job", "startsecs=0\ncritical=true"));
    h.exit("job", Exit::Code(1));
    assert_eq!(h.state("job"), ProcessState::Running, "restarted");
    assert_eq!(h.engine.finished(), None);
    assert!(h.world.signals.borrow().is_empty());
}

#[test]
fn health_checks_carry_their_timeout_and_skip_the_start_period() {
    let mut h = Harness::new(&program(
        "api",
        "startsecs=0\nhealthcheck=tcp:1\nhealthcheck_interval=2\nhealthcheck_timeout=1\n\
         healthcheck_retries=1\nhealthcheck_start_period=5",
    ));
    h.advance(2000);
    let timeouts: Vec<Ms> = h
        .world
        .probes
        .borrow()
        .iter()
        .map(|(r, _)| r.timeout)
        .collect();
    assert_eq!(timeouts, [1000], "healthcheck_timeout reaches the prober");
    h.answer_probes(Err("timed out".into()));
    h.advance(4000);
    h.answer_probes(Err("timed out".into()));
    assert_eq!(h.description("api"), None, "failures in the start period");
    assert!(h.world.signals.borrow().is_empty());
    h.advance(6000);
    h.answer_probes(Err("timed out".into()));
    assert_eq!(
        h.state("api"),
        ProcessState::Stopping,
        "one retry, after 5 s"
    );
}

#[test]
fn ready_probes_stop_once_the_program_runs() {
    let mut h = Harness::new(&program("web", "startsecs=0\nready=tcp:1"));
    assert_eq!(h.state("web"), ProcessState::Starting);
    assert_eq!(h.answer_probes(Err("connection refused".into())), 1);
    let due = h.engine.next_deadline().expect("the next probe");
    h.advance(due);
    assert_eq!(h.answer_probes(Ok(())), 1);
    assert_eq!(h.state("web"), ProcessState::Running);
    // RUNNING without a health check: no timer, no probe, ever
    assert_eq!(h.engine.next_deadline(), None);
    h.advance(60_000);
    assert_eq!(h.answer_probes(Ok(())), 0);
}

#[test]
fn adopted_processes_run_without_a_spawn_and_restart_when_they_end() {
    use crate::core::seams::Adoptee;
    let who = |name: &str, pid: i32| Adoptee {
        group: name.into(),
        name: name.into(),
        pid,
        start: 1,
        cgroup: None,
        started_wall: 1_700_000_000,
    };
    let mut h = Harness::adopting(
        &[
            program("web", "startsecs=5"),
            program("other", "startsecs=0"),
        ]
        .concat(),
        vec![who("web", 555), who("gone", 556)],
    );
    assert_eq!(h.state("web"), ProcessState::Running, "no startsecs wait");
    assert_eq!(h.pid("web"), 555);
    assert!(h.spawn_times("web").is_empty(), "not started again");
    assert_eq!(h.spawn_times("other"), [0], "the others start as usual");
    let Reply::Process(p) = h.now(Request::ProcessInfo(Namespec::parse("web"))) else {
        panic!("info");
    };
    assert_eq!((p.pid, p.start), (555, 1_700_000_000));
    // its end comes without a status: unexpected, so autorestart restarts it
    h.world.live.borrow_mut().remove("web");
    h.engine.reaped([(555, Exit::Unknown)]);
    assert_eq!(h.state("web"), ProcessState::Starting);
    assert_eq!(h.spawn_times("web"), [0]);
    // and a stop of an adopted process signals its pid
    let mut h = Harness::adopting(&program("web", "startsecs=0"), vec![who("web", 777)]);
    let mut rx = h.call(Request::Stop {
        target: Target::Spec(Namespec::parse("web")),
        wait: true,
    });
    assert_eq!(h.world.signals.borrow()[0].0, 777);
    h.world.live.borrow_mut().remove("web");
    h.engine.reaped([(777, Exit::Unknown)]);
    assert!(matches!(rx.try_recv(), Ok(Ok(_))));
    assert_eq!(h.state("web"), ProcessState::Stopped);
}

#[test]
fn ready_notify_comes_from_the_program_or_its_descendants() {
    use crate::core::health::Notification;
    let mut h = Harness::new(&program("n", "ready=notify\nstartsecs=0"));
    assert_eq!(h.state("n"), ProcessState::Starting);
    assert!(h.world.probes.borrow().is_empty(), "notify is not polled");
    assert_eq!(h.engine.next_deadline(), Some(60_000), "only ready_timeout");
    let ready = Notification::parse(b"STATUS=up\nREADY=1\n");
    h.engine.notified(&[4242, 77], &ready);
    assert_eq!(h.state("n"), ProcessState::Starting, "a stranger");
    let pid = h.pid("n");
    h.engine.notified(&[4242, pid], &ready);
    assert_eq!(h.state("n"), ProcessState::Running);
}

#[test]
fn shutdown_stops_groups_in_reverse_priority_one_after_another() {
    let mut h = Harness::new(
        &[
            program("low", "startsecs=0\npriority=1"),
            program("mid", "startsecs=0\npriority=2"),
            program("high", "startsecs=0\npriority=3"),
        ]
        .concat(),
    );
    let pids: Vec<i32> = ["low", "mid", "high"].iter().map(|n| h.pid(n)).collect();
    let _ = h.now(Request::Shutdown);
    for (i, name) in ["high", "mid", "low"].into_iter().enumerate() {
        let signalled: Vec<i32> = h.world.signals.borrow().iter().map(|s| s.0).collect();
        assert_eq!(signalled.len(), i + 1, "one group at a time");
        assert_eq!(signalled[i], pids[2 - i], "{name} is next");
        assert_eq!(h.engine.finished(), None);
        h.exit(
            name,
            Exit::Signaled {
                signal: 15,
                core_dumped: false,
            },
        );
    }
    assert_eq!(h.engine.finished(), Some(0));
}

#[test]
fn backoff_timeline_is_1_2_3_seconds_then_fatal() {
    let mut h = Harness::new(&program("crash", "startsecs=1\nstartretries=3"));
    for _ in 0..10 {
        if h.world.live.borrow().contains_key("crash") {
            h.exit("crash", Exit::Code(1));
        }
        if h.state("crash") == ProcessState::Fatal {
            break;
        }
        let next = h.engine.next_deadline().expect("a retry is armed");
        h.advance(next);
    }
    assert_eq!(h.state("crash"), ProcessState::Fatal);
    let secs: Vec<Ms> = h.spawn_times("crash").iter().map(|t| t / 1000).collect();
    assert_eq!(secs, [0, 1, 3, 6]);
    assert_eq!(h.engine.next_deadline(), None, "FATAL waits for nothing");
}

#[test]
fn reread_then_update_adds_and_removes_the_right_groups() {
    let mut h = Harness::new(&[program("a", "startsecs=0"), program("b", "startsecs=0")].concat());
    *h.text.borrow_mut() = [program("a", "startsecs=0"), program("c", "startsecs=0")].concat();
    let Reply::Changes(c) = h.now(Request::Reread) else {
        panic!("changes");
    };
    assert_eq!(
        (c.added, c.changed, c.removed),
        (vec!["c".to_string()], vec![], vec!["b".to_string()])
    );
    // supervisorctl's update: stop and remove b, add c.
    let mut rx = h.call(Request::Stop {
        target: Target::Group("b".into()),
        wait: true,
    });
    h.exit(
        "b",
        Exit::Signaled {
            signal: 15,
            core_dumped: false,
        },
    );
    assert!(matches!(rx.try_recv(), Ok(Ok(Reply::Results(_)))));
    let _ = h.now(Request::RemoveGroup("b".into()));
    let _ = h.now(Request::AddGroup("c".into()));
    let Reply::Processes(all) = h.now(Request::AllProcessInfo) else {
        panic!("processes");
    };
    let names: Vec<(&str, ProcessState)> = all.iter().map(|p| (p.name.as_str(), p.state)).collect();
    assert_eq!(
        names,
        [("a", ProcessState::Running), ("c", ProcessState::Running)]
    );
    assert_eq!(h.spawn_times("a").len(), 1, "a was not restarted");
}

#[test]
fn group_results_keep_list_order_for_exits_reaped_together() {
    let mut h = Harness::new(&format!(
        "[group:g]\nprograms=x,y\n\n{}{}",
        program("x", "startsecs=0"),
        program("y", "startsecs=0")
    ));
    let (x, y) = (h.pid("x"), h.pid("y"));
    let mut rx = h.call(Request::Stop {
        target: Target::Group("g".into()),
        wait: true,
    });
    assert!(pending(&mut rx));
    let term = Exit::Signaled {
        signal: 15,
        core_dumped: false,
    };
    h.world.live.borrow_mut().clear();
    // y is reaped first, in the same batch as x
    h.engine.reaped([(y, term), (x, term)]);
    let Ok(Ok(Reply::Results(r))) = rx.try_recv() else {
        panic!("resolved");
    };
    let names: Vec<&str> = r.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["x", "y"]);
}

#[test]
fn every_state_change_is_one_numbered_event() {
    let mut h = Harness::new(&program("web", "autostart=false\nstartsecs=0"));
    let sub = h.bus.subscribe(Interest::changes(), 64);
    let _ = h.now(Request::Start {
        target: Target::Spec(Namespec::parse("web")),
        wait: false,
    });
    let mut seen = Vec::new();
    let mut last = 0;
    while let Some(d) = sub.try_next() {
        assert!(d.event.serial > last);
        last = d.event.serial;
        if let EventKind::ProcessState { from, to, pid, .. } = &d.event.kind {
            seen.push((*from, *to, pid.is_some()));
        }
    }
    assert_eq!(
        seen,
        [
            (ProcessState::Stopped, ProcessState::Starting, false),
            (ProcessState::Starting, ProcessState::Running, true),
        ]
    );
}

#[test]
fn update_restarts_only_what_changed_inside_a_group() {
    let group = |b_cmd: &str, extra: &str| {
        format!(
            "[group:g]\nprograms=a,b,c{}\n\n{}{}{}{}",
            if extra.is_empty() { "" } else { ",d" },
            program("a", "startsecs=0"),
            program("b", &format!("startsecs=0\n{b_cmd}")),
            program("c", "startsecs=0"),
            extra
        )
    };
    let mut h = Harness::new(&group("", ""));
    let (a, b, c) = (h.pid("a"), h.pid("b"), h.pid("c"));
    // b's launch changes, c's stop policy changes, d is new.
    *h.text.borrow_mut() = group("directory=/tmp", &program("d", "startsecs=0")).replace(
        "[program:c]\ncommand=/bin/true\n",
        "[program:c]\ncommand=/bin/true\nstopwaitsecs=3\n",
    );
    let mut rx = h.call(Request::Update { groups: vec![] });
    assert!(pending(&mut rx), "waits for b to stop");
    assert_eq!(
        h.world.signals.borrow().as_slice(),
        [(b, 15, false, 0)],
        "only b is stopped"
    );
    assert_eq!(h.state("g:d"), ProcessState::Running, "d added and started");
    h.exit(
        "b",
        Exit::Signaled {
            signal: 15,
            core_dumped: false,
        },
    );
    let Ok(Ok(Reply::Update(report))) = rx.try_recv() else {
        panic!("update answered once b stopped");
    };
    let acts: Vec<(String, &str)> = report.groups[0]
        .processes
        .iter()
        .map(|p| (p.name.clone(), p.action.as_str()))
        .collect();
    assert_eq!(
        acts,
        [
            ("b".to_string(), "restarted"),
            ("c".to_string(), "updated"),
            ("d".to_string(), "added")
        ]
    );
    assert_eq!(h.state("g:b"), ProcessState::Running, "b started again");
    assert_ne!(h.pid("b"), b);
    assert_eq!((h.pid("a"), h.pid("c")), (a, c), "a and c kept their pids");
    assert_eq!(h.spawn_times("a").len(), 1);
    // c's new stopwaitsecs applies in place: SIGKILL 3 s after SIGTERM.
    drop(h.call(Request::Stop {
        target: Target::Spec(Namespec::parse("g:c")),
        wait: false,
    }));
    h.advance(3001);
    let signals = h.world.signals.borrow().clone();
    assert!(signals.contains(&(c, 9, false, 3000)), "{signals:?}");

    // Now b leaves the group and the group `g` then the config altogether.
    *h.text.borrow_mut() = program("other", "startsecs=0");
    let mut rx = h.call(Request::Update {
        groups: vec!["g".into(), "nope".into()],
    });
    assert!(pending(&mut rx));
    for n in ["a", "b", "d"] {
        h.exit(
            n,
            Exit::Signaled {
                signal: 15,
                core_dumped: false,
            },
        );
    }
    h.exit(
        "c",
        Exit::Signaled {
            signal: 9,
            core_dumped: false,
        },
    );
    let Ok(Ok(Reply::Update(report))) = rx.try_recv() else {
        panic!("update answered once g stopped");
    };
    let groups: Vec<(&str, &str)> = report
        .groups
        .iter()
        .map(|g| (g.group.as_str(), g.action.as_str()))
        .collect();
    assert_eq!(groups, [("nope", "unknown"), ("g", "removed")]);
    let Reply::Processes(all) = h.now(Request::AllProcessInfo) else {
        panic!("processes");
    };
    assert!(
        all.is_empty(),
        "g is gone and `other` was not asked for: {all:?}"
    );
}

#[test]
fn reread_sees_a_listener_pool_whose_events_changed() {
    let pool = |events: &str| {
        format!(
            "[eventlistener:pool]\ncommand=/bin/true\nevents={events}\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        )
    };
    let mut h = Harness::new(&pool("PROCESS_STATE"));
    *h.text.borrow_mut() = pool("TICK_5");
    let Reply::Changes(c) = h.now(Request::Reread) else {
        panic!("changes");
    };
    assert_eq!(c.changed, ["pool"]);
}

#[test]
fn stop_all_stops_dependents_first_then_their_dependencies() {
    let mut h = Harness::new(
        &[
            program("db", "startsecs=0"),
            program("web", "startsecs=0\ndepends_on=db"),
            program("other", "startsecs=0"),
        ]
        .concat(),
    );
    let (db, web, other) = (h.pid("db"), h.pid("web"), h.pid("other"));
    let mut rx = h.call(Request::Stop {
        target: Target::All,
        wait: true,
    });
    let signalled = |h: &Harness| -> Vec<i32> {
        let mut v: Vec<i32> = h.world.signals.borrow().iter().map(|s| s.0).collect();
        v.sort_unstable();
        v
    };
    let mut first = vec![web, other];
    first.sort_unstable();
    assert_eq!(signalled(&h), first, "db waits for web");
    h.exit("other", Exit::Code(0));
    h.exit("web", Exit::Code(0));
    assert!(h.world.signals.borrow().iter().any(|s| s.0 == db));
    assert!(pending(&mut rx));
    h.exit("db", Exit::Code(0));
    let Ok(Ok(Reply::Results(r))) = rx.try_recv() else {
        panic!("resolved");
    };
    assert_eq!(r.len(), 3);
}

#[test]
fn update_stops_dependents_before_what_they_depend_on() {
    let both = [
        program("db", "startsecs=0"),
        program("web", "startsecs=0\ndepends_on=db"),
    ]
    .concat();
    let mut h = Harness::new(&both);
    let (db, web) = (h.pid("db"), h.pid("web"));
    // both change: both restart, web stopped first, db once web has stopped
    *h.text.borrow_mut() = both.replace("startsecs=0", "startsecs=0\ndirectory=/tmp");
    let mut rx = h.call(Request::Update { groups: vec![] });
    let signalled =
        |h: &Harness| -> Vec<i32> { h.world.signals.borrow().iter().map(|s| s.0).collect() };
    assert_eq!(signalled(&h), [web], "db waits for web");
    h.exit("web", Exit::Code(0));
    assert_eq!(signalled(&h), [web, db]);
    assert!(pending(&mut rx));
    h.exit("db", Exit::Code(0));
    let Ok(Ok(Reply::Update(_))) = rx.try_recv() else {
        panic!("update answered once both stopped");
    };
    // both removed: the same order
    *h.text.borrow_mut() = program("other", "startsecs=0");
    h.world.signals.borrow_mut().clear();
    let (db, web) = (h.pid("db"), h.pid("web"));
    let mut rx = h.call(Request::Update { groups: vec![] });
    assert_eq!(signalled(&h), [web], "db waits for web");
    h.exit("web", Exit::Code(0));
    assert_eq!(signalled(&h), [web, db]);
    h.exit("db", Exit::Code(0));
    assert!(matches!(rx.try_recv(), Ok(Ok(Reply::Update(_)))));
}

#[test]
fn start_all_starts_dependents_once_their_dependencies_run() {
    let mut h = Harness::new(
        &[
            program("db", "autostart=false\nstartsecs=2"),
            program("api", "autostart=false\nstartsecs=0\ndepends_on=db"),
        ]
        .concat(),
    );
    let mut rx = h.call(Request::Start {
        target: Target::All,
        wait: true,
    });
    assert_eq!(h.spawn_times("db"), [0]);
    assert!(h.spawn_times("api").is_empty(), "api waits for db");
    assert!(pending(&mut rx));
    h.advance(2001);
    assert_eq!(h.spawn_times("api"), [2001]);
    let Ok(Ok(Reply::Results(r))) = rx.try_recv() else {
        panic!("resolved");
    };
    assert!(r.iter().all(|e| e.result.is_ok()), "{r:?}");
    assert_eq!(r.len(), 2);
}

#[test]
fn healthcheck_notify_counts_missing_watchdog_keepalives() {
    use crate::core::health::Notification;
    let mut h = Harness::new(&program(
        "svc",
        "startsecs=0\nhealthcheck=notify\nhealthcheck_interval=2\nhealthcheck_retries=2",
    ));
    let pid = h.pid("svc");
    let alive = Notification::parse(b"WATCHDOG=1");
    h.advance(1000);
    h.engine.notified(&[pid], &alive);
    h.advance(2000);
    assert_eq!(h.description("svc"), None, "a keep-alive came in time");
    h.advance(4000);
    assert_eq!(
        h.description("svc").as_deref(),
        Some("unhealthy (1 check failed: no WATCHDOG=1 in 2 s)")
    );
    assert!(h.world.probes.borrow().is_empty(), "nothing is polled");
    h.advance(6000);
    assert_eq!(h.state("svc"), ProcessState::Stopping);
    assert_eq!(
        h.world.signals.borrow().as_slice(),
        [(pid, 15, false, 6000)]
    );
}

#[test]
fn a_stop_by_hand_outlives_a_reload_and_a_start_by_hand_ends_it() {
    let mut h = Harness::new(&format!(
        "{}{}",
        program("web", "startsecs=0"),
        program("db", "startsecs=0")
    ));
    let sigterm = Exit::Signaled {
        signal: 15,
        core_dumped: false,
    };
    h.now(Request::Stop {
        target: Target::Spec(Namespec::parse("web")),
        wait: false,
    });
    h.exit("web", sigterm);
    assert!(h.engine.intent().stopped_by_hand("web", "web"));
    // reload: everything stops, then starts again, except web
    h.now(Request::Restart);
    h.exit("db", sigterm);
    assert_eq!(h.state("db"), ProcessState::Running, "db autostarts again");
    assert_eq!(h.state("web"), ProcessState::Stopped, "web stays stopped");
    assert_eq!(h.spawn_times("web").len(), 1);
    // started by hand: forgotten, and autostart applies at the next reload
    h.now(Request::Start {
        target: Target::Spec(Namespec::parse("web")),
        wait: false,
    });
    assert!(!h.engine.intent().stopped_by_hand("web", "web"));
    h.now(Request::Restart);
    h.exit("db", sigterm);
    h.exit("web", sigterm);
    assert_eq!(h.state("web"), ProcessState::Running);
}

#[test]
fn starting_one_program_starts_what_it_depends_on_first() {
    let mut h = Harness::new(
        &[
            program("db", "autostart=false\nstartsecs=2"),
            program("cache", "autostart=false\nstartsecs=1\ndepends_on=db"),
            program("api", "autostart=false\nstartsecs=0\ndepends_on=cache"),
        ]
        .concat(),
    );
    let mut rx = h.call(Request::Start {
        target: Target::Spec(Namespec::parse("api")),
        wait: true,
    });
    assert_eq!(h.spawn_times("db"), [0], "db first");
    assert!(h.spawn_times("cache").is_empty(), "cache waits for db");
    assert!(h.spawn_times("api").is_empty(), "api waits for cache");
    assert!(pending(&mut rx));
    h.advance(2001);
    assert_eq!(h.spawn_times("cache"), [2001]);
    assert!(h.spawn_times("api").is_empty());
    h.advance(3002);
    assert_eq!(h.spawn_times("api"), [3002]);
    assert!(matches!(rx.try_recv(), Ok(Ok(Reply::Ok))));
    // everything it needs already runs: a plain start
    let _ = h.now(Request::Stop {
        target: Target::Spec(Namespec::parse("api")),
        wait: false,
    });
    h.exit(
        "api",
        Exit::Signaled {
            signal: 15,
            core_dumped: false,
        },
    );
    let _ = h.now(Request::Start {
        target: Target::Spec(Namespec::parse("api")),
        wait: false,
    });
    assert_eq!(h.spawn_times("api"), [3002, 3002]);
    assert_eq!(h.spawn_times("db"), [0]);
}
