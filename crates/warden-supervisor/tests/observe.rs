//! Observing warden: `/metrics`, the JSON API `/api/v1`, its event stream,
//! and the log keys (timestamps, JSON lines, the in-memory ring).

mod helper;

use std::time::Duration;

use helper::{wait_for, Kind, Scratch, Sup};
use serde_json::json;

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

/// A descendant orphaned by its parent becomes the supervisor's child (it is
/// a subreaper); it still counts with the program it came from.
#[test]
fn metrics_count_a_programs_orphans() {
    let scratch = Scratch::new();
    let sup = Sup::start(
        Kind::Warden,
        &scratch.join("w"),
        "[program:parent]\ncommand=/bin/sh -c \"({child} --tag {tag}-orphan &); exec {child} --tag {tag}\"\nstartsecs=0\n",
    );
    let main = wait_for(Duration::from_secs(10), "parent running", || {
        sup.running_pid("parent")
    });
    let mark = format!("{}-orphan", scratch.join("w").display());
    let orphan = wait_for(Duration::from_secs(10), "the orphan re-parented", || {
        test_programs::pids_with(&mark)
            .into_iter()
            .find(|&p| test_programs::stat(p).is_some_and(|s| s.ppid == sup.pid))
    });
    scratch.track(orphan);
    let rss = |pid: i32| {
        test_programs::status_field(pid, "VmRSS")
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap()
            * 1024.0
    };
    let (main_rss, orphan_rss) = (rss(main), rss(orphan));
    let s = scrape(&sup);
    let tree_rss = value(&s, "warden_process_resident_memory_bytes", "parent").unwrap();
    // /proc's stat and status round RSS differently: half the orphan's
    // is proof enough that it is counted
    assert!(
        tree_rss >= main_rss + orphan_rss * 0.5,
        "tree {tree_rss} vs main {main_rss} + orphan {orphan_rss}"
    );
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

/// An HTTP answer: status code and body.
fn request(sup: &Sup, method: &str, target: &str, body: &str) -> (u16, serde_json::Value) {
    let text = sup.http(&format!(
        "{method} {target} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    let (status, body) = text.split_once('\n').unwrap();
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let v = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    (code, v)
}

/// The OpenAPI description as served, and a check of an answer against
/// the schema it declares for `path` (the template), method and status.
struct Spec(serde_json::Value);

impl Spec {
    fn fetch(sup: &Sup) -> Spec {
        let (code, doc) = request(sup, "GET", "/api/v1/openapi.json", "");
        assert_eq!(code, 200);
        assert_eq!(doc["openapi"], "3.1.0");
        Spec(doc)
    }

    fn check(&self, template: &str, method: &str, code: u16, answer: &serde_json::Value) {
        let op = &self.0["paths"][template][method];
        assert!(op.is_object(), "{method} {template} is not described");
        let schema = &op["responses"][code.to_string()]["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {template} {code} is not described"
        );
        let mut root = schema.clone();
        root["components"] = self.0["components"].clone();
        let v = jsonschema::draft202012::new(&root).unwrap();
        let errors: Vec<String> = v.iter_errors(answer).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {code}: {errors:?} in {answer}"
        );
    }

    /// `request`, and the answer checked against the description.
    fn call(
        &self,
        sup: &Sup,
        method: &str,
        template: &str,
        target: &str,
        body: &str,
    ) -> (u16, serde_json::Value) {
        let (code, v) = request(sup, method, target, body);
        self.check(template, &method.to_ascii_lowercase(), code, &v);
        (code, v)
    }
}

const API_PROGRAMS: &str = "\
[program:web]\ncommand={child} --tag {tag}\nstartsecs=0\nautostart=false\n\
[program:crash]\ncommand={child} --exit 3 --tag {tag}\nstartsecs=1\nstartretries=0\nautostart=false\n\
[group:pool]\nprograms=w1,w2\n\
[program:w1]\ncommand={child} --tag {tag}\nstartsecs=0\n\
[program:w2]\ncommand={child} --tag {tag}\nstartsecs=0\n";

#[test]
fn json_api_drives_processes_and_names_faults() {
    let scratch = Scratch::new();
    let sup = Sup::start(Kind::Warden, &scratch.join("w"), API_PROGRAMS);
    let spec = Spec::fetch(&sup);
    let p = "/api/v1/processes/{name}";
    let act = "/api/v1/processes/{name}/{action}";
    let (code, all) = spec.call(&sup, "GET", "/api/v1/processes", "/api/v1/processes", "");
    assert_eq!(code, 200);
    assert_eq!(all.as_array().unwrap().len(), 4);
    let (code, sv) = spec.call(&sup, "GET", "/api/v1/supervisor", "/api/v1/supervisor", "");
    assert_eq!((code, sv["state"].as_str()), (200, Some("RUNNING")));

    let (code, _) = spec.call(&sup, "POST", act, "/api/v1/processes/web/start", "");
    assert_eq!(code, 200);
    let (code, web) = spec.call(&sup, "GET", p, "/api/v1/processes/web:web", "");
    assert_eq!((code, web["state"].as_str()), (200, Some("RUNNING")));
    assert_eq!(web["starts"], 1);
    let (code, e) = spec.call(&sup, "POST", act, "/api/v1/processes/web/start", "");
    assert_eq!(
        (code, e["error"]["fault"].as_str()),
        (409, Some("ALREADY_STARTED"))
    );
    let (code, _) = spec.call(&sup, "POST", act, "/api/v1/processes/web/restart", "");
    assert_eq!(code, 200);
    let (_, web) = spec.call(&sup, "GET", p, "/api/v1/processes/web", "");
    assert_eq!(
        (web["state"].as_str(), &web["starts"]),
        (Some("RUNNING"), &2.into())
    );
    let (code, e) = spec.call(
        &sup,
        "POST",
        act,
        "/api/v1/processes/web/signal",
        r#"{"signal": "NOPE"}"#,
    );
    assert_eq!(
        (code, e["error"]["fault"].as_str()),
        (400, Some("BAD_SIGNAL"))
    );
    let (code, _) = spec.call(
        &sup,
        "POST",
        act,
        "/api/v1/processes/web/signal?signal=HUP",
        "",
    );
    assert_eq!(code, 200);
    let (code, _) = spec.call(&sup, "POST", act, "/api/v1/processes/web/stop", "");
    assert_eq!(code, 200);
    let (code, e) = spec.call(&sup, "POST", act, "/api/v1/processes/web/stop", "");
    assert_eq!(
        (code, e["error"]["fault"].as_str()),
        (409, Some("NOT_RUNNING"))
    );
    let (code, e) = spec.call(&sup, "GET", p, "/api/v1/processes/nosuch", "");
    assert_eq!(
        (code, e["error"]["fault"].as_str()),
        (404, Some("BAD_NAME"))
    );
    assert_eq!(e["error"]["message"], "BAD_NAME: nosuch");
    let (code, e) = spec.call(&sup, "POST", act, "/api/v1/processes/crash/start", "");
    assert_eq!(
        (code, e["error"]["fault"].as_str()),
        (500, Some("SPAWN_ERROR")),
        "{e}"
    );

    // a group, then everything: one outcome per process
    let g = "/api/v1/groups/{group}/{action}";
    let (code, r) = spec.call(&sup, "POST", g, "/api/v1/groups/pool/stop", "");
    assert_eq!((code, &r["ok"]), (200, &true.into()));
    let mut names: Vec<&str> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["w1", "w2"]);
    // as supervisord's stopProcessGroup: what is not running is left out
    let (code, r) = spec.call(&sup, "POST", g, "/api/v1/groups/pool/stop", "");
    assert_eq!(
        (code, &r["ok"], &r["results"]),
        (200, &true.into(), &json!([]))
    );
    let (code, e) = spec.call(&sup, "POST", g, "/api/v1/groups/nogroup/start", "");
    assert_eq!(
        (code, e["error"]["fault"].as_str()),
        (404, Some("BAD_NAME"))
    );
    let (code, r) = spec.call(
        &sup,
        "POST",
        "/api/v1/all/{action}",
        "/api/v1/all/start",
        "",
    );
    assert_eq!(code, 200, "{r}");
    let (_, all) = spec.call(&sup, "GET", "/api/v1/processes", "/api/v1/processes", "");
    for name in ["w1", "w2", "web"] {
        let p = all
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap();
        assert_eq!(p["state"], "RUNNING", "{name}");
    }
    // a browser on another site cannot act
    let text = sup.http(
        "POST /api/v1/all/stop HTTP/1.0\r\nHost: localhost\r\nSec-Fetch-Site: cross-site\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(text.starts_with("HTTP/1.0 403"), "{text}");
}

/// A server-sent event.
#[derive(Debug, Clone, PartialEq)]
struct Frame {
    id: Option<u64>,
    event: String,
    data: serde_json::Value,
}

/// A client of `/api/v1/events` on the unix socket.
struct Events {
    sock: std::os::unix::net::UnixStream,
    buf: Vec<u8>,
}

impl Events {
    fn open(sup: &Sup, last_id: Option<u64>) -> Events {
        use std::io::Write as _;
        let mut sock = std::os::unix::net::UnixStream::connect(sup.dir.join("sock")).unwrap();
        let resume = last_id.map_or(String::new(), |n| format!("Last-Event-ID: {n}\r\n"));
        sock.write_all(
            format!("GET /api/v1/events HTTP/1.0\r\nHost: localhost\r\n{resume}\r\n").as_bytes(),
        )
        .unwrap();
        let mut ev = Events {
            sock,
            buf: Vec::new(),
        };
        let head = ev.until(b"\r\n\r\n", Duration::from_secs(10)).unwrap();
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");
        assert!(head.contains("text/event-stream"), "{head}");
        ev
    }

    /// Reads up to and including `sep`; `None` after `limit`.
    fn until(&mut self, sep: &[u8], limit: Duration) -> Option<String> {
        use std::io::Read as _;
        let end = std::time::Instant::now() + limit;
        loop {
            if let Some(at) = self.buf.windows(sep.len()).position(|w| w == sep) {
                let rest = self.buf.split_off(at + sep.len());
                let got = std::mem::replace(&mut self.buf, rest);
                return Some(String::from_utf8_lossy(&got).into_owned());
            }
            let left = end.checked_duration_since(std::time::Instant::now())?;
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let mut chunk = [0u8; 4096];
            match self.sock.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => return None,
            }
        }
    }

    /// The next frame with an event name (comments and `retry` skipped).
    fn next(&mut self, limit: Duration) -> Option<Frame> {
        let end = std::time::Instant::now() + limit;
        loop {
            let left = end.checked_duration_since(std::time::Instant::now())?;
            let text = self.until(b"\n\n", left)?;
            let mut f = Frame {
                id: None,
                event: String::new(),
                data: serde_json::Value::Null,
            };
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    f.id = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    f.event = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    f.data = serde_json::from_str(v).unwrap();
                }
            }
            if !f.event.is_empty() {
                return Some(f);
            }
        }
    }

    /// Frames until one matches `pred` (included).
    fn until_frame(&mut self, what: &str, pred: impl Fn(&Frame) -> bool) -> Vec<Frame> {
        let mut out = Vec::new();
        loop {
            let f = self
                .next(Duration::from_secs(10))
                .unwrap_or_else(|| panic!("no frame for {what} after {out:?}"));
            let done = pred(&f);
            out.push(f);
            if done {
                return out;
            }
        }
    }
}

