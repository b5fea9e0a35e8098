//! The readiness channel: a close-on-exec pipe created before the first fork.
//!
//! The daemon writes framed messages; the original process blocks on the read
//! end and exits only on a verdict:
//!
//! | message         | meaning                                                    |
//! |-----------------|------------------------------------------------------------|
//! | `P` + pid       | the final daemon process exists (sent first)               |
//! | `R`             | ready: the original process exits 0                        |
//! | `F` + code, msg | failed: the original process prints msg and exits code     |
//! | `E`             | about to `exec`: from now on EOF means exec succeeded      |
//! | `A` + pid       | the pidfile is held by another daemon                      |
//!
//! **EOF before `R` (or after anything but `E`) is a failure**, never a
//! success: the daemon died or closed the channel without reporting. Because
//! the original process made itself a child subreaper before forking, the
//! daemon is its child once the intermediate process is gone, so it can reap
//! it and report the real exit status or signal.
//!
//! With a notify socket (systemd protocol, `READY=1`), readiness after `exec`
//! comes from the program itself instead of from `R`.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use warden_sys::process::{ExitStatus, PidFd};
use warden_sys::{fd, process, Pid, Signal};

use crate::error::exit;

/// A message from the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    Pid(Pid),
    Ready,
    Failed {
        code: i32,
        message: String,
    },
    /// The pidfile is held by another daemon (its pid, 0 if unknown).
    AlreadyRunning(i32),
    ExecArmed,
}

impl Message {
    fn encode(&self) -> Vec<u8> {
        let (tag, body): (u8, Vec<u8>) = match self {
            Message::Pid(pid) => (b'P', pid.as_raw().to_le_bytes().to_vec()),
            Message::Ready => (b'R', Vec::new()),
            Message::ExecArmed => (b'E', Vec::new()),
            Message::AlreadyRunning(pid) => (b'A', pid.to_le_bytes().to_vec()),
            Message::Failed { code, message } => {
                let mut b = code.to_le_bytes().to_vec();
                b.extend_from_slice(message.as_bytes());
                (b'F', b)
            }
        };
        let mut out = Vec::with_capacity(5 + body.len());
        out.push(tag);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Decodes one message from the front of `buf`, returning it and its length.
    fn decode(buf: &[u8]) -> Option<Result<(Message, usize), String>> {
        if buf.len() < 5 {
            return None;
        }
        let len = u32::from_le_bytes(buf[1..5].try_into().ok()?) as usize;
        if len > 64 * 1024 {
            return Some(Err(format!("oversized message ({len} bytes)")));
        }
        let body = buf.get(5..5 + len)?;
        let msg = match (buf[0], body.len()) {
            (b'P', 4) => {
                let raw = i32::from_le_bytes(body.try_into().ok()?);
                match Pid::from_raw(raw) {
                    Some(pid) => Message::Pid(pid),
                    None => return Some(Err(format!("invalid pid {raw}"))),
                }
            }
            (b'R', 0) => Message::Ready,
            (b'A', 4) => Message::AlreadyRunning(i32::from_le_bytes(body.try_into().ok()?)),
            (b'E', 0) => Message::ExecArmed,
            (b'F', n) if n >= 4 => Message::Failed {
                code: i32::from_le_bytes(body[..4].try_into().ok()?),
                message: String::from_utf8_lossy(&body[4..]).into_owned(),
            },
            (tag, _) => return Some(Err(format!("unknown message tag {tag:#x}"))),
        };
        Some(Ok((msg, 5 + len)))
    }
}

/// The daemon's end of the channel.
#[derive(Debug)]
pub(crate) struct Reporter(std::fs::File);

impl Reporter {
    pub(crate) fn new(fd: OwnedFd) -> Self {
        Reporter(std::fs::File::from(fd))
    }

