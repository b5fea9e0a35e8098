//! `GET /metrics`: the supervisor and its processes in the Prometheus text
//! exposition format (version 0.0.4).
//!
//! Everything is read when a scrape asks: the states and counters from the
//! engine (one `AllProcessInfo`), CPU time and resident memory from `/proc`
//! (on a blocking thread, off the engine's). Nothing samples in between, so
//! an unscraped supervisor pays nothing.
//!
//! CPU and memory of a process include its descendants: every live process
//! whose parent chain leads to it, and the orphans of its tree. The
//! supervisor is a child subreaper (or PID 1), so a descendant whose parent
//! exited becomes the supervisor's child; it is counted with the program
//! whose `SUPERVISOR_GROUP_NAME` and `SUPERVISOR_PROCESS_NAME` it inherited
//! (read from `/proc/PID/environ`, for such orphans only). The CPU time of
//! descendants that have exited is not counted.

use std::collections::HashMap;
use std::fmt::Write as _;

use warden_types::ProcessState;

use crate::core::api::{ProcessView, Reply, Request};
use crate::core::handle::Handle;

/// CPU seconds and resident bytes of a process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// User + system CPU seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

/// One live process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, Copy)]
struct Stat {
    ppid: i32,
    ticks: u64,
    rss_pages: u64,
}

/// A program's main process: pid, group and name.
type Root = (i32, String, String);

/// The program an orphan of the supervisor was started by, from the
/// environment it inherited.
fn owner_of(pid: i32) -> Option<(String, String)> {
    let env = procfs::process::Process::new(pid).ok()?.environ().ok()?;
    let get = |k: &str| {
        Some(
            env.get(std::ffi::OsStr::new(k))?
                .to_string_lossy()
                .into_owned(),
        )
    };
    Some((
        get("SUPERVISOR_GROUP_NAME")?,
        get("SUPERVISOR_PROCESS_NAME")?,
    ))
}

/// The usage of each root in `roots` with its descendants and its orphans
/// (see the [module docs](self)), and of the calling process alone (the
/// supervisor).
fn read_usage(roots: &[Root]) -> (HashMap<i32, Usage>, Usage) {
    let tps = procfs::ticks_per_second().max(1) as f64;
    let page = procfs::page_size();
    let mut stats: HashMap<i32, Stat> = HashMap::new();
    if let Ok(all) = procfs::process::all_processes() {
        for p in all.flatten() {
            if let Ok(s) = p.stat() {
                stats.insert(
                    s.pid,
                    Stat {
                        ppid: s.ppid,
                        ticks: s.utime + s.stime,
                        rss_pages: s.rss,
                    },
                );
            }
        }
    }
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (pid, s) in &stats {
        children.entry(s.ppid).or_default().push(*pid);
    }
    // the supervisor's children that are no program's main process: the
    // orphans, each with the program it came from
    let by_name: HashMap<(&str, &str), i32> = roots
        .iter()
        .map(|(pid, g, n)| ((g.as_str(), n.as_str()), *pid))
        .collect();
    let mut orphans: HashMap<i32, Vec<i32>> = HashMap::new();
    for &pid in children.get(&me).into_iter().flatten() {
        if roots.iter().any(|r| r.0 == pid) {
            continue;
        }
        if let Some((g, n)) = owner_of(pid) {
            if let Some(root) = by_name.get(&(g.as_str(), n.as_str())) {
                orphans.entry(*root).or_default().push(pid);
            }
        }
    }
    let usage_of = |root: i32| {
        let (mut ticks, mut pages) = (0u64, 0u64);
        let mut todo = vec![root];
        todo.extend(orphans.get(&root).into_iter().flatten());
        let mut seen = std::collections::HashSet::new();
        while let Some(pid) = todo.pop() {
            if !seen.insert(pid) {
                continue;
            }
            if let Some(s) = stats.get(&pid) {
                ticks += s.ticks;
                pages += s.rss_pages;
                todo.extend(children.get(&pid).into_iter().flatten());
            }
        }
        Usage {
            cpu_seconds: ticks as f64 / tps,
            rss_bytes: pages * page,
        }
    };
    let per_root = roots
        .iter()
        .filter(|r| r.0 > 0)
        .map(|r| (r.0, usage_of(r.0)))
        .collect();
    let own = stats.get(&me).map_or(Usage::default(), |s| Usage {
        cpu_seconds: s.ticks as f64 / tps,
        rss_bytes: s.rss_pages * page,
    });
    (per_root, own)
}

/// A label value with `\`, `"` and newlines escaped.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes one metric family: HELP, TYPE, then a sample per process.
fn family(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    procs: &[ProcessView],
    value: impl Fn(&ProcessView) -> Option<String>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for p in procs {
        if let Some(v) = value(p) {
            let _ = writeln!(
                out,
                "{name}{{group=\"{}\",name=\"{}\"}} {v}",
                esc(&p.group),
                esc(&p.name)
            );
        }
    }
}

