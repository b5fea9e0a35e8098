//! Process and daemon state as supervisord puts them on the wire: the
//! `info` struct of `getProcessInfo` / `getAllProcessInfo`, the
//! `getState` struct, and the entries of the group/all result arrays.
//!
//! # The `description` field
//!
//! [`ProcessInfo::description`] follows supervisord's `_interpretProcessInfo`:
//!
//! - RUNNING: `pid N, uptime H:MM:SS` (Python `timedelta` text, so
//!   `1 day, 2:03:04` past a day; a negative uptime shows as `0:00:00`).
//! - FATAL / BACKOFF: the spawn error, or `unknown error (try "tail NAME")`.
//! - STOPPED / EXITED: the stop time as `strftime("%b %d %I:%M %p")` in local
//!   time, or `Not started` if the process never started.
//! - other states: empty.
//!
//! This crate has no time-zone code: the caller passes a closure that turns
//! the stop time (Unix seconds) into text. [`format_stop_time`] produces the
//! C-locale text from broken-down local time fields (e.g. from
//! `localtime_r`), so the closure is usually a one-liner around it.

use crate::fault::{Fault, FaultCode};
use crate::value::{Struct, Value};

pub use warden_types::{ProcessState, SupervisorState};

/// The `getState` result: `{statecode, statename}`.
pub fn supervisor_state_value(state: SupervisorState) -> Value {
    Value::Struct(
        Struct::new()
            .with("statecode", state.code())
            .with("statename", state.name()),
    )
}

/// Clamps a timestamp into the XML-RPC int range, as supervisord's
/// `capped_int` does (the year-2038 problem is part of the protocol).
pub fn capped_int(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(if value < 0 { i32::MIN } else { i32::MAX })
}

/// What a process's `description` is made of, borrowed (a server describes
/// a thousand processes per `status` without copying their names).
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The process name.
    pub name: &'a str,
    /// The state.
    pub state: ProcessState,
    /// The PID, or 0.
    pub pid: i32,
    /// Last start, Unix seconds.
    pub start: i64,
    /// Last stop, Unix seconds.
    pub stop: i64,
    /// The current time, Unix seconds.
    pub now: i64,
    /// The last spawn error, or empty.
    pub spawnerr: &'a str,
}

/// The `description` text of a process (see the [module docs](self));
/// `stop_time` formats the (capped) stop time, only for STOPPED/EXITED.
pub fn describe(f: &Facts<'_>, stop_time: impl FnOnce(i64) -> String) -> String {
    let start = capped_int(f.start);
    match f.state {
        ProcessState::Running => {
            let uptime = i64::from(capped_int(f.now)) - i64::from(start);
            let mut out = String::with_capacity(40);
            out.push_str("pid ");
            out.push_str(itoa::Buffer::new().format(f.pid));
            out.push_str(", uptime ");
            push_uptime(&mut out, uptime);
            out
        }
        ProcessState::Fatal | ProcessState::Backoff => {
            if f.spawnerr.is_empty() {
                format!("unknown error (try \"tail {}\")", f.name)
            } else {
                f.spawnerr.to_owned()
            }
        }
        ProcessState::Stopped | ProcessState::Exited => {
            if start == 0 {
                "Not started".to_owned()
            } else {
                stop_time(i64::from(capped_int(f.stop)))
            }
        }
        ProcessState::Starting | ProcessState::Stopping | ProcessState::Unknown => String::new(),
    }
}

/// What `getProcessInfo` reports about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The process name.
    pub name: String,
    /// The group name.
    pub group: String,
    /// Last start, Unix seconds (0 if never started). Capped on output.
    pub start: i64,
    /// Last stop, Unix seconds (0 if never stopped). Capped on output.
    pub stop: i64,
    /// The current time, Unix seconds. Capped on output.
    pub now: i64,
    /// The state.
    pub state: ProcessState,
    /// The last spawn error, or empty.
    pub spawnerr: String,
    /// The last exit status (0 if none; -1 after a stop by signal).
    pub exitstatus: i32,
    /// The stdout log path, or empty.
    pub stdout_logfile: String,
    /// The stderr log path, or empty.
    pub stderr_logfile: String,
    /// The PID, or 0.
    pub pid: i32,
}

impl ProcessInfo {
    /// The `description` text (see the [module docs](self)). `stop_time`
    /// formats the (capped) stop time in local time, only for STOPPED/EXITED.
    pub fn description(&self, stop_time: impl FnOnce(i64) -> String) -> String {
        describe(
            &Facts {
                name: &self.name,
                state: self.state,
                pid: self.pid,
                start: self.start,
                stop: self.stop,
                now: self.now,
                spawnerr: &self.spawnerr,
            },
            stop_time,
        )
    }

    /// The `info` struct, members in supervisord's order: `name`, `group`,
    /// `start`, `stop`, `now`, `state`, `statename`, `spawnerr`,
    /// `exitstatus`, `logfile`, `stdout_logfile`, `stderr_logfile`, `pid`,
    /// `description`.
    pub fn to_value(&self, stop_time: impl FnOnce(i64) -> String) -> Value {
        self.to_value_described(self.description(stop_time))
    }

