//! Command-line options and `[supervisorctl]` settings, resolved exactly as
//! supervisor 4.3.0's `ClientOptions.realize` does: Python `getopt` rules
//! (options stop at the first non-option), the same usage errors (exit 2),
//! the same config-file search path, and the section read with the same
//! defaults and `%(ENV_X)s` / `%(here)s` expansions.
//!
//! supervisorctl reads only `[supervisorctl]` (and `[DEFAULT]`) of the main
//! file, ignoring `[include]`, and does not care whether the rest of the file
//! is a valid supervisord config. So this uses warden-config's INI reader and
//! expansion functions directly rather than [`warden_config::load`], which
//! validates (and may reject) the whole file.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use warden_config::expand::{expand, repr, Expansions, PyValue};
use warden_config::ini::RawConfig;

/// The default `serverurl`.
pub const DEFAULT_SERVERURL: &str = "http://localhost:9001";

/// Resolved options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `argv[0]`, used in usage messages.
    pub progname: String,
    /// `-c`, or the first existing default path.
    pub configfile: Option<PathBuf>,
    /// `-i`, or no command given.
    pub interactive: bool,
    /// Server URL.
    pub serverurl: String,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Prompt (without `> `).
    pub prompt: String,
    /// Readline history file.
    pub history_file: Option<PathBuf>,
    /// warden extension: `--json` before the command.
    pub json: bool,
    /// The command words.
    pub args: Vec<String>,
}

impl Options {
    /// Called as `warden ctl` (the `warden` binary's subcommand), not as
    /// `supervisorctl`: warden's own additions may show.
    #[must_use]
    pub fn warden_named(&self) -> bool {
        self.progname.ends_with("warden ctl")
    }
}

/// What realizing the options decided besides success.
#[derive(Debug)]
pub enum Early {
    /// Print this to stdout and exit 0 (`-h`).
    Help,
    /// Print `Error: msg` plus the help hint to stderr and exit 2.
    Usage(String),
}

struct Opt {
    short: Option<char>,
    long: Option<&'static str>,
    takes_arg: bool,
    name: &'static str,
}

const OPTS: &[Opt] = &[
    Opt {
        short: Some('h'),
        long: Some("help"),
        takes_arg: false,
        name: "help",
    },
    Opt {
        short: Some('?'),
        long: None,
        takes_arg: false,
        name: "help",
    },
    Opt {
        short: Some('c'),
        long: Some("configuration"),
        takes_arg: true,
        name: "configfile",
    },
    Opt {
        short: Some('i'),
        long: Some("interactive"),
        takes_arg: false,
        name: "interactive",
    },
    Opt {
        short: Some('s'),
        long: Some("serverurl"),
        takes_arg: true,
        name: "serverurl",
    },
    Opt {
        short: Some('u'),
        long: Some("username"),
        takes_arg: true,
        name: "username",
    },
    Opt {
        short: Some('p'),
        long: Some("password"),
        takes_arg: true,
        name: "password",
    },
    Opt {
        short: Some('r'),
        long: Some("history_file"),
        takes_arg: true,
        name: "history",
    },
    // warden extension; not an option of supervisorctl.
    Opt {
        short: None,
        long: Some("json"),
        takes_arg: false,
        name: "json",
    },
];

