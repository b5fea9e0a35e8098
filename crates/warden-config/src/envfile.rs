//! `env_file=PATH`: environment files as docker's `--env-file` and systemd's
//! `EnvironmentFile=` write them.
//!
//! ```text
//! # a comment (also ; at the start of a line)
//! export PATH_PREFIX=/opt/app      `export ` is allowed and ignored
//! PLAIN = value with spaces        spaces around = and the value trimmed
//! SINGLE='literal $HOME \n'        nothing inside single quotes is special
//! DOUBLE="tab\there \"q\""         \" \\ \$ \` \n \t escapes
//! MULTI="first
//! second"                          quotes may span lines
//! EMPTY=
//! ```
//!
//! Values are never expanded (`$VAR` stays as written), as in both of
//! those formats. Hand-written because the well-known crate for `.env`
//! files (dotenvy) expands `$VAR` references, which docker and systemd env
//! files do not, and reports errors without the line number.

use std::path::{Path, PathBuf};

/// An env file that could not be read or has a bad line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("env file {}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct EnvFileError {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line, when the problem is a line.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

/// Reads and parses the env file at `path`.
///
/// # Errors
///
/// The file cannot be read, is not UTF-8, or has a bad line.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
    let text = std::fs::read(path).map_err(|e| EnvFileError {
        path: path.to_path_buf(),
        line: None,
        reason: format!("cannot read: {e}"),
    })?;
    let text = String::from_utf8(text).map_err(|_| EnvFileError {
        path: path.to_path_buf(),
        line: None,
        reason: "not UTF-8".into(),
    })?;
    parse(&text).map_err(|(line, reason)| EnvFileError {
        path: path.to_path_buf(),
        line: Some(line),
        reason,
    })
}

/// Parses env-file text into pairs in file order (a key given twice keeps
/// its first place and takes the last value).
///
/// # Errors
///
/// The 1-based line of the first bad line and why it is bad.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let line = line
            .strip_prefix("export")
            .filter(|r| r.starts_with([' ', '\t']))
            .map_or(line, str::trim_start);
        let Some((key, rest)) = line.split_once('=') else {
            return Err((lineno, format!("expected KEY=VALUE, found {line:?}")));
        };
        let key = key.trim_end();
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err((lineno, format!("invalid variable name {key:?}")));
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                // the value may continue on the following lines
                let mut buf = rest[1..].to_string();
                let (value, after) = loop {
                    if let Some(r) = unquote(&buf, q) {
                        break r;
                    }
                    let Some(next) = lines.get(i) else {
                        return Err((lineno, format!("unterminated {q} quote")));
                    };
                    buf.push('\n');
                    buf.push_str(next);
                    i += 1;
                };
                let after = after.trim();
                if !(after.is_empty() || after.starts_with('#')) {
                    return Err((
                        lineno,
                        format!("unexpected text after the closing quote: {after:?}"),
                    ));
                }
                value
            }
            _ => rest.trim_end().to_string(),
        };
        match out.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key.to_string(), value)),
        }
    }
    Ok(out)
}

/// The value inside quotes `q` (the opening one already taken) and the text
/// after the closing one; `None` when `s` has no closing quote.
fn unquote(s: &str, q: char) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((at, c)) = chars.next() {
        if c == q {
            return Some((out, &s[at + 1..]));
        }
        if c == '\\' && q == '"' {
            let (_, e) = chars.next()?;
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                '"' | '\\' | '$' | '`' => out.push(e),
                '\n' => {} // a line continuation
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        } else {
            out.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn every_syntax_form() {
        let text = "\
# comment
; also a comment

export EXPORTED=yes
PLAIN = value with spaces  \n\
SINGLE='literal $HOME \\n \"x\"'
DOUBLE=\"tab\\there \\\"q\\\" \\$HOME \\\\ \\z\"  # trailing comment
MULTI=\"first
second\"
EMPTY=
EQ=a=b
   INDENTED=1
exportX=2
PLAIN=last wins
";
        assert_eq!(
            parse(text).unwrap(),
            pairs(&[
                ("EXPORTED", "yes"),
                ("PLAIN", "last wins"),
                ("SINGLE", "literal $HOME \\n \"x\""),
                ("DOUBLE", "tab\there \"q\" $HOME \\ \\z"),
                ("MULTI", "first\nsecond"),
                ("EMPTY", ""),
                ("EQ", "a=b"),
                ("INDENTED", "1"),
                ("exportX", "2"),
            ])
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("A=1\nno equals\n").unwrap_err().0, 2);
        assert_eq!(parse("A=1\n\n1BAD=x").unwrap_err().0, 3);
        assert_eq!(parse("A=1\nB=\"open\nstill\n").unwrap_err().0, 2);
        assert_eq!(parse("A='x' junk").unwrap_err().0, 1);
        assert!(parse("A B=1")
            .unwrap_err()
            .1
            .contains("invalid variable name"));
    }

    #[test]
    fn read_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.env");
        std::fs::write(&p, "OK=1\n=nokey\n").unwrap();
        let e = read(&p).unwrap_err();
        assert_eq!(e.line, Some(2));
        let text = e.to_string();
        assert!(text.contains("app.env:2"), "{text}");
        let missing = read(&dir.path().join("none.env")).unwrap_err();
        assert_eq!(missing.line, None);
        assert!(missing.to_string().contains("none.env"));
    }
}
