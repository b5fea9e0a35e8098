//! `warden-bench`: runs warden and its peers on the same work, alternating
//! them, and writes `docs/benchmarks.md`. A benchmark, not a test: it never
//! fails because a machine is slow. `bench/run` installs the peers and calls it.
//!
//! ```text
//! warden-bench --warden PATH --programs DIR [--venv-python PATH]
//!              [--rounds N] [--quick] [--out FILE] [--only 1,2,3,4]
//! ```

#![forbid(unsafe_code)]

mod figures;
mod observe;
mod supervisors;
mod util;

use std::fmt::Write as _;
use std::path::PathBuf;

use figures::{Crash, Table, Tools};

struct Args {
    warden: PathBuf,
    programs: PathBuf,
    venv_python: Option<PathBuf>,
    rounds: usize,
    quick: bool,
    out: PathBuf,
    /// Only these figures (all when empty).
    only: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        warden: PathBuf::from("target/release/warden"),
        programs: PathBuf::from("target/release"),
        venv_python: None,
        rounds: 30,
        quick: false,
        out: PathBuf::from("docs/benchmarks.md"),
        only: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--warden" => a.warden = val()?.into(),
            "--programs" => a.programs = val()?.into(),
            "--venv-python" => a.venv_python = Some(val()?.into()),
            "--rounds" => {
                a.rounds = val()?
                    .parse()
                    .map_err(|_| "--rounds takes a number".to_string())?
            }
            "--quick" => a.quick = true,
            "--out" => a.out = val()?.into(),
            "--only" => a.only = val()?.split(',').map(str::to_string).collect(),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("warden-bench: {e}");
            std::process::exit(2);
        }
    };
    // Absolute, but symlinks kept: a venv's python is a link out of the venv.
    let cwd = std::env::current_dir().unwrap_or_default();
    let abs = |p: PathBuf| if p.is_absolute() { p } else { cwd.join(p) };
    let tools = Tools {
        warden: abs(args.warden.clone()),
        crasher: abs(args.programs.join("bench-crasher")),
        flood: abs(args.programs.join("bench-flood")),
        venv_python: args.venv_python.clone().map(abs),
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
    let rounds = if args.quick { 3 } else { args.rounds };
    let restarts = if args.quick { 3 } else { 10 };
    let capture_bytes: u64 = if args.quick { 64 << 20 } else { 512 << 20 };
    let capture_rounds = if args.quick { 1 } else { 3 };

    // The supervisors: the real supervisord (venv) and warden supervise.
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
        let bin = py
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        kinds.push(supervisors::Kind {
            name: "supervisord 4.3.0",
            server: vec![bin.join("supervisord").into(), "-n".into()],
            client: vec![bin.join("supervisorctl").into()],
        });
    }
    let want = |f: &str| args.only.is_empty() || args.only.iter().any(|o| o == f);
    let mut tables: Vec<(String, Table)> = Vec::new();
    if want("1") {
        eprintln!("figure 1: daemonize ({rounds} rounds)");
        let (start, stop) = figures::daemonize(&tools, rounds);
        tables.push(("1".into(), start));
        tables.push(("1".into(), stop));
    }
    if want("2") {
        eprintln!("figure 2: supervisor scale");
        let ns: Vec<usize> = if args.quick {
            vec![1, 10, 100]
        } else {
            vec![1, 100, 1000]
        };
        let idle = std::time::Duration::from_secs(if args.quick { 5 } else { 30 });
        let scale_rounds = if args.quick { 1 } else { 3 };
        let mut results = Vec::new();
        for &n in &ns {
            for round in 0..scale_rounds {
                for (k, kind) in kinds.iter().enumerate() {
                    eprintln!("  {} N={n}", kind.name);
                    let mut s = supervisors::Scale::default();
                    // Idle once per (N, supervisor): a counter that should read 0.
                    let idle = if round == 0 {
                        idle
                    } else {
                        std::time::Duration::ZERO
                    };
                    supervisors::scale_round(kind, n, idle, &mut s);
                    results.push((n, k, s));
                }
            }
        }
        let scale = supervisors::scale_tables(&kinds, &ns, &results);
        let n_scale = scale.len();
        for (i, t) in scale.into_iter().enumerate() {
            tables.push((if i + 1 == n_scale { "5" } else { "2" }.into(), t));
        }
        let svg_path = args.out.with_file_name("benchmarks-scale.svg");
        if let Some(dir) = svg_path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&svg_path, supervisors::scale_svg(&kinds, &ns, &results));
    }
    if want("3") {
        let sups = figures::restart_supervisors(&tools, &kinds);
        for mode in [Crash::ExitAtOnce, Crash::Sigkill] {
            eprintln!("figure 3: crash to restart");
            tables.push((
                "3".into(),
                figures::crash_to_restart(&tools, &sups, mode, restarts),
            ));
        }
    }
    if want("4") {
        eprintln!("figure 4: log capture");
        let (mbps, cpu) = figures::log_capture(&tools, &kinds, capture_bytes, capture_rounds);
        tables.push(("4".into(), mbps));
        tables.push(("4".into(), cpu));
    }

    if want("6") {
        eprintln!("figure 6: interactive latency");
        let n = if args.quick { 5 } else { 20 };
        tables.push(("6".into(), supervisors::interactive(&kinds, n)));
    }

    if want("7") {
        if let Some(py) = &tools.venv_python {
            eprintln!("figure 7: event listeners");
            let n = if args.quick { 500 } else { 5000 };
            let idle = std::time::Duration::from_secs(if args.quick { 5 } else { 30 });
            for t in supervisors::listener_events(&kinds, py, n, idle) {
                tables.push(("7".into(), t));
            }
        }
    }

    if want("8") {
        figure_8(&tools, &kinds, args.quick, &mut tables);
    }

    let linkage = std::process::Command::new("file")
        .arg("-L")
        .arg(&tools.warden)
        .output()
        .map(|o| {
            let t = String::from_utf8_lossy(&o.stdout);
            if t.contains("static") {
                "static"
            } else {
                "dynamically linked"
            }
            .to_string()
        })
        .unwrap_or_default();
    let binary = format!("`{}` ({linkage})", tools.warden.display());
    tables.sort_by(|a, b| a.0.cmp(&b.0)); // stable: figure order, then as measured
    let doc = render(&tables, args.quick, &binary);
    if let Some(dir) = args.out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&args.out, doc) {
        eprintln!("warden-bench: write {}: {e}", args.out.display());
        std::process::exit(1);
    }
    eprintln!("wrote {}", args.out.display());
}