    pub(crate) fn send(&mut self, msg: &Message) {
        // If the original process is gone there is nobody to tell; the daemon
        // goes on (a failure is still followed by its exit).
        let _ = self.0.write_all(&msg.encode());
    }

    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// How the original process's wait ended.
#[derive(Debug)]
pub(crate) enum Verdict {
    Ready {
        pid: Option<Pid>,
    },
    /// The exec'd program ended (reaped) before it was ready.
    Ended {
        pid: Pid,
        status: ExitStatus,
        message: String,
    },
    AlreadyRunning {
        pid: Option<Pid>,
    },
    Failed {
        code: i32,
        message: String,
    },
}

/// What the original process waits with.
pub(crate) struct Waiter {
    pub(crate) pipe: OwnedFd,
    pub(crate) notify: Option<NotifySocket>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) pidfile: Option<PathBuf>,
}

struct State {
    pidfile: Option<PathBuf>,
    pid: Option<Pid>,
    pidfd: Option<PidFd>,
    exec_armed: bool,
    pipe_open: bool,
    buf: Vec<u8>,
}

impl Waiter {
    /// Waits for the verdict. `intermediate` is the first child, already reaped
    /// by the caller with `first_status`.
    pub(crate) fn wait(self, first_status: ExitStatus) -> Verdict {
        let deadline = self.timeout.map(|t| Instant::now() + t);
        let mut st = State {
            pidfile: self.pidfile.clone(),
            pid: None,
            pidfd: None,
            exec_armed: false,
            pipe_open: true,
            buf: Vec::new(),
        };
        let mut pipe = std::fs::File::from(self.pipe);
        let notify_mode = self.notify.is_some();
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                let t = self.timeout.unwrap_or_default();
                return fail_and_kill(
                    &st,
                    exit::READY_TIMEOUT,
                    format!("not ready after {} s", t.as_secs_f64()),
                );
            }
            let mut fds = Vec::new();
            if st.pipe_open {
                fds.push(pipe.as_fd());
            }
            if let Some(n) = &self.notify {
                fds.push(n.sock.as_fd());
            }
            let polled_pidfd = st.pidfd.is_some();
            if let Some(p) = &st.pidfd {
                fds.push(p.as_fd());
            }
            let ready = match fd::poll_read(&fds, left) {
                Ok(r) => r,
                Err(e) => {
                    return fail_and_kill(
                        &st,
                        exit::INIT_FAILED,
                        format!("waiting for the daemon: {e}"),
                    )
                }
            };
            let mut i = 0;
            if st.pipe_open {
                let r = ready[i];
                i += 1;
                if r.readable || r.hangup {
                    if let Some(v) = read_channel(&mut st, &mut pipe, notify_mode, first_status) {
                        return v;
                    }
                }
            }
            if let Some(n) = &self.notify {
                let r = ready[i];
                i += 1;
                if r.readable {
                    let mut dgram = [0u8; 4096];
                    if let Ok(n) = n.sock.recv(&mut dgram) {
                        let text = String::from_utf8_lossy(&dgram[..n]);
                        if text.lines().any(|l| l == "READY=1") {
                            return Verdict::Ready { pid: st.pid };
                        }
                    }
                }
            }
            if polled_pidfd {
                let r = ready[i];
                if r.readable || r.hangup {
                    // It died: first take everything it wrote (a failure
                    // report, or "exec armed" then EOF) before judging.
                    while st.pipe_open {
                        let more = fd::poll_read(&[pipe.as_fd()], Some(Duration::ZERO))
                            .is_ok_and(|r| r[0].readable || r[0].hangup);
                        if !more {
                            break;
                        }
                        if let Some(v) = read_channel(&mut st, &mut pipe, notify_mode, first_status)
                        {
                            return v;
                        }
                    }
                    return died_before_ready(&mut st, first_status);
                }
            }
        }
    }
}

