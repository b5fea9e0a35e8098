//! Issue 19's acceptance: the release artifacts install and run, the man
//! pages render, the completions load, the docs' shell blocks pass and their
//! relative links resolve.
//!
//! `scripts/release` is run once, with `--binary` on the debug `warden` this
//! test suite was built with (a musl release build with LTO takes minutes;
//! the packaging steps are the same). `scripts/ensure-release-tools`
//! installs `dpkg-deb` and `man` (`man-db`) from Debian when missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use test_programs::{alive, poll_until, wait_for, Scratch};

const T: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    o
}

fn ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Kills the supervisor by pid if the test ends early.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn release_artifacts_install_and_run() {
    ok(&mut Command::new(
        repo().join("scripts/ensure-release-tools"),
    ));
    let s = Scratch::new();
    let out = s.join("artifacts");
    let listed = ok(Command::new(repo().join("scripts/release"))
        .args(["--binary", env!("CARGO_BIN_EXE_warden"), "--out"])
        .arg(&out));
    let artifacts: Vec<PathBuf> = listed.lines().map(PathBuf::from).collect();
    let tarball = artifacts
        .iter()
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"));
    let deb = artifacts
        .iter()
        .find(|p| p.to_string_lossy().ends_with(".deb"));
    let (tarball, deb) = (tarball.expect("a tarball"), deb.expect("a .deb"));

    // The tarball holds the binary, the pages, the completions, the example.
    let listing = ok(Command::new("tar").arg("-tzf").arg(tarball));
    for want in [
        "/bin/warden",
        "/man/warden.1",
        "/man/warden-ctl.1",
        "/completions/_warden",
        "/completions/warden.bash",
        "/completions/warden.fish",
        "/examples/platform.conf",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(want)),
            "{want} not in the tarball:\n{listing}"
        );
    }

    // Installed into a scratch root, as dpkg would unpack it.
    let root = s.join("root");
    ok(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root));
    let warden = root.join("usr/bin/warden");
    let version = ok(Command::new(&warden).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("warden {}", env!("CARGO_PKG_VERSION"))
    );

    // start / status / stop with the installed binary.
    let rundir = s.join("run");
    let w = |args: &[&str]| {
        let mut c = Command::new(&warden);
        c.env("WARDEN_RUNDIR", &rundir).args(args);
        c
    };
    ok(&mut w(&[
        "start",
        "-n",
        "napper",
        "--startsecs",
        "0.2",
        "--",
        "sleep",
        "1000",
    ]));
    ok(&mut w(&["status", "-n", "napper"]));
    ok(&mut w(&["stop", "-n", "napper"]));
    assert_eq!(
        run(&mut w(&["status", "-n", "napper"])).status.code(),
        Some(3)
    );

    // supervise with the example config, its /tmp paths and port moved into
    // the scratch directory (other runs may use the real ones).
    let example = root.join("usr/share/doc/warden/examples/platform.conf");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf_text = std::fs::read_to_string(&example)
        .unwrap()
        .replace(
            "/tmp/warden-platform",
            &s.join("platform").to_string_lossy(),
        )
        .replace(
            "childlogdir=/tmp\n",
            &format!("childlogdir={}\n", s.path().display()),
        )
        .replace(
            "directory=/tmp\n",
            &format!("directory={}\n", s.path().display()),
        )
        .replace("8765", &port.to_string());
    let conf = s.join("platform.conf");
    std::fs::write(&conf, conf_text).unwrap();
    let child = Command::new(&warden)
        .arg("supervise")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn warden supervise");
    let pid = i32::try_from(child.id()).unwrap();
    let mut sup = Reap(child);
    let ctl = |args: &[&str]| {
        let mut c = Command::new(&warden);
        c.arg("ctl").arg("-c").arg(&conf).args(args);
        run(&mut c)
    };
    wait_for(T, "ticker and the workers RUNNING", || {
        let o = ctl(&["status", "ticker", "workers:*"]);
        (o.status.code() == Some(0)).then_some(())
    });
    let o = ctl(&["shutdown"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        poll_until(T, || sup.0.try_wait().ok().flatten().is_some()),
        "warden supervise still running after shutdown"
    );
    assert!(!alive(pid));

    // The man pages render; the completion scripts load.
    for page in std::fs::read_dir(root.join("usr/share/man/man1")).unwrap() {
        let page = page.unwrap().path();
        let text = ok(Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80"));
        assert!(
            text.contains("NAME"),
            "{} renders without a NAME section:\n{text}",
            page.display()
        );
    }
    let bash = root.join("usr/share/bash-completion/completions/warden");
    let loaded = ok(Command::new("bash")
        .arg("-c")
        .arg("source \"$1\" && complete -p warden")
        .arg("-")
        .arg(&bash));
    assert!(loaded.contains("_warden"), "{loaded}");
    if Command::new("zsh").arg("--version").output().is_ok() {
        let zsh = root.join("usr/share/zsh/vendor-completions/_warden");
        ok(Command::new("zsh").arg("-n").arg(&zsh));
    }
    if Command::new("fish").arg("--version").output().is_ok() {
        let fish = root.join("usr/share/fish/vendor_completions.d/warden.fish");
        ok(Command::new("fish").arg("--no-execute").arg(&fish));
    }
}

/// The Markdown files the docs consist of: README.md and docs/*.md.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    for e in std::fs::read_dir(repo().join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            files.push(p);
        }
    }
    files.sort();
    files
}

