//! Second level: turn a [`RawConfig`] into the typed [`Config`], following
//! supervisord 4.3.0's `ServerOptions.read_config` key by key (which keys are
//! expanded with which names, defaults, checks, ordering), but collecting
//! every error instead of stopping at the first.

use std::path::{Path, PathBuf};

use crate::datatypes as dt;
use crate::error::{ConfigError, ErrorKind, Location, Warning, WarningKind};
use crate::expand::{expand, Expansions, PyValue};
use crate::ini::RawConfig;
use crate::model::*;
use crate::shlex;
use crate::system::Context;

const PROGRAM_KEYS: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "autorestart",
    "startsecs",
    "startretries",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stdout_capture_maxbytes",
    "stdout_events_enabled",
    "stdout_syslog",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "stderr_capture_maxbytes",
    "stderr_events_enabled",
    "stderr_syslog",
    "environment",
    "directory",
    "umask",
    "serverurl",
    // warden's own keys
    "env_file",
    "stdout_logfile_timestamps",
    "stdout_logfile_format",
    "stdout_logfile_rotate",
    "stdout_logfile_compress",
    "stderr_logfile_timestamps",
    "stderr_logfile_format",
    "stderr_logfile_rotate",
    "stderr_logfile_compress",
];
const EVENTLISTENER_KEYS: &[&str] = &["events", "buffer_size", "result_handler"];
const FCGI_KEYS: &[&str] = &["socket", "socket_backlog", "socket_owner", "socket_mode"];
const SUPERVISORD_KEYS: &[&str] = &[
    "logfile",
    "logfile_maxbytes",
    "logfile_backups",
    "loglevel",
    "pidfile",
    "umask",
    "nodaemon",
    "silent",
    "minfds",
    "minprocs",
    "nocleanup",
    "childlogdir",
    "user",
    "directory",
    "strip_ansi",
    "environment",
    "identifier",
    // warden's own keys (supervisord ignores keys it does not know)
    "http_max_connections",
    "http_idle_timeout",
    "http_max_body",
    "shutdown_timeout",
    "forward_signals",
    "pdeathsig",
    "cgroups",
    "previous_run",
    "env_file",
];
const UNIX_KEYS: &[&str] = &["file", "chmod", "chown", "username", "password"];
const INET_KEYS: &[&str] = &["port", "username", "password"];
const CTL_KEYS: &[&str] = &[
    "serverurl",
    "username",
    "password",
    "prompt",
    "history_file",
];
const GROUP_KEYS: &[&str] = &["programs", "priority"];
const INCLUDE_KEYS: &[&str] = &["files"];

/// The event type names supervisord 4.3.0 knows (`events.EventTypes`).
pub const EVENT_TYPES: &[&str] = &[
    "EVENT",
    "PROCESS_STATE",
    "PROCESS_STATE_STOPPED",
    "PROCESS_STATE_EXITED",
    "PROCESS_STATE_STARTING",
    "PROCESS_STATE_STOPPING",
    "PROCESS_STATE_BACKOFF",
    "PROCESS_STATE_FATAL",
    "PROCESS_STATE_RUNNING",
    "PROCESS_STATE_UNKNOWN",
    "PROCESS_COMMUNICATION",
    "PROCESS_COMMUNICATION_STDOUT",
    "PROCESS_COMMUNICATION_STDERR",
    "PROCESS_LOG",
    "PROCESS_LOG_STDOUT",
    "PROCESS_LOG_STDERR",
    "REMOTE_COMMUNICATION",
    "SUPERVISOR_STATE_CHANGE",
    "SUPERVISOR_STATE_CHANGE_RUNNING",
    "SUPERVISOR_STATE_CHANGE_STOPPING",
    "TICK",
    "TICK_5",
    "TICK_60",
    "TICK_3600",
    "PROCESS_GROUP",
    "PROCESS_GROUP_ADDED",
    "PROCESS_GROUP_REMOVED",
];

/// State of one load.
pub(crate) struct Loader<'a, 'c> {
    pub ctx: &'a Context<'c>,
    pub raw: RawConfig,
    pub main_file: PathBuf,
    /// `%(here)s` of the main file.
    pub here: String,
    /// supervisord's `environ_expansions` / `parser.expansions` (`ENV_*`).
    pub env_exp: Expansions,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<Warning>,
    pub included: Vec<PathBuf>,
}

fn after_colon(section: &str) -> &str {
    section.split_once(':').map_or("", |(_, b)| b)
}

impl<'a, 'c> Loader<'a, 'c> {
    pub fn new(ctx: &'a Context<'c>, main_file: PathBuf, here: String) -> Self {
        let env_exp = ctx
            .env
            .iter()
            .map(|(k, v)| (format!("ENV_{k}"), PyValue::Str(v.clone())))
            .collect();
        Loader {
            ctx,
            raw: RawConfig::default(),
            main_file,
            here,
            env_exp,
            errors: Vec::new(),
            warnings: Vec::new(),
            included: Vec::new(),
        }
    }

    fn loc(&self, section: &str, key: Option<&str>) -> Location {
        let raw_val = key.and_then(|k| self.raw.get(section, k));
        let sect = self.raw.section(section);
        Location {
            file: raw_val
                .map(|v| (*v.file).clone())
                .or_else(|| sect.map(|s| (*s.file).clone()))
                .or_else(|| Some(self.main_file.clone())),
            line: raw_val.map(|v| v.line).or_else(|| sect.map(|s| s.line)),
            section: Some(section.to_string()),
            key: key.map(str::to_string),
        }
    }

    fn err(&mut self, section: &str, key: Option<&str>, kind: ErrorKind) {
        let location = self.loc(section, key);
        self.errors.push(ConfigError { location, kind });
    }

    fn invalid(&mut self, section: &str, key: &str, value: &str, reason: String) {
        self.err(
            section,
            Some(key),
            ErrorKind::InvalidValue {
                value: value.to_string(),
                reason,
            },
        );
    }

    /// `env_file=` of `section` (expanded with `extra`, relative to the
    /// working directory) under `environment`: the file's pairs first, the
    /// section's `environment=` replacing them key by key.
    fn with_env_file(
        &mut self,
        section: &str,
        extra: &Expansions,
        environment: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        let Some(path) = self.get(section, "env_file", None, Some(extra)) else {
            return environment;
        };
        let path = self.ctx.cwd.join(path);
        let mut env = match crate::envfile::read(&path) {
            Ok(pairs) => pairs,
            Err(e) => {
                self.err(section, Some("env_file"), ErrorKind::Invalid(e.to_string()));
                return environment;
            }
        };
        for (k, v) in environment {
            match env.iter_mut().find(|(ek, _)| *ek == k) {
                Some(slot) => slot.1 = v,
                None => env.push((k, v)),
            }
        }
        env
    }

