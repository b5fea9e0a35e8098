//! The dashboard with a thousand programs, in a real headless Chromium:
//! interactive within a second, and a burst of a thousand state changes
//! does not freeze it.

mod browser;
mod helper;

use std::io::{Read, Write};

use std::time::Duration;

use helper::{Kind, Scratch, Sup};
use serde_json::json;

const GROUPS: usize = 10;
const PER_GROUP: usize = 100;

/// Counts the rows in `state`.
const COUNT: &str =
    "return document.querySelectorAll(`.row[data-state=\"${arguments[0]}\"]`).length";

#[test]
fn a_thousand_programs() {
    let scratch = Scratch::new();
    let port = browser::free_port();
    let mut programs = format!("\n[inet_http_server]\nport=127.0.0.1:{port}\n");
    for g in 0..GROUPS {
        programs.push_str(&format!(
            "\n[program:svc{g}]\ncommand={{child}} --tag {{tag}}\nprocess_name=svc{g}_%(process_num)03d\nnumprocs={PER_GROUP}\nstartsecs=0\n"
        ));
    }
    let w = Sup::start(Kind::Warden, &scratch.join("w"), &programs);
    w.settle();
    let total = GROUPS * PER_GROUP;
    let shots = browser::screenshots();
    browser::runtime().block_on(async {
        let b = browser::Browser::start(&scratch.join("browser"), 1280, 900).await;
        // a first visit warms the browser's caches of the page's assets
        // away from the measurement: only the page itself is measured
        b.goto(&format!("http://127.0.0.1:{port}/tail.html")).await;
        b.goto(&format!("http://127.0.0.1:{port}/")).await;
        let (ready, _) = b
            .wait_js(
                Duration::from_secs(20),
                "first render",
                "return document.documentElement.dataset.ready",
            )
            .await;
        let ready: f64 = ready.as_str().and_then(|s| s.parse().ok()).unwrap();
        eprintln!("1000 programs: all rows rendered {ready} ms after navigation start");
        assert!(ready < 1000.0, "rendered after {ready} ms");
        assert_eq!(b.js(COUNT, vec![json!("RUNNING")]).await, json!(total));
        b.button("Stop svc9_099").await;

        // the longest gap between two animation frames from now on
        // and the longest task that blocked the page's main thread
        b.js(
            "window.__gap = 0; let last = performance.now();
             (function f(t) { if (t) { window.__gap = Math.max(window.__gap, t - last); last = t; } requestAnimationFrame(f); })();
             window.__long = 0;
             new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long = Math.max(window.__long, e.duration); })
               .observe({ type: 'longtask' });",
            vec![],
        )
        .await;
        let sock = w.dir.join("sock");
        // stopAllProcesses over XML-RPC, from another thread: it answers
        // when all are stopped
        let stop = std::thread::spawn(move || {
            let body = "<?xml version='1.0'?><methodCall><methodName>supervisor.stopAllProcesses</methodName><params></params></methodCall>";
            let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            write!(
                s,
                "POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out
        });
        let (_, took) = b
            .wait_js(
                Duration::from_secs(60),
                "every row STOPPED",
                &COUNT.replace("arguments[0]", "'STOPPED'"),
            )
            .await;
        let stopped = stop.join().unwrap();
        assert!(stopped.contains("svc9_099"), "{}", &stopped[..stopped.len().min(300)]);
        let gap = b.js("return window.__gap", vec![]).await.as_f64().unwrap();
        let long = b.js("return window.__long", vec![]).await.as_f64().unwrap();
        eprintln!("page stats: {}", b.js("return window.wardenStats", vec![]).await);
        eprintln!(
            "1000 programs stopped: page caught up in {took:?}; longest frame gap {gap:.0} ms, longest task {long:.0} ms"
        );
        assert!(long < 200.0, "the page's main thread was blocked for {long} ms during the burst");
        // and it still answers: the filter narrows the list at once
        let filter = b.client.find(fantoccini::Locator::Id("filter")).await.unwrap();
        filter.send_keys("svc3_04").await.unwrap();
        b.wait_js(
            Duration::from_secs(5),
            "filtered to ten rows",
            "return document.querySelectorAll('.row:not(.hidden)').length === 10",
        )
        .await;
        filter.clear().await.unwrap();
        b.js("const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('input'))", vec![]).await;

        // start them all again, from the page
        b.click("button[data-all=\"start\"]").await;
        b.wait_js(
            Duration::from_secs(60),
            "every row RUNNING",
            &COUNT.replace("arguments[0]", "'RUNNING'"),
        )
        .await;
        if let Some(docs) = &shots {
            // collapse a few groups to show it
            b.js("for (const t of Array.from(document.querySelectorAll('.toggle')).slice(0, 3)) t.click()", vec![]).await;
            b.wait_js(
                Duration::from_secs(10),
                "three groups collapsed",
                "return document.querySelectorAll('.toggle[aria-expanded=\"false\"]').length >= 3",
            )
            .await;
            b.screenshot(&docs.join("dashboard-1000.png")).await;
        }
        b.close().await;
    });
}
