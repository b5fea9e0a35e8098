//! Program output to the local syslog (`stdout_syslog` / `stderr_syslog`),
//! and the main log when it is `logfile=syslog`.
//!
//! supervisord 4 hands each chunk to Python's `syslog.syslog`, which opens
//! the log as glibc does by default: ident `supervisord` (its argv\[0\]),
//! facility `user`, priority `info`, no pid, over the `/dev/log` datagram
//! socket. Each line of a chunk (trailing newlines dropped) is one message,
//! `PROCESS line`, so a datagram reads
//! `<14>Dec  2 07:57:40 supervisord: web hello`. warden sends the same
//! datagrams. Hand-written: the syslog crates add a host name and pid to
//! the header, which glibc leaves out on the local socket.
//!
//! The main log (`logfile=syslog`) goes the same way, one message per line
//! of a log record formatted as in the file, newline included, as
//! supervisord's `SyslogHandler` formats it:
//! `<14>Dec  2 07:57:40 supervisord: 2026-12-02 07:57:40,123 INFO spawned: ...\n`.
//!
//! Deliberate difference: a chunk that is not UTF-8 is sent with the bad
//! bytes replaced (supervisord drops it with a traceback on its stderr).
//!
//! The socket is `$WARDEN_SYSLOG_SOCKET` when set (read once), else
//! `/dev/log`. Sends never block the supervisor: when the socket is absent
//! or full, the message is dropped, as glibc does without `LOG_CONS`.
//!
//! `WARDEN_SYSLOG_SOCKET=-` sends the lines to the supervisor's standard
//! output instead, as `PROCESS | line` (for a container, whose runtime
//! collects stdout and stamps the lines itself); those writes wait for the
//! reader, as any log file's do.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::OnceLock;

/// `LOG_USER | LOG_INFO`.
const PRIORITY: u8 = 14;

/// The ident Python's `syslog` derives from supervisord's argv\[0\].
const IDENT: &str = "supervisord";

struct Local {
    socket: Option<UnixDatagram>,
    path: PathBuf,
}

fn local() -> &'static Local {
    static LOCAL: OnceLock<Local> = OnceLock::new();
    LOCAL.get_or_init(|| {
        let path = std::env::var_os("WARDEN_SYSLOG_SOCKET")
            .map_or_else(|| PathBuf::from("/dev/log"), PathBuf::from);
        let socket = UnixDatagram::unbound()
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .ok();
        Local { socket, path }
    })
}

/// Sends one chunk of `name`'s output, one message per line.
pub fn send(name: &str, data: &[u8]) {
    if to_stdout() {
        use std::io::Write as _;
        let mut text = String::new();
        for line in messages(data) {
            text.push_str(&format!("{name} | {line}\n"));
        }
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return;
    }
    for line in messages(data) {
        datagram(&format!("{name} {line}"));
    }
}

/// Sends one record of the main log (`logfile=syslog`): each of its lines
/// as a message, `stamp LEVEL line` with the newline supervisord's format
/// ends in. With `WARDEN_SYSLOG_SOCKET=-` the lines go to standard output
/// as they would to the file, unless `echoed` already put them there.
pub fn send_main(stamp: &str, level: &str, msg: &str, echoed: bool) {
    if to_stdout() {
        if !echoed {
            use std::io::Write as _;
            let _ = std::io::stdout()
                .lock()
                .write_all(format!("{stamp} {level} {msg}\n").as_bytes());
        }
        return;
    }
    for line in msg.trim_end_matches('\n').split('\n') {
        datagram(&format!("{stamp} {level} {line}\n"));
    }
}

/// One datagram, `<PRI>TIME supervisord: message`, dropped when the socket
/// is absent or full.
fn datagram(message: &str) {
    let l = local();
    let Some(socket) = &l.socket else {
        return;
    };
    let msg = format!("<{PRIORITY}>{} {IDENT}: {message}", timestamp());
    let _ = socket.send_to(msg.as_bytes(), &l.path);
}

/// `WARDEN_SYSLOG_SOCKET=-` (read once).
fn to_stdout() -> bool {
    static STDOUT: OnceLock<bool> = OnceLock::new();
    *STDOUT.get_or_init(|| std::env::var_os("WARDEN_SYSLOG_SOCKET").is_some_and(|v| v == "-"))
}

/// supervisord's split: `text.rstrip('\n').split('\n')`.
fn messages(data: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    text.trim_end_matches('\n')
        .split('\n')
        .map(str::to_string)
        .collect()
}

/// glibc's header time, `%h %e %T` in local time.
fn timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let t = warden_sys::clock::local_time(i64::try_from(now.as_secs()).unwrap_or(0));
    let month = MONTHS[usize::try_from(t.month.saturating_sub(1)).unwrap_or(0) % 12];
    format!(
        "{month} {:>2} {:02}:{:02}:{:02}",
        t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_as_supervisord_does() {
        assert_eq!(messages(b"a\n\nb\n\n"), ["a", "", "b"]);
        assert_eq!(messages(b"\n"), [""]);
        assert_eq!(messages(b"no newline"), ["no newline"]);
    }

    #[test]
    fn the_header_time_has_glibcs_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 15, "{t}");
        assert_eq!(&t[3..4], " ");
        assert_eq!(&t[9..10], ":");
    }
}