fn entered(name: &'static str, state: &'static str) -> impl Fn(&Frame) -> bool {
    move |f| f.event == "process-state" && f.data["name"] == name && f.data["to"] == state
}

/// Failing and recovering health checks reach the event stream as they
/// happen, not at the next refresh.
#[test]
fn health_changes_reach_the_event_stream() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let sup = Sup::start(
        Kind::Warden,
        &dir,
        &format!(
            "[program:api]\ncommand={{child}} --tag {{tag}}\nstartsecs=0\n\
             healthcheck=exec:test ! -e {}/sick\nhealthcheck_interval=1\nhealthcheck_retries=50\n",
            dir.display()
        ),
    );
    wait_for(Duration::from_secs(10), "api RUNNING", || {
        sup.running_pid("api")
    });
    let mut events = Events::open(&sup, None);
    std::fs::write(dir.join("sick"), "").unwrap();
    let frames = events.until_frame("a failed check", |f| f.event == "process-health");
    let failed = frames.last().unwrap();
    assert_eq!(failed.data["name"], "api");
    assert_eq!(failed.data["failures"], 1);
    assert_eq!(failed.data["error"], "exit status 1");
    std::fs::remove_file(dir.join("sick")).unwrap();
    let frames = events.until_frame("a passing check", |f| {
        f.event == "process-health" && f.data["failures"] == 0
    });
    assert!(frames.last().unwrap().data["error"].is_null());
    assert!(
        frames.iter().all(|f| f.event != "process-state"),
        "no restart: {frames:?}"
    );
}