/// Python's `getopt.getopt(args, shortopts, longopts)`: returns
/// `(option as written, Opt name, value)` and the remaining arguments.
#[allow(clippy::type_complexity)]
fn getopt(
    args: &[String],
) -> Result<(Vec<(String, &'static str, Option<String>)>, Vec<String>), String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') && args[i] != "-" {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if let Some(rest) = a.strip_prefix("--") {
            let (name, value) = match rest.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (rest, None),
            };
            let exact = OPTS.iter().find(|o| o.long == Some(name));
            let opt = match exact {
                Some(o) => o,
                None => {
                    let cands: Vec<&Opt> = OPTS
                        .iter()
                        .filter(|o| o.long.is_some_and(|l| l.starts_with(name)))
                        .collect();
                    match cands.len() {
                        0 => return Err(format!("option --{name} not recognized")),
                        1 => cands[0],
                        _ => return Err(format!("option --{name} not a unique prefix")),
                    }
                }
            };
            let long = opt.long.unwrap_or_default();
            let value = if opt.takes_arg {
                match value {
                    Some(v) => Some(v),
                    None => {
                        i += 1;
                        match args.get(i) {
                            Some(v) => Some(v.clone()),
                            None => return Err(format!("option --{long} requires argument")),
                        }
                    }
                }
            } else {
                if value.is_some() {
                    return Err(format!("option --{long} must not have an argument"));
                }
                None
            };
            out.push((format!("--{long}"), opt.name, value));
        } else {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                let opt = OPTS
                    .iter()
                    .find(|o| o.short == Some(c))
                    .ok_or_else(|| format!("option -{c} not recognized"))?;
                if opt.takes_arg {
                    let rest: String = chars[j + 1..].iter().collect();
                    let value = if rest.is_empty() {
                        i += 1;
                        match args.get(i) {
                            Some(v) => v.clone(),
                            None => return Err(format!("option -{c} requires argument")),
                        }
                    } else {
                        rest
                    };
                    out.push((format!("-{c}"), opt.name, Some(value)));
                    break;
                }
                out.push((format!("-{c}"), opt.name, None));
                j += 1;
            }
        }
        i += 1;
    }
    Ok((out, args[i.min(args.len())..].to_vec()))
}

