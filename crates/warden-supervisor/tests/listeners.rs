//! Event listeners, differentially: the same Python listeners, written with
//! the real `supervisor.childutils`, run under the real supervisord 4.3.0
//! and under warden; what they receive must be the same after normalising
//! pids, serials, times and paths.

mod helper;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use helper::{pair, supervisor_bin, wait_for, Scratch, Sup};

/// A listener that records every header and payload it gets as one JSON
/// line, then answers as its mode says:
/// - `ok`: always OK;
/// - `reject-first`: FAIL the first event, OK the rest;
/// - `slow`: sleep 1.5 s before the first answer;
/// - `die-on-die`: exit without answering the first event whose payload
///   ends with "die" (the next incarnation answers OK).
const LISTENER: &str = r#"
import json, os, sys, time
from supervisor import childutils
record, mode = sys.argv[1], sys.argv[2]
seen = 0
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    with open(record, 'a') as f:
        f.write(json.dumps([os.environ.get('SUPERVISOR_PROCESS_NAME'), headers, payload]) + '\n')
    seen += 1
    if mode == 'reject-first' and seen == 1:
        childutils.listener.fail(sys.stdout)
        continue
    if mode == 'slow' and seen == 1:
        time.sleep(1.5)
    if mode == 'die-on-die' and payload.endswith('die') and not os.path.exists(record + '.died'):
        open(record + '.died', 'w').close()
        os._exit(1)
    childutils.listener.ok(sys.stdout)
"#;

fn listener_section(name: &str, mode: &str, events: &str, extra: &str) -> String {
    let py = supervisor_bin().join("python");
    format!(
        "[eventlistener:{name}]\ncommand={} %(here)s/listener.py %(here)s/{name}.jsonl {mode}\nevents={events}\n{extra}\n",
        py.display()
    )
}

/// One received event: (listener process, headers, payload).
type Record = (String, BTreeMap<String, String>, String);

fn records(sup: &Sup, name: &str) -> Vec<Record> {
    let text = std::fs::read_to_string(sup.dir.join(format!("{name}.jsonl"))).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Record>(l).ok())
        .collect()
}

/// Normalises what varies between runs: pids, tick times, directories.
fn norm(sup: &Sup, payload: &str) -> String {
    let s = payload.replace(&sup.dir.to_string_lossy().into_owned(), "DIR");
    let re = regex::Regex::new(r"pid:\d+").unwrap();
    let s = re.replace_all(&s, "pid:PID").into_owned();
    let re = regex::Regex::new(r"when:\d+").unwrap();
    re.replace_all(&s, "when:WHEN").into_owned()
}

/// (eventname, payload) per event, normalised, in the order received.
fn events(sup: &Sup, name: &str) -> Vec<(String, String)> {
    records(sup, name)
        .into_iter()
        .map(|(_, h, p)| (h["eventname"].clone(), norm(sup, &p)))
        .collect()
}

/// The events about each process, in order (the order between processes
/// depends on timing; the order for one process does not).
fn per_process(evs: &[(String, String)]) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (n, p) in evs {
        let key = p
            .split_whitespace()
            .find_map(|w| {
                w.strip_prefix("processname:")
                    .or(w.strip_prefix("groupname:"))
            })
            .unwrap_or("")
            .trim()
            .to_string();
        out.entry(key).or_default().push((n.clone(), p.clone()));
    }
    out
}

fn setup(scratch: &Scratch, programs: &str) -> (Sup, Sup) {
    for d in ["real", "warden"] {
        std::fs::create_dir_all(scratch.join(d)).unwrap();
        std::fs::write(scratch.join(d).join("listener.py"), LISTENER).unwrap();
    }
    pair(scratch, programs)
}

fn settle_both(r: &Sup, w: &Sup, what: &str, cond: impl Fn(&Sup) -> bool) {
    for sup in [r, w] {
        wait_for(Duration::from_secs(30), what, || cond(sup).then_some(()));
    }
}

