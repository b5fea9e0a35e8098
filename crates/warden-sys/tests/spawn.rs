//! `warden_sys::spawn::spawn` on real processes: the process group exists when
//! it returns, the privilege drop is complete, signal state is clean in the
//! child and restored in the parent.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use warden_sys::process::{self, ExitStatus};
use warden_sys::spawn::{spawn, ChildCredentials, SpawnRequest};
use warden_sys::{fd, signal, Pid, Signal};

const T: Duration = Duration::from_secs(10);

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Spawns `argv` (argv[0] an absolute path) with stdout and stderr into a pipe.
fn run(argv: &[&str], creds: Option<&ChildCredentials>) -> (Pid, File) {
    let argv: Vec<CString> = argv.iter().map(|a| c(a)).collect();
    let null = File::open("/dev/null").unwrap();
    let (r, w) = fd::pipe_cloexec().unwrap();
    let pid = spawn(&SpawnRequest {
        program: &argv[0],
        argv: &argv,
        envp: &[c("PATH=/usr/bin:/bin")],
        directory: None,
        umask: None,
        stdin: null.as_fd(),
        stdout: w.as_fd(),
        stderr: w.as_fd(),
        credentials: creds,
        death_signal: None,
        cgroup_procs: None,
    })
    .unwrap();
    (pid, File::from(r))
}

/// Polls `cond` until it gives a value or `T` passes (`None` then).
fn poll<V>(mut cond: impl FnMut() -> Option<V>) -> Option<V> {
    let deadline = Instant::now() + T;
    loop {
        if let Some(v) = cond() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Reaps `pid` within `T`, killing it if it is still there then.
fn reap(pid: Pid) -> ExitStatus {
    poll(|| process::try_wait(pid).unwrap()).unwrap_or_else(|| {
        let _ = signal::kill_process(pid, Signal::from_raw(9).unwrap());
        panic!(
            "pid {pid} still running after {T:?}: {:?}",
            process::wait(pid)
        );
    })
}

fn status_field(pid: Pid, key: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.trim().to_string())
        })
}

#[test]
fn a_group_kill_right_after_spawn_cannot_miss() {
    let kill = Signal::from_raw(9).unwrap();
    for round in 0..100 {
        let (pid, _out) = run(&["/bin/sleep", "100"], None);
        let sent = signal::kill_process_group(pid, kill);
        if sent.is_err() {
            let _ = signal::kill_process(pid, kill);
        }
        let st = reap(pid);
        assert!(sent.is_ok(), "round {round}: killpg {pid}: {sent:?}");
        assert!(
            matches!(st, ExitStatus::Signaled { signal: 9, .. }),
            "round {round}: {st}"
        );
    }
}

#[test]
fn signal_state_is_clean_in_the_child_and_restored_in_the_parent() {
    let own = || std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let field = |s: &str, k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
            .unwrap()
    };
    // Blocked in this thread only: the test harness's other threads are unaffected.
    signal::block(Signal::from_raw(10).unwrap()).unwrap();
    let before = field(&own(), "SigBlk:");
    assert_ne!(before, "0000000000000000");
    let (pid, mut out) = run(&["/bin/grep", "^Sig", "/proc/self/status"], None);
    assert_eq!(
        field(&own(), "SigBlk:"),
        before,
        "the parent's mask is back"
    );
    let mut text = String::new();
    out.read_to_string(&mut text).unwrap();
    assert_eq!(reap(pid), ExitStatus::Code(0), "{text}");
    assert_eq!(field(&text, "SigBlk:"), "0000000000000000", "{text}");
    assert_eq!(field(&text, "SigIgn:"), "0000000000000000", "{text}");
}

#[test]
fn children_drop_to_the_given_credentials_completely() {
    if process::geteuid() != 0 {
        return; // the drop needs root
    }
    let nobody = ChildCredentials {
        uid: 65534,
        gid: 65534,
        groups: vec![65534],
    };
    let (pid, _out) = run(&["/bin/sleep", "100"], Some(&nobody));
    let ran = poll(|| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c == "sleep\n")
            .then_some(())
    });
    assert!(ran.is_some(), "sleep never ran");
    let uid = status_field(pid, "Uid");
    let gid = status_field(pid, "Gid");
    let groups = status_field(pid, "Groups");
    let _ = signal::kill_process(pid, Signal::from_raw(9).unwrap());
    reap(pid);
    let words = |s: Option<String>| {
        s.unwrap()
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(words(uid), ["65534"; 4]);
    assert_eq!(words(gid), ["65534"; 4]);
    assert_eq!(groups.as_deref(), Some("65534"));
}

#[test]
fn a_failed_spawn_is_reported_on_stderr_with_status_127() {
    let (pid, mut out) = run(&["/nonexistent/program-wrdn"], None);
    let mut text = String::new();
    out.read_to_string(&mut text).unwrap();
    assert_eq!(reap(pid), ExitStatus::Code(127));
    assert_eq!(
        text,
        "supervisor: couldn't exec /nonexistent/program-wrdn: ENOENT\n\
         supervisor: child process was not spawned\n"
    );
}