/// The ```sh blocks of a Markdown text, in order; ```sh no-run blocks (they
/// need root-only side effects, a toolchain build or a service left running)
/// are skipped.
fn sh_blocks(text: &str) -> Vec<(usize, String)> {
    fenced_blocks(text, "sh")
}

/// The blocks fenced as ```LANG (not `no-run`) of a Markdown text, in
/// order, each with the line its body starts on.
fn fenced_blocks(text: &str, lang: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    // (runnable, first line, body) of the open fence
    let mut open: Option<(bool, usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (open.take(), fence) {
            (None, Some(info)) => {
                let words: Vec<&str> = info.split_whitespace().collect();
                let runnable = words.first() == Some(&lang) && !words.contains(&"no-run");
                open = Some((runnable, n + 2, String::new()));
            }
            (None, None) => {}
            (Some((runnable, first, body)), Some(_)) => {
                if runnable {
                    blocks.push((first, body));
                }
            }
            (Some((runnable, first, mut body)), None) => {
                body.push_str(line);
                body.push('\n');
                open = Some((runnable, first, body));
            }
        }
    }
    blocks
}

#[test]
fn docs_shell_blocks_pass() {
    let warden = PathBuf::from(env!("CARGO_BIN_EXE_warden"));
    // warden, and the library's examples (docs/library.md runs `ticker`).
    let bin_dir = warden.parent().unwrap();
    let path = format!(
        "{}:{}:{}",
        bin_dir.display(),
        bin_dir.join("examples").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        // One scratch directory per file: its blocks run in order, as a
        // reader would type them.
        let s = Scratch::new();
        for (line, body) in sh_blocks(&text) {
            let o = run(Command::new("timeout")
                .args(["60", "bash", "-euo", "pipefail", "-c"])
                .arg(&body)
                .current_dir(s.path())
                .env("PATH", &path)
                .env("WARDEN_RUNDIR", s.join("run"))
                .env("WARDEN_REPO", repo()));
            assert!(
                o.status.success(),
                "{}:{line}: the shell block failed ({}):\n{body}\n--- stdout\n{}\n--- stderr\n{}",
                file.display(),
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 5, "only {ran} shell blocks found");
}

/// Every supervisord config in the docs (an ```ini block with a
/// `[supervisord]` section: the Docker recipe's, say) passes
/// `warden supervise --check-config`.
#[test]
fn docs_supervisord_configs_pass_check_config() {
    let warden = PathBuf::from(env!("CARGO_BIN_EXE_warden"));
    let s = Scratch::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, body) in fenced_blocks(&text, "ini") {
            if !body.contains("[supervisord]") {
                continue; // a systemd unit
            }
            let conf = s.join(&format!("block-{checked}.conf"));
            std::fs::write(&conf, &body).unwrap();
            let o = run(Command::new(&warden)
                .args(["supervise", "--check-config", "-c"])
                .arg(&conf));
            assert!(
                o.status.success(),
                "{}:{line}: the config fails --check-config ({}):\n{body}\n--- stderr\n{}",
                file.display(),
                o.status,
                String::from_utf8_lossy(&o.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 1, "no supervisord config found in the docs");
}

#[test]
fn docs_relative_links_resolve() {
    let link = |s: &str| -> Vec<String> {
        // [text](target): the targets, without titles.
        s.split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .map(|t| t.split_whitespace().next().unwrap_or("").to_string())
            .collect()
    };
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for target in link(&text) {
            if target.is_empty()
                || target.starts_with('#')
                || target.contains("://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let path = target.split('#').next().unwrap();
            checked += 1;
            if !file.parent().unwrap().join(path).exists() {
                broken.push(format!("{}: {target}", file.display()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "broken relative links:\n{}",
        broken.join("\n")
    );
    assert!(checked >= 5, "only {checked} relative links found");
}
