//! The figures where a supervisor has real work: a shutdown with programs
//! slow to stop, a crash storm under the default policy, and 5000 programs.
//! warden supervise beside supervisord, on the same generated config.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use warden_xmlrpc::Value;

use crate::figures::{Check, Row, Table};
use crate::peers::{Peer, PeerKind, PeerRunning, Prog};
use crate::supervisors::{children, rpc, rpc_bytes, start, Kind};
use crate::util::{
    kill_child, manager_cpu_seconds, manager_rss_mib, poll_until, run_limited, Scratch,
};

/// How many programs are in `state`, of how many (one `getAllProcessInfo`).
fn count_in(sock: &Path, state: &str) -> Option<(usize, usize)> {
    let v = rpc(sock, "supervisor.getAllProcessInfo", &[]).ok()?;
    let a = v.as_array()?;
    let k = a
        .iter()
        .filter(|p| {
            p.as_struct()
                .and_then(|s| s.get("statename"))
                .and_then(Value::as_str)
                == Some(state)
        })
        .count();
    Some((k, a.len()))
}

/// Shuts the server down and waits (bounded) for it; then kills what is
/// left, by pid.
fn finish(r: crate::supervisors::Running, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    let asked = rpc(&r.sock, "supervisor.shutdown", &[]).is_ok();
    let mut child = r.child;
    let gone = asked && poll_until(limit, || child.try_wait().ok().flatten().is_some());
    let took = t.elapsed();
    kill_child(child);
    gone.then_some(took)
}

/// A program that takes `ms` to exit on SIGTERM (and exits 0 then); with
/// its handler set, it creates a file named by its pid in the directory
/// given as its argument (RUNNING comes before that with startsecs=0, and
/// a SIGTERM before the handler would end it at once). Perl
/// (perl-base is in every Debian system): a shell would need a child to
/// wait on, which a SIGTERM racing its start would leave behind.
fn slow_term_script(dir: &Path, ms: u64) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("slow-term");
    let body = format!(
        "#!/usr/bin/perl\n$SIG{{TERM}} = sub {{ select(undef, undef, undef, {}); exit 0 }};\n\
         open(my $f, '>', \"$ARGV[0]/$$\") and close($f);\nsleep 1 while 1;\n",
        ms as f64 / 1000.0
    );
    std::fs::write(&path, body).ok()?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).ok()?;
    Some(path.display().to_string())
}

/// A peer running `n` slow-stopping programs, once all run.
fn start_slow_peer(p: &Peer, script: &str, n: usize) -> Option<(PeerRunning, Scratch)> {
    let ready = Scratch::new("ready");
    let dir = ready.0.display().to_string();
    let progs: Vec<Prog> = (0..n)
        .map(|i| Prog::new(&format!("s{i:04}"), &[script, &dir]))
        .collect();
    let r = p.start("slow", &progs)?;
    let up = poll_until(Duration::from_secs(60), || ready_count(&ready.0) >= n)
        && poll_until(Duration::from_secs(60), || r.running() == Some(n));
    up.then_some((r, ready))
}

/// How many slow programs have their SIGTERM handler set.
fn ready_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, Iterator::count)
}

/// `n` separate programs (each its own group, all of one priority, as
/// people write them; not one `numprocs` group, which supervisord would
/// stop all at once).
fn slow_body(script: &str, ready: &Scratch, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[program:s{i:04}]\ncommand={script} {}\nautorestart=true\nstartsecs=0\n\
                 stopwaitsecs=10\nstdout_logfile=NONE\nstderr_logfile=NONE\n\n",
                ready.0.display()
            )
        })
        .collect()
}

