//! A typed client of supervisord's XML-RPC interface: one method per call
//! `warden ctl` makes, returning typed results, so that commands never
//! handle XML-RPC values.
//!
//! Names are passed to the server as the user typed them: supervisord parses
//! them as namespecs itself, and its fault strings quote them, so passing
//! them on verbatim keeps every message identical to supervisorctl's.
//!
//! Reading a reply is lenient the way supervisorctl is: a missing or
//! mistyped field reads as empty, zero or false rather than failing.

use warden_types::ProcessState;
use warden_xmlrpc::{Fault, Struct, Value};

use crate::http::{Endpoint, HttpError, RpcConnection};

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// The server answered with a fault.
    Fault(Fault),
    /// The request or its reply could not be carried.
    Http(HttpError),
    /// The reply is not an XML-RPC response.
    Parse(String),
}

/// What a call returns.
pub type CallResult<T> = Result<T, CallError>;

/// A process's `getProcessInfo` struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The process name.
    pub name: String,
    /// Its group.
    pub group: String,
    /// Last start, Unix seconds.
    pub start: i32,
    /// Last stop, Unix seconds.
    pub stop: i32,
    /// The server's clock, Unix seconds.
    pub now: i32,
    /// The state (`UNKNOWN` for a code the client does not know).
    pub state: ProcessState,
    /// The state's name as the server sent it.
    pub statename: String,
    /// The last spawn error.
    pub spawnerr: String,
    /// The last exit status.
    pub exitstatus: i32,
    /// The stdout log (supervisord's legacy `logfile`).
    pub logfile: String,
    /// The stdout log.
    pub stdout_logfile: String,
    /// The stderr log.
    pub stderr_logfile: String,
    /// The pid, or 0.
    pub pid: i32,
    /// The one-line description `status` shows.
    pub description: String,
}

impl ProcessInfo {
    /// Reads the struct, moving its strings out (a `status` of 1000
    /// processes reads 14 000 members).
    fn from_value(v: Value) -> ProcessInfo {
        let mut info = ProcessInfo {
            name: String::new(),
            group: String::new(),
            start: 0,
            stop: 0,
            now: 0,
            state: ProcessState::Unknown,
            statename: String::new(),
            spawnerr: String::new(),
            exitstatus: 0,
            logfile: String::new(),
            stdout_logfile: String::new(),
            stderr_logfile: String::new(),
            pid: 0,
            description: String::new(),
        };
        let Value::Struct(members) = v else {
            return info;
        };
        for (k, v) in members {
            match k.as_str() {
                "name" => info.name = into_text(v),
                "group" => info.group = into_text(v),
                "start" => info.start = int(&v),
                "stop" => info.stop = int(&v),
                "now" => info.now = int(&v),
                "state" => {
                    info.state = ProcessState::from_code(int(&v)).unwrap_or(ProcessState::Unknown);
                }
                "statename" => info.statename = into_text(v),
                "spawnerr" => info.spawnerr = into_text(v),
                "exitstatus" => info.exitstatus = int(&v),
                "logfile" => info.logfile = into_text(v),
                "stdout_logfile" => info.stdout_logfile = into_text(v),
                "stderr_logfile" => info.stderr_logfile = into_text(v),
                "pid" => info.pid = int(&v),
                "description" => info.description = into_text(v),
                _ => {}
            }
        }
        info
    }

    /// The process's namespec (`name`, or `group:name`).
    pub fn namespec(&self) -> String {
        warden_types::Namespec::process(&self.group, &self.name).to_string()
    }

    /// The struct as JSON, members as the server sent them.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "group": self.group,
            "start": self.start,
            "stop": self.stop,
            "now": self.now,
            "state": self.state.code(),
            "statename": self.statename,
            "spawnerr": self.spawnerr,
            "exitstatus": self.exitstatus,
            "logfile": self.logfile,
            "stdout_logfile": self.stdout_logfile,
            "stderr_logfile": self.stderr_logfile,
            "pid": self.pid,
            "description": self.description,
        })
    }
}

/// One entry of a group or "all" call's result array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The process name.
    pub name: String,
    /// Its group.
    pub group: String,
    /// A fault code (`SUCCESS` is 80).
    pub status: i32,
    /// The fault text, or `OK`.
    pub description: String,
}

