//! Value conversions from supervisord's `datatypes.py`, with the same
//! accepted spellings and error messages. Each returns `Err(message)`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::expand::repr;
use crate::model::{AutoRestart, LogLevel};
use crate::system::System;

fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace())
}

fn digits_with_underscores(s: &str, radix: u32) -> bool {
    !s.is_empty()
        && !s.starts_with('_')
        && !s.ends_with('_')
        && !s.contains("__")
        && s.chars().all(|c| c == '_' || c.is_digit(radix))
}

/// Python `int(s)` for a string (base 10), limited to `i64`.
pub fn py_int(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid literal for int() with base 10: {}", repr(s));
    let t = py_strip(s);
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if !digits_with_underscores(body, 10) {
        return Err(bad());
    }
    let digits: String = body.chars().filter(|&c| c != '_').collect();
    let v: i64 = digits
        .parse()
        .map_err(|_| format!("integer too large: {}", repr(s)))?;
    Ok(if neg { -v } else { v })
}

/// `integer()`.
pub fn integer(s: &str) -> Result<i64, String> {
    py_int(s)
}

/// `boolean()`: yes/true/on/1 and no/false/off/0, case-insensitive.
pub fn boolean(s: &str) -> Result<bool, String> {
    match s.to_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("not a valid boolean value: {}", repr(s))),
    }
}

/// `byte_size()`: an integer with an optional KB/MB/GB suffix (x1024).
pub fn byte_size(s: &str) -> Result<i64, String> {
    let v = s.to_lowercase();
    let chars: Vec<char> = v.chars().collect();
    if chars.len() >= 2 {
        let suffix: String = chars[chars.len() - 2..].iter().collect();
        let mult: Option<i64> = match suffix.as_str() {
            "kb" => Some(1024),
            "mb" => Some(1024 * 1024),
            "gb" => Some(1024 * 1024 * 1024),
            _ => None,
        };
        if let Some(m) = mult {
            let num: String = chars[..chars.len() - 2].iter().collect();
            return py_int(&num)?
                .checked_mul(m)
                .ok_or_else(|| format!("byte size too large: {}", repr(s)));
        }
    }
    py_int(&v)
}

/// `octal_type()`: `int(s, 8)`; negative values are rejected.
pub fn octal(s: &str) -> Result<u32, String> {
    let bad = || format!("{s} can not be converted to an octal type");
    let t = py_strip(s);
    let body = t.strip_prefix('+').unwrap_or(t);
    let body = body
        .strip_prefix("0o")
        .or_else(|| body.strip_prefix("0O"))
        .map(|b| b.strip_prefix('_').unwrap_or(b))
        .unwrap_or(body);
    if !digits_with_underscores(body, 8) {
        return Err(bad());
    }
    let digits: String = body.chars().filter(|&c| c != '_').collect();
    u32::from_str_radix(&digits, 8).map_err(|_| bad())
}

/// `logging_level()`.
pub fn logging_level(s: &str) -> Result<LogLevel, String> {
    Ok(match s.to_lowercase().as_str() {
        "critical" => LogLevel::Critical,
        "error" => LogLevel::Error,
        "warn" => LogLevel::Warn,
        "info" => LogLevel::Info,
        "debug" => LogLevel::Debug,
        "trace" => LogLevel::Trace,
        "blather" => LogLevel::Blather,
        _ => return Err(format!("bad logging level name {}", repr(s))),
    })
}

/// `auto_restart()`.
pub fn auto_restart(s: &str) -> Result<AutoRestart, String> {
    let v = s.to_lowercase();
    match v.as_str() {
        "yes" | "true" | "on" | "1" => Ok(AutoRestart::Always),
        "no" | "false" | "off" | "0" => Ok(AutoRestart::Never),
        "unexpected" => Ok(AutoRestart::Unexpected),
        _ => Err(format!("invalid 'autorestart' value {}", repr(&v))),
    }
}