/// supervisor's `datatypes.url`: a scheme plus a netloc or a path.
fn valid_url(v: &str) -> bool {
    let Some((scheme, rest)) = v.split_once(':') else {
        return false;
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    scheme_ok && !rest.is_empty()
}

/// Realize options from `args` (without `argv[0]`), the environment and the
/// config file.
pub fn realize(
    progname: &str,
    args: &[String],
    env: &HashMap<String, String>,
) -> Result<Options, Early> {
    let (opts, rest) = getopt(args).map_err(Early::Usage)?;
    let mut o = Options {
        progname: progname.to_string(),
        ..Options::default()
    };
    let mut set: Vec<&str> = Vec::new();
    let (mut serverurl, mut username, mut password, mut history) = (None, None, None, None);
    for (flag, name, value) in opts {
        if name == "help" {
            return Err(Early::Help);
        }
        if name == "json" {
            o.json = true;
            continue;
        }
        let value = value.unwrap_or_default();
        if name == "serverurl" && !valid_url(&value) {
            return Err(Early::Usage(format!(
                "invalid value for {} {}: value {} is not a URL",
                flag,
                repr(&value),
                repr(&value)
            )));
        }
        if set.contains(&name) {
            return Err(Early::Usage(format!(
                "conflicting command line option {}",
                repr(&flag)
            )));
        }
        set.push(name);
        match name {
            "configfile" => o.configfile = Some(PathBuf::from(value)),
            "interactive" => o.interactive = true,
            "serverurl" => serverurl = Some(value),
            "username" => username = Some(value),
            "password" => password = Some(value),
            "history" => history = Some(value),
            _ => {}
        }
    }
    o.args = rest;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    if o.configfile.is_none() {
        let exe_dir = Path::new(progname).parent().unwrap_or(Path::new(""));
        o.configfile = warden_config::default_config_candidates(&cwd, exe_dir)
            .into_iter()
            .find(|p| p.exists());
    }
    let mut section = Section {
        serverurl: None,
        username: None,
        password: None,
        prompt: "supervisor".into(),
        history_file: None,
    };
    if let Some(cf) = &o.configfile {
        section = read_config(cf, &cwd, env).map_err(Early::Usage)?;
    }
    o.serverurl = serverurl
        .or(section.serverurl)
        .unwrap_or_else(|| DEFAULT_SERVERURL.to_string());
    o.username = username.or(section.username);
    o.password = password.or(section.password);
    o.prompt = section.prompt;
    o.history_file = history.map(PathBuf::from).or(section.history_file);
    if o.args.is_empty() {
        o.interactive = true;
    }
    Ok(o)
}

struct Section {
    serverurl: Option<String>,
    username: Option<String>,
    password: Option<String>,
    prompt: String,
    history_file: Option<PathBuf>,
}

fn read_config(path: &Path, cwd: &Path, env: &HashMap<String, String>) -> Result<Section, String> {
    let sys = &warden_config::OsSystem;
    let display = path.display().to_string();
    let abs = warden_config::datatypes::normalize_path(&display, cwd, env, sys);
    let here = warden_config::datatypes::dirname(&abs.to_string_lossy()).to_string();
    if !path.exists() {
        return Err(format!("could not find config file {display}"));
    }
    let text = std::fs::read(path).map_err(|_| format!("could not read config file {display}"))?;
    let text = String::from_utf8_lossy(&text);
    let mut raw = RawConfig::default();
    let errors = raw.read_str(&text, &abs);
    if let Some(e) = errors.first() {
        return Err(e.to_string());
    }
    if !raw.has_section("supervisorctl") {
        return Err(".ini file does not include supervisorctl section".into());
    }
    let mut env_exp: Expansions = Expansions::new();
    for (k, v) in env {
        env_exp.insert(format!("ENV_{k}"), PyValue::Str(v.clone()));
    }
    let mut with_here = env_exp.clone();
    with_here.insert("here".into(), PyValue::Str(here));
    let get = |key: &str, exp: &Expansions| -> Result<Option<String>, String> {
        match raw.get("supervisorctl", key) {
            None => Ok(None),
            Some(v) => expand(&v.value, exp, &format!("supervisorctl.{key}")).map(Some),
        }
    };
    let mut serverurl = get("serverurl", &with_here)?.unwrap_or_else(|| DEFAULT_SERVERURL.into());
    if let Some(p) = serverurl.strip_prefix("unix://") {
        serverurl = format!(
            "unix://{}",
            warden_config::datatypes::normalize_path(p, cwd, env, sys).display()
        );
    }
    let prompt = get("prompt", &env_exp)?.unwrap_or_else(|| "supervisor".into());
    let username = get("username", &env_exp)?;
    let password = get("password", &env_exp)?;
    let history_file = get("history_file", &with_here)?
        .filter(|h| !h.is_empty())
        .map(|h| warden_config::datatypes::normalize_path(&h, cwd, env, sys));
    Ok(Section {
        serverurl: Some(serverurl),
        username,
        password,
        prompt,
        history_file,
    })
}

/// `args` as UTF-8 strings (lossy), without `argv[0]`.
pub fn strings(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn getopt_like_python() {
        let (o, rest) = getopt(&s(&["-ic", "x.conf", "status", "-s", "y"])).unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o[1].2.as_deref(), Some("x.conf"));
        assert_eq!(rest, s(&["status", "-s", "y"]));
        let (o, _) = getopt(&s(&["--server=unix:///x", "--user", "bob"])).unwrap();
        assert_eq!(o[0].1, "serverurl");
        assert_eq!(o[1].2.as_deref(), Some("bob"));
        assert_eq!(getopt(&s(&["-x"])).unwrap_err(), "option -x not recognized");
        assert_eq!(
            getopt(&s(&["-c"])).unwrap_err(),
            "option -c requires argument"
        );
        assert_eq!(
            getopt(&s(&["--help=1"])).unwrap_err(),
            "option --help must not have an argument"
        );
    }

    #[test]
    fn urls() {
        assert!(valid_url("unix:///tmp/x"));
        assert!(valid_url("http://localhost:9001"));
        assert!(!valid_url("foo"));
        assert!(!valid_url("http:"));
    }
}