    /// [`to_value`](Self::to_value) with a `description` the caller made
    /// (a server appends its own notes to it).
    pub fn to_value_described(&self, description: String) -> Value {
        Value::Struct(
            Struct::new()
                .with("name", self.name.as_str())
                .with("group", self.group.as_str())
                .with("start", capped_int(self.start))
                .with("stop", capped_int(self.stop))
                .with("now", capped_int(self.now))
                .with("state", self.state.code())
                .with("statename", self.state.name())
                .with("spawnerr", self.spawnerr.as_str())
                .with("exitstatus", self.exitstatus)
                .with("logfile", self.stdout_logfile.as_str())
                .with("stdout_logfile", self.stdout_logfile.as_str())
                .with("stderr_logfile", self.stderr_logfile.as_str())
                .with("pid", self.pid)
                .with("description", description),
        )
    }
}

impl ProcessInfo {
    /// Appends the `<value>` of [`to_value_described`](Self::to_value_described)
    /// as [`write_value`](crate::write::write_value) writes it, without
    /// building the [`Value`]: a `getAllProcessInfo` of many processes is
    /// written straight from the processes.
    pub fn write_described(&self, out: &mut String, description: &str) {
        use crate::write::{member_int, member_str};
        out.push_str("<value><struct>\n");
        member_str(out, "name", &self.name);
        member_str(out, "group", &self.group);
        member_int(out, "start", capped_int(self.start));
        member_int(out, "stop", capped_int(self.stop));
        member_int(out, "now", capped_int(self.now));
        member_int(out, "state", self.state.code());
        member_str(out, "statename", self.state.name());
        member_str(out, "spawnerr", &self.spawnerr);
        member_int(out, "exitstatus", self.exitstatus);
        member_str(out, "logfile", &self.stdout_logfile);
        member_str(out, "stdout_logfile", &self.stdout_logfile);
        member_str(out, "stderr_logfile", &self.stderr_logfile);
        member_int(out, "pid", self.pid);
        member_str(out, "description", description);
        out.push_str("</struct></value>\n");
    }
}

/// Python's `str(timedelta(seconds=n))` for whole seconds, negative shown as zero.
pub fn format_uptime(seconds: i64) -> String {
    let mut out = String::with_capacity(16);
    push_uptime(&mut out, seconds);
    out
}

/// [`format_uptime`] appended to `out`. A server describes every process
/// of a `status`, so this avoids the formatting machinery and temporaries.
fn push_uptime(out: &mut String, seconds: i64) {
    let s = seconds.max(0);
    let (days, rem) = (s / 86_400, s % 86_400);
    let mut num = itoa::Buffer::new();
    match days {
        0 => {}
        1 => out.push_str("1 day, "),
        d => {
            out.push_str(num.format(d));
            out.push_str(" days, ");
        }
    }
    out.push_str(num.format(rem / 3600));
    for part in [rem % 3600 / 60, rem % 60] {
        out.push(':');
        // two digits, as `{:02}`
        for digit in [part / 10, part % 10] {
            out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
        }
    }
}

/// `strftime("%b %d %I:%M %p")` in the C locale, from local-time fields:
/// `month` 1–12, `day` 1–31, `hour` 0–23, `minute` 0–59. E.g.
/// `format_stop_time(1, 2, 15, 4)` is `Jan 02 03:04 PM`.
pub fn format_stop_time(month: u32, day: u32, hour: u32, minute: u32) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .get(usize::try_from(month.saturating_sub(1)).unwrap_or(0))
        .copied()
        .unwrap_or("???");
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    let ampm = if hour < 12 { "AM" } else { "PM" };
    format!("{month} {day:02} {hour12:02}:{minute:02} {ampm}")
}