/// `list_of_strings()`: comma-separated, each stripped; empty -> [].
pub fn list_of_strings(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(',').map(|x| py_strip(x).to_string()).collect()
}

/// `list_of_exitcodes()`: comma-separated ints in 0..=255; empty -> [].
pub fn list_of_exitcodes(s: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("not a valid list of exit codes: {}", repr(s));
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|x| {
            let v = py_int(x).map_err(|_| bad())?;
            u8::try_from(v).map_err(|_| bad())
        })
        .collect()
}

/// `signal_number()`: a number, or a name with or without `SIG`, any case
/// ([`warden_sys::Signal::supervisord_number`]), with supervisord's messages.
pub fn signal_number(s: &str) -> Result<i32, String> {
    use warden_sys::signal::SupervisordSignalError as E;
    warden_sys::Signal::supervisord_number(s).map_err(|e| match e {
        E::BadName => format!("value {} is not a valid signal name", repr(s)),
        E::BadNumber => format!("value {} is not a valid signal number", repr(s)),
    })
}

/// `process_or_group_name()`: stripped; no space, colon or slash.
pub fn process_or_group_name(s: &str) -> Result<String, String> {
    let t = py_strip(s);
    for c in [' ', ':', '/'] {
        if t.contains(c) {
            return Err(format!(
                "Invalid name: {} because of character: {}",
                repr(s),
                repr(&c.to_string())
            ));
        }
    }
    Ok(t.to_string())
}

/// `port_number()`: 1..=65535.
pub fn port_number(s: &str) -> Result<u16, String> {
    let v = py_int(s)?;
    if v < 1 {
        return Err(format!("{v} is below lower bound (1)"));
    }
    if v > 0xffff {
        return Err(format!("{v} is above upper bound (65535)"));
    }
    Ok(v as u16)
}

/// `inet_address()`: `host:port`, `*:port`, `:port` or bare `port`;
/// returns (lower-cased host, empty meaning all interfaces; port).
pub fn inet_address(s: &str) -> Result<(String, u16), String> {
    if let Some(i) = s.rfind(':') {
        let host = &s[..i];
        let port = &s[i + 1..];
        if port.is_empty() {
            return Err(format!("no port number specified in {}", repr(port)));
        }
        let port = port_number(port)?;
        let host = host.to_lowercase();
        let host = if host == "*" { String::new() } else { host };
        Ok((host, port))
    } else {
        let port = port_number(s).map_err(|_| format!("not a valid port number: {} ", repr(s)))?;
        Ok((String::new(), port))
    }
}

/// `os.path.normpath` for POSIX paths.
pub fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        2
    } else if p.starts_with('/') {
        1
    } else {
        0
    };
    let mut comps: Vec<&str> = Vec::new();
    for c in p.split('/') {
        if c.is_empty() || c == "." {
            continue;
        }
        if c != ".." || (initial == 0 && comps.is_empty()) || comps.last() == Some(&"..") {
            comps.push(c);
        } else if !comps.is_empty() {
            comps.pop();
        }
    }
    let mut out = "/".repeat(initial);
    out.push_str(&comps.join("/"));
    if out.is_empty() {
        ".".into()
    } else {
        out
    }
}

/// `os.path.expanduser` using `HOME` from `env`, else the user database.
pub fn expanduser(v: &str, env: &HashMap<String, String>, sys: &dyn System) -> String {
    if !v.starts_with('~') {
        return v.to_string();
    }
    let end = v.find('/').unwrap_or(v.len());
    let user = &v[1..end];
    let home = if user.is_empty() {
        match env.get("HOME") {
            Some(h) => Some(h.clone()),
            None => std::env::var("USER")
                .ok()
                .and_then(|u| sys.home_of(&u))
                .map(|p| p.to_string_lossy().into_owned()),
        }
    } else {
        sys.home_of(user).map(|p| p.to_string_lossy().into_owned())
    };
    match home {
        None => v.to_string(),
        Some(h) => {
            let h = if h == "/" {
                ""
            } else {
                h.trim_end_matches('/')
            };
            let rest = &v[end..];
            let out = format!("{h}{rest}");
            if out.is_empty() {
                "/".into()
            } else {
                out
            }
        }
    }
}

