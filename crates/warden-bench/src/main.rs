//! `warden-bench`: runs warden and its peers on the same work, alternating
//! them, and writes `docs/benchmarks.md`. A benchmark, not a test: it never
//! fails because a machine is slow. `bench/run` installs the peers and calls it.
//!
//! ```text
//! warden-bench --warden PATH --programs DIR [--venv-python PATH]
//!              [--pm2 PATH] [--circus-bin DIR] [--pm2-homes DIR]
//!              [--rounds N] [--quick] [--out FILE] [--only SECTION,...]
//!              [--storm-secs S] [--big-n N] [--big-cap-secs S] [--estimate]
//! warden-bench --cleanup FILE
//! ```
//!
//! `--estimate` prints how long the run would take and exits. `--cleanup
//! FILE` kills what a run recorded in FILE (`WARDEN_BENCH_RECORD`) and
//! still runs: `bench/run` calls it on exit, whatever way the run ends.
//!
//! Sections (for `--only`): daemonize, scale, restart, capture,
//! interactive, listeners, slow-shutdown, storm, big. One function per
//! section in `run_section`; each returns its tables.

#![forbid(unsafe_code)]

mod figures;
mod observe;
mod peers;
mod stress;
mod supervisors;
mod util;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figures::{Crash, Table, Tools};

const SECTIONS: [&str; 10] = [
    "daemonize",
    "scale",
    "restart",
    "capture",
    "interactive",
    "listeners",
    "slow-shutdown",
    "storm",
    "big",
    "observe",
];

struct Args {
    warden: PathBuf,
    programs: PathBuf,
    venv_python: Option<PathBuf>,
    pm2: Option<PathBuf>,
    circus_bin: Option<PathBuf>,
    pm2_homes: PathBuf,
    rounds: usize,
    quick: bool,
    out: PathBuf,
    /// Only these sections (all when empty).
    only: Vec<String>,
    storm_secs: Option<u64>,
    big_n: Option<usize>,
    big_cap_secs: Option<u64>,
    cleanup: Option<PathBuf>,
    /// Print the run's estimated length and exit.
    estimate: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        warden: PathBuf::from("target/release/warden"),
        programs: PathBuf::from("target/release"),
        venv_python: None,
        pm2: None,
        circus_bin: None,
        pm2_homes: PathBuf::from("target/bench-pm2"),
        rounds: 30,
        quick: false,
        out: PathBuf::from("docs/benchmarks.md"),
        only: Vec::new(),
        storm_secs: None,
        big_n: None,
        big_cap_secs: None,
        cleanup: None,
        estimate: false,
    };
    let mut it = std::env::args().skip(1);
    fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
        v.parse()
            .map_err(|_| format!("{flag} takes a number, not {v:?}"))
    }
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--warden" => a.warden = val()?.into(),
            "--programs" => a.programs = val()?.into(),
            "--venv-python" => a.venv_python = Some(val()?.into()),
            "--pm2" => a.pm2 = Some(val()?.into()),
            "--circus-bin" => a.circus_bin = Some(val()?.into()),
            "--pm2-homes" => a.pm2_homes = val()?.into(),
            "--rounds" => a.rounds = num(&flag, val()?)?,
            "--quick" => a.quick = true,
            "--out" => a.out = val()?.into(),
            "--only" => {
                a.only = val()?.split(',').map(str::to_string).collect();
                if let Some(bad) = a.only.iter().find(|o| !SECTIONS.contains(&o.as_str())) {
                    return Err(format!(
                        "--only: no section {bad:?} (sections: {})",
                        SECTIONS.join(", ")
                    ));
                }
            }
            "--storm-secs" => a.storm_secs = Some(num(&flag, val()?)?),
            "--big-n" => a.big_n = Some(num(&flag, val()?)?),
            "--big-cap-secs" => a.big_cap_secs = Some(num(&flag, val()?)?),
            "--cleanup" => a.cleanup = Some(val()?.into()),
            "--estimate" => a.estimate = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

/// The sizes of one run: the full run's, or `--quick`'s.
struct Plan {
    rounds: usize,
    restarts: usize,
    capture_bytes: u64,
    capture_rounds: usize,
    scale_ns: Vec<usize>,
    scale_rounds: usize,
    idle: Duration,
    interactive_rounds: usize,
    listener_events: usize,
    slow_ns: Vec<usize>,
    slow_rounds: usize,
    storm_n: usize,
    storm: Duration,
    /// Rounds of the crash storm (each tool once per round).
    storm_rounds: usize,
    big_n: usize,
    big_cap: Duration,
    /// Programs behind the `/metrics` scrape, and the scrapes.
    metrics_n: usize,
    scrapes: usize,
    /// Bytes and rounds of capture with timestamps off and on.
    stamp_bytes: u64,
    stamp_rounds: usize,
}

