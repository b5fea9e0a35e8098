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
use crate::core::seams::{Clock, Launcher, SpawnSpec, Spawned};
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
                sink: None,
                level: Level::Debug,
                echo: false,
            },
            pid: 1,
        };
        let mut engine = Engine::new(parse(programs), parts);
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
