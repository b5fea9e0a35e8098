//! supervisord's event listener protocol, byte for byte: event names and
//! payloads, the header line, and what a listener writes on its stdout.
//! Pure functions and a pure parser, tested below.

use warden_types::ProcessState;

use crate::core::events::EventKind;
use crate::core::logs::py_text;

/// The event type name and payload supervisord gives an event, or `None`
/// for events listeners never see (plain output without
/// `*_events_enabled`).
#[must_use]
pub fn describe(kind: &EventKind) -> Option<(String, String)> {
    Some(match kind {
        EventKind::ProcessState {
            group,
            name,
            from,
            to,
            tries,
            expected,
            pid,
            ..
        } => {
            let mut payload = format!("processname:{name} groupname:{group} from_state:{from}");
            let pid = pid.unwrap_or(0);
            match to {
                ProcessState::Starting | ProcessState::Backoff => {
                    payload.push_str(&format!(" tries:{tries}"));
                }
                ProcessState::Exited => payload.push_str(&format!(
                    " expected:{} pid:{pid}",
                    i32::from(expected.unwrap_or(true))
                )),
                ProcessState::Running | ProcessState::Stopping | ProcessState::Stopped => {
                    payload.push_str(&format!(" pid:{pid}"));
                }
                ProcessState::Fatal | ProcessState::Unknown => {}
            }
            (format!("PROCESS_STATE_{to}"), payload)
        }
        EventKind::GroupAdded(g) => ("PROCESS_GROUP_ADDED".into(), format!("groupname:{g}\n")),
        EventKind::GroupRemoved(g) => ("PROCESS_GROUP_REMOVED".into(), format!("groupname:{g}\n")),
        EventKind::SupervisorState(s) => (
            if *s == warden_types::SupervisorState::Running {
                "SUPERVISOR_STATE_CHANGE_RUNNING"
            } else {
                "SUPERVISOR_STATE_CHANGE_STOPPING"
            }
            .into(),
            String::new(),
        ),
        EventKind::ProcessOutput {
            group,
            name,
            pid,
            channel,
            data,
            log_event: true,
        } => (
            format!("PROCESS_LOG_{}", channel.name().to_uppercase()),
            format!(
                "processname:{name} groupname:{group} pid:{pid} channel:{}\n{}",
                channel.name(),
                py_text(data)
            ),
        ),
        // warden's own, with no supervisord event type
        EventKind::ProcessOutput { .. } | EventKind::ProcessHealth { .. } => return None,
        EventKind::ProcessCommunication {
            group,
            name,
            pid,
            channel,
            data,
        } => (
            format!("PROCESS_COMMUNICATION_{}", channel.name().to_uppercase()),
            format!(
                "processname:{name} groupname:{group} pid:{pid}\n{}",
                py_text(data)
            ),
        ),
        EventKind::RemoteCommunication { kind, data } => (
            "REMOTE_COMMUNICATION".into(),
            format!("type:{kind}\n{data}"),
        ),
        EventKind::Tick { period, when } => (format!("TICK_{period}"), format!("when:{when}")),
    })
}

/// Whether a pool subscribed to `subscription` (a concrete or abstract type
/// name) receives events named `event`.
#[must_use]
pub fn subscribes(subscription: &str, event: &str) -> bool {
    const ABSTRACT: [&str; 6] = [
        "PROCESS_STATE",
        "PROCESS_LOG",
        "PROCESS_COMMUNICATION",
        "SUPERVISOR_STATE_CHANGE",
        "TICK",
        "PROCESS_GROUP",
    ];
    subscription == "EVENT"
        || subscription == event
        || (ABSTRACT.contains(&subscription)
            && event
                .strip_prefix(subscription)
                .is_some_and(|rest| rest.starts_with('_')))
}

/// The header line and payload supervisord writes to a listener. `len` is
/// the payload's length in characters, as Python counts a `str`.
#[must_use]
pub fn envelope(
    server: &str,
    serial: u64,
    pool: &str,
    pool_serial: u64,
    event: &str,
    payload: &str,
) -> String {
    format!(
        "ver:3.0 server:{server} serial:{serial} pool:{pool} poolserial:{pool_serial} eventname:{event} len:{}\n{payload}",
        payload.chars().count()
    )
}

/// A listener's protocol state (supervisord's `EventListenerStates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerState {
    /// Waiting for `READY`.
    Acknowledged,
    /// May be sent an event.
    Ready,
    /// Handling an event.
    Busy,
    /// Broke the protocol: no more events.
    Unknown,
}