impl Outcome {
    fn from_value(v: &Value) -> Outcome {
        let s = Fields(v.as_struct());
        Outcome {
            name: s.string("name"),
            group: s.string("group"),
            status: s.int("status"),
            description: s.string("description"),
        }
    }

    /// The entry a group call would have given for a single call's fault.
    pub fn of_fault(fault: &Fault, group: &str, name: &str) -> Outcome {
        Outcome {
            name: name.to_string(),
            group: group.to_string(),
            status: fault.code,
            description: fault.string.clone(),
        }
    }

    /// The process's namespec (`name`, or `group:name`).
    pub fn namespec(&self) -> String {
        warden_types::Namespec::process(&self.group, &self.name).to_string()
    }
}

/// A program's `getAllConfigInfo` entry: what `avail` shows, and the whole
/// struct for `--json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigInfo {
    /// The process name.
    pub name: String,
    /// Its group.
    pub group: String,
    /// Whether the group is active.
    pub inuse: bool,
    /// `autostart`.
    pub autostart: bool,
    /// The group's priority, as the server sent it.
    pub group_prio: String,
    /// The process's priority, as the server sent it.
    pub process_prio: String,
    /// Every member, as JSON.
    pub json: serde_json::Value,
}

impl ConfigInfo {
    fn from_value(v: &Value) -> ConfigInfo {
        let s = Fields(v.as_struct());
        ConfigInfo {
            name: s.string("name"),
            group: s.string("group"),
            inuse: s.truthy("inuse"),
            autostart: s.truthy("autostart"),
            group_prio: s.string("group_prio"),
            process_prio: s.string("process_prio"),
            json: to_json(v),
        }
    }

    /// The process's namespec (`name`, or `group:name`).
    pub fn namespec(&self) -> String {
        warden_types::Namespec::process(&self.group, &self.name).to_string()
    }
}

/// `reloadConfig`'s three lists of group names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigChanges {
    /// Groups in the files but not running.
    pub added: Vec<String>,
    /// Groups whose configuration changed.
    pub changed: Vec<String>,
    /// Groups running but no longer in the files.
    pub removed: Vec<String>,
}

/// One group's part of `warden.update`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUpdate {
    /// The group.
    pub group: String,
    /// `added`, `removed` or `changed`.
    pub action: String,
    /// (process name, action) for the processes it touched: `added`,
    /// `removed`, `restarted`, `replaced` or `updated`.
    pub processes: Vec<(String, String)>,
}

/// A process's log channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// `tailProcess*Log`'s reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTail {
    /// The bytes read.
    pub data: String,
    /// The offset to read from next.
    pub offset: i32,
    /// Whether more than was asked for had been written.
    pub overflow: bool,
}

/// One process as warden's JSON API lists it (`GET /api/v1/processes`);
/// unknown fields are ignored, missing ones read as zero or empty.
#[derive(serde::Deserialize)]
struct ApiProcess {
    name: String,
    group: String,
    state: ProcessState,
    #[serde(default)]
    description: String,
    #[serde(default)]
    pid: i32,
    #[serde(default)]
    start: i64,
    #[serde(default)]
    stop: i64,
    #[serde(default)]
    now: i64,
    #[serde(default)]
    exitstatus: i32,
    #[serde(default)]
    spawnerr: String,
}

impl From<ApiProcess> for ProcessInfo {
    fn from(p: ApiProcess) -> ProcessInfo {
        use warden_xmlrpc::info::capped_int;
        ProcessInfo {
            name: p.name,
            group: p.group,
            start: capped_int(p.start),
            stop: capped_int(p.stop),
            now: capped_int(p.now),
            state: p.state,
            statename: p.state.name().to_owned(),
            spawnerr: p.spawnerr,
            exitstatus: p.exitstatus,
            logfile: String::new(),
            stdout_logfile: String::new(),
            stderr_logfile: String::new(),
            pid: p.pid,
            description: p.description,
        }
    }
}

/// The typed client over one keep-alive connection.
#[derive(Debug)]
pub struct Client {
    conn: RpcConnection,
    /// Whether the server has warden's JSON API (`None`: not known yet).
    json_api: Option<bool>,
}

impl Client {
    /// A client of the server at `endpoint`, sending `auth` (a Basic
    /// `Authorization` value) if given.
    pub fn new(endpoint: Endpoint, auth: Option<String>) -> Client {
        Client {
            conn: RpcConnection::new(endpoint, auth),
            json_api: None,
        }
    }