/// Where the SIGUSR1 handler below writes the pid of the process running it.
static HANDLER_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn record_pid(_: libc::c_int) {
    let pid = std::process::id().to_ne_bytes();
    let fd = HANDLER_PIPE.load(std::sync::atomic::Ordering::SeqCst);
    // SAFETY: write(2) from a live 4-byte buffer; async-signal-safe.
    unsafe { libc::write(fd, pid.as_ptr().cast(), pid.len()) };
}

/// A signal sent to the child right after `spawn` (before it reset its
/// signal state) meets the default disposition, never the parent's handler.
#[test]
fn a_signal_right_after_spawn_never_runs_the_parents_handler_in_the_child() {
    use std::os::fd::AsRawFd;
    let (r, w) = fd::pipe_cloexec().unwrap();
    HANDLER_PIPE.store(w.as_raw_fd(), std::sync::atomic::Ordering::SeqCst);
    // SAFETY: a zeroed sigaction with a handler that only makes
    // async-signal-safe calls; the old action is not requested.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = record_pid as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&raw mut sa.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &raw const sa, std::ptr::null_mut()),
            0
        );
    }
    let usr1 = Signal::from_raw(libc::SIGUSR1).unwrap();
    for round in 0..50 {
        let (pid, _out) = run(&["/bin/sleep", "100"], None);
        signal::kill_process(pid, usr1).unwrap();
        let Some(st) = poll(|| process::try_wait(pid).unwrap()) else {
            let _ = signal::kill_process(pid, Signal::from_raw(9).unwrap());
            reap(pid);
            panic!("round {round}: the child survived SIGUSR1: the parent's handler ran in it");
        };
        assert!(
            matches!(st, ExitStatus::Signaled { signal, .. } if signal == libc::SIGUSR1),
            "round {round}: {st}"
        );
    }
    HANDLER_PIPE.store(-1, std::sync::atomic::Ordering::SeqCst);
    drop(w);
    let mut ran_in = Vec::new();
    File::from(r).read_to_end(&mut ran_in).unwrap();
    let pids: Vec<u32> = ran_in
        .chunks(4)
        .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    assert!(pids.is_empty(), "the parent's handler ran in {pids:?}");
}

/// Spawns `sleep 30` with the given death signal and cgroup.
fn sleeper(death_signal: Option<Signal>, cgroup_procs: Option<std::os::fd::BorrowedFd<'_>>) -> Pid {
    let argv = [c("/bin/sleep"), c("30")];
    let null = File::open("/dev/null").unwrap();
    spawn(&SpawnRequest {
        program: &argv[0],
        argv: &argv,
        envp: &[],
        directory: None,
        umask: None,
        stdin: null.as_fd(),
        stdout: null.as_fd(),
        stderr: null.as_fd(),
        credentials: None,
        death_signal,
        cgroup_procs,
    })
    .unwrap()
}

/// PR_SET_PDEATHSIG follows the thread that forked: when the thread that
/// spawned the child ends, the child gets the death signal.
#[test]
fn the_death_signal_comes_when_the_spawning_thread_dies() {
    let kill = Signal::from_raw(9).unwrap();
    let pid = std::thread::scope(|s| {
        s.spawn(|| {
            let pid = sleeper(Some(kill), None);
            // The thread must outlive the child's prctl (before exec): a
            // thread that died before it leaves nothing to notice.
            let execd = || {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            };
            let _ = poll(|| execd().then_some(()));
            pid
        })
        .join()
        .unwrap()
    });
    assert!(
        matches!(reap(pid), ExitStatus::Signaled { signal: 9, .. }),
        "the child outlived the thread that spawned it"
    );
}

/// A child given a cgroup's `cgroup.procs` is in that cgroup from before
/// exec, and `cgroup::kill_all` kills it.
#[test]
fn a_child_joins_the_given_cgroup() {
    let Some(own) = warden_sys::cgroup::own_dir() else {
        return; // no cgroup v2 here
    };
    let dir = own.join(format!("warden-sys-test-{}", std::process::id()));
    if warden_sys::cgroup::create(&dir).is_err() {
        return; // not delegated to us
    }
    let procs = warden_sys::cgroup::open_procs(&dir).unwrap();
    let pid = sleeper(None, Some(procs.as_fd()));
    // The child joins before exec; spawn returns right after the fork.
    let inside = poll(|| {
        let pids = warden_sys::cgroup::pids(&dir);
        (!pids.is_empty()).then_some(pids)
    })
    .unwrap_or_default();
    warden_sys::cgroup::kill_all(&dir).unwrap();
    let st = reap(pid);
    warden_sys::cgroup::remove(&dir);
    assert_eq!(inside, [pid.as_raw()]);
    assert!(matches!(st, ExitStatus::Signaled { signal: 9, .. }), "{st}");
}