#[test]
fn event_stream_is_prompt_and_resumes_without_gaps_or_repeats() {
    let scratch = Scratch::new();
    let sup = Sup::start(Kind::Warden, &scratch.join("w"), API_PROGRAMS);
    sup.settle();
    let mut whole = Events::open(&sup, None);
    let mut resumed = Events::open(&sup, None);

    // a state change reaches the client within 100 ms
    let asked = std::time::Instant::now();
    let (code, _) = request(&sup, "POST", "/api/v1/processes/web/start?wait=false", "");
    assert_eq!(code, 200);
    let f = resumed.next(Duration::from_secs(5)).unwrap();
    let took = asked.elapsed();
    assert_eq!(
        (f.event.as_str(), &f.data["to"]),
        ("process-state", &json!("STARTING"))
    );
    assert!(took < Duration::from_millis(100), "took {took:?}");
    let mut seen = vec![f];
    seen.extend(resumed.until_frame("web RUNNING", entered("web", "RUNNING")));
    let last = seen.last().unwrap().id.unwrap();
    assert_eq!(seen.last().unwrap().data["serial"], last);
    drop(resumed);

    // changes while disconnected
    for action in ["stop", "start", "stop"] {
        let (code, _) = request(&sup, "POST", &format!("/api/v1/processes/web/{action}"), "");
        assert_eq!(code, 200, "{action}");
    }
    let mut resumed = Events::open(&sup, Some(last));
    let (code, _) = request(&sup, "POST", "/api/v1/groups/pool/stop", "");
    assert_eq!(code, 200);
    seen.extend(resumed.until_frame("w2 STOPPED", entered("w2", "STOPPED")));
    let all = whole.until_frame("w2 STOPPED", entered("w2", "STOPPED"));
    let ids = |fs: &[Frame]| fs.iter().map(|f| f.id.unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(&seen), ids(&all), "{seen:#?}\n{all:#?}");
    assert_eq!(seen, all);
    assert!(ids(&all).windows(2).all(|w| w[0] < w[1]));
    let web: Vec<&str> = all
        .iter()
        .filter(|f| f.data["name"] == "web")
        .map(|f| f.data["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        web,
        [
            "STARTING", "RUNNING", "STOPPING", "STOPPED", "STARTING", "RUNNING", "STOPPING",
            "STOPPED"
        ]
    );

    // an id older than the backlog keeps: a reset frame first
    let mut old = Events::open(&sup, Some(0));
    let first = old.next(Duration::from_secs(5)).unwrap();
    assert_ne!(first.event, "reset", "nothing was dropped yet: {first:?}");
}

/// A program writing a line in two pieces, then a line that is not UTF-8.
const PARTIAL: &str =
    r#"/bin/sh -c "printf par; sleep 0.3; printf 'tial\n\377bad\n'; sleep 1000" --tag {tag}"#;

#[test]
fn timestamped_and_json_lines_with_partial_lines_and_bad_utf8() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    let _sup = Sup::start(
        Kind::Warden,
        &dir,
        &format!(
            "[program:stamped]\ncommand={PARTIAL}\nstdout_logfile=%(here)s/stamped.log\nstopasgroup=true\n\
             stdout_logfile_timestamps=true\n\
             [program:json]\ncommand={PARTIAL}\nstdout_logfile=%(here)s/json.log\nstopasgroup=true\n\
             stdout_logfile_format=json\n\
             [program:plain]\ncommand={PARTIAL}\nstdout_logfile=%(here)s/plain.log\nstopasgroup=true\n"
        ),
    );
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_default();
    wait_for(Duration::from_secs(10), "the lines logged", || {
        ["stamped.log", "json.log", "plain.log"]
            .iter()
            .all(|n| {
                read(n).ends_with(b"bad\n") || read(n).ends_with(b"\"}\n") && read(n).len() > 100
            })
            .then_some(())
    });
    assert_eq!(read("plain.log"), b"partial\n\xffbad\n");
    let stamped = read("stamped.log");
    let stamp = regex::bytes::Regex::new(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z partial\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?-u:\xff)bad\n$",
    )
    .unwrap();
    assert!(
        stamp.is_match(&stamped),
        "{}",
        String::from_utf8_lossy(&stamped)
    );
    let json = String::from_utf8(read("json.log")).unwrap();
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{json}");
    assert_eq!(lines[0]["message"], "partial");
    assert_eq!(lines[0]["program"], "json");
    assert_eq!(lines[0]["stream"], "stdout");
    assert_eq!(lines[1]["message"], "\u{fffd}bad");
    let time = lines[0]["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == 24, "{time}");
    // the line is stamped with the time of its first piece: before the
    // second piece came 0.3 s later
    let (a, b) = (
        lines[0]["time"].as_str().unwrap(),
        lines[1]["time"].as_str().unwrap(),
    );
    assert!(a < b, "{a} {b}");
}