    /// Replaces the credentials sent from the next call on.
    pub fn set_auth(&mut self, auth: Option<String>) {
        self.conn.set_auth(auth);
    }

    fn call(&mut self, method: &str, params: &[Value]) -> CallResult<Value> {
        let body = warden_xmlrpc::write_call(method, params);
        let reply = self.conn.post(body.as_bytes()).map_err(CallError::Http)?;
        match warden_xmlrpc::parse_response(&reply) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(f)) => Err(CallError::Fault(f)),
            Err(e) => Err(CallError::Parse(e.to_string())),
        }
    }

    fn call_str(&mut self, method: &str, params: &[&str]) -> CallResult<Value> {
        let params: Vec<Value> = params.iter().map(|s| Value::from(*s)).collect();
        self.call(method, &params)
    }

    fn outcomes(&mut self, method: &str, params: &[&str]) -> CallResult<Vec<Outcome>> {
        let v = self.call_str(method, params)?;
        Ok(array(&v).iter().map(Outcome::from_value).collect())
    }

    /// `supervisor.getVersion`: the API version (`3.0`).
    pub fn api_version(&mut self) -> CallResult<String> {
        Ok(string(&self.call("supervisor.getVersion", &[])?))
    }

    /// `supervisor.getSupervisorVersion`.
    pub fn supervisor_version(&mut self) -> CallResult<String> {
        Ok(string(&self.call("supervisor.getSupervisorVersion", &[])?))
    }

    /// `supervisor.getPID`: the supervisor's own pid.
    pub fn pid(&mut self) -> CallResult<i32> {
        Ok(self
            .call("supervisor.getPID", &[])?
            .as_i32()
            .unwrap_or_default())
    }

    /// `supervisor.getAllProcessInfo`.
    pub fn all_process_info(&mut self) -> CallResult<Vec<ProcessInfo>> {
        match self.call("supervisor.getAllProcessInfo", &[])? {
            Value::Array(infos) => Ok(infos.into_iter().map(ProcessInfo::from_value).collect()),
            _ => Ok(Vec::new()),
        }
    }

    /// Every process, for `status`: from warden's JSON API when the server
    /// has one, else `getAllProcessInfo`. The JSON list is a fifth of the
    /// bytes (no log paths) and reads without an XML parser: a `status` of
    /// 1000 processes takes a third of the time. The log file fields are
    /// empty in what it returns.
    pub fn all_process_status(&mut self) -> CallResult<Vec<ProcessInfo>> {
        if self.json_api != Some(false) {
            match self.conn.get("/api/v1/processes") {
                Ok(body) => {
                    if let Ok(ps) = serde_json::from_slice::<Vec<ApiProcess>>(&body) {
                        self.json_api = Some(true);
                        return Ok(ps.into_iter().map(ProcessInfo::from).collect());
                    }
                    // not warden's answer: supervisord's web UI, a proxy
                    self.json_api = Some(false);
                }
                // supervisord: 404 (or whatever its web UI answers)
                Err(HttpError::Status(..)) => self.json_api = Some(false),
                Err(e) => return Err(CallError::Http(e)),
            }
        }
        self.all_process_info()
    }

    /// `supervisor.getProcessInfo(name)`.
    pub fn process_info(&mut self, name: &str) -> CallResult<ProcessInfo> {
        let v = self.call_str("supervisor.getProcessInfo", &[name])?;
        Ok(ProcessInfo::from_value(v))
    }

    /// `supervisor.startProcess(name)`, waiting for it to be running.
    pub fn start(&mut self, name: &str) -> CallResult<()> {
        self.call_str("supervisor.startProcess", &[name]).map(drop)
    }

    /// `supervisor.startProcessGroup(group)`.
    pub fn start_group(&mut self, group: &str) -> CallResult<Vec<Outcome>> {
        self.outcomes("supervisor.startProcessGroup", &[group])
    }

    /// `supervisor.startAllProcesses()`.
    pub fn start_all(&mut self) -> CallResult<Vec<Outcome>> {
        self.outcomes("supervisor.startAllProcesses", &[])
    }

    /// `supervisor.stopProcess(name)`, waiting for it to stop.
    pub fn stop(&mut self, name: &str) -> CallResult<()> {
        self.call_str("supervisor.stopProcess", &[name]).map(drop)
    }

    /// `supervisor.stopProcessGroup(group)`.
    pub fn stop_group(&mut self, group: &str) -> CallResult<Vec<Outcome>> {
        self.outcomes("supervisor.stopProcessGroup", &[group])
    }

    /// `supervisor.stopAllProcesses()`.
    pub fn stop_all(&mut self) -> CallResult<Vec<Outcome>> {
        self.outcomes("supervisor.stopAllProcesses", &[])
    }

    /// `supervisor.signalProcess(name, signal)`; the server parses the
    /// signal name.
    pub fn signal(&mut self, name: &str, signal: &str) -> CallResult<()> {
        self.call_str("supervisor.signalProcess", &[name, signal])
            .map(drop)
    }

    /// `supervisor.signalProcessGroup(group, signal)`.
    pub fn signal_group(&mut self, group: &str, signal: &str) -> CallResult<Vec<Outcome>> {
        self.outcomes("supervisor.signalProcessGroup", &[group, signal])
    }

    /// `supervisor.signalAllProcesses(signal)`.
    pub fn signal_all(&mut self, signal: &str) -> CallResult<Vec<Outcome>> {
        self.outcomes("supervisor.signalAllProcesses", &[signal])
    }

    /// `supervisor.sendProcessStdin(name, chars)`.
    pub fn send_stdin(&mut self, name: &str, chars: &str) -> CallResult<()> {
        self.call_str("supervisor.sendProcessStdin", &[name, chars])
            .map(drop)
    }

    /// `supervisor.readProcessStdoutLog` / `readProcessStderrLog`.
    pub fn read_process_log(
        &mut self,
        name: &str,
        channel: Channel,
        offset: i32,
        length: i32,
    ) -> CallResult<String> {
        let method = match channel {
            Channel::Stdout => "supervisor.readProcessStdoutLog",
            Channel::Stderr => "supervisor.readProcessStderrLog",
        };
        let params = [Value::from(name), Value::Int(offset), Value::Int(length)];
        Ok(string(&self.call(method, &params)?))
    }

    /// `supervisor.tailProcessStdoutLog` / `tailProcessStderrLog`.
    pub fn tail_process_log(
        &mut self,
        name: &str,
        channel: Channel,
        offset: i32,
        length: i32,
    ) -> CallResult<LogTail> {
        let method = match channel {
            Channel::Stdout => "supervisor.tailProcessStdoutLog",
            Channel::Stderr => "supervisor.tailProcessStderrLog",
        };
        let params = [Value::from(name), Value::Int(offset), Value::Int(length)];
        let v = self.call(method, &params)?;
        let a = array(&v);
        Ok(LogTail {
            data: a.first().map(string).unwrap_or_default(),
            offset: a.get(1).and_then(Value::as_i32).unwrap_or_default(),
            overflow: a.get(2).and_then(Value::as_bool).unwrap_or_default(),
        })
    }

    /// `supervisor.readLog(offset, length)`: the supervisor's own log.
    pub fn read_log(&mut self, offset: i32, length: i32) -> CallResult<String> {
        let params = [Value::Int(offset), Value::Int(length)];
        Ok(string(&self.call("supervisor.readLog", &params)?))
    }

    /// `supervisor.clearProcessLogs(name)`.
    pub fn clear_logs(&mut self, name: &str) -> CallResult<()> {
        self.call_str("supervisor.clearProcessLogs", &[name])
            .map(drop)
    }

    /// `supervisor.clearAllProcessLogs()`.
    pub fn clear_all_logs(&mut self) -> CallResult<Vec<Outcome>> {
        self.outcomes("supervisor.clearAllProcessLogs", &[])
    }

    /// `supervisor.getAllConfigInfo()`.
    pub fn all_config_info(&mut self) -> CallResult<Vec<ConfigInfo>> {
        let v = self.call("supervisor.getAllConfigInfo", &[])?;
        Ok(array(&v).iter().map(ConfigInfo::from_value).collect())
    }

    /// `supervisor.reloadConfig()`: what changed in the files.
    pub fn reload_config(&mut self) -> CallResult<ConfigChanges> {
        let v = self.call("supervisor.reloadConfig", &[])?;
        let first = array(&v).first().map(array).unwrap_or_default();
        let names = |i: usize| -> Vec<String> {
            first
                .get(i)
                .map(array)
                .unwrap_or_default()
                .iter()
                .map(string)
                .collect()
        };
        Ok(ConfigChanges {
            added: names(0),
            changed: names(1),
            removed: names(2),
        })
    }

    /// `warden.update(groups)`: warden's update with the fewest restarts
    /// (all groups when `groups` is empty). A supervisord answers
    /// `UNKNOWN_METHOD`.
    pub fn update(&mut self, groups: &[String]) -> CallResult<Vec<GroupUpdate>> {
        let params: Vec<Value> = groups.iter().map(|g| Value::from(g.as_str())).collect();
        let v = self.call("warden.update", &params)?;
        Ok(array(&v)
            .iter()
            .map(|g| {
                let f = Fields(g.as_struct());
                GroupUpdate {
                    group: f.string("group"),
                    action: f.string("action"),
                    processes: f
                        .get("processes")
                        .map(array)
                        .unwrap_or_default()
                        .iter()
                        .map(|p| {
                            let f = Fields(p.as_struct());
                            (f.string("name"), f.string("action"))
                        })
                        .collect(),
                }
            })
            .collect())
    }

    /// `supervisor.addProcessGroup(name)`.
    pub fn add_group(&mut self, name: &str) -> CallResult<()> {
        self.call_str("supervisor.addProcessGroup", &[name])
            .map(drop)
    }

    /// `supervisor.removeProcessGroup(name)`.
    pub fn remove_group(&mut self, name: &str) -> CallResult<()> {
        self.call_str("supervisor.removeProcessGroup", &[name])
            .map(drop)
    }

    /// `supervisor.restart()`: the supervisor reloads itself.
    pub fn restart(&mut self) -> CallResult<()> {
        self.call("supervisor.restart", &[]).map(drop)
    }

    /// `supervisor.shutdown()`.
    pub fn shutdown(&mut self) -> CallResult<()> {
        self.call("supervisor.shutdown", &[]).map(drop)
    }
}