impl ListenerState {
    /// supervisord's name for the state.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ListenerState::Acknowledged => "ACKNOWLEDGED",
            ListenerState::Ready => "READY",
            ListenerState::Busy => "BUSY",
            ListenerState::Unknown => "UNKNOWN",
        }
    }
}

/// What a listener's output meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// The state changed (logged at debug level as `NAME: FROM -> TO`).
    Changed(ListenerState, ListenerState),
    /// A complete `RESULT`: its data (`OK` accepts the event).
    Result(Vec<u8>),
    /// A `RESULT` line whose length is not a number.
    BadResultLine(String),
}

/// supervisord's `PEventListenerDispatcher.handle_listener_state_change`
/// for one listener: feed it what the listener writes, read what happened.
#[derive(Debug, Clone)]
pub struct Parser {
    /// The state.
    pub state: ListenerState,
    buffer: Vec<u8>,
    result_len: Option<usize>,
    result: Vec<u8>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

const READY: &[u8] = b"READY\n";
const RESULT: &[u8] = b"RESULT ";

impl Parser {
    /// A freshly started listener: ACKNOWLEDGED.
    #[must_use]
    pub fn new() -> Parser {
        Parser {
            state: ListenerState::Acknowledged,
            buffer: Vec::new(),
            result_len: None,
            result: Vec::new(),
        }
    }

    fn change(&mut self, to: ListenerState, out: &mut Vec<Signal>) {
        out.push(Signal::Changed(self.state, to));
        self.state = to;
    }

    /// The event was sent: BUSY (supervisord sets it without a log line).
    pub fn sent(&mut self) {
        self.state = ListenerState::Busy;
    }

    /// Feeds output; returns what it meant, in order.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Signal> {
        self.buffer.extend_from_slice(data);
        let mut out = Vec::new();
        while !self.buffer.is_empty() {
            match self.state {
                ListenerState::Unknown => {
                    self.buffer.clear();
                }
                ListenerState::Acknowledged => {
                    if self.buffer.len() < READY.len() {
                        break; // not enough to decide
                    }
                    if self.buffer.starts_with(READY) {
                        self.buffer.drain(..READY.len());
                        self.change(ListenerState::Ready, &mut out);
                    } else {
                        self.buffer.clear();
                        self.change(ListenerState::Unknown, &mut out);
                    }
                }
                ListenerState::Ready => {
                    // spurious output: supervisord is strict about it
                    self.buffer.clear();
                    self.change(ListenerState::Unknown, &mut out);
                }
                ListenerState::Busy => match self.result_len {
                    None => {
                        let Some(pos) = self.buffer.iter().position(|b| *b == b'\n') else {
                            break; // no whole result line yet
                        };
                        let line: Vec<u8> = self.buffer.drain(..=pos).collect();
                        let line = &line[..line.len() - 1];
                        let len = line
                            .get(RESULT.len()..)
                            .and_then(|l| std::str::from_utf8(l).ok())
                            .and_then(py_int);
                        match len {
                            Some(n) => {
                                self.result_len = Some(n);
                                if n == 0 {
                                    self.finish(&mut out);
                                }
                            }
                            None => {
                                out.push(Signal::BadResultLine(py_text(line)));
                                self.buffer.clear();
                                self.change(ListenerState::Unknown, &mut out);
                            }
                        }
                    }
                    Some(n) => {
                        let need = n - self.result.len();
                        let take = need.min(self.buffer.len());
                        self.result.extend(self.buffer.drain(..take));
                        if self.result.len() == n {
                            self.finish(&mut out);
                        } else {
                            break;
                        }
                    }
                },
            }
        }
        out
    }

    fn finish(&mut self, out: &mut Vec<Signal>) {
        let result = std::mem::take(&mut self.result);
        self.result_len = None;
        out.push(Signal::Result(result));
        self.change(ListenerState::Acknowledged, out);
    }

    /// The result handler failed: UNKNOWN.
    pub fn broken(&mut self) -> Vec<Signal> {
        let mut out = Vec::new();
        self.change(ListenerState::Unknown, &mut out);
        out
    }
}

