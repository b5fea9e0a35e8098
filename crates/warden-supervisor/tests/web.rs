//! The web pages: supervisord's URLs against the real supervisord, side by
//! side, and the live dashboard in a real headless Chromium.

mod browser;
mod helper;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use helper::{pair, same, Kind, Scratch, Sup};
use serde_json::json;

/// A raw HTTP response: status code, headers (names lowercased), body.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `req` on the unix socket; reads until EOF, or only the head when
/// `head_only` (for endless streams).
fn raw(sock: &Path, req: &str, head_only: bool) -> Raw {
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if head_only && out.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: body.to_string(),
    }
}

fn get(sup: &Sup, target: &str, extra: &str) -> Raw {
    raw(
        &sup.dir.join("sock"),
        &format!("GET {target} HTTP/1.0\r\nHost: localhost\r\n{extra}\r\n"),
        false,
    )
}

/// The message of a supervisord redirect, decoded, with a trailing
/// `time.ctime()` replaced by `<CTIME>` (after checking its shape).
fn message(r: &Raw) -> String {
    let loc = r.header("location").unwrap_or("");
    let Some(q) = loc.strip_prefix("http://localhost/?message=") else {
        return format!("<no redirect: {} {loc:?}>", r.status);
    };
    let m = percent_decode(q);
    for lead in ["Page refreshed at ", "All stopped at ", "All restarted at "] {
        if let Some(t) = m.strip_prefix(lead) {
            let parts: Vec<&str> = t.split_whitespace().collect();
            assert_eq!(parts.len(), 5, "ctime shape: {t:?}");
            assert_eq!(t.len(), 24, "ctime width: {t:?}");
            return format!("{lead}<CTIME>");
        }
    }
    m
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

const PROGRAMS: &str = "
[program:web]
command={child} --tag {tag}
startsecs=0

[program:worker]
command={child} --tag {tag}
process_name=worker_%(process_num)02d
numprocs=2
startsecs=0

[program:idle]
command={child} --tag {tag}
autostart=false
startsecs=0

[program:broken]
command=/nonexistent/warden-web-test
autostart=false
startsecs=0
";

/// Each of supervisord's action URLs on both daemons: the same status code,
/// the same redirect and message, the same process states afterwards.
#[test]
fn supervisord_urls_match_the_real_supervisord() {
    let scratch = Scratch::new();
    let (r, w) = pair(&scratch, PROGRAMS);
    r.settle();
    w.settle();
    same(&r, &w, &["status"]);
    let cases: &[(&str, &str)] = &[
        (
            "/index.html?processname=web&action=stop",
            "Process web stopped",
        ),
        (
            "/index.html?processname=web&action=stop",
            "unexpected rpc fault [70] NOT_RUNNING: web",
        ),
        ("/?processname=web&action=start", "Process web started"),
        (
            "/?processname=web&action=start",
            "ERROR: Process web: already started",
        ),
        (
            "/index.html?processname=worker%3Aworker_00&action=restart",
            "Process worker:worker_00 restarted",
        ),
        (
            "/index.html?processname=idle&action=restart",
            "Process idle restarted",
        ),
        (
            "/index.html?processname=web&action=clearlog",
            "Log for web cleared",
        ),
        (
            "/index.html?processname=nosuch&action=start",
            "No such process named nosuch",
        ),
        (
            "/index.html?processname=worker%3A*&action=stop",
            "No such process named worker:*",
        ),
        (
            "/index.html?processname=nosuch&action=bogus",
            "No such process named nosuch",
        ),
        (
            "/index.html?processname=broken&action=start",
            "ERROR: Process broken: no such file",
        ),
        ("/index.html?action=refresh", "Page refreshed at <CTIME>"),
        ("/index.html?action=stopall", "All stopped at <CTIME>"),
        ("/index.html?action=restartall", "All restarted at <CTIME>"),
        (
            "/index.html?processname=idle&action=stop&message=ignored",
            "Process idle stopped",
        ),
    ];
    for (url, want) in cases {
        let (a, b) = std::thread::scope(|s| {
            let ta = s.spawn(|| get(&r, url, ""));
            let b = get(&w, url, "");
            (ta.join().unwrap(), b)
        });
        assert_eq!(a.status, 301, "real supervisord, {url}: {}", a.body);
        assert_eq!(b.status, 301, "warden, {url}: {}", b.body);
        assert_eq!(message(&a), *want, "real supervisord, {url}");
        assert_eq!(message(&b), *want, "warden, {url}");
        r.settle();
        w.settle();
        same(&r, &w, &["status"]);
    }
    // A POSTed form, as supervisord's own page sends.
    let body = "processname=web&action=stop";
    let post = format!(
        "POST /index.html HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    for s in [&r, &w] {
        let x = raw(&s.dir.join("sock"), &post, false);
        assert_eq!(
            (x.status, message(&x).as_str()),
            (301, "Process web stopped"),
            "{:?}",
            s.kind
        );
    }
    same(&r, &w, &["status"]);
    // supervisord answers an action it does not know, or a process action
    // without a process, with 500
    for url in [
        "/index.html?processname=web&action=bogus",
        "/index.html?action=start",
    ] {
        assert_eq!(get(&r, url, "").status, 500, "real, {url}");
        assert_eq!(get(&w, url, "").status, 500, "warden, {url}");
    }
    // an empty action is no action: the page itself
    for s in [&r, &w] {
        assert_eq!(
            get(s, "/index.html?processname=web&action=", "").status,
            200
        );
    }
    // tail.html
    get(&r, "/index.html?processname=web&action=start", "");
    get(&w, "/index.html?processname=web&action=start", "");
    for s in [&r, &w] {
        let pages = [
            (
                "/tail.html?processname=web&limit=2048",
                "Supervisor tail of process web",
            ),
            (
                "/tail.html?processname=web&limit=2048",
                "tail.html?processname=web&amp;limit=2048",
            ),
            ("/tail.html", "No process name found"),
            (
                "/tail.html?processname=nosuch",
                "ERROR: unexpected rpc fault [10] BAD_NAME: nosuch",
            ),
        ];
        for (url, needle) in pages {
            let t = get(s, url, "");
            assert_eq!(t.status, 200, "{:?} {url}", s.kind);
            assert!(t.body.contains(needle), "{:?} {url}: {}", s.kind, t.body);
        }
        assert_eq!(get(s, "/nosuch.html", "").status, 404, "{:?}", s.kind);
    }
    // /logtail sends supervisord's hint to nginx
    for s in [&r, &w] {
        let t = raw(
            &s.dir.join("sock"),
            "GET /logtail/web HTTP/1.1\r\nHost: localhost\r\n\r\n",
            true,
        );
        assert_eq!(t.status, 200, "{:?}", s.kind);
        assert_eq!(t.header("x-accel-buffering"), Some("no"), "{:?}", s.kind);
    }
    let t = raw(
        &w.dir.join("sock"),
        "GET /mainlogtail HTTP/1.1\r\nHost: localhost\r\n\r\n",
        true,
    );
    assert_eq!((t.status, t.header("x-accel-buffering")), (200, Some("no")));
}

/// The same GET URL from another site in a browser is refused (and does
/// nothing); from a non-browser client it works.
#[test]
fn cross_site_requests_are_refused() {
    let scratch = Scratch::new();
    let port = browser::free_port();
    let programs =
        format!("[inet_http_server]\nport=127.0.0.1:{port}\nusername=u\npassword=p\n{PROGRAMS}");
    let w = Sup::start(Kind::Warden, &scratch.join("w"), &programs);
    w.settle();
    // the pages and streams sit behind the server's Basic auth
    for path in [
        "/",
        "/api/events",
        "/api/status",
        "/tail.html?processname=web",
    ] {
        let ask = |auth: &str| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}\r\n").unwrap();
            let mut head = [0u8; 12];
            s.read_exact(&mut head).unwrap();
            String::from_utf8_lossy(&head[9..12]).into_owned()
        };
        assert_eq!(ask(""), "401", "{path}");
        assert_eq!(ask("Authorization: Basic dTpw\r\n"), "200", "{path}");
    }
    let stop = "/index.html?processname=web&action=stop";
    let x = get(&w, stop, "Sec-Fetch-Site: cross-site\r\n");
    assert_eq!(x.status, 403);
    let x = get(&w, stop, "Origin: http://evil.example\r\n");
    assert_eq!(x.status, 403);
    let x = get(&w, stop, "Referer: http://evil.example/page\r\n");
    assert_eq!(x.status, 403, "an older browser's cross-site link");
    assert!(
        w.ctl(&["status", "web"]).0.contains("RUNNING"),
        "nothing was stopped"
    );
    let post = |origin: &str, ctype: &str| {
        let body = json!({"action": "stop", "name": "web"}).to_string();
        raw(
            &w.dir.join("sock"),
            &format!(
                "POST /api/action HTTP/1.0\r\nHost: localhost\r\n{origin}Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            false,
        )
    };
    assert_eq!(
        post("Origin: http://evil.example\r\n", "application/json").status,
        403
    );
    assert_eq!(
        post("Sec-Fetch-Site: same-site\r\n", "application/json").status,
        403
    );
    assert_eq!(
        post("", "text/plain").status,
        415,
        "a form cannot post JSON"
    );
    assert!(
        w.ctl(&["status", "web"]).0.contains("RUNNING"),
        "nothing was stopped"
    );
    // a bookmark (Sec-Fetch-Site: none) and curl (no header) work
    let x = get(&w, stop, "Sec-Fetch-Site: none\r\n");
    assert_eq!(
        (x.status, message(&x).as_str()),
        (301, "Process web stopped")
    );
    let x = get(&w, "/index.html?processname=web&action=start", "");
    assert_eq!(
        (x.status, message(&x).as_str()),
        (301, "Process web started")
    );
    let ok = post("Origin: http://localhost\r\n", "application/json");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("\"ok\":true"), "{}", ok.body);
    assert!(w.ctl(&["status", "web"]).0.contains("STOPPED"));
}