impl Plan {
    fn new(a: &Args) -> Plan {
        let q = a.quick;
        let pick = |quick: u64, full: u64| if q { quick } else { full };
        Plan {
            rounds: if q { 3 } else { a.rounds },
            restarts: pick(3, 10) as usize,
            capture_bytes: pick(64 << 20, 512 << 20),
            capture_rounds: pick(1, 3) as usize,
            scale_ns: if q {
                vec![1, 10, 100]
            } else {
                vec![1, 100, 1000]
            },
            scale_rounds: pick(1, 3) as usize,
            idle: Duration::from_secs(pick(3, 20)),
            interactive_rounds: pick(5, 20) as usize,
            listener_events: pick(500, 5000) as usize,
            slow_ns: vec![10, 100],
            slow_rounds: pick(1, 3) as usize,
            storm_n: 100,
            storm: Duration::from_secs(a.storm_secs.unwrap_or(pick(10, 30))),
            storm_rounds: pick(1, 3) as usize,
            big_n: a.big_n.unwrap_or(pick(300, 5000) as usize),
            big_cap: Duration::from_secs(a.big_cap_secs.unwrap_or(pick(30, 120))),
            metrics_n: pick(100, 1000) as usize,
            scrapes: pick(5, 20) as usize,
            stamp_bytes: pick(64 << 20, 512 << 20),
            stamp_rounds: pick(1, 5) as usize,
        }
    }

