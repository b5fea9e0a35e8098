//! Observing warden: `/metrics`, the JSON API `/api/v1`, its event stream,
//! and the log keys (timestamps, JSON lines, the in-memory ring).

mod helper;

use std::time::Duration;

use helper::{wait_for, Kind, Scratch, Sup};

/// The `/metrics` answer, parsed by the `prometheus-parse` crate.
fn scrape(sup: &Sup) -> prometheus_parse::Scrape {
    let text = sup.http("GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let (status, body) = text.split_once('\n').unwrap();
    assert!(status.contains(" 200 "), "{text}");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The value of `metric` for process `name` (any type), if present.
fn value(s: &prometheus_parse::Scrape, metric: &str, name: &str) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && x.labels.get("name") == Some(name))
        .map(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

#[test]
fn metrics_follow_known_states() {
    let scratch = Scratch::new();
    let sup = Sup::start(
        Kind::Warden,
        &scratch.join("w"),
        "[program:busy]\ncommand={child} --grandchild --print hello --tag {tag}\nstartsecs=0\nstopasgroup=true\n\
         [program:idle]\ncommand={child} --tag {tag}\nautostart=false\n",
    );
    wait_for(Duration::from_secs(10), "busy running", || {
        sup.running_pid("busy")
    });
    for _ in 0..2 {
        let (out, code) = sup.ctl(&["restart", "busy"]);
        assert_eq!(code, 0, "{out}");
    }
    let pid = sup.running_pid("busy").unwrap();
    // the grandchild (a `sleep`) is counted once it runs
    let s = wait_for(Duration::from_secs(10), "the grandchild counted", || {
        let s = scrape(&sup);
        let kids =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let kids: Vec<i32> = kids
            .split_whitespace()
            .filter_map(|k| k.parse().ok())
            .collect();
        kids.iter().for_each(|k| scratch.track(*k));
        (!kids.is_empty()).then_some(s)
    });
    let s = {
        drop(s);
        scrape(&sup)
    };
    assert_eq!(value(&s, "warden_process_starts_total", "busy"), Some(3.0));
    assert_eq!(
        value(&s, "warden_process_restarts_total", "busy"),
        Some(2.0)
    );
    assert_eq!(value(&s, "warden_process_up", "busy"), Some(1.0));
    assert_eq!(
        value(&s, "warden_process_pid", "busy"),
        Some(f64::from(pid))
    );
    assert!(value(&s, "warden_process_log_bytes_total", "busy").unwrap() >= 18.0);
    let own_rss = test_programs::status_field(pid, "VmRSS")
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap()
        * 1024.0;
    let tree_rss = value(&s, "warden_process_resident_memory_bytes", "busy").unwrap();
    assert!(
        tree_rss > own_rss,
        "tree {tree_rss} vs the process alone {own_rss}"
    );
    assert!(value(&s, "warden_process_cpu_seconds_total", "busy").is_some());
    let state = |name: &str| {
        s.samples
            .iter()
            .find(|x| x.metric == "warden_process_state" && x.labels.get("name") == Some(name))
            .and_then(|x| x.labels.get("state").map(str::to_string))
    };
    assert_eq!(state("busy").as_deref(), Some("RUNNING"));
    assert_eq!(state("idle").as_deref(), Some("STOPPED"));
    assert_eq!(value(&s, "warden_process_starts_total", "idle"), Some(0.0));
    assert_eq!(value(&s, "warden_process_up", "idle"), Some(0.0));
    assert_eq!(value(&s, "warden_process_cpu_seconds_total", "idle"), None);
    let sup_state = s
        .samples
        .iter()
        .find(|x| x.metric == "warden_supervisor_state")
        .unwrap();
    assert_eq!(sup_state.labels.get("state"), Some("RUNNING"));
    assert!(s
        .samples
        .iter()
        .any(|x| x.metric == "warden_supervisor_resident_memory_bytes"
            && matches!(x.value, prometheus_parse::Value::Gauge(v) if v > 0.0)));
    assert!(s.docs.contains_key("warden_process_cpu_seconds_total"));
}