/// The dashboard in a real browser: one browser, one supervisor, the checks
/// in sequence.
#[test]
fn dashboard_in_a_browser() {
    let scratch = Scratch::new();
    let port = browser::free_port();
    let programs = format!(
        "
[inet_http_server]
port=127.0.0.1:{port}

[program:web]
command={{child}} --tag {{tag}}
startsecs=0

[program:worker]
command={{child}} --tag {{tag}}
process_name=worker_%(process_num)02d
numprocs=2
startsecs=0

[program:talker]
command=/bin/sh -c 'echo hello; while [ ! -e {{tag}}/go ]; do sleep 0.05; done; echo out-after-open; echo err-after-open >&2; exec sleep 100000'
startsecs=0

[program:idle]
command={{child}} --tag {{tag}}
autostart=false
"
    );
    let w = Sup::start(Kind::Warden, &scratch.join("w"), &programs);
    w.settle();
    let base = format!("http://127.0.0.1:{port}/");
    let shots = browser::screenshots();
    browser::runtime().block_on(async {
        let b = browser::Browser::start(&scratch.join("browser"), 1280, 860).await;
        b.goto(&base).await;
        b.wait_js(Duration::from_secs(10), "first render", "return document.documentElement.dataset.ready").await;

        // every program, with its state as text
        let want = [
            ("web", "RUNNING"),
            ("worker:worker_00", "RUNNING"),
            ("worker:worker_01", "RUNNING"),
            ("talker", "RUNNING"),
            ("idle", "STOPPED"),
        ];
        for (spec, state) in want {
            let got = b
                .js(
                    "const r = document.querySelector(`.row[data-spec=\"${arguments[0]}\"] .state`); return r && r.textContent;",
                    vec![json!(spec)],
                )
                .await;
            assert_eq!(got, json!(state), "{spec}");
        }
        let rows = b.js("return document.querySelectorAll('.row').length", vec![]).await;
        assert_eq!(rows, json!(5));
        assert_eq!(
            b.js("return document.getElementById('sup-version').textContent", vec![]).await,
            json!("4.3.0")
        );
        for name in ["Restart worker_01", "Tail web", "Clear log web", "Signal talker", "Start idle"] {
            b.button(name).await;
        }
        if let Some(docs) = &shots {
            b.color_scheme("light").await;
            b.screenshot(&docs.join("dashboard-light.png")).await;
            b.color_scheme("dark").await;
            b.screenshot(&docs.join("dashboard-dark.png")).await;
            b.color_scheme("light").await;
        }

        // "Stop web" stops it; the row shows it without a reload
        b.js("window.__sameDocument = 'yes'", vec![]).await;
        b.button("Stop web").await.click().await.expect("click Stop web");
        b.wait_js(
            Duration::from_secs(10),
            "web STOPPED in the page",
            "return document.querySelector('.row[data-spec=\"web\"] .state').textContent === 'STOPPED'",
        )
        .await;
        assert!(w.ctl(&["status", "web"]).0.contains("STOPPED"));
        assert_eq!(b.js("return window.__sameDocument", vec![]).await, json!("yes"), "no reload");

        // stopped from `warden ctl`: shows in the open page within a second
        let ctl = test_programs::bin("warden");
        let t0 = Instant::now();
        let epoch_ms = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64()
                * 1000.0
        };
        let sent = epoch_ms();
        let st = std::process::Command::new(&ctl)
            .args(["ctl", "-c"])
            .arg(&w.conf)
            .args(["stop", "worker:worker_00"])
            .output()
            .expect("warden ctl");
        assert!(st.status.success(), "warden ctl stop: {}", String::from_utf8_lossy(&st.stderr));
        let (_, after_ctl) = b
            .wait_js(
                Duration::from_secs(5),
                "worker_00 STOPPED in the page",
                "return document.querySelector('.row[data-spec=\"worker:worker_00\"] .state').textContent === 'STOPPED'",
            )
            .await;
        let total = t0.elapsed();
        let seen = b
            .js("const c = window.wardenStats.lastChange; return c.spec === 'worker:worker_00' ? c.at : null", vec![])
            .await;
        let latency = seen.as_f64().expect("the page recorded the change") - sent;
        eprintln!("warden ctl stop → row STOPPED in the page: {latency:.0} ms (ctl included)");
        assert!(total < Duration::from_secs(1), "ctl stop to page: {total:?} (page saw it {after_ctl:?} after ctl returned)");

        // a group added by `update` appears without a reload
        let mut conf = std::fs::read_to_string(&w.conf).unwrap();
        conf.push_str(&format!(
            "\n[program:late]\ncommand={} --tag {}\nstartsecs=0\n",
            test_programs::bin("sv-child").display(),
            w.dir.display()
        ));
        std::fs::write(&w.conf, conf).unwrap();
        let st = std::process::Command::new(&ctl)
            .args(["ctl", "-c"])
            .arg(&w.conf)
            .arg("update")
            .output()
            .expect("warden ctl update");
        assert!(st.status.success(), "warden ctl update: {}", String::from_utf8_lossy(&st.stderr));
        b.wait_js(
            Duration::from_secs(5),
            "the new group's row, RUNNING",
            "const r = document.querySelector('.row[data-spec=\"late\"] .state'); return r && r.textContent === 'RUNNING'",
        )
        .await;
        assert_eq!(b.js("return window.__sameDocument", vec![]).await, json!("yes"), "no reload");

        // the log view follows output written after it was opened
        b.button("Tail talker").await.click().await.expect("click Tail talker");
        b.wait_js(Duration::from_secs(5), "log view shows the earlier line", "return document.getElementById('log').textContent.includes('hello')").await;
        std::fs::write(w.dir.join("go"), "").unwrap();
        b.wait_js(
            Duration::from_secs(5),
            "stdout and stderr lines printed after opening",
            "const t = document.getElementById('log').textContent; return t.includes('out-after-open') && t.includes('err-after-open')",
        )
        .await;
        if let Some(docs) = &shots {
            b.screenshot(&docs.join("dashboard-log.png")).await;
        }
        // "Stop following" holds new output back until following again
        let follow = b.client.find(fantoccini::Locator::Id("log-follow")).await.unwrap();
        follow.click().await.unwrap();
        assert_eq!(follow.attr("aria-pressed").await.unwrap().as_deref(), Some("false"));
        assert_eq!(follow.text().await.unwrap(), "Follow");
        follow.click().await.unwrap();
        assert_eq!(follow.attr("aria-pressed").await.unwrap().as_deref(), Some("true"));

        // the main log, in the same view
        b.click("#mainlog-btn").await;
        b.wait_js(
            Duration::from_secs(5),
            "the main log",
            "return document.getElementById('log-title').textContent === 'Main log' && document.getElementById('log').textContent.includes(\"spawned: 'talker'\")",
        )
        .await;

        // a signal goes through its dialog
        b.button("Signal worker_01").await.click().await.expect("click Signal");
        b.wait_js(Duration::from_secs(5), "signal dialog", "return document.getElementById('signal').open").await;
        b.js("document.getElementById('signal-name').value = 'CONT'", vec![]).await;
        b.click("#signal-ok").await;
        b.wait_js(
            Duration::from_secs(5),
            "signal message",
            "return document.getElementById('message').textContent === 'worker:worker_01: signalled'",
        )
        .await;

        // Stop all asks first; cancelling stops nothing
        b.click("button[data-all=\"stop\"]").await;
        b.wait_js(Duration::from_secs(5), "confirmation dialog", "return document.getElementById('confirm').open").await;
        b.click("#confirm button[value=\"cancel\"]").await;
        b.wait_js(Duration::from_secs(5), "dialog closed", "return !document.getElementById('confirm').open").await;
        assert!(w.ctl(&["status", "talker"]).0.contains("RUNNING"), "cancel stopped nothing");

        // the page's own fetch passes the origin check; the same request
        // with a foreign Origin is refused
        let foreign = b
            .js(
                "return fetch('api/action', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-Test': '1'}, body: '{\"action\":\"stop\",\"name\":\"talker\"}'}).then(r => r.status)",
                vec![],
            )
            .await;
        assert_eq!(foreign, json!(200), "the page's own origin may act");
        assert!(w.ctl(&["status", "talker"]).0.contains("STOPPED"));
        let sock = w.dir.join("sock");
        let body = r#"{"action":"start","name":"talker"}"#;
        let refused = raw(
            &sock,
            &format!(
                "POST /api/action HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            false,
        );
        assert_eq!(refused.status, 403);
        assert!(w.ctl(&["status", "talker"]).0.contains("STOPPED"), "the refused request did nothing");

        // supervisord's redirect target shows its message
        b.goto(&format!("{base}?message=Process%20web%20started")).await;
        b.wait_js(
            Duration::from_secs(5),
            "the redirect's message",
            "return document.getElementById('message').textContent === 'Process web started'",
        )
        .await;

        // readable on a phone-sized viewport: nothing wider than the screen
        b.client.set_window_size(390, 844).await.unwrap();
        let wide = b
            .wait_js(
                Duration::from_secs(5),
                "phone layout",
                "return document.documentElement.clientWidth <= 400 && document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1 ? 'fits' : null",
            )
            .await;
        assert_eq!(wide.0, json!("fits"));
        if let Some(docs) = &shots {
            b.js("document.getElementById('log-close').click(); window.scrollTo(0, 0)", vec![]).await;
            b.screenshot(&docs.join("dashboard-phone.png")).await;
        }
        b.close().await;
    });
}