    /// A rough estimate of the run's length in seconds, from the sizes and
    /// what each tool took on a loaded 2-core machine: pm2's client about
    /// 0.5 s a call and 0.12 s a program to stop, Python clients 0.25 s,
    /// supervisord about 50 MB/s of captured output, runit, s6 and
    /// supervisord one restart a second.
    fn estimate_secs(&self, peers: usize, want: &dyn Fn(&str) -> bool) -> f64 {
        let p = peers as f64;
        let mut s = 0.0;
        if want("daemonize") {
            s += self.rounds as f64 * (0.3 + 1.0 * p);
        }
        if want("scale") {
            let ns = self.scale_ns.iter().map(|&n| n as f64);
            s += self.scale_ns.len() as f64 * (2.0 + p) * self.idle.as_secs_f64();
            s += self.scale_rounds as f64 * 2.0 * ns.clone().map(|n| 2.0 + 0.006 * n).sum::<f64>();
            s += p * ns.map(|n| (5.0 + 0.12 * n).min(120.0)).sum::<f64>();
        }
        if want("restart") {
            let r = self.restarts as f64;
            s += 2.0 * (3.0 * r + (3.0 + p) * 0.2 * r + (5.0 + p) * 2.0);
        }
        if want("capture") {
            let mib = (self.capture_bytes >> 20) as f64;
            let per_round =
                mib * 1.05 * ((1.0 + p) / 50.0 + 1.0 / 90.0 + 1.0 / 75.0) + 2.0 * (8.0 + p);
            s += self.capture_rounds as f64 * per_round;
        }
        if want("interactive") {
            s += self.interactive_rounds as f64 * 4.0 * 0.26 + 5.0;
        }
        if want("listeners") {
            s += 2.0 * (self.idle.as_secs_f64() + 5.0 + self.listener_events as f64 / 10000.0);
        }
        if want("slow-shutdown") {
            let progs: usize = self.slow_ns.iter().sum();
            s += self.slow_rounds as f64 * 2.0 * (4.5 + progs as f64 * 0.01);
            s += p * (12.0 + progs as f64 * 0.15);
        }
        if want("storm") {
            s += 2.0 * self.storm_rounds as f64 * (self.storm.as_secs_f64() + 3.0);
        }
        if want("big") {
            let n = self.big_n as f64;
            s += 5.0 + n * 0.004 + (n * 0.02).min(self.big_cap.as_secs_f64()) + 30.0;
        }
        if want("observe") {
            let mib = (self.stamp_bytes >> 20) as f64;
            s += 5.0 + self.metrics_n as f64 * 0.006 + self.stamp_rounds as f64 * mib / 300.0;
        }
        s
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("warden-bench: {e}");
            std::process::exit(2);
        }
    };
    if let Some(file) = &args.cleanup {
        util::cleanup(file);
        return;
    }
    // Absolute, but symlinks kept: a venv's python is a link out of the venv.
    let cwd = std::env::current_dir().unwrap_or_default();
    let abs = |p: PathBuf| if p.is_absolute() { p } else { cwd.join(p) };
    let tools = Tools {
        warden: abs(args.warden.clone()),
        crasher: abs(args.programs.join("bench-crasher")),
        flood: abs(args.programs.join("bench-flood")),
        venv_python: args.venv_python.clone().map(abs),
        peers: peers::find(
            args.pm2.clone().map(abs).as_deref(),
            args.circus_bin.clone().map(abs).as_deref(),
            &abs(args.pm2_homes.clone()),
        ),
    };
    for p in [&tools.warden, &tools.crasher, &tools.flood] {
        if !p.is_file() {
            eprintln!(
                "warden-bench: {} is missing (build with cargo build --release --workspace)",
                p.display()
            );
            std::process::exit(2);
        }
    }
    let plan = Plan::new(&args);
    let kinds = supervisor_kinds(&tools);
    let want = |f: &str| args.only.is_empty() || args.only.iter().any(|o| o == f);
    let est = plan.estimate_secs(tools.peers.len(), &want);
    eprintln!(
        "warden-bench: {} run, estimated {:.1} min{}",
        if args.quick { "quick" } else { "full" },
        est / 60.0,
        if tools.peers.is_empty() {
            " (no pm2 or circus given)".to_string()
        } else {
            format!(
                " (peers: {})",
                tools
                    .peers
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    if args.estimate {
        return;
    }
    let t_run = std::time::Instant::now();
    let mut tables: Vec<Table> = Vec::new();
    for section in SECTIONS {
        if want(section) {
            eprintln!("section {section}");
            tables.extend(run_section(section, &tools, &kinds, &plan, &args.out));
        }
    }
    eprintln!(
        "warden-bench: took {:.1} min",
        t_run.elapsed().as_secs_f64() / 60.0
    );
    let doc = render(
        &tables,
        args.quick,
        &binary_words(&tools.warden),
        &versions(&tools, &kinds),
    );
    if let Some(dir) = args.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&args.out, doc) {
        eprintln!("warden-bench: write {}: {e}", args.out.display());
        std::process::exit(1);
    }
    eprintln!("wrote {}", args.out.display());
}

/// The supervisord-compatible supervisors: warden supervise and the real
/// supervisord (venv).
fn supervisor_kinds(tools: &Tools) -> Vec<supervisors::Kind> {
    let mut kinds = Vec::new();
    let warden_sup = std::process::Command::new(&tools.warden)
        .args(["supervise", "--help"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if warden_sup {
        kinds.push(supervisors::Kind {
            name: "warden supervise",
            server: vec![tools.warden.clone().into(), "supervise".into(), "-n".into()],
            client: vec![tools.warden.clone().into(), "ctl".into()],
        });
    } else {
        eprintln!("warden-bench: `warden supervise` is not available; supervisor figures show supervisord only");
    }
    if let Some(py) = &tools.venv_python {
        let bin = py.parent().map(Path::to_path_buf).unwrap_or_default();
        kinds.push(supervisors::Kind {
            name: "supervisord 4.3.0",
            server: vec![bin.join("supervisord").into(), "-n".into()],
            client: vec![bin.join("supervisorctl").into()],
        });
    }
    kinds
}

/// One section of the benchmark: its tables, in order.
fn run_section(
    section: &str,
    tools: &Tools,
    kinds: &[supervisors::Kind],
    plan: &Plan,
    out: &Path,
) -> Vec<Table> {
    match section {
        "daemonize" => {
            let (start, stop) = figures::daemonize(tools, plan.rounds);
            vec![start, stop]
        }
        "scale" => scale(tools, kinds, plan, out),
        "restart" => {
            let sups = figures::restart_supervisors(tools, kinds);
            [Crash::ExitAtOnce, Crash::Sigkill]
                .into_iter()
                .map(|mode| figures::crash_to_restart(tools, &sups, mode, plan.restarts))
                .collect()
        }
        "capture" => {
            let (mbps, cpu) =
                figures::log_capture(tools, kinds, plan.capture_bytes, plan.capture_rounds);
            vec![mbps, cpu]
        }
        "interactive" => vec![supervisors::interactive(kinds, plan.interactive_rounds)],
        "listeners" => match &tools.venv_python {
            Some(py) => supervisors::listener_events(kinds, py, plan.listener_events, plan.idle),
            None => Vec::new(),
        },
        "slow-shutdown" => vec![stress::slow_shutdown(
            kinds,
            &tools.peers,
            &plan.slow_ns,
            100,
            plan.slow_rounds,
        )],
        "storm" => stress::crash_storm(kinds, plan.storm_n, plan.storm, plan.storm_rounds),
        "big" => stress::scale_big(kinds, plan.big_n, plan.big_cap),
        "observe" => observe_section(tools, kinds, plan),
        _ => Vec::new(),
    }
}

/// The scale section: every supervisor and peer at each N, alternating.
fn scale(tools: &Tools, kinds: &[supervisors::Kind], plan: &Plan, out: &Path) -> Vec<Table> {
    let mut names: Vec<String> = kinds.iter().map(|k| k.name.to_string()).collect();
    names.extend(tools.peers.iter().map(|p| p.name.clone()));
    let mut results = Vec::new();
    for &n in &plan.scale_ns {
        for round in 0..plan.scale_rounds {
            // Idle once per (N, manager): a counter that should read 0.
            let idle = if round == 0 {
                plan.idle
            } else {
                Duration::ZERO
            };
            for (k, name) in names.iter().enumerate() {
                // pm2 and circus: one round (their clients take seconds at
                // N=1000; three rounds would not fit the run's budget).
                if k >= kinds.len() && round > 0 {
                    continue;
                }
                eprintln!("  {name} N={n}");
                let mut s = supervisors::Scale::default();
                match kinds.get(k) {
                    Some(kind) => supervisors::scale_round(kind, n, idle, &mut s),
                    None => peers::scale_round(&tools.peers[k - kinds.len()], n, idle, &mut s),
                }
                results.push((n, k, s));
            }
        }
    }
    let svg_path = out.with_file_name("benchmarks-scale.svg");
    if let Some(dir) = svg_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(
        &svg_path,
        supervisors::scale_svg(&names, &plan.scale_ns, &results),
    );
    supervisors::scale_tables(&names, &plan.scale_ns, &results)
}

/// "the static musl binary" or "the release binary": how the page names
/// warden's binary, without a machine's path.
fn binary_words(warden: &Path) -> String {
    let static_ = std::process::Command::new("file")
        .arg("-L")
        .arg(warden)
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("static"));
    if static_ {
        "the static musl binary (release build)".into()
    } else {
        "the release binary (dynamically linked)".into()
    }
}

fn first_line(cmd: &mut std::process::Command) -> Option<String> {
    let o = cmd.output().ok()?;
    let t = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    t.lines()
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
}

fn dpkg_version(pkg: &str) -> Option<String> {
    first_line(std::process::Command::new("dpkg-query").args(["-W", "-f=${Version}", pkg]))
}

/// The version of every tool in the run.
fn versions(tools: &Tools, kinds: &[supervisors::Kind]) -> Vec<(String, String)> {
    let mut v = Vec::new();
    if let Some(w) = first_line(std::process::Command::new(&tools.warden).arg("--version")) {
        v.push(("warden".into(), w));
    }
    for k in kinds.iter().filter(|k| !k.name.starts_with("warden")) {
        v.push((k.name.into(), "from PyPI, in a venv".into()));
    }
    if let Some(py) = &tools.venv_python {
        if let Some(pv) = first_line(std::process::Command::new(py).arg("--version")) {
            v.push(("Python (supervisord, python-daemon)".into(), pv));
        }
    }
    for p in &tools.peers {
        let how = match p.kind {
            peers::PeerKind::Pm2 => {
                let node = first_line(std::process::Command::new("node").arg("--version"))
                    .unwrap_or_else(|| "?".into());
                format!("from npm, on Node {node}")
            }
            peers::PeerKind::Circus => "from PyPI, in a venv of its own".into(),
        };
        v.push((p.name.clone(), how));
    }
    for (name, pkg) in [
        ("start-stop-daemon", "dpkg"),
        ("libslack daemon", "daemon"),
        ("runit", "runit"),
        ("s6", "s6"),
    ] {
        if let Some(ver) = dpkg_version(pkg) {
            v.push((name.into(), format!("Debian package {pkg} {ver}")));
        }
    }
    v
}

/// `/metrics` with many programs, and capture with timestamps off and on
/// (warden only: the peers have neither).
fn observe_section(tools: &Tools, kinds: &[supervisors::Kind], plan: &Plan) -> Vec<Table> {
    let Some(warden) = kinds.iter().find(|k| k.name == "warden supervise") else {
        return Vec::new();
    };
    vec![
        observe::metrics_scrape(warden, plan.metrics_n, plan.scrapes),
        observe::capture_timestamps(tools, warden, plan.stamp_bytes, plan.stamp_rounds),
    ]
}

fn fmt(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) if x >= 10.0 => format!("{x:.1}"),
        Some(x) if x >= 1.0 => format!("{x:.2}"),
        Some(x) => format!("{x:.3}"),
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split(':')
                .nth(1)
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), Linux {}, {date}", kernel.trim())
}