/// Figure 8: a `/metrics` scrape with 1000 programs, and log capture with
/// timestamps on and off (warden supervise only).
fn figure_8(
    tools: &Tools,
    kinds: &[supervisors::Kind],
    quick: bool,
    tables: &mut Vec<(String, Table)>,
) {
    let Some(warden) = kinds.iter().find(|k| k.name == "warden supervise") else {
        return;
    };
    eprintln!("figure 8: metrics scrape, timestamped capture");
    let n = if quick { 100 } else { 1000 };
    tables.push((
        "8".into(),
        observe::metrics_scrape(warden, n, if quick { 5 } else { 20 }),
    ));
    let bytes: u64 = if quick { 64 << 20 } else { 512 << 20 };
    tables.push((
        "8".into(),
        observe::capture_timestamps(tools, warden, bytes, if quick { 1 } else { 3 }),
    ));
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

fn render(tables: &[(String, Table)], quick: bool, binary: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ =
        writeln!(
        s,
        "Generated by `bench/run` (`warden-bench`){}: every tool does the same work in one run, \
         the tools alternating round by round. Medians with min and max; the ratio is \
         warden's median over the peer's (below 1 means warden is faster, or for \
         throughput, above 1 means warden moves more). A benchmark, not a test.\n",
        if quick { " in --quick mode (few rounds, smaller sizes)" } else { "" }
    );
    let _ = writeln!(
        s,
        "Machine: {}. warden binary: {binary}. Pidfiles and logs on tmpfs.\n",
        machine()
    );
    let _ = writeln!(s, "![supervisor scale](benchmarks-scale.svg)\n");
    for (fig, t) in tables {
        let _ = writeln!(s, "## Figure {fig}. {}\n", t.title);
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
        match (warden, t.target_value) {
            (Some(w), Some(target)) => {
                let met = if t.lower_is_better {
                    w <= target
                } else {
                    w >= target
                };
                let verdict = if met { "met" } else { "**missed**" };
                let _ = writeln!(
                    s,
                    "\nwarden's median: {} {}: target {verdict}.\n",
                    fmt(Some(w)),
                    t.unit
                );
            }
            _ => s.push('\n'),
        }
    }
    s
}