/// Python's `int()` of the text after `RESULT ` (surrounding whitespace, a
/// sign, digits), as a length.
fn py_int(s: &str) -> Option<usize> {
    let t = s.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || b == b'_') || t.starts_with('_') {
        return None;
    }
    t.replace('_', "").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;
    use warden_types::Channel;

    #[test]
    fn payloads_are_supervisords() {
        let st = |to, pid, tries, expected| EventKind::ProcessState {
            group: "g".into(),
            name: "p".into(),
            from: ProcessState::Starting,
            to,
            tries,
            expected,
            pid,
            spawnerr: None,
        };
        let cases = [
            (
                st(ProcessState::Running, Some(42), 0, None),
                "PROCESS_STATE_RUNNING",
                "processname:p groupname:g from_state:STARTING pid:42",
            ),
            (
                st(ProcessState::Backoff, None, 2, None),
                "PROCESS_STATE_BACKOFF",
                "processname:p groupname:g from_state:STARTING tries:2",
            ),
            (
                st(ProcessState::Exited, Some(7), 0, Some(false)),
                "PROCESS_STATE_EXITED",
                "processname:p groupname:g from_state:STARTING expected:0 pid:7",
            ),
            (
                st(ProcessState::Fatal, None, 4, None),
                "PROCESS_STATE_FATAL",
                "processname:p groupname:g from_state:STARTING",
            ),
            (
                st(ProcessState::Stopped, None, 0, None),
                "PROCESS_STATE_STOPPED",
                "processname:p groupname:g from_state:STARTING pid:0",
            ),
            (
                EventKind::GroupAdded("g".into()),
                "PROCESS_GROUP_ADDED",
                "groupname:g\n",
            ),
            (
                EventKind::Tick {
                    period: 60,
                    when: 120,
                },
                "TICK_60",
                "when:120",
            ),
            (
                EventKind::RemoteCommunication {
                    kind: "t".into(),
                    data: "d".into(),
                },
                "REMOTE_COMMUNICATION",
                "type:t\nd",
            ),
            (
                EventKind::ProcessOutput {
                    group: "g".into(),
                    name: "p".into(),
                    pid: 3,
                    channel: Channel::Stderr,
                    data: Rc::from(&b"x\xff"[..]),
                    log_event: true,
                },
                "PROCESS_LOG_STDERR",
                "processname:p groupname:g pid:3 channel:stderr\nUndecodable: b'x\\xff'",
            ),
        ];
        for (kind, name, payload) in cases {
            assert_eq!(
                describe(&kind),
                Some((name.to_string(), payload.to_string()))
            );
        }
    }

    #[test]
    fn abstract_types_cover_their_subtypes() {
        assert!(subscribes("EVENT", "TICK_5"));
        assert!(subscribes("PROCESS_STATE", "PROCESS_STATE_RUNNING"));
        assert!(subscribes("TICK", "TICK_3600"));
        assert!(subscribes("TICK_5", "TICK_5"));
        assert!(!subscribes("TICK_5", "TICK_60"));
        assert!(!subscribes(
            "PROCESS_STATE_RUNNING",
            "PROCESS_STATE_RUNNINGX"
        ));
        assert!(!subscribes("PROCESS_LOG", "PROCESS_STATE_RUNNING"));
    }

    #[test]
    fn the_header_counts_characters() {
        assert_eq!(
            envelope("supervisor", 3, "l", 1, "TICK_5", "é"),
            "ver:3.0 server:supervisor serial:3 pool:l poolserial:1 eventname:TICK_5 len:1\né"
        );
    }

    #[test]
    fn a_listener_conversation() {
        use ListenerState::*;
        let mut p = Parser::new();
        assert_eq!(p.feed(b"REA"), vec![]);
        assert_eq!(p.feed(b"DY\n"), vec![Signal::Changed(Acknowledged, Ready)]);
        p.sent();
        assert_eq!(p.feed(b"RESULT 2\nO"), vec![]);
        assert_eq!(
            p.feed(b"KREADY\n"),
            vec![
                Signal::Result(b"OK".to_vec()),
                Signal::Changed(Busy, Acknowledged),
                Signal::Changed(Acknowledged, Ready),
            ]
        );
        // spurious output while READY
        assert_eq!(p.feed(b"x"), vec![Signal::Changed(Ready, Unknown)]);
        assert_eq!(p.feed(b"READY\n"), vec![]);
    }

    #[test]
    fn a_bad_result_line_is_unknown() {
        let mut p = Parser::new();
        p.feed(b"READY\n");
        p.sent();
        assert_eq!(
            p.feed(b"RESULT x\n"),
            vec![
                Signal::BadResultLine("RESULT x".into()),
                Signal::Changed(ListenerState::Busy, ListenerState::Unknown)
            ]
        );
        let mut q = Parser::new();
        assert_eq!(
            q.feed(b"HELLO!\n"),
            vec![Signal::Changed(
                ListenerState::Acknowledged,
                ListenerState::Unknown
            )]
        );
    }
}