#[test]
fn the_ring_serves_tail_when_the_log_is_dev_stdout() {
    let scratch = Scratch::new();
    let sup = Sup::start(
        Kind::Warden,
        &scratch.join("w"),
        "[program:app]\ncommand={child} --print first-line --tag {tag}\n\
         stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n",
    );
    let out = wait_for(Duration::from_secs(10), "tail shows the output", || {
        let (out, code) = sup.ctl(&["tail", "app"]);
        (code == 0 && out.contains("first-line")).then_some(out)
    });
    assert_eq!(out.trim_end(), "first-line");
    let body = sup.rpc(
        "supervisor.readProcessStdoutLog",
        "<param><value><string>app</string></value></param>\n\
         <param><value><int>-5</int></value></param>\n\
         <param><value><int>0</int></value></param>\n",
    );
    assert!(
        body.contains("line\n</string>") || body.contains("line\n<"),
        "{body}"
    );
}

#[test]
fn warden_ctl_events_follows_the_stream() {
    use std::io::BufRead as _;
    let scratch = Scratch::new();
    let sup = Sup::start(Kind::Warden, &scratch.join("w"), API_PROGRAMS);
    sup.settle();
    let mut lines = Vec::new();
    for json in [false, true] {
        let mut cmd = std::process::Command::new(helper::bin("warden"));
        cmd.args(["ctl", "-c"]).arg(&sup.conf);
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd
            .arg("events")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        scratch.track(pid);
        // lines from a thread, so that every wait has a deadline
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        // nothing says when the stream is open: act until a change is
        // seen (each action is undone by the next)
        let end = std::time::Instant::now() + Duration::from_secs(20);
        let mut n = 0;
        let line = loop {
            assert!(std::time::Instant::now() < end, "no event line");
            let action = if n % 2 == 0 { "start" } else { "stop" };
            n += 1;
            request(&sup, "POST", &format!("/api/v1/processes/web/{action}"), "");
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
                break l;
            }
        };
        test_programs::kill(pid, "KILL");
        let _ = child.wait();
        lines.push(line);
    }
    let text = regex::Regex::new(
        r"^\d+ process-state web:web (STOPPED -> STARTING|RUNNING -> STOPPING pid \d+)$",
    )
    .unwrap();
    assert!(text.is_match(&lines[0]), "{:?}", lines[0]);
    let v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(
        (&v["event"], &v["name"]),
        (&json!("process-state"), &json!("web"))
    );
    assert!(v["serial"].as_u64().is_some(), "{v}");
}