fn render(tables: &[Table], quick: bool, binary: &str, versions: &[(String, String)]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Generated by `bench/run` (`warden-bench`){}: every tool does the same work in one run, \
         the tools alternating round by round. Medians with min and max; the ratio is \
         warden's median over the peer's (below 1 means warden is faster, or for \
         throughput, above 1 means warden moves more). A benchmark, not a test.\n",
        if quick {
            " in --quick mode (few rounds, smaller sizes, short windows)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "Machine: {}. warden: {binary}. Pidfiles and logs on tmpfs.\n",
        machine()
    );
    let _ = writeln!(s, "Versions:\n");
    for (name, v) in versions {
        let _ = writeln!(s, "- {name}: {v}");
    }
    s.push('\n');
    // The targets, as ratios within this run, with their figures.
    let checks: Vec<(usize, &figures::Check)> = tables
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.checks.iter().map(move |c| (i + 1, c)))
        .collect();
    if !checks.is_empty() {
        let _ = writeln!(s, "## Targets\n");
        let _ = writeln!(s, "| figure | target | ratio | limit | verdict |");
        let _ = writeln!(s, "|---:|---|---:|---:|---|");
        for (fig, c) in &checks {
            let _ = writeln!(
                s,
                "| {fig} | {} | {} | {} | {} |",
                c.what,
                c.ratio.map_or("–".into(), |r| format!("{r:.3}")),
                c.limit,
                c.verdict()
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "![supervisor scale](benchmarks-scale.svg)\n");
    for (i, t) in tables.iter().enumerate() {
        let _ = writeln!(s, "## Figure {}. {}\n", i + 1, t.title);
        if !t.target.is_empty() {
            let _ = writeln!(s, "Target for warden: {}.\n", t.target);
        }
        let _ = writeln!(
            s,
            "| tool | median ({u}) | min | max | n | warden / tool | notes |",
            u = t.unit
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---|");
        let warden_of = |group: &str| {
            t.rows
                .iter()
                .find(|r| r.is_warden() && r.group == group)
                .and_then(|r| r.samples.median())
        };
        for r in &t.rows {
            let ratio = match (warden_of(&r.group), r.samples.median()) {
                (Some(w), Some(p)) if p > 0.0 && !r.is_warden() => format!("{:.3}", w / p),
                _ => "–".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.tool,
                fmt(r.samples.median()),
                fmt(r.samples.min()),
                fmt(r.samples.max()),
                r.samples.0.len(),
                ratio,
                r.note
            );
        }
        // The verdict uses warden's row of the largest group (N=1000).
        let warden = t
            .rows
            .iter()
            .rev()
            .find(|r| r.is_warden())
            .and_then(|r| r.samples.median());
        if let (Some(w), Some(target)) = (warden, t.target_value) {
            let met = if t.lower_is_better {
                w <= target
            } else {
                w >= target
            };
            let verdict = if met { "met" } else { "**missed**" };
            let _ = writeln!(
                s,
                "\nwarden's median: {} {}: target {verdict}.",
                fmt(Some(w)),
                t.unit
            );
        }
        for c in &t.checks {
            let _ = writeln!(
                s,
                "\n{}: {} (limit {}): {}.",
                c.what,
                c.ratio.map_or("–".into(), |r| format!("{r:.3}")),
                c.limit,
                c.verdict()
            );
        }
        if !t.not_measured.is_empty() {
            let _ = writeln!(s, "\nWhat this does not measure: {}.", t.not_measured);
        }
        s.push('\n');
    }
    s
}