    /// warden's log keys of `stream`: timestamps, format, rotate, compress.
    fn log_extras(
        &mut self,
        section: &str,
        stream: &str,
        extra: &Expansions,
    ) -> (bool, LogFormat, LogRotate, bool) {
        let key = |k: &str| format!("{stream}_logfile_{k}");
        let timestamps = self.conv(
            section,
            &key("timestamps"),
            "false",
            extra,
            dt::boolean,
            false,
        );
        let format = self.conv(
            section,
            &key("format"),
            "text",
            extra,
            |v| match v.to_ascii_lowercase().as_str() {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err("not one of text, json".into()),
            },
            LogFormat::Text,
        );
        let rotate = self.conv(
            section,
            &key("rotate"),
            "size",
            extra,
            |v| match v.to_ascii_lowercase().as_str() {
                "size" | "none" => Ok(LogRotate::Size),
                "daily" => Ok(LogRotate::Daily),
                "hourly" => Ok(LogRotate::Hourly),
                _ => Err("not one of size, daily, hourly".into()),
            },
            LogRotate::Size,
        );
        let compress = self.conv(
            section,
            &key("compress"),
            "false",
            extra,
            dt::boolean,
            false,
        );
        (timestamps, format, rotate, compress)
    }

    fn warn(&mut self, section: &str, key: Option<&str>, kind: WarningKind) {
        let location = self.loc(section, key);
        self.warnings.push(Warning { location, kind });
    }

    /// `saneget`: raw lookup (section, then DEFAULT), else `default`
    /// (never expanded: supervisord's string defaults contain no `%`),
    /// then expansion with `parser.expansions` + `extra` unless `do_expand` is false.
    fn get(
        &mut self,
        section: &str,
        key: &str,
        default: Option<&str>,
        extra: Option<&Expansions>,
    ) -> Option<String> {
        let Some(raw) = self.raw.get(section, key).map(|v| v.value.clone()) else {
            return default.map(str::to_string);
        };
        let Some(extra) = extra else { return Some(raw) };
        let mut combined = self.env_exp.clone();
        combined.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        match expand(&raw, &combined, &format!("{section}.{key}")) {
            Ok(s) => Some(s),
            Err(m) => {
                self.err(section, Some(key), ErrorKind::Expansion(m));
                None
            }
        }
    }

    /// `get` then a conversion; on any failure records an error and returns `fallback`.
    fn conv<T>(
        &mut self,
        section: &str,
        key: &str,
        default: &str,
        extra: &Expansions,
        f: impl Fn(&str) -> Result<T, String>,
        fallback: T,
    ) -> T {
        match self.get(section, key, Some(default), Some(extra)) {
            None => fallback,
            Some(v) => match f(&v) {
                Ok(t) => t,
                Err(reason) => {
                    self.invalid(section, key, &v, reason);
                    fallback
                }
            },
        }
    }

    fn expand_or_err(
        &mut self,
        section: &str,
        key: &str,
        s: &str,
        exp: &Expansions,
        name: &str,
    ) -> Option<String> {
        match expand(s, exp, name) {
            Ok(v) => Some(v),
            Err(m) => {
                self.err(section, Some(key), ErrorKind::Expansion(m));
                None
            }
        }
    }