#[test]
fn warden_ctl_json_for_commands_that_print_lines() {
    let scratch = Scratch::new();
    let sup = Sup::start(Kind::Warden, &scratch.join("w"), API_PROGRAMS);
    let ctl = |args: &[&str]| {
        let out = std::process::Command::new(helper::bin("warden"))
            .args(["ctl", "-c"])
            .arg(&sup.conf)
            .args(args)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        (v, out.status.code())
    };
    let (v, code) = ctl(&["--json", "start", "web"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        v["results"],
        json!([{"name": "web", "ok": true, "message": "started"}])
    );
    // as supervisorctl: starting a started process is no failure
    let (v, code) = ctl(&["start", "web", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["exit_status"], 0);
    assert_eq!(v["results"][0]["ok"], false);
    assert_eq!(v["results"][0]["message"], "ERROR (already started)");
    let (v, _) = ctl(&["--json", "version"]);
    assert_eq!(v["lines"][0], "4.3.0");
    let (v, code) = ctl(&["--json", "stop", "nosuch"]);
    assert_eq!((code, &v["exit_status"]), (Some(1), &json!(1)), "{v}");
    assert_eq!(v["results"][0]["message"], "ERROR (no such process)");
}

#[test]
fn env_files_reach_the_child_in_order() {
    let scratch = Scratch::new();
    let dir = scratch.join("w");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("global.env"),
        "# shared\nexport A=global\nB='from global'\nC=global\n",
    )
    .unwrap();
    std::fs::write(dir.join("app.env"), "B=\"from app \\\"q\\\"\"\nD=multi\\\n").unwrap();
    let header = helper::HEADER.replace(
        "loglevel=info\n",
        "loglevel=info\nenv_file=%(here)s/global.env\nenvironment=C=\"sup-env\"\n",
    );
    let _sup = Sup::start_with(
        Kind::Warden,
        &dir,
        &header,
        r#"[program:show]
command=/bin/sh -c "echo \"$A|$B|$C|$D\"" --tag {tag}
env_file=%(here)s/app.env
stdout_logfile=%(here)s/show.log
autorestart=false
startsecs=0
"#,
    );
    let out = wait_for(Duration::from_secs(10), "the child's line", || {
        std::fs::read_to_string(dir.join("show.log"))
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    assert_eq!(out, "global|from app \"q\"|sup-env|multi\\\n");
}