fn array(v: &Value) -> &[Value] {
    v.as_array().unwrap_or_default()
}

fn string(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// A member as text, as Python's `str` would show it ("" for other types).
fn into_text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Int(i) => i.to_string(),
        Value::Boolean(b) => if b { "True" } else { "False" }.to_string(),
        _ => String::new(),
    }
}

/// A member as an int (0 for other types).
fn int(v: &Value) -> i32 {
    match v {
        Value::Int(i) => *i,
        Value::Boolean(b) => i32::from(*b),
        _ => 0,
    }
}

/// Lenient reads of a struct's members.
struct Fields<'a>(Option<&'a Struct>);

impl Fields<'_> {
    fn get(&self, k: &str) -> Option<&Value> {
        self.0.and_then(|s| s.get(k))
    }

    /// A member as text, as Python's `str` would show it ("" if absent).
    fn string(&self, k: &str) -> String {
        self.get(k).cloned().map(into_text).unwrap_or_default()
    }

    /// A member as an int (0 if absent).
    fn int(&self, k: &str) -> i32 {
        self.get(k).map_or(0, int)
    }

    /// A member's Python truth value.
    fn truthy(&self, k: &str) -> bool {
        match self.get(k) {
            Some(Value::Boolean(b)) => *b,
            Some(Value::Int(i)) => *i != 0,
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            _ => false,
        }
    }
}