/// Slow shutdown: `shutdown` with N programs running that each take
/// `ms` to exit on SIGTERM, until the supervisor is gone; beside the
/// stop of one such program (`stopProcess(name, wait=true)`), whose time
/// bounds what a parallel shutdown can do.
pub fn slow_shutdown(
    kinds: &[Kind],
    peers: &[Peer],
    ns: &[usize],
    ms: u64,
    rounds: usize,
) -> Table {
    let scratch = crate::util::Scratch::new("slow");
    let Some(script) = slow_term_script(&scratch.0, ms) else {
        return empty("slow shutdown: cannot write the script");
    };
    let mut rows: Vec<Row> = Vec::new();
    let row_name = |kind: &Kind, what: &str| format!("{} {what}", kind.name);
    let peer_row = |p: &Peer, what: &str| format!("{} {what}", p.name);
    let mut groups: Vec<String> = vec!["one stop".into()];
    groups.extend(ns.iter().map(|n| format!("shutdown N={n}")));
    for g in &groups {
        let names = kinds
            .iter()
            .map(|k| row_name(k, g))
            .chain(peers.iter().map(|p| peer_row(p, g)));
        for name in names {
            let mut r = Row::new(&name);
            r.group.clone_from(g);
            rows.push(r);
        }
    }
    let row = |rows: &mut Vec<Row>, name: String| -> usize {
        rows.iter().position(|r| r.tool == name).unwrap_or(0)
    };
    for _ in 0..rounds {
        for kind in kinds {
            // One program: its stop, then (as cleanup) a shutdown.
            let ready = Scratch::new("ready");
            if let Some(r) = start(kind, "slow1", &slow_body(&script, &ready, 1)) {
                if poll_until(Duration::from_secs(30), || ready_count(&ready.0) >= 1)
                    && poll_until(Duration::from_secs(30), || {
                        count_in(&r.sock, "RUNNING") == Some((1, 1))
                    })
                {
                    let t = Instant::now();
                    let ok = rpc(
                        &r.sock,
                        "supervisor.stopProcess",
                        &["s0000".into(), Value::Boolean(true)],
                    )
                    .is_ok();
                    if ok {
                        let i = row(&mut rows, row_name(kind, "one stop"));
                        rows[i].samples.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                }
                finish(r, Duration::from_secs(30));
            }
            for &n in ns {
                let ready = Scratch::new("ready");
                let Some(r) = start(kind, "slowN", &slow_body(&script, &ready, n)) else {
                    continue;
                };
                let up = poll_until(Duration::from_secs(60), || ready_count(&ready.0) >= n)
                    && poll_until(Duration::from_secs(60), || {
                        count_in(&r.sock, "RUNNING") == Some((n, n))
                    });
                let took = finish(r, Duration::from_secs(60 + n as u64));
                if let (true, Some(t)) = (up, took) {
                    let i = row(&mut rows, row_name(kind, &format!("shutdown N={n}")));
                    rows[i].samples.push(t.as_secs_f64() * 1e3);
                }
            }
        }
    }
    // pm2 and circus through their own clients (whose start-up, 0.2 to
    // 0.5 s, is in their figures); one round, for the run's budget.
    for _ in 0..rounds.min(1) {
        for p in peers {
            if let Some((r, _ready)) = start_slow_peer(p, &script, 1) {
                if let Some(t) = r.call(&["stop", "s0000"]) {
                    let i = row(&mut rows, peer_row(p, "one stop"));
                    rows[i].samples.push(t.as_secs_f64() * 1e3);
                }
            }
            for &n in ns {
                if let Some((mut r, _ready)) = start_slow_peer(p, &script, n) {
                    if let Some(t) = r.shutdown() {
                        let i = row(&mut rows, peer_row(p, &format!("shutdown N={n}")));
                        rows[i].samples.push(t.as_secs_f64() * 1e3);
                    }
                }
            }
        }
    }
    let mut checks = Vec::new();
    if let (Some(w), Some(&top)) = (
        kinds.iter().find(|k| k.name.starts_with("warden")),
        ns.last(),
    ) {
        checks.push(Check::of(
            &rows,
            &format!("warden shutdown of {top} slow programs ≤ 2× one program's stop"),
            &row_name(w, &format!("shutdown N={top}")),
            &row_name(w, "one stop"),
            2.0,
        ));
    }
    for r in &mut rows {
        let peer = peers.iter().find(|p| r.tool.starts_with(&p.name));
        r.note = match (peer.map(|p| p.kind), r.group == "one stop") {
            (None, true) => "`stopProcess(name, wait=true)` over XML-RPC".into(),
            (None, false) => "`shutdown` over XML-RPC until the supervisor is gone".into(),
            (Some(PeerKind::Pm2), true) => "`pm2 stop NAME` (kill_signal=SIGTERM)".into(),
            (Some(PeerKind::Pm2), false) => "`pm2 kill` until the daemon is gone".into(),
            (Some(PeerKind::Circus), true) => "`circusctl stop NAME`".into(),
            (Some(PeerKind::Circus), false) => "`circusctl quit` until circusd is gone".into(),
        };
    }
    Table {
        title: format!(
            "Slow shutdown: N programs (separate [program:x] sections, one priority) running, \
             each taking {ms} ms to exit on SIGTERM (startsecs=0)"
        ),
        unit: "ms",
        lower_is_better: true,
        target: "shutdown of the largest N ≤ 2× one program's stop".into(),
        target_value: None,
        not_measured: "programs that do exit on SIGTERM (none needs SIGKILL after \
                       stopwaitsecs), no output captured; not one numprocs group (which \
                       supervisord stops all at once), not stop-all by group, not \
                       programs that ignore the signal. pm2 and circus rows (one round) include \
                       their client's start-up (0.2 to 0.5 s)"
            .into(),
        checks,
        rows,
    }
}

/// Crash storm: `n` programs that exit at once (`false`), autorestart and
/// the default startsecs=1 and startretries=3, so each goes BACKOFF and
/// then FATAL. The supervisor's CPU seconds from its start until
/// `window` has passed, and the time until all are FATAL (polled every
/// 250 ms, the polls' cost included in the CPU).
/// `rounds` rounds, the tools alternating within each (one sample per
/// tool and round: a single 30 s window is at the mercy of the machine).
pub fn crash_storm(kinds: &[Kind], n: usize, window: Duration, rounds: usize) -> Vec<Table> {
    let body = format!(
        "[program:c]\ncommand=false\nprocess_name=c%(process_num)04d\nnumprocs={n}\n\
         autorestart=true\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
    );
    let mut cpu_rows: Vec<Row> = kinds.iter().map(|k| Row::new(k.name)).collect();
    let mut fatal_rows: Vec<Row> = kinds.iter().map(|k| Row::new(k.name)).collect();
    for _ in 0..rounds.max(1) {
        for (i, kind) in kinds.iter().enumerate() {
            let (cpu, fatal) = (&mut cpu_rows[i], &mut fatal_rows[i]);
            let t0 = Instant::now();
            let Some(r) = start(kind, "storm", &body) else {
                cpu.note = "did not start".into();
                continue;
            };
            let pid = r.pid();
            let mut all_fatal = None;
            while t0.elapsed() < window {
                if all_fatal.is_none() && count_in(&r.sock, "FATAL") == Some((n, n)) {
                    all_fatal = Some(t0.elapsed());
                }
                std::thread::sleep(
                    Duration::from_millis(250).min(window.saturating_sub(t0.elapsed())),
                );
            }
            if let Some(c) = manager_cpu_seconds(pid) {
                cpu.samples.push(c);
            }
            match all_fatal {
                Some(t) => fatal.samples.push(t.as_secs_f64()),
                None => fatal.note = format!("not all FATAL within {} s", window.as_secs()),
            }
            finish(r, Duration::from_secs(30));
        }
    }
    let mut checks = Vec::new();
    if let (Some(w), Some(s)) = (
        kinds.iter().find(|k| k.name.starts_with("warden")),
        kinds.iter().find(|k| k.name.starts_with("supervisord")),
    ) {
        checks.push(Check::of(
            &cpu_rows,
            "crash storm CPU: warden ≤ 1/5 of supervisord's",
            w.name,
            s.name,
            0.2,
        ));
    }
    let secs = window.as_secs_f64();
    vec![
        Table {
            title: format!(
                "Crash storm: {n} programs that exit at once (autorestart, default \
                 startsecs=1, startretries=3): CPU seconds of the supervisor over its first \
                 {secs:.0} s"
            ),
            unit: "s",
            lower_is_better: true,
            target: "≤ 1/5 of supervisord's".into(),
            target_value: None,
            not_measured: "the supervisor's own CPU from its start (config parsing included) \
                           with a status poll every 250 ms until all are FATAL; not the \
                           crashing programs' CPU, not a storm without a give-up"
                .into(),
            checks,
            rows: cpu_rows,
        },
        Table {
            title: format!("Crash storm: time until all {n} programs are FATAL"),
            unit: "s",
            lower_is_better: true,
            target: String::new(),
            target_value: None,
            not_measured: "set by the policy (back-off 1 + 2 + 3 s), polled every 250 ms; \
                           a supervisor that gives up sooner than the policy says would \
                           look faster here"
                .into(),
            checks: Vec::new(),
            rows: fatal_rows,
        },
    ]
}

/// Scale: `n` programs (`sleep`, output not captured so that every
/// supervisor fits in the fd limit), start-all time, RSS, `status`
/// latency. Each supervisor gets `cap` to have all running; past it the
/// row says so and the rest is skipped.
pub fn scale_big(kinds: &[Kind], n: usize, cap: Duration) -> Vec<Table> {
    let body = format!(
        "[program:p]\ncommand=sleep 100000\nprocess_name=p%(process_num)05d\nnumprocs={n}\n\
         autorestart=true\nstartsecs=0\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
    );
    let (mut up_rows, mut rss_rows, mut st_rows) = (Vec::new(), Vec::new(), Vec::new());
    for kind in kinds {
        let (mut up, mut rss, mut st) = (
            Row::new(kind.name),
            Row::new(kind.name),
            Row::new(kind.name),
        );
        let t0 = Instant::now();
        match start(kind, "big", &body) {
            None => up.note = "did not start".into(),
            Some(r) => {
                let pid = r.pid();
                let left = || cap.saturating_sub(t0.elapsed());
                let ok = poll_until(left(), || children(pid) >= n)
                    && poll_until(left(), || {
                        // Cheap (children) first; the big answer sparingly.
                        std::thread::sleep(Duration::from_millis(200));
                        count_in(&r.sock, "RUNNING").is_some_and(|(k, t)| k == n && t == n)
                    });
                if ok {
                    up.samples.push(t0.elapsed().as_secs_f64());
                    if let Some(m) = manager_rss_mib(pid) {
                        rss.samples.push(m);
                    }
                    for _ in 0..3 {
                        let mut c = Command::new(&kind.client[0]);
                        c.args(&kind.client[1..])
                            .arg("-c")
                            .arg(&r.conf)
                            .arg("status");
                        match run_limited(&mut c, cap) {
                            Some((t, _, _)) => st.samples.push(t.as_secs_f64() * 1e3),
                            None => {
                                st.note = format!("no answer within {} s", cap.as_secs());
                                break;
                            }
                        }
                    }
                    // The raw call too, for the server's own share.
                    let t = Instant::now();
                    if rpc_bytes(&r.sock, "supervisor.getAllProcessInfo", &[]).is_ok() {
                        st.note = format!(
                            "raw getAllProcessInfo: {:.0} ms",
                            t.elapsed().as_secs_f64() * 1e3
                        );
                    }
                } else {
                    let running = children(pid);
                    up.note = format!(
                        "not all {n} RUNNING within the {} s budget ({running} spawned)",
                        cap.as_secs()
                    );
                    rss.note = "skipped: start-up not finished".into();
                    st.note = "skipped: start-up not finished".into();
                }
                finish(r, Duration::from_secs(60));
            }
        }
        up_rows.push(up);
        rss_rows.push(rss);
        st_rows.push(st);
    }
    let not = "output not captured (stdout/stderr_logfile=NONE) so that every supervisor \
               fits in the fd limit; one round; not the captured-output case of the scale \
               figure";
    vec![
        Table {
            title: format!("Scale to {n} programs: time until all are RUNNING (startsecs=0)"),
            unit: "s",
            lower_is_better: true,
            target: String::new(),
            target_value: None,
            not_measured: not.into(),
            checks: Vec::new(),
            rows: up_rows,
        },
        Table {
            title: format!("Scale to {n} programs: RSS of the supervisor"),
            unit: "MiB",
            lower_is_better: true,
            target: String::new(),
            target_value: None,
            not_measured: not.into(),
            checks: Vec::new(),
            rows: rss_rows,
        },
        Table {
            title: format!("Scale to {n} programs: `status` latency (warden ctl / supervisorctl)"),
            unit: "ms",
            lower_is_better: true,
            target: String::new(),
            target_value: None,
            not_measured: not.into(),
            checks: Vec::new(),
            rows: st_rows,
        },
    ]
}

fn empty(title: &str) -> Table {
    Table {
        title: title.into(),
        unit: "",
        lower_is_better: true,
        target: String::new(),
        target_value: None,
        not_measured: String::new(),
        checks: Vec::new(),
        rows: Vec::new(),
    }
}