/// The exposition text for the supervisor (`started`: its start, Unix
/// seconds); `None` when the engine is gone.
pub async fn render(handle: &Handle, started: i64) -> Option<String> {
    let state = match handle.call(Request::State).await.ok()? {
        Ok(Reply::State(s)) => s,
        _ => return None,
    };
    let procs = match handle.call(Request::AllProcessInfo).await.ok()? {
        Ok(Reply::Processes(p)) => p,
        _ => return None,
    };
    let roots: Vec<Root> = procs
        .iter()
        .filter(|p| p.pid > 0)
        .map(|p| (p.pid, p.group.clone(), p.name.clone()))
        .collect();
    let (usage, own) = tokio::task::spawn_blocking(move || read_usage(&roots))
        .await
        .unwrap_or_default();
    let now = procs.first().map_or_else(crate::web::unix_now, |p| p.now);
    let mut out = String::with_capacity(256 + procs.len() * 1024);
    let _ = writeln!(
        out,
        "# HELP warden_supervisor_state The supervisor's state (1 for the current one).\n\
         # TYPE warden_supervisor_state gauge\n\
         warden_supervisor_state{{state=\"{}\"}} 1",
        state.name()
    );
    let _ = writeln!(
        out,
        "# HELP warden_supervisor_uptime_seconds Seconds since the supervisor started.\n\
         # TYPE warden_supervisor_uptime_seconds gauge\n\
         warden_supervisor_uptime_seconds {}",
        (crate::web::unix_now() - started).max(0)
    );
    let _ = writeln!(
        out,
        "# HELP warden_supervisor_resident_memory_bytes The supervisor's own resident memory.\n\
         # TYPE warden_supervisor_resident_memory_bytes gauge\n\
         warden_supervisor_resident_memory_bytes {}",
        own.rss_bytes
    );
    let _ = writeln!(
        out,
        "# HELP warden_process_state A process's state (1 for its current one).\n\
         # TYPE warden_process_state gauge"
    );
    for p in &procs {
        let _ = writeln!(
            out,
            "warden_process_state{{group=\"{}\",name=\"{}\",state=\"{}\"}} 1",
            esc(&p.group),
            esc(&p.name),
            p.state.name()
        );
    }
    let running = |p: &ProcessView| p.state == ProcessState::Running;
    family(
        &mut out,
        "warden_process_up",
        "gauge",
        "1 while the process is RUNNING.",
        &procs,
        |p| Some(u8::from(running(p)).to_string()),
    );
    family(
        &mut out,
        "warden_process_pid",
        "gauge",
        "The live pid, 0 if none.",
        &procs,
        |p| Some(p.pid.to_string()),
    );
    family(
        &mut out,
        "warden_process_uptime_seconds",
        "gauge",
        "Seconds since the last start while RUNNING, else 0.",
        &procs,
        |p| {
            Some(
                if running(p) {
                    (now - p.start).max(0)
                } else {
                    0
                }
                .to_string(),
            )
        },
    );
    family(
        &mut out,
        "warden_process_starts_total",
        "counter",
        "Spawns since the supervisor started.",
        &procs,
        |p| Some(p.starts.to_string()),
    );
    family(
        &mut out,
        "warden_process_restarts_total",
        "counter",
        "Spawns after the first one (automatic and requested restarts).",
        &procs,
        |p| Some(p.starts.saturating_sub(1).to_string()),
    );
    family(
        &mut out,
        "warden_process_exit_status",
        "gauge",
        "The last exit status (-1 after a signal, 0 before any exit).",
        &procs,
        |p| Some(p.exitstatus.to_string()),
    );
    family(
        &mut out,
        "warden_process_cpu_seconds_total",
        "counter",
        "User and system CPU seconds of the live process and its live descendants.",
        &procs,
        |p| usage.get(&p.pid).map(|u| format!("{:.2}", u.cpu_seconds)),
    );
    family(
        &mut out,
        "warden_process_resident_memory_bytes",
        "gauge",
        "Resident memory of the live process and its live descendants.",
        &procs,
        |p| usage.get(&p.pid).map(|u| u.rss_bytes.to_string()),
    );
    family(
        &mut out,
        "warden_process_health_failures",
        "gauge",
        "Failed health checks in a row (0: healthy); only for processes with healthcheck=.",
        &procs,
        |p| p.health_failures.map(|n| n.to_string()),
    );
    family(
        &mut out,
        "warden_process_log_bytes_total",
        "counter",
        "Bytes written to the process's log files.",
        &procs,
        |p| Some(p.log_bytes.to_string()),
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_counts_its_descendants() {
        // a shell with a sleeping child of its own
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let kids = || {
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
                .collect::<Vec<_>>()
        };
        // the child has run exec: it is `sleep`, no longer a copy of the shell
        let execed = || {
            kids().first().is_some_and(|k| {
                std::fs::read_to_string(format!("/proc/{k}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !execed() && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        let sleeper = kids();
        let (u, _) = read_usage(&[(pid, "g".into(), "n".into())]);
        let (none, own) = read_usage(&[]);
        let sh = procfs::process::Process::new(pid).unwrap().stat().unwrap();
        let sl = sleeper
            .first()
            .map(|s| procfs::process::Process::new(*s).unwrap().stat().unwrap());
        for s in &sleeper {
            if let Some(s) = warden_sys::Pid::from_raw(*s) {
                let _ = warden_sys::signal::kill_process(s, warden_sys::Signal::KILL);
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(none.is_empty());
        assert!(own.rss_bytes > 0);
        let sl = sl.expect("the shell started its child");
        // read at slightly different times: the tree holds more than the
        // shell alone, and at least the child's share
        let page = procfs::page_size();
        let tree = u[&pid].rss_bytes;
        assert!(
            tree > sh.rss * page,
            "tree {tree} vs shell {}",
            sh.rss * page
        );
        assert!(
            tree > sl.rss * page,
            "tree {tree} vs child {}",
            sl.rss * page
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