/// One entry of a group/all result array: `{name, group, status,
/// description}`, with status 80 and `OK` on success, or the fault's code and
/// string.
pub fn result_entry(name: &str, group: &str, outcome: &Result<(), Fault>) -> Value {
    let (status, description) = match outcome {
        Ok(()) => (FaultCode::Success.code(), "OK"),
        Err(f) => (f.code, f.string.as_str()),
    };
    Value::Struct(
        Struct::new()
            .with("name", name)
            .with("group", group)
            .with("status", status)
            .with("description", description),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(state: ProcessState) -> ProcessInfo {
        ProcessInfo {
            name: "web".into(),
            group: "grp".into(),
            start: 1_700_000_000,
            stop: 1_700_000_100,
            now: 1_700_003_723,
            state,
            spawnerr: String::new(),
            exitstatus: 0,
            stdout_logfile: "/tmp/out".into(),
            stderr_logfile: String::new(),
            pid: 4242,
        }
    }

    fn never(_: i64) -> String {
        panic!("stop time must not be formatted here")
    }

    #[test]
    fn state_tables() {
        let t: Vec<(i32, &str)> = ProcessState::ALL
            .iter()
            .map(|s| (s.code(), s.name()))
            .collect();
        assert_eq!(
            t,
            [
                (0, "STOPPED"),
                (10, "STARTING"),
                (20, "RUNNING"),
                (30, "BACKOFF"),
                (40, "STOPPING"),
                (100, "EXITED"),
                (200, "FATAL"),
                (1000, "UNKNOWN")
            ]
        );
        assert_eq!(ProcessState::from_code(40), Some(ProcessState::Stopping));
        assert_eq!(ProcessState::from_code(1), None);
        assert_eq!(
            supervisor_state_value(SupervisorState::Shutdown),
            Value::Struct(
                Struct::new()
                    .with("statecode", -1)
                    .with("statename", "SHUTDOWN")
            )
        );
        assert_eq!(SupervisorState::Fatal.code(), 2);
        assert_eq!(SupervisorState::Restarting.name(), "RESTARTING");
    }

    #[test]
    fn written_straight_as_the_value_tree_is_written() {
        for state in ProcessState::ALL {
            let mut p = info(state);
            p.name = "a<b&c>".into();
            p.spawnerr = "bad & worse".into();
            p.start = i64::from(i32::MAX) + 5;
            p.exitstatus = -1;
            let d = "pid 1, uptime <0:00:01>";
            let mut tree = String::new();
            crate::write::write_value(&mut tree, &p.to_value_described(d.to_string()));
            let mut straight = String::new();
            p.write_described(&mut straight, d);
            assert_eq!(straight, tree, "{state:?}");
        }
    }

    #[test]
    fn descriptions() {
        assert_eq!(
            info(ProcessState::Running).description(never),
            "pid 4242, uptime 1:02:03"
        );
        let mut long = info(ProcessState::Running);
        long.now = long.start + 86_400 + 3_723;
        assert_eq!(long.description(never), "pid 4242, uptime 1 day, 1:02:03");
        long.now = long.start + 3 * 86_400;
        assert_eq!(long.description(never), "pid 4242, uptime 3 days, 0:00:00");
        long.now = long.start - 5;
        assert_eq!(long.description(never), "pid 4242, uptime 0:00:00");

        assert_eq!(
            info(ProcessState::Fatal).description(never),
            "unknown error (try \"tail web\")"
        );
        let mut backoff = info(ProcessState::Backoff);
        backoff.spawnerr = "Exited too quickly (process log may have details)".into();
        assert_eq!(
            backoff.description(never),
            "Exited too quickly (process log may have details)"
        );

        let stopped = info(ProcessState::Stopped);
        assert_eq!(
            stopped.description(|t| {
                assert_eq!(t, 1_700_000_100);
                format_stop_time(11, 14, 22, 15)
            }),
            "Nov 14 10:15 PM"
        );
        let mut never_started = info(ProcessState::Exited);
        never_started.start = 0;
        assert_eq!(never_started.description(never), "Not started");
        assert_eq!(info(ProcessState::Starting).description(never), "");
        assert_eq!(info(ProcessState::Stopping).description(never), "");
    }

    #[test]
    fn uptime_and_stop_time_text() {
        assert_eq!(format_uptime(0), "0:00:00");
        assert_eq!(format_uptime(59), "0:00:59");
        assert_eq!(format_uptime(36_000), "10:00:00");
        assert_eq!(format_stop_time(1, 2, 15, 4), "Jan 02 03:04 PM");
        assert_eq!(format_stop_time(12, 31, 0, 0), "Dec 31 12:00 AM");
        assert_eq!(format_stop_time(6, 9, 12, 59), "Jun 09 12:59 PM");
        assert_eq!(format_stop_time(6, 9, 11, 59), "Jun 09 11:59 AM");
    }

    #[test]
    fn info_struct_field_order_and_capping() {
        let mut i = info(ProcessState::Running);
        i.now = 5_000_000_000;
        let v = i.to_value(never);
        let s = v.as_struct().unwrap();
        assert_eq!(
            s.keys().collect::<Vec<_>>(),
            [
                "name",
                "group",
                "start",
                "stop",
                "now",
                "state",
                "statename",
                "spawnerr",
                "exitstatus",
                "logfile",
                "stdout_logfile",
                "stderr_logfile",
                "pid",
                "description"
            ]
        );
        assert_eq!(s.get("now"), Some(&Value::Int(i32::MAX)));
        assert_eq!(s.get("logfile"), Some(&Value::from("/tmp/out")));
        assert_eq!(s.get("statename"), Some(&Value::from("RUNNING")));
        assert_eq!(capped_int(-5_000_000_000), i32::MIN);
        assert_eq!(capped_int(7), 7);
    }

    #[test]
    fn result_entries() {
        assert_eq!(
            result_entry("web", "grp", &Ok(())),
            Value::Struct(
                Struct::new()
                    .with("name", "web")
                    .with("group", "grp")
                    .with("status", 80)
                    .with("description", "OK")
            )
        );
        let e = result_entry(
            "web",
            "grp",
            &Err(Fault::with_detail(FaultCode::NotRunning, "web")),
        );
        let s = e.as_struct().unwrap();
        assert_eq!(s.get("status"), Some(&Value::Int(70)));
        assert_eq!(s.get("description"), Some(&Value::from("NOT_RUNNING: web")));
    }
}