/// `normalize_path`: `normpath(abspath(expanduser(v)))`.
pub fn normalize_path(
    v: &str,
    cwd: &Path,
    env: &HashMap<String, String>,
    sys: &dyn System,
) -> PathBuf {
    let e = expanduser(v, env, sys);
    let abs = if e.starts_with('/') {
        e
    } else {
        format!("{}/{}", cwd.to_string_lossy(), e)
    };
    PathBuf::from(normpath(&abs))
}

fn absolute(v: &str, cwd: &Path) -> PathBuf {
    if v.starts_with('/') {
        PathBuf::from(v)
    } else {
        cwd.join(v)
    }
}

/// `os.path.dirname`.
pub fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        None => "",
        Some(i) => {
            let head = &p[..=i];
            let t = head.trim_end_matches('/');
            if t.is_empty() {
                head
            } else {
                t
            }
        }
    }
}

/// `existing_dirpath()`: the path's directory must exist (a bare file name is fine).
pub fn existing_dirpath(
    v: &str,
    cwd: &Path,
    env: &HashMap<String, String>,
    sys: &dyn System,
) -> Result<String, String> {
    let nv = expanduser(v, env, sys);
    let dir = dirname(&nv);
    if dir.is_empty() || sys.is_dir(&absolute(dir, cwd)) {
        return Ok(nv);
    }
    Err(format!(
        "The directory named as part of the path {v} does not exist"
    ))
}

/// `existing_directory()`.
pub fn existing_directory(
    v: &str,
    cwd: &Path,
    env: &HashMap<String, String>,
    sys: &dyn System,
) -> Result<String, String> {
    let nv = expanduser(v, env, sys);
    if sys.is_dir(&absolute(&nv, cwd)) {
        return Ok(nv);
    }
    Err(format!("{v} is not an existing directory"))
}

/// `name_to_uid()`.
pub fn name_to_uid(name: &str, sys: &dyn System) -> Result<u32, String> {
    match py_int(name) {
        Ok(n) => {
            let uid = u32::try_from(n).map_err(|_| format!("Invalid user id {name}"))?;
            if sys.uid_exists(uid) {
                Ok(uid)
            } else {
                Err(format!("Invalid user id {name}"))
            }
        }
        Err(_) => sys
            .uid_by_name(name)
            .ok_or_else(|| format!("Invalid user name {name}")),
    }
}

/// `name_to_gid()`.
pub fn name_to_gid(name: &str, sys: &dyn System) -> Result<u32, String> {
    match py_int(name) {
        Ok(n) => {
            let gid = u32::try_from(n).map_err(|_| format!("Invalid group id {name}"))?;
            if sys.gid_exists(gid) {
                Ok(gid)
            } else {
                Err(format!("Invalid group id {name}"))
            }
        }
        Err(_) => sys
            .gid_by_name(name)
            .ok_or_else(|| format!("Invalid group name {name}")),
    }
}