    fn warn_unknown_keys(&mut self, section: &str, known: &[&[&str]]) {
        let keys: Vec<String> = self
            .raw
            .section(section)
            .map(|s| s.options.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        for k in keys {
            if !known.iter().any(|list| list.contains(&k.as_str())) {
                self.warn(section, Some(&k), WarningKind::UnknownKey);
            }
        }
    }

    fn here_exp(&self) -> Expansions {
        let mut e = Expansions::new();
        e.insert("here".into(), PyValue::Str(self.here.clone()));
        e
    }

    /// Everything after the raw files are read.
    pub fn build(&mut self) -> Option<Config> {
        let sections: Vec<String> = self.raw.sections.iter().map(|s| s.name.clone()).collect();
        for s in &sections {
            self.check_section_keys(s);
        }
        let env_only = self.env_exp.clone();
        let supervisord = self.supervisord_section();
        let rpcinterfaces = self.rpcinterfaces(&sections);
        let (mut groups, mut eventlisteners, mut fcgi_programs) = self.process_groups(&sections);
        let sup_env = supervisord.environment.clone();
        let merge = |procs: &mut Vec<ProcessConfig>| {
            for p in procs.iter_mut() {
                let mut env = sup_env.clone();
                for (k, v) in std::mem::take(&mut p.environment) {
                    match env.iter_mut().find(|(ek, _)| *ek == k) {
                        Some(slot) => slot.1 = v,
                        None => env.push((k, v)),
                    }
                }
                p.environment = env;
            }
        };
        groups.iter_mut().for_each(|g| merge(&mut g.processes));
        for e in crate::lifecycle::check_dependencies(&groups) {
            self.err(&e.section, Some("depends_on"), ErrorKind::Invalid(e.reason));
        }
        eventlisteners
            .iter_mut()
            .for_each(|g| merge(&mut g.processes));
        fcgi_programs
            .iter_mut()
            .for_each(|g| merge(&mut g.processes));
        let (inet_http_servers, unix_http_servers) = self.servers(&sections);
        let serverurl = unix_http_servers
            .first()
            .map(|u| format!("unix://{}", u.file.display()))
            .or_else(|| {
                inet_http_servers.first().map(|i| {
                    let host = if i.host.is_empty() {
                        "localhost"
                    } else {
                        &i.host
                    };
                    format!("http://{}:{}", host, i.port)
                })
            });
        let supervisorctl = if self.raw.has_section("supervisorctl") {
            self.supervisorctl(&env_only)
        } else {
            None
        };
        Some(Config {
            file: self.main_file.clone(),
            included_files: self.included.clone(),
            supervisord,
            unix_http_servers,
            inet_http_servers,
            supervisorctl,
            rpcinterfaces,
            groups,
            eventlisteners,
            fcgi_programs,
            serverurl,
        })
    }

    fn check_section_keys(&mut self, s: &str) {
        let known: Option<Vec<&[&str]>> = if s == "supervisord" {
            Some(vec![SUPERVISORD_KEYS])
        } else if s.starts_with("program:") {
            Some(vec![PROGRAM_KEYS, crate::lifecycle::KEYS])
        } else if s.starts_with("eventlistener:") {
            Some(vec![PROGRAM_KEYS, EVENTLISTENER_KEYS])
        } else if s.starts_with("fcgi-program:") {
            Some(vec![PROGRAM_KEYS, FCGI_KEYS])
        } else if s.starts_with("group:") {
            Some(vec![GROUP_KEYS])
        } else if s.starts_with("unix_http_server") {
            Some(vec![UNIX_KEYS])
        } else if s.starts_with("inet_http_server") {
            Some(vec![INET_KEYS])
        } else if s == "supervisorctl" {
            Some(vec![CTL_KEYS])
        } else if s == "include" {
            Some(vec![INCLUDE_KEYS])
        } else if s.starts_with("rpcinterface:") || s.starts_with("ctlplugin:") {
            None
        } else {
            self.warn(s, None, WarningKind::UnknownSection);
            None
        };
        if let Some(k) = known {
            self.warn_unknown_keys(s, &k);
        }
    }

    fn supervisord_section(&mut self) -> SupervisordSection {
        const S: &str = "supervisord";
        let ctx = self.ctx;
        let cwd = ctx.cwd.clone();
        let env = &ctx.env;
        let sys = ctx.system;
        let present = self.raw.has_section(S);
        if !present {
            self.errors.push(ConfigError {
                location: Location::file(self.main_file.clone()),
                kind: ErrorKind::MissingSupervisordSection,
            });
        }
        let e = self.here_exp();
        let minfds = self.conv(S, "minfds", "1024", &e, dt::integer, 1024);
        let minprocs = self.conv(S, "minprocs", "200", &e, dt::integer, 200);
        let http_max_connections = self.conv(
            S,
            "http_max_connections",
            "512",
            &e,
            |v| positive_count(v, "http_max_connections"),
            512,
        );
        let http_max_body = self.conv(
            S,
            "http_max_body",
            "4MB",
            &e,
            |v| match dt::byte_size(v) {
                Ok(n) if n >= 1024 => Ok(n.unsigned_abs()),
                Ok(n) => Err(format!("http_max_body must be at least 1KB, not {n}")),
                Err(e) => Err(e),
            },
            4 << 20,
        );
        let http_idle_timeout = self.conv(
            S,
            "http_idle_timeout",
            "60",
            &e,
            |v| positive_count(v, "http_idle_timeout"),
            60,
        );
        let shutdown_timeout = self.conv(
            S,
            "shutdown_timeout",
            "",
            &e,
            |v| match v.trim() {
                "" => Ok(None),
                v => positive_count(v, "shutdown_timeout").map(Some),
            },
            None,
        );
        let forward_signals = self.conv(
            S,
            "forward_signals",
            "",
            &e,
            forwardable_signals,
            Vec::new(),
        );
        let pdeathsig = self.conv(
            S,
            "pdeathsig",
            "KILL",
            &e,
            |v| match v.trim().to_ascii_lowercase().as_str() {
                "" | "none" | "off" | "false" | "0" => Ok(None),
                _ => dt::signal_number(v).map(Some),
            },
            Some(9),
        );
        let cgroups = self.conv(S, "cgroups", "true", &e, dt::boolean, true);
        let previous_run = self.conv(
            S,
            "previous_run",
            "stop",
            &e,
            |v| match v.trim().to_ascii_lowercase().as_str() {
                "stop" => Ok(PreviousRun::Stop),
                "adopt" => Ok(PreviousRun::Adopt),
                _ => Err("not one of stop, adopt".into()),
            },
            PreviousRun::Stop,
        );
        let directory = match self.get(S, "directory", None, Some(&e)) {
            None => None,
            Some(d) => match dt::existing_directory(&d, &cwd, env, sys) {
                Ok(v) => Some(PathBuf::from(v)),
                Err(r) => {
                    self.invalid(S, "directory", &d, r);
                    None
                }
            },
        };
        let user = self.get(S, "user", None, Some(&e));
        let umask = self.conv(S, "umask", "022", &e, dt::octal, 0o22);
        let logfile = self.conv(
            S,
            "logfile",
            "supervisord.log",
            &e,
            |v| dt::existing_dirpath(v, &cwd, env, sys),
            "supervisord.log".to_string(),
        );
        let logfile_maxbytes = self.conv(
            S,
            "logfile_maxbytes",
            "50MB",
            &e,
            dt::byte_size,
            50 * 1024 * 1024,
        );
        let logfile_backups = self.conv(S, "logfile_backups", "10", &e, dt::integer, 10);
        let loglevel = self.conv(S, "loglevel", "info", &e, dt::logging_level, LogLevel::Info);
        let pidfile = self.conv(
            S,
            "pidfile",
            "supervisord.pid",
            &e,
            |v| dt::existing_dirpath(v, &cwd, env, sys),
            "supervisord.pid".to_string(),
        );
        let identifier = self
            .get(S, "identifier", Some("supervisor"), Some(&e))
            .unwrap_or_else(|| "supervisor".into());
        let nodaemon = self.conv(S, "nodaemon", "false", &e, dt::boolean, false);
        let silent = self.conv(S, "silent", "false", &e, dt::boolean, false);
        let tmp = ctx.temp_dir.to_string_lossy().into_owned();
        let childlogdir = self.conv(
            S,
            "childlogdir",
            &tmp,
            &e,
            |v| dt::existing_directory(v, &cwd, env, sys),
            tmp.clone(),
        );
        let nocleanup = self.conv(S, "nocleanup", "false", &e, dt::boolean, false);
        let strip_ansi = self.conv(S, "strip_ansi", "false", &e, dt::boolean, false);
        // environment is expanded twice: by get(), then by expand() with host_node_name too.
        let mut environment = Vec::new();
        if let Some(env_str) = self.get(S, "environment", Some(""), Some(&e)) {
            let mut exp2 = self.env_exp.clone();
            exp2.insert("here".into(), PyValue::Str(self.here.clone()));
            exp2.insert(
                "host_node_name".into(),
                PyValue::Str(ctx.host_node_name.clone()),
            );
            if let Some(s) = self.expand_or_err(S, "environment", &env_str, &exp2, "environment") {
                match shlex::key_value_pairs(&s) {
                    Ok(pairs) => environment = pairs,
                    Err(r) => self.invalid(S, "environment", &s, r),
                }
            }
        }
        let environment = self.with_env_file(S, &e, environment);
        for (k, v) in &environment {
            self.env_exp
                .insert(format!("ENV_{k}"), PyValue::Str(v.clone()));
        }
        // realize(): resolve user, normalize log and pid files.
        let uid = match &user {
            None => None,
            Some(u) => match dt::name_to_uid(u, sys) {
                Ok(uid) => Some(uid),
                Err(r) => {
                    let u = u.clone();
                    self.invalid(S, "user", &u, r);
                    None
                }
            },
        };
        let logfile = if logfile == "syslog" {
            PathBuf::from("syslog")
        } else {
            dt::normalize_path(&logfile, &cwd, env, sys)
        };
        SupervisordSection {
            logfile,
            logfile_maxbytes,
            logfile_backups,
            loglevel,
            pidfile: dt::normalize_path(&pidfile, &cwd, env, sys),
            umask,
            nodaemon,
            silent,
            minfds,
            minprocs,
            http_max_connections,
            http_idle_timeout,
            http_max_body,
            shutdown_timeout,
            forward_signals,
            pdeathsig,
            cgroups,
            previous_run,
            nocleanup,
            childlogdir: PathBuf::from(childlogdir),
            user,
            uid,
            directory,
            strip_ansi,
            environment,
            identifier,
        }
    }

    fn rpcinterfaces(&mut self, sections: &[String]) -> Vec<RpcInterface> {
        const FACTORY: &str = "supervisor.rpcinterface_factory";
        let mut out = Vec::new();
        let none = Expansions::new();
        for s in sections.iter().filter(|s| s.starts_with("rpcinterface:")) {
            let name = after_colon(s).to_string();
            let factory = match self.get(s, FACTORY, None, Some(&none)) {
                Some(f) => f,
                None => {
                    if self.raw.get(s, FACTORY).is_none() {
                        self.err(
                            s,
                            None,
                            ErrorKind::MissingKey {
                                what: format!("section [{s}] does not specify a {FACTORY}"),
                            },
                        );
                    }
                    continue;
                }
            };
            let mut extras = Vec::new();
            for k in self.raw.options(s) {
                if k != FACTORY {
                    if let Some(v) = self.get(s, &k, None, Some(&none)) {
                        extras.push((k, v));
                    }
                }
            }
            out.push(RpcInterface {
                name,
                factory,
                extras,
            });
        }
        out
    }

    fn process_groups(
        &mut self,
        sections: &[String],
    ) -> (Vec<GroupConfig>, Vec<EventListenerPool>, Vec<FcgiGroup>) {
        let ctx = self.ctx;
        let sys = ctx.system;
        let e = self.here_exp();
        let mut groups = Vec::new();
        let mut exclude: Vec<String> = Vec::new();
        for gs in sections.iter().filter(|s| s.starts_with("group:")) {
            let group_name = match dt::process_or_group_name(after_colon(gs)) {
                Ok(n) => n,
                Err(r) => {
                    self.err(gs, None, ErrorKind::Invalid(r));
                    continue;
                }
            };
            let programs = self
                .get(gs, "programs", None, Some(&e))
                .map(|p| dt::list_of_strings(&p))
                .unwrap_or_default();
            let priority = self.conv(gs, "priority", "999", &e, dt::integer, 999);
            let mut processes = Vec::new();
            for program in programs {
                let ps = format!("program:{program}");
                let fs = format!("fcgi-program:{program}");
                let has_p = sections.contains(&ps);
                let has_f = sections.contains(&fs);
                let section = match (has_p, has_f) {
                    (false, false) => {
                        self.err(
                            gs,
                            Some("programs"),
                            ErrorKind::Invalid(format!(
                                "[{gs}] names unknown program or fcgi-program {program}"
                            )),
                        );
                        continue;
                    }
                    (true, true) => {
                        self.err(
                            gs,
                            Some("programs"),
                            ErrorKind::Invalid(format!(
                                "[{gs}] name {program} is ambiguous (exists as program and fcgi-program)"
                            )),
                        );
                        continue;
                    }
                    (true, false) => ps,
                    (false, true) => fs,
                };
                exclude.push(section.clone());
                processes.extend(self.processes_from_section(
                    &section,
                    &group_name,
                    ProcessKind::Program,
                ));
            }
            groups.push(GroupConfig {
                name: group_name,
                priority,
                heterogeneous: true,
                processes,
            });
        }
        for s in sections
            .iter()
            .filter(|s| s.starts_with("program:") && !exclude.contains(s))
        {
            let name = match dt::process_or_group_name(after_colon(s)) {
                Ok(n) => n,
                Err(r) => {
                    self.err(s, None, ErrorKind::Invalid(r));
                    continue;
                }
            };
            let priority = self.conv(s, "priority", "999", &e, dt::integer, 999);
            let processes = self.processes_from_section(s, &name, ProcessKind::Program);
            groups.push(GroupConfig {
                name,
                priority,
                heterogeneous: false,
                processes,
            });
        }
        let mut listeners = Vec::new();
        for s in sections.iter().filter(|s| s.starts_with("eventlistener:")) {
            let pool_name = after_colon(s).to_string();
            let priority = self.conv(s, "priority", "-1", &e, dt::integer, -1);
            let buffer_size = self.conv(s, "buffer_size", "10", &e, dt::integer, 10);
            if buffer_size < 1 {
                self.err(
                    s,
                    Some("buffer_size"),
                    ErrorKind::Invalid(format!(
                        "[{s}] section sets invalid buffer_size ({buffer_size})"
                    )),
                );
            }
            let result_handler = self
                .get(
                    s,
                    "result_handler",
                    Some("supervisor.dispatchers:default_handler"),
                    Some(&e),
                )
                .unwrap_or_default();
            if result_handler != "supervisor.dispatchers:default_handler" {
                // A result handler is Python code that warden cannot load:
                // running the pool with another handler would silently
                // change what its listeners' answers mean.
                self.err(
                    s,
                    Some("result_handler"),
                    ErrorKind::Invalid(format!(
                        "[{s}] result_handler={result_handler} is a Python function warden cannot load; only supervisor.dispatchers:default_handler is supported"
                    )),
                );
            }
            let mut events: Vec<String> = self
                .get(s, "events", Some(""), Some(&e))
                .map(|v| dt::list_of_strings(&v))
                .unwrap_or_default()
                .into_iter()
                .map(|x| x.to_uppercase())
                .collect();
            events.sort();
            events.dedup();
            if events.is_empty() {
                self.err(
                    s,
                    Some("events"),
                    ErrorKind::MissingKey {
                        what: format!("[{s}] section requires an \"events\" line"),
                    },
                );
            }
            for ev in &events {
                if !EVENT_TYPES.contains(&ev.as_str()) {
                    self.err(
                        s,
                        Some("events"),
                        ErrorKind::Invalid(format!("Unknown event type {ev} in [{s}] events")),
                    );
                }
            }
            let redirect = self.conv(s, "redirect_stderr", "false", &e, dt::boolean, false);
            if redirect {
                self.err(
                    s,
                    Some("redirect_stderr"),
                    ErrorKind::Invalid(format!(
                        "[{s}] section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol"
                    )),
                );
            }
            let processes = self.processes_from_section(s, &pool_name, ProcessKind::EventListener);
            listeners.push(EventListenerPool {
                name: pool_name,
                priority,
                buffer_size,
                events,
                result_handler,
                processes,
            });
        }
        let mut fcgis = Vec::new();
        for s in sections
            .iter()
            .filter(|s| s.starts_with("fcgi-program:") && !exclude.contains(s))
        {
            let name = match dt::process_or_group_name(after_colon(s)) {
                Ok(n) => n,
                Err(r) => {
                    self.err(s, None, ErrorKind::Invalid(r));
                    continue;
                }
            };
            let priority = self.conv(s, "priority", "999", &e, dt::integer, 999);
            let mut fe = e.clone();
            fe.insert("program_name".into(), PyValue::Str(name.clone()));
            if let Some(u) = self.get(s, "user", None, Some(&e)) {
                if let Err(r) = dt::name_to_uid(&u, sys) {
                    self.invalid(s, "user", &u, r);
                }
            }
            let backlog = match self.get(s, "socket_backlog", None, Some(&e)) {
                None => None,
                Some(b) => match dt::integer(&b) {
                    Ok(v) if (1..=65535).contains(&v) => Some(v),
                    Ok(v) => {
                        self.invalid(
                            s,
                            "socket_backlog",
                            &b,
                            format!("Invalid socket_backlog value {v}"),
                        );
                        None
                    }
                    Err(r) => {
                        self.invalid(s, "socket_backlog", &b, r);
                        None
                    }
                },
            };
            let owner = match self.get(s, "socket_owner", None, Some(&e)) {
                None => None,
                Some(o) => match dt::colon_separated_user_group(&o, sys) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        self.invalid(
                            s,
                            "socket_owner",
                            &o,
                            format!("Invalid socket_owner value {o}"),
                        );
                        None
                    }
                },
            };
            let mode = match self.get(s, "socket_mode", None, Some(&e)) {
                None => None,
                Some(m) => match dt::octal(&m) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        self.invalid(
                            s,
                            "socket_mode",
                            &m,
                            format!("Invalid socket_mode value {m}"),
                        );
                        None
                    }
                },
            };
            let sock = self.get(s, "socket", None, Some(&fe)).unwrap_or_default();
            let socket = if sock.is_empty() {
                if self.raw.get(s, "socket").is_none() || sock.is_empty() {
                    self.err(
                        s,
                        Some("socket"),
                        ErrorKind::MissingKey {
                            what: format!("[{s}] section requires a \"socket\" line"),
                        },
                    );
                }
                None
            } else {
                match self.fcgi_socket(&sock, owner, mode) {
                    Ok(v) => Some(v),
                    Err(r) => {
                        self.invalid(s, "socket", &sock, format!("{r} in [{s}] socket"));
                        None
                    }
                }
            };
            let processes = self.processes_from_section(s, &name, ProcessKind::FcgiProgram);
            if let Some(socket) = socket {
                fcgis.push(FcgiGroup {
                    name,
                    priority,
                    socket,
                    socket_backlog: backlog,
                    processes,
                });
            }
        }
        groups.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        listeners.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        fcgis.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        (groups, listeners, fcgis)
    }

    fn fcgi_socket(
        &self,
        sock: &str,
        owner: Option<(u32, Option<u32>)>,
        mode: Option<u32>,
    ) -> Result<FcgiSocket, String> {
        if let Some(path) = sock.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!("Unix socket path {path} is not an absolute path"));
            }
            return Ok(FcgiSocket::Unix {
                path: dt::normalize_path(path, &self.ctx.cwd, &self.ctx.env, self.ctx.system),
                mode: mode.unwrap_or(0o700),
                owner,
            });
        }
        if owner.is_some() || mode.is_some() {
            return Err(
                "socket_owner and socket_mode params should only be used with a Unix domain socket"
                    .into(),
            );
        }
        if let Some(rest) = sock.strip_prefix("tcp://") {
            if let Some((host, port)) = rest.rsplit_once(':') {
                let host_ok =
                    !host.is_empty() && !host.chars().any(|c| c.is_whitespace() || c == ':');
                let port_ok = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
                if host_ok && port_ok {
                    let port = dt::port_number(port)?;
                    return Ok(FcgiSocket::Tcp {
                        host: host.to_lowercase(),
                        port,
                    });
                }
            }
        }
        Err(format!("Bad socket format {sock}"))
    }

    fn processes_from_section(
        &mut self,
        section: &str,
        group_name: &str,
        kind: ProcessKind,
    ) -> Vec<ProcessConfig> {
        let ctx = self.ctx;
        let (cwd, env, sys) = (&ctx.cwd, &ctx.env, ctx.system);
        let s = section;
        let program_name = match dt::process_or_group_name(after_colon(s)) {
            Ok(n) => n,
            Err(r) => {
                self.err(s, None, ErrorKind::Invalid(r));
                return Vec::new();
            }
        };
        let errors_before = self.errors.len();
        // supervisord's `common_expansions`, which the numprocs loop later mutates.
        let mut common = self.here_exp();
        common.insert("program_name".into(), PyValue::Str(program_name.clone()));
        common.insert(
            "host_node_name".into(),
            PyValue::Str(ctx.host_node_name.clone()),
        );
        common.insert("group_name".into(), PyValue::Str(group_name.to_string()));
        let c = common.clone();
        let priority = self.conv(s, "priority", "999", &c, dt::integer, 999);
        let autostart = self.conv(s, "autostart", "true", &c, dt::boolean, true);
        let autorestart = self.conv(
            s,
            "autorestart",
            "unexpected",
            &c,
            dt::auto_restart,
            AutoRestart::Unexpected,
        );
        let startsecs = self.conv(s, "startsecs", "1", &c, dt::integer, 1);
        let startretries = self.conv(s, "startretries", "3", &c, dt::integer, 3);
        let stopsignal = self.conv(
            s,
            "stopsignal",
            "TERM",
            &c,
            dt::signal_number,
            libc::SIGTERM,
        );
        let stopwaitsecs = self.conv(s, "stopwaitsecs", "10", &c, dt::integer, 10);
        let stopasgroup = self.conv(s, "stopasgroup", "false", &c, dt::boolean, false);
        let killasgroup = self.conv(
            s,
            "killasgroup",
            if stopasgroup { "true" } else { "false" },
            &c,
            dt::boolean,
            stopasgroup,
        );
        let exitcodes = self.conv(s, "exitcodes", "0", &c, dt::list_of_exitcodes, vec![0]);
        let lifecycle = if kind == ProcessKind::Program {
            self.lifecycle(s, &c)
        } else {
            Lifecycle::default()
        };
        let redirect_stderr = self.conv(s, "redirect_stderr", "false", &c, dt::boolean, false);
        let numprocs = self.conv(s, "numprocs", "1", &c, dt::integer, 1);
        let numprocs_start = self.conv(s, "numprocs_start", "0", &c, dt::integer, 0);
        let environment_str = self
            .get(s, "environment", Some(""), None)
            .unwrap_or_default();
        let stdout_cmax = self.conv(s, "stdout_capture_maxbytes", "0", &c, dt::byte_size, 0);
        let stdout_events = self.conv(s, "stdout_events_enabled", "false", &c, dt::boolean, false);
        let stderr_cmax = self.conv(s, "stderr_capture_maxbytes", "0", &c, dt::byte_size, 0);
        let stderr_events = self.conv(s, "stderr_events_enabled", "false", &c, dt::boolean, false);
        let serverurl = self
            .get(s, "serverurl", None, Some(&c))
            .filter(|u| !u.trim().eq_ignore_ascii_case("AUTO"));
        let user = self.get(s, "user", None, Some(&c));
        let uid = match &user {
            None => None,
            Some(u) => match dt::name_to_uid(u, sys) {
                Ok(v) => Some(v),
                Err(r) => {
                    let u = u.clone();
                    self.invalid(s, "user", &u, r);
                    None
                }
            },
        };
        let umask = match self.get(s, "umask", None, Some(&c)) {
            None => None,
            Some(m) => match dt::octal(&m) {
                Ok(v) => Some(v),
                Err(r) => {
                    self.invalid(s, "umask", &m, r);
                    None
                }
            },
        };
        let pn_raw = self
            .get(s, "process_name", Some("%(program_name)s"), None)
            .unwrap_or_default();
        let process_name = match dt::process_or_group_name(&pn_raw) {
            Ok(v) => v,
            Err(r) => {
                self.invalid(s, "process_name", &pn_raw, r);
                return Vec::new();
            }
        };
        if numprocs > 1 && !process_name.contains("%(process_num)") {
            self.err(
                s,
                Some("process_name"),
                ErrorKind::Invalid(
                    "%(process_num) must be present within process_name when numprocs > 1".into(),
                ),
            );
            return Vec::new();
        }
        if stopasgroup && !killasgroup {
            self.err(
                s,
                Some("killasgroup"),
                ErrorKind::Invalid("Cannot set stopasgroup=true and killasgroup=false".into()),
            );
        }
        let file = self
            .raw
            .section(s)
            .map(|x| (*x.file).clone())
            .unwrap_or_else(|| self.main_file.clone());
        let mut out = Vec::new();
        let end = numprocs_start.saturating_add(numprocs.max(0));
        for process_num in numprocs_start..end {
            common.insert("process_num".into(), PyValue::Int(process_num));
            common.insert("numprocs".into(), PyValue::Int(numprocs));
            common.extend(self.env_exp.iter().map(|(k, v)| (k.clone(), v.clone())));
            let mut environment = Vec::new();
            if let Some(es) =
                self.expand_or_err(s, "environment", &environment_str, &common, "environment")
            {
                match shlex::key_value_pairs(&es) {
                    Ok(p) => environment = p,
                    Err(r) => self.invalid(s, "environment", &es, r),
                }
            }
            let environment = self.with_env_file(s, &common, environment);
            for (k, v) in &environment {
                common.insert(format!("ENV_{k}"), PyValue::Str(v.clone()));
            }
            let directory = self.get(s, "directory", None, Some(&common));
            let mut logs = Vec::new();
            for (stream, cmax, events) in [
                ("stdout", stdout_cmax, stdout_events),
                ("stderr", stderr_cmax, stderr_events),
            ] {
                let lf_key = format!("{stream}_logfile");
                let mut logfile = LogFile::Auto;
                let mut is_syslog = false;
                if let Some(v) = self.get(s, &lf_key, None, Some(&common)) {
                    if let Some(v) = self.expand_or_err(s, &lf_key, &v, &common, &lf_key) {
                        match v.to_lowercase().as_str() {
                            "none" | "off" => logfile = LogFile::None,
                            "auto" => logfile = LogFile::Auto,
                            "syslog" => is_syslog = true,
                            _ => match dt::existing_dirpath(&v, cwd, env, sys) {
                                Ok(p) => logfile = LogFile::Path(PathBuf::from(p)),
                                Err(r) => self.invalid(s, &lf_key, &v, r),
                            },
                        }
                    }
                }
                let bu_key = format!("{stream}_logfile_backups");
                let backups = self.conv(s, &bu_key, "10", &common, dt::integer, 10);
                let mb_key = format!("{stream}_logfile_maxbytes");
                let maxbytes =
                    self.conv(s, &mb_key, "50MB", &common, dt::byte_size, 50 * 1024 * 1024);
                let sy_key = format!("{stream}_syslog");
                let mut syslog = self.conv(s, &sy_key, "false", &common, dt::boolean, false);
                if is_syslog {
                    self.warn(
                        s,
                        Some(&lf_key),
                        WarningKind::DeprecatedSyslogLogfile {
                            key: lf_key.clone(),
                            syslog_key: sy_key.clone(),
                        },
                    );
                    logfile = LogFile::None;
                    syslog = true;
                }
                if logfile == LogFile::Auto && maxbytes == 0 {
                    self.warn(
                        s,
                        Some(&mb_key),
                        WarningKind::AutoLogWithoutRollover {
                            key: lf_key.clone(),
                        },
                    );
                }
                let (timestamps, format, rotate, compress) = self.log_extras(s, stream, &common);
                logs.push(StreamLog {
                    logfile,
                    logfile_maxbytes: maxbytes,
                    logfile_backups: backups,
                    capture_maxbytes: cmax,
                    events_enabled: events,
                    syslog,
                    timestamps,
                    format,
                    rotate,
                    compress,
                });
            }
            let mut stderr = logs.pop().expect("two streams");
            let stdout = logs.pop().expect("two streams");
            if redirect_stderr {
                if matches!(stderr.logfile, LogFile::Path(_)) {
                    self.warn(s, Some("stderr_logfile"), WarningKind::StderrLogfileIgnored);
                }
                stderr.logfile = LogFile::None;
            }
            let command = self.get(s, "command", None, Some(&common));
            if command.is_none() && self.raw.get(s, "command").is_none() {
                self.err(
                    s,
                    Some("command"),
                    ErrorKind::MissingKey {
                        what: format!("program section {s} does not specify a command"),
                    },
                );
            }
            let name =
                self.expand_or_err(s, "process_name", &process_name, &common, "process_name");
            let (Some(command), Some(name)) = (command, name) else {
                continue;
            };
            out.push(ProcessConfig {
                name,
                group: group_name.to_string(),
                program_name: program_name.clone(),
                section: s.to_string(),
                kind,
                file: file.clone(),
                process_num,
                numprocs,
                numprocs_start,
                argv: shlex::split(&command),
                command,
                directory,
                umask,
                priority,
                autostart,
                autorestart,
                startsecs,
                startretries,
                exitcodes: exitcodes.clone(),
                stopsignal,
                stopwaitsecs,
                stopasgroup,
                killasgroup,
                user: user.clone(),
                uid,
                redirect_stderr,
                stdout,
                stderr,
                environment,
                serverurl: serverurl.clone(),
                lifecycle: lifecycle.clone(),
            });
        }
        if self.errors.len() > errors_before {
            return Vec::new();
        }
        out.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        out
    }

    /// warden's lifecycle keys (see `crate::lifecycle`).
    fn lifecycle(&mut self, s: &str, c: &Expansions) -> Lifecycle {
        use crate::lifecycle as lc;
        let d = Lifecycle::default();
        let opt = |this: &mut Self, key: &str, f: fn(&str) -> Result<Probe, String>| {
            let v = this.get(s, key, None, Some(c))?;
            match f(&v) {
                Ok(p) => Some(p),
                Err(r) => {
                    this.invalid(s, key, &v, r);
                    None
                }
            }
        };
        let ready = opt(self, "ready", lc::probe);
        let healthcheck = opt(self, "healthcheck", lc::health_probe);
        Lifecycle {
            ready,
            ready_timeout: self.conv(s, "ready_timeout", "60", c, lc::seconds, d.ready_timeout),
            healthcheck,
            healthcheck_interval: self
                .conv(s, "healthcheck_interval", "10", c, lc::seconds, 10)
                .max(1),
            healthcheck_timeout: self
                .conv(s, "healthcheck_timeout", "5", c, lc::seconds, 5)
                .max(1),
            healthcheck_retries: self
                .conv(s, "healthcheck_retries", "3", c, lc::seconds, 3)
                .max(1),
            healthcheck_start_period: self.conv(
                s,
                "healthcheck_start_period",
                "0",
                c,
                lc::seconds,
                0,
            ),
            depends_on: self.conv(s, "depends_on", "", c, lc::depends_on, Vec::new()),
            backoff: self.conv(s, "backoff", "linear", c, lc::backoff, d.backoff),
            backoff_max: self
                .conv(s, "backoff_max", "60", c, lc::seconds, d.backoff_max)
                .max(1),
            backoff_reset: self.conv(s, "backoff_reset", "60", c, lc::seconds, d.backoff_reset),
            critical: self.conv(s, "critical", "false", c, dt::boolean, false),
        }
    }

    fn credentials(&mut self, s: &str) -> Credentials {
        let none = Expansions::new();
        let username = self.get(s, "username", None, Some(&none));
        let password = self.get(s, "password", None, Some(&none));
        if username.is_some() != password.is_some() {
            self.err(
                s,
                None,
                ErrorKind::Invalid(format!(
                    "Section [{s}] contains incomplete authentication: If a username or a password is specified, both the username and password must be specified"
                )),
            );
        }
        Credentials { username, password }
    }

    fn servers(&mut self, sections: &[String]) -> (Vec<InetHttpServer>, Vec<UnixHttpServer>) {
        let ctx = self.ctx;
        let none = Expansions::new();
        let mut inet = Vec::new();
        for s in sections
            .iter()
            .filter(|s| s.starts_with("inet_http_server"))
        {
            let name = s.split_once(':').map(|(_, n)| n.to_string());
            let credentials = self.credentials(s);
            let Some(port) = self.get(s, "port", None, Some(&none)) else {
                if self.raw.get(s, "port").is_none() {
                    self.err(
                        s,
                        Some("port"),
                        ErrorKind::MissingKey {
                            what: format!("section [{s}] has no port value"),
                        },
                    );
                }
                continue;
            };
            match dt::inet_address(&port) {
                Ok((host, port)) => inet.push(InetHttpServer {
                    name,
                    host,
                    port,
                    credentials,
                }),
                Err(r) => self.invalid(s, "port", &port, r),
            }
        }
        let mut unix = Vec::new();
        let e = self.here_exp();
        for s in sections
            .iter()
            .filter(|s| s.starts_with("unix_http_server"))
        {
            let name = s.split_once(':').map(|(_, n)| n.to_string());
            let Some(file) = self.get(s, "file", None, Some(&e)) else {
                if self.raw.get(s, "file").is_none() {
                    self.err(
                        s,
                        Some("file"),
                        ErrorKind::MissingKey {
                            what: format!("section [{s}] has no file value"),
                        },
                    );
                }
                continue;
            };
            let file = dt::normalize_path(file.trim(), &ctx.cwd, &ctx.env, ctx.system);
            let credentials = self.credentials(s);
            let chown = match self.get(s, "chown", None, Some(&none)) {
                None => None,
                Some(c) => match dt::colon_separated_user_group(&c, ctx.system) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        self.invalid(s, "chown", &c, format!("Invalid sockchown value {c}"));
                        None
                    }
                },
            };
            let chmod = match self.get(s, "chmod", None, Some(&none)) {
                None => 0o700,
                Some(m) => match dt::octal(&m) {
                    Ok(v) => v,
                    Err(_) => {
                        self.invalid(s, "chmod", &m, format!("Invalid chmod value {m}"));
                        0o700
                    }
                },
            };
            unix.push(UnixHttpServer {
                name,
                file,
                chmod,
                chown,
                credentials,
            });
        }
        (inet, unix)
    }

    /// `[supervisorctl]` as `ClientOptions.read_config` reads it. supervisord
    /// ignores this section, so problems here are warnings.
    fn supervisorctl(&mut self, env_only: &Expansions) -> Option<SupervisorctlSection> {
        const S: &str = "supervisorctl";
        let ctx = self.ctx;
        let mut e = env_only.clone();
        e.insert("here".into(), PyValue::Str(self.here.clone()));
        let mut problems = Vec::new();
        let mut get = |key: &str, default: Option<&str>, exp: &Expansions| -> Option<String> {
            match self.raw.get(S, key) {
                None => default.map(str::to_string),
                Some(v) => match expand(&v.value, exp, &format!("{S}.{key}")) {
                    Ok(s) => Some(s),
                    Err(m) => {
                        problems.push((key.to_string(), m));
                        default.map(str::to_string)
                    }
                },
            }
        };
        let mut serverurl = get("serverurl", Some("http://localhost:9001"), &e).unwrap_or_default();
        if let Some(p) = serverurl.strip_prefix("unix://") {
            serverurl = format!(
                "unix://{}",
                dt::normalize_path(p, &ctx.cwd, &ctx.env, ctx.system).display()
            );
        }
        let prompt = get("prompt", Some("supervisor"), env_only).unwrap_or_default();
        let username = get("username", None, env_only);
        let password = get("password", None, env_only);
        let history_file = get("history_file", None, &e)
            .filter(|h| !h.is_empty())
            .map(|h| dt::normalize_path(&h, &ctx.cwd, &ctx.env, ctx.system));
        for (key, m) in problems {
            self.warn(S, Some(&key), WarningKind::Supervisorctl(m));
        }
        Some(SupervisorctlSection {
            serverurl,
            credentials: Credentials { username, password },
            prompt,
            history_file,
        })
    }
}