/// An XML-RPC value as JSON.
fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Int(i) => J::from(*i),
        Value::Boolean(b) => J::from(*b),
        Value::String(s) | Value::DateTime(s) => J::from(s.as_str()),
        Value::Double(d) => J::from(*d),
        Value::Base64(b) => J::from(String::from_utf8_lossy(b).into_owned()),
        Value::Struct(s) => J::Object(s.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect()),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Nil => J::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_info_reads_the_struct_leniently() {
        let v = Value::Struct(
            Struct::new()
                .with("name", "web")
                .with("group", "g")
                .with("state", 20)
                .with("statename", "RUNNING")
                .with("pid", 42)
                .with("description", "pid 42, uptime 0:00:01"),
        );
        let i = ProcessInfo::from_value(v);
        assert_eq!(i.state, ProcessState::Running);
        assert_eq!(i.namespec(), "g:web");
        assert_eq!(i.pid, 42);
        assert_eq!(i.spawnerr, "");
        let i = ProcessInfo::from_value(Value::Struct(Struct::new().with("state", 5)));
        assert_eq!(i.state, ProcessState::Unknown);
    }

    #[test]
    fn process_info_json_has_every_member() {
        let j = ProcessInfo::from_value(Value::Nil).to_json();
        let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 14, "{keys:?}");
    }
}