/// `colon_separated_user_group()`: `user` or `user:group` to (uid, gid or None).
pub fn colon_separated_user_group(s: &str, sys: &dyn System) -> Result<(u32, Option<u32>), String> {
    let bad = || format!("Invalid user:group definition {s}");
    match s.split_once(':') {
        None => Ok((name_to_uid(s, sys).map_err(|_| bad())?, None)),
        Some((u, g)) => Ok((
            name_to_uid(u, sys).map_err(|_| bad())?,
            Some(name_to_gid(g, sys).map_err(|_| bad())?),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(py_int(" 12 "), Ok(12));
        assert_eq!(py_int("-3"), Ok(-3));
        assert_eq!(py_int("1_000"), Ok(1000));
        assert!(py_int("1__0").is_err());
        assert!(py_int("0x10").is_err());
        assert!(py_int("").is_err());
        assert_eq!(
            py_int("abc").unwrap_err(),
            "invalid literal for int() with base 10: 'abc'"
        );
    }

    #[test]
    fn bools() {
        for t in ["true", "TRUE", "Yes", "on", "1"] {
            assert_eq!(boolean(t), Ok(true));
        }
        for f in ["false", "No", "OFF", "0"] {
            assert_eq!(boolean(f), Ok(false));
        }
        assert_eq!(boolean("2").unwrap_err(), "not a valid boolean value: '2'");
    }

    #[test]
    fn sizes() {
        assert_eq!(byte_size("50MB"), Ok(50 * 1024 * 1024));
        assert_eq!(byte_size("1kb"), Ok(1024));
        assert_eq!(byte_size("2GB"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(byte_size("0"), Ok(0));
        assert_eq!(byte_size("100"), Ok(100));
        assert_eq!(byte_size("5 MB"), Ok(5 * 1024 * 1024));
        assert!(byte_size("5M").is_err());
        assert!(byte_size("MB").is_err());
    }

    #[test]
    fn octals() {
        assert_eq!(octal("022"), Ok(0o22));
        assert_eq!(octal("777"), Ok(0o777));
        assert_eq!(octal("0o700"), Ok(0o700));
        assert_eq!(
            octal("8").unwrap_err(),
            "8 can not be converted to an octal type"
        );
    }

    #[test]
    fn signals() {
        assert_eq!(signal_number("TERM"), Ok(libc::SIGTERM));
        assert_eq!(signal_number("sigterm"), Ok(libc::SIGTERM));
        assert_eq!(signal_number(" usr1 "), Ok(libc::SIGUSR1));
        assert_eq!(signal_number("9"), Ok(9));
        assert_eq!(signal_number("0"), Ok(0));
        assert_eq!(
            signal_number("FOO").unwrap_err(),
            "value 'FOO' is not a valid signal name"
        );
        assert_eq!(
            signal_number("99").unwrap_err(),
            "value '99' is not a valid signal number"
        );
    }

    #[test]
    fn exitcodes() {
        assert_eq!(list_of_exitcodes("0"), Ok(vec![0]));
        assert_eq!(list_of_exitcodes("0, 2 ,255"), Ok(vec![0, 2, 255]));
        assert_eq!(list_of_exitcodes(""), Ok(vec![]));
        assert!(list_of_exitcodes("256").is_err());
        assert!(list_of_exitcodes("-1").is_err());
        assert!(list_of_exitcodes("0,,1").is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(
            inet_address("127.0.0.1:9001"),
            Ok(("127.0.0.1".into(), 9001))
        );
        assert_eq!(inet_address("*:9001"), Ok(("".into(), 9001)));
        assert_eq!(inet_address(":9001"), Ok(("".into(), 9001)));
        assert_eq!(inet_address("9001"), Ok(("".into(), 9001)));
        assert_eq!(inet_address("LocalHost:1"), Ok(("localhost".into(), 1)));
        assert!(inet_address("host:").is_err());
        assert!(inet_address("host:0").is_err());
        assert!(inet_address("70000").is_err());
    }

    #[test]
    fn names_and_paths() {
        assert_eq!(process_or_group_name(" web "), Ok("web".into()));
        assert!(process_or_group_name("a:b").is_err());
        assert!(process_or_group_name("a b").is_err());
        assert!(process_or_group_name("a/b").is_err());
        assert_eq!(normpath("/a/./b/../c//d/"), "/a/c/d");
        assert_eq!(normpath("/.."), "/");
        assert_eq!(normpath("a/../.."), "..");
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("b"), "");
        assert_eq!(dirname("/b"), "/");
    }
}