/// Read the main file's text, then `[include]`d files, into the loader's raw config.
pub(crate) fn read_all(loader: &mut Loader<'_, '_>, text: &str, base_dir: &Path) {
    let main = loader.main_file.clone();
    let errs = loader.raw.read_str(text, &main);
    loader.errors.extend(errs);
    if !loader.raw.has_section("include") {
        return;
    }
    let here = loader.here.clone();
    loader.raw.expand_here(&here);
    let Some(files) = loader.raw.get("include", "files").map(|v| v.value.clone()) else {
        loader.err(
            "include",
            None,
            ErrorKind::MissingKey {
                what: ".ini file has [include] section, but no files setting".into(),
            },
        );
        return;
    };
    let mut exp = loader.env_exp.clone();
    exp.insert("here".into(), PyValue::Str(here));
    exp.insert(
        "host_node_name".into(),
        PyValue::Str(loader.ctx.host_node_name.clone()),
    );
    let Some(files) = loader.expand_or_err("include", "files", &files, &exp, "include.files")
    else {
        return;
    };
    let base = base_dir.to_string_lossy().into_owned();
    for pattern in files.split_whitespace() {
        let pattern = if pattern.starts_with('/') {
            pattern.to_string()
        } else if base.ends_with('/') {
            format!("{base}{pattern}")
        } else {
            format!("{base}/{pattern}")
        };
        let mut names = crate::glob::glob(&pattern);
        if names.is_empty() {
            loader.warn(
                "include",
                Some("files"),
                WarningKind::IncludeNoMatch { pattern },
            );
            continue;
        }
        names.sort();
        for name in names {
            let path = PathBuf::from(&name);
            let had_include_files = loader.raw.get("include", "files").map(|v| v.file.clone());
            match std::fs::read_to_string(&path) {
                Ok(t) => {
                    let errs = loader.raw.read_str(&t, &path);
                    loader.errors.extend(errs);
                    loader.included.push(path.clone());
                    let now = loader.raw.get("include", "files").map(|v| v.file.clone());
                    if now != had_include_files {
                        loader.warnings.push(Warning {
                            location: Location {
                                file: Some(path.clone()),
                                section: Some("include".into()),
                                ..Location::default()
                            },
                            kind: WarningKind::NestedInclude,
                        });
                    }
                }
                Err(e) => {
                    loader.warnings.push(Warning {
                        location: Location::file(path.clone()),
                        kind: WarningKind::IncludeUnreadable {
                            reason: e.to_string(),
                        },
                    });
                    continue;
                }
            }
            let abs_dir = dt::normpath(dt::dirname(&dt::normpath(&name)));
            loader.raw.expand_here(&abs_dir);
        }
    }
}

/// A whole number of at least 1 (warden's `http_*` limits).
/// `forward_signals`: a comma-separated list of HUP, INT, QUIT, USR1, USR2,
/// TERM and WINCH.
fn forwardable_signals(v: &str) -> Result<Vec<i32>, String> {
    const FORWARDABLE: [i32; 7] = [1, 2, 3, 10, 12, 15, 28];
    dt::list_of_strings(v)
        .iter()
        .map(|name| {
            let n = dt::signal_number(name)?;
            if FORWARDABLE.contains(&n) {
                Ok(n)
            } else {
                Err(format!(
                    "forward_signals takes HUP, INT, QUIT, TERM, USR1, USR2 and WINCH, not {name}"
                ))
            }
        })
        .collect()
}

fn positive_count(v: &str, key: &str) -> Result<u32, String> {
    match dt::integer(v) {
        Ok(n) if n >= 1 => u32::try_from(n).map_err(|_| format!("{key} is too large: {n}")),
        Ok(n) => Err(format!("{key} must be at least 1, not {n}")),
        Err(e) => Err(e),
    }
}
