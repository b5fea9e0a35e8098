//! A headless Chromium driven over WebDriver (chromedriver + `fantoccini`).
//!
//! `scripts/ensure-chromium` installs Chromium and chromedriver from the
//! distribution's packages when they are missing. One browser per test
//! file: it is slow to start. Everything started here is killed by pid when
//! the [`Browser`] is dropped, the Chromium processes too (found by their
//! unique `--user-data-dir`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// chromedriver's path, installing Chromium and its driver if needed.
pub fn chromedriver() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ensure-chromium");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/ensure-chromium");
    assert!(out.status.success(), "ensure-chromium failed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The Chromium binary itself (Debian's `/usr/bin/chromium` is a wrapper
/// script that adds flags of its own).
fn chromium_binary() -> PathBuf {
    let real = PathBuf::from("/usr/lib/chromium/chromium");
    if real.exists() {
        real
    } else {
        PathBuf::from("/usr/bin/chromium")
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct Browser {
    pub client: Client,
    _guard: Guard,
}

/// Kills chromedriver and every Chromium process of the profile, by pid.
struct Guard {
    driver: Child,
    profile: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let marker = self.profile.to_string_lossy().into_owned();
        for pid in test_programs::pids_with(&marker) {
            test_programs::kill(pid, "KILL");
        }
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile in
    /// `dir`, `width`×`height` pixels.
    pub async fn start(dir: &Path, width: u32, height: u32) -> Browser {
        let driver_bin = chromedriver();
        let port = free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = dir.join("chromium-profile");
        std::fs::create_dir_all(&profile).unwrap();
        let guard = Guard {
            driver,
            profile: profile.clone(),
        };
        let browser = Browser {
            client: connect(port, &profile, width, height).await,
            _guard: guard,
        };
        browser
            .client
            .set_window_size(width, height)
            .await
            .expect("window size");
        browser.client.set_ua("warden-test").await.ok();
        browser
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("execute script")
    }

    /// Polls `script` until it returns something truthy, or panics with
    /// `what` after `timeout`; returns the value and the time it took.
    pub async fn wait_js(&self, timeout: Duration, what: &str, script: &str) -> (Value, Duration) {
        let t0 = Instant::now();
        loop {
            let v = self.js(script, vec![]).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return (v, t0.elapsed());
            }
            assert!(
                t0.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The button whose accessible name is `name` (checked with WebDriver's
    /// computed label, which is what a screen reader announces).
    pub async fn button(&self, name: &str) -> fantoccini::elements::Element {
        let sel = format!("button[aria-label=\"{name}\"]");
        let b = self
            .client
            .find(Locator::Css(&sel))
            .await
            .unwrap_or_else(|e| panic!("no button named {name:?}: {e}"));
        // in view first, as a user would reach it (rows far off screen are
        // not laid out: content-visibility)
        self.client
            .execute(
                "arguments[0].scrollIntoView({block: 'center'})",
                vec![serde_json::to_value(&b).unwrap()],
            )
            .await
            .expect("scroll into view");
        let label = self.computed_label(&b).await;
        assert_eq!(label, name, "accessible name of {sel}");
        b
    }

    /// WebDriver's "Get Computed Label" of an element.
    pub async fn computed_label(&self, e: &fantoccini::elements::Element) -> String {
        let id = e.element_id().to_string();
        let v = self
            .client
            .issue_cmd(SessionCmd {
                path: format!("element/{id}/computedlabel"),
                body: None,
            })
            .await
            .expect("computed label");
        v.as_str().unwrap_or_default().to_string()
    }

    /// Emulates `prefers-color-scheme` (Chrome DevTools through chromedriver).
    pub async fn color_scheme(&self, scheme: &str) {
        self.client
            .issue_cmd(SessionCmd {
                path: "goog/cdp/execute".into(),
                body: Some(json!({
                    "cmd": "Emulation.setEmulatedMedia",
                    "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
                })),
            })
            .await
            .expect("emulate color scheme");
    }

    /// Saves a PNG screenshot of the viewport.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Ends the WebDriver session (Chromium quits); the drop kills the rest.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.close()).await;
    }
}

async fn connect(port: u16, profile: &Path, width: u32, height: u32) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium_binary(),
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return c,
            Err(e) => {
                assert!(Instant::now() < deadline, "chromedriver session: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A command on the current session: `METHOD /session/{id}/{path}`, with a
/// JSON body for a POST.
#[derive(Debug)]
struct SessionCmd {
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for SessionCmd {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        match &self.body {
            None => (http::Method::GET, None),
            Some(b) => (http::Method::POST, Some(b.to_string())),
        }
    }
}

/// Where the screenshots go: `docs/` when `WARDEN_SCREENSHOTS` is set
/// (to refresh the ones the README shows), else nowhere.
pub fn screenshots() -> Option<PathBuf> {
    std::env::var_os("WARDEN_SCREENSHOTS")
        .map(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs"))
}

/// A runtime for the WebDriver client.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