/// The original process's notification socket, in a private 0700 directory
/// that is removed with it.
pub(crate) struct NotifySocket {
    pub(crate) sock: UnixDatagram,
    pub(crate) path: PathBuf,
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Reads once from the channel and decodes what arrived. Returns a verdict
/// when one is reached: a message, or EOF (success only after "exec armed",
/// unless readiness comes from the notify socket).
fn read_channel(
    st: &mut State,
    pipe: &mut std::fs::File,
    notify_mode: bool,
    first_status: ExitStatus,
) -> Option<Verdict> {
    let mut chunk = [0u8; 4096];
    match pipe.read(&mut chunk) {
        Ok(0) | Err(_) => {
            st.pipe_open = false;
            if st.exec_armed && !notify_mode {
                return Some(Verdict::Ready { pid: st.pid });
            }
            if !st.exec_armed {
                return Some(died_before_ready(st, first_status));
            }
            None
        }
        Ok(n) => {
            st.buf.extend_from_slice(&chunk[..n]);
            while let Some(decoded) = Message::decode(&st.buf) {
                let (msg, used) = match decoded {
                    Ok(x) => x,
                    Err(e) => {
                        return Some(fail_and_kill(
                            st,
                            exit::INIT_FAILED,
                            format!("readiness channel: {e}"),
                        ))
                    }
                };
                st.buf.drain(..used);
                match msg {
                    Message::Pid(pid) => {
                        st.pid = Some(pid);
                        st.pidfd = PidFd::open(pid).ok();
                    }
                    Message::Ready => return Some(Verdict::Ready { pid: st.pid }),
                    Message::ExecArmed => st.exec_armed = true,
                    Message::Failed { code, message } => {
                        reap_after_failure(st);
                        return Some(Verdict::Failed { code, message });
                    }
                    Message::AlreadyRunning(pid) => {
                        reap_after_failure(st);
                        return Some(Verdict::AlreadyRunning {
                            pid: Pid::from_raw(pid),
                        });
                    }
                }
            }
            None
        }
    }
}

/// The daemon ended (or closed the channel) without reporting ready.
fn died_before_ready(st: &mut State, first_status: ExitStatus) -> Verdict {
    let Some(pid) = st.pid else {
        // The intermediate process failed before the daemon existed.
        let code = match first_status.shell_code() {
            0 => exit::SETUP_FAILED,
            c => c,
        };
        return Verdict::Failed {
            code,
            message: format!("the daemon process was not created ({first_status})"),
        };
    };
    // EOF: wait briefly for the process itself to end (it closes the pipe as it
    // exits); a daemon that closed the channel but lives on is killed, since it
    // was never reported ready.
    let gone = st
        .pidfd
        .as_ref()
        .is_none_or(|p| p.wait_exit(Duration::from_secs(2)).unwrap_or(true));
    if !gone {
        return fail_and_kill(
            st,
            exit::INIT_FAILED,
            "the daemon closed its readiness channel without reporting ready".into(),
        );
    }
    let status = process::wait(pid).ok();
    let (code, how) = match status {
        Some(ExitStatus::Code(0)) => (exit::INIT_FAILED, "exit status 0".to_string()),
        Some(s) => (s.shell_code(), s.to_string()),
        None => (exit::INIT_FAILED, "unknown status".to_string()),
    };
    // Nothing may be left behind by a start that failed.
    if let Some(path) = &st.pidfile {
        crate::pidfile::remove_if_stale(path, pid);
    }
    let what = if st.exec_armed {
        "the program"
    } else {
        "the daemon"
    };
    let message = format!("{what} (pid {pid}) ended before it was ready: {how}");
    match status {
        Some(status) if st.exec_armed => Verdict::Ended {
            pid,
            status,
            message,
        },
        _ => Verdict::Failed { code, message },
    }
}

/// After an `F` message the daemon exits at once: reap it, so that nothing is
/// left running (or as a zombie) when the original process returns.
fn reap_after_failure(st: &State) {
    if let (Some(pid), Some(pidfd)) = (st.pid, &st.pidfd) {
        if !pidfd.wait_exit(Duration::from_secs(2)).unwrap_or(true) {
            let _ = pidfd.send_signal(Signal::KILL);
        }
        let _ = process::wait(pid);
    }
}

fn fail_and_kill(st: &State, code: i32, message: String) -> Verdict {
    if let (Some(pid), Some(pidfd)) = (st.pid, &st.pidfd) {
        let _ = pidfd.send_signal(Signal::TERM);
        if !pidfd.wait_exit(Duration::from_secs(1)).unwrap_or(true) {
            let _ = pidfd.send_signal(Signal::KILL);
        }
        let _ = process::wait(pid);
        if let Some(path) = &st.pidfile {
            crate::pidfile::remove_if_stale(path, pid);
        }
    }
    Verdict::Failed { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_split_reads_wait_for_more() {
        let msgs = [
            Message::Pid(Pid::from_raw(42).unwrap()),
            Message::ExecArmed,
            Message::Failed {
                code: 3,
                message: "chdir /nope: No such file".into(),
            },
            Message::AlreadyRunning(7),
            Message::Ready,
        ];
        let mut wire = Vec::new();
        for m in &msgs {
            wire.extend(m.encode());
        }
        let mut got = Vec::new();
        let mut at = 0;
        while let Some(r) = Message::decode(&wire[at..]) {
            let (m, used) = r.unwrap();
            got.push(m);
            at += used;
        }
        assert_eq!(got, msgs);
        // A truncated frame is "need more", not an error.
        let one = Message::Failed {
            code: 1,
            message: "x".into(),
        }
        .encode();
        assert!(Message::decode(&one[..one.len() - 1]).is_none());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Message::decode(b"Z\0\0\0\0").unwrap().is_err());
        assert!(Message::decode(b"P\x04\0\0\0\0\0\0\0").unwrap().is_err());
    }
}