#[test]
fn every_event_type_reaches_listeners_as_in_supervisord() {
    let scratch = Scratch::new();
    let programs = format!(
        "{}\n\
         [program:talker]\ncommand={{child}} --print hello --eprint oops --after 300 --exit 0 --tag {{tag}}\n\
         startsecs=0\nautorestart=false\nstdout_events_enabled=true\nstderr_events_enabled=true\n\n\
         [program:capture]\ncommand={{child}} --print \"before<!--XSUPERVISOR:BEGIN-->secret<!--XSUPERVISOR:END-->after\" --tag {{tag}}\n\
         startsecs=0\nstdout_capture_maxbytes=1MB\n\n\
         [program:crasher]\ncommand={{child}} --exit 3 --tag {{tag}}\nstartsecs=1\nstartretries=0\n\n\
         [program:sleeper]\ncommand={{child}} --tag {{tag}}\nstartsecs=0\n",
        listener_section(
            "rec",
            "ok",
            "PROCESS_STATE,PROCESS_LOG,PROCESS_COMMUNICATION,REMOTE_COMMUNICATION,SUPERVISOR_STATE_CHANGE,PROCESS_GROUP,TICK_5",
            // large enough that nothing is dropped while the listener starts
            "buffer_size=100\n"
        )
    );
    let (r, w) = setup(&scratch, &programs);
    // crasher ends FATAL, talker EXITED
    settle_both(&r, &w, "crasher FATAL and talker EXITED", |s| {
        let all = s.rpc("supervisor.getAllProcessInfo", "");
        all.matches("FATAL").count() >= 1 && all.contains("EXITED")
    });
    for sup in [&r, &w] {
        let a = sup.call("supervisor.sendRemoteCommEvent", &["mytype", "mydata"]);
        assert!(a.contains("<boolean>1</boolean>"), "{a}");
        let a = sup.call("supervisor.stopProcess", &["sleeper"]);
        assert!(a.contains("<boolean>1</boolean>"), "{a}");
        let a = sup.call("supervisor.removeProcessGroup", &["sleeper"]);
        assert!(a.contains("<boolean>1</boolean>"), "{a}");
    }
    // a TICK_5 and the last event arrive in both
    settle_both(&r, &w, "a tick and the group removal", |s| {
        let evs = events(s, "rec");
        evs.iter().any(|(n, _)| n == "TICK_5")
            && evs.iter().any(|(n, _)| n == "PROCESS_GROUP_REMOVED")
    });
    let (re, we) = (events(&r, "rec"), events(&w, "rec"));
    let strip_ticks = |v: &[(String, String)]| -> Vec<(String, String)> {
        v.iter().filter(|(n, _)| n != "TICK_5").cloned().collect()
    };
    let (re, we) = (strip_ticks(&re), strip_ticks(&we));
    let mut rs = re.clone();
    let mut ws = we.clone();
    rs.sort();
    ws.sort();
    assert_eq!(ws, rs, "the same events");
    // The order of state changes per process is fixed; where output falls
    // between them depends on when each supervisor looks (supervisord polls).
    let changes = |v: &[(String, String)]| -> Vec<(String, String)> {
        v.iter()
            .filter(|(n, _)| n.starts_with("PROCESS_STATE") || n.starts_with("PROCESS_GROUP"))
            .cloned()
            .collect()
    };
    assert_eq!(
        per_process(&changes(&we)),
        per_process(&changes(&re)),
        "state changes in the same order per process"
    );
    for name in [
        "PROCESS_STATE_EXITED",
        "PROCESS_STATE_FATAL",
        "PROCESS_STATE_BACKOFF",
        "PROCESS_STATE_STOPPED",
        "PROCESS_LOG_STDOUT",
        "PROCESS_LOG_STDERR",
        "PROCESS_COMMUNICATION_STDOUT",
        "REMOTE_COMMUNICATION",
        "SUPERVISOR_STATE_CHANGE_RUNNING",
        "PROCESS_GROUP_ADDED",
        "PROCESS_GROUP_REMOVED",
    ] {
        assert!(we.iter().any(|(n, _)| n == name), "{name} missing: {we:#?}");
    }
    // Serials: one global and one per pool, each +1 per event here.
    for sup in [&r, &w] {
        let recs = records(sup, "rec");
        for pair in recs.windows(2) {
            let n = |h: &BTreeMap<String, String>, k: &str| h[k].parse::<u64>().unwrap();
            assert_eq!(n(&pair[1].1, "poolserial"), n(&pair[0].1, "poolserial") + 1);
            assert!(n(&pair[1].1, "serial") > n(&pair[0].1, "serial"));
            assert_eq!(pair[1].1["len"], pair[1].2.chars().count().to_string());
            assert_eq!(pair[1].1["server"], "supervisor");
            assert_eq!(pair[1].1["pool"], "rec");
        }
    }
}

#[test]
fn a_rejected_event_is_sent_again() {
    let scratch = Scratch::new();
    let programs = listener_section("rej", "reject-first", "REMOTE_COMMUNICATION", "");
    let (r, w) = setup(&scratch, &programs);
    settle_both(&r, &w, "listener running", |s| {
        s.rpc("supervisor.getAllProcessInfo", "")
            .contains("RUNNING")
    });
    for sup in [&r, &w] {
        sup.call("supervisor.sendRemoteCommEvent", &["t", "first"]);
    }
    settle_both(&r, &w, "the event twice", |s| records(s, "rej").len() >= 2);
    for sup in [&r, &w] {
        let recs = records(sup, "rej");
        assert_eq!(recs[0].1, recs[1].1, "same headers, same serial");
        assert_eq!(recs[0].2, recs[1].2);
        assert!(
            sup.mainlog().contains("rej: event was rejected"),
            "{}",
            sup.mainlog()
        );
    }
    assert_eq!(events(&w, "rej"), events(&r, "rej"));
}

#[test]
fn a_full_buffer_drops_the_oldest_event() {
    let scratch = Scratch::new();
    let programs = listener_section("slow", "slow", "REMOTE_COMMUNICATION", "buffer_size=2\n");
    let (r, w) = setup(&scratch, &programs);
    settle_both(&r, &w, "listener running", |s| {
        s.rpc("supervisor.getAllProcessInfo", "")
            .contains("RUNNING")
    });
    for sup in [&r, &w] {
        for i in 0..6 {
            sup.call("supervisor.sendRemoteCommEvent", &["t", &format!("m{i}")]);
        }
    }
    settle_both(&r, &w, "the buffer drained", |s| {
        records(s, "slow")
            .last()
            .is_some_and(|(_, _, p)| p.ends_with("m5"))
    });
    let (re, we) = (events(&r, "slow"), events(&w, "slow"));
    assert_eq!(we, re);
    let overflows = |s: &Sup| {
        s.mainlog()
            .lines()
            .filter(|l| l.contains("ERRO pool slow event buffer overflowed, discarding event"))
            .count()
    };
    assert_eq!(overflows(&w), overflows(&r));
    assert!(overflows(&w) >= 1);
}

#[test]
fn a_pool_of_two_shares_the_events() {
    let scratch = Scratch::new();
    let programs = listener_section(
        "two",
        "ok",
        "REMOTE_COMMUNICATION",
        "numprocs=2\nprocess_name=%(program_name)s_%(process_num)d\n",
    );
    let (r, w) = setup(&scratch, &programs);
    settle_both(&r, &w, "both listeners running", |s| {
        s.rpc("supervisor.getAllProcessInfo", "")
            .matches("RUNNING")
            .count()
            >= 2
    });
    for sup in [&r, &w] {
        for i in 0..5 {
            sup.call("supervisor.sendRemoteCommEvent", &["t", &format!("m{i}")]);
        }
    }
    settle_both(&r, &w, "all five", |s| records(s, "two").len() >= 5);
    let mut re = events(&r, "two");
    let mut we = events(&w, "two");
    re.sort();
    we.sort();
    assert_eq!(we, re);
}

#[test]
fn a_listener_killed_while_busy_does_not_lose_the_event() {
    let scratch = Scratch::new();
    let programs = listener_section(
        "dies",
        "die-on-die",
        "REMOTE_COMMUNICATION",
        "autorestart=true\nstartsecs=0\n",
    );
    let (r, w) = setup(&scratch, &programs);
    settle_both(&r, &w, "listener running", |s| {
        s.rpc("supervisor.getAllProcessInfo", "")
            .contains("RUNNING")
    });
    for sup in [&r, &w] {
        sup.call("supervisor.sendRemoteCommEvent", &["t", "die"]);
    }
    settle_both(&r, &w, "the event again after the restart", |s| {
        records(s, "dies").len() >= 2
    });
    let (re, we) = (records(&r, "dies"), records(&w, "dies"));
    for recs in [&re, &we] {
        assert_eq!(recs[0].1["serial"], recs[1].1["serial"]);
        assert_eq!(recs[0].2, "type:t\ndie");
        assert_eq!(recs[1].2, "type:t\ndie");
    }
    assert_eq!(events(&w, "dies"), events(&r, "dies"));
    assert!(Path::new(&w.dir.join("dies.jsonl.died")).exists());
}
