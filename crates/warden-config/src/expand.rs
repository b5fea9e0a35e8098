//! Python `%`-formatting against a mapping, as supervisord's `expand()` does
//! (`s % expansions`): `%(name)s`, `%(process_num)02d`, `%%`, with flags,
//! width and precision.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A value that can be substituted: supervisord's expansions are strings,
/// except `process_num` and `numprocs`, which are integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyValue {
    /// A Python `str`.
    Str(String),
    /// A Python `int`.
    Int(i64),
}

impl From<&str> for PyValue {
    fn from(s: &str) -> Self {
        PyValue::Str(s.to_string())
    }
}

impl From<String> for PyValue {
    fn from(s: String) -> Self {
        PyValue::Str(s)
    }
}

/// The names available for expansion, sorted like Python's `sorted()`.
pub type Expansions = BTreeMap<String, PyValue>;

/// Why a format string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// `%(name)…` where `name` is not in the mapping.
    UnknownName(String),
    /// Any other formatting problem (Python's "badly formatted").
    Bad(String),
}

fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `%r` of a value (used in error messages too).
pub fn repr(s: &str) -> String {
    py_repr(s)
}

/// The widest field (and longest integer precision, which pads with zeros)
/// warden formats: 128 KiB, Linux's `MAX_ARG_STRLEN`, the longest single
/// argument or environment string `execve` accepts, so no field wider than
/// this can reach a program. Python formats anything up to its own limits
/// (`isize::MAX` for a width, `i32::MAX` for a precision, beyond which it
/// says "width too big" / "precision too big") and then runs out of memory;
/// `%(process_num)0999999999d` would have warden build a 1 GB string, so it
/// is refused as a config error instead.
pub const MAX_FIELD: usize = 128 * 1024;

/// The longest value an expansion may produce: 2 MiB, Linux's usual `ARG_MAX`
/// for a whole command line and environment, so that many fields of
/// [`MAX_FIELD`] in one value cannot add up to gigabytes either.
pub const MAX_EXPANDED: usize = 2 * 1024 * 1024;

/// Checks a width or precision: Python's error past Python's limit.
fn python_bounded(v: u64, what: &str, python_max: u64) -> Result<usize, FormatError> {
    if v > python_max {
        return Err(FormatError::Bad(format!("{what} too big")));
    }
    Ok(usize::try_from(v).unwrap_or(usize::MAX))
}

/// Checks a width, or an integer's precision (which pads with zeros), against
/// [`MAX_FIELD`]. A string's precision only cuts, so any is harmless.
fn warden_bounded(v: usize, what: &str) -> Result<usize, FormatError> {
    if v > MAX_FIELD {
        return Err(FormatError::Bad(format!(
            "{what} too big: {v} is over warden's limit of {MAX_FIELD}"
        )));
    }
    Ok(v)
}

struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    precision: Option<usize>,
}

fn pad(body: String, sign: &str, prefix: &str, spec: &Spec, numeric: bool) -> String {
    let len = sign.chars().count() + prefix.chars().count() + body.chars().count();
    if len >= spec.width {
        return format!("{sign}{prefix}{body}");
    }
    let fill = spec.width - len;
    if spec.left {
        format!("{sign}{prefix}{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        format!("{sign}{prefix}{}{body}", "0".repeat(fill))
    } else {
        format!("{}{sign}{prefix}{body}", " ".repeat(fill))
    }
}

fn format_int(n: i64, conv: char, spec: &Spec) -> String {
    let neg = n < 0;
    let mag = n.unsigned_abs();
    let (mut digits, prefix) = match conv {
        'o' => (format!("{mag:o}"), if spec.alt { "0o" } else { "" }),
        'x' => (format!("{mag:x}"), if spec.alt { "0x" } else { "" }),
        'X' => (format!("{mag:X}"), if spec.alt { "0X" } else { "" }),
        _ => (mag.to_string(), ""),
    };
    if let Some(p) = spec.precision {
        if digits.len() < p {
            digits = format!("{}{digits}", "0".repeat(p - digits.len()));
        }
    }
    let sign = if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    pad(digits, sign, prefix, spec, true)
}

/// Expand `s % expansions` like Python. Conversions without a `(name)` key
/// are rejected (Python would format the whole mapping, which is never what
/// a config author meant).
pub fn py_format(s: &str, expansions: &Expansions) -> Result<String, FormatError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let n = chars.len();
    while i < n {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if i >= n {
            return Err(FormatError::Bad("incomplete format".into()));
        }
        let mut key: Option<String> = None;
        if chars[i] == '(' {
            let mut depth = 1;
            let kstart = i + 1;
            i += 1;
            while i < n && depth > 0 {
                if chars[i] == '(' {
                    depth += 1;
                } else if chars[i] == ')' {
                    depth -= 1;
                }
                i += 1;
            }
            if depth > 0 {
                return Err(FormatError::Bad("incomplete format key".into()));
            }
            let k: String = chars[kstart..i - 1].iter().collect();
            if !expansions.contains_key(&k) {
                // Python looks the key up before parsing the rest of the spec.
                return Err(FormatError::UnknownName(k));
            }
            key = Some(k);
        }
        let mut spec = Spec {
            left: false,
            zero: false,
            plus: false,
            space: false,
            alt: false,
            width: 0,
            precision: None,
        };
        while i < n {
            match chars[i] {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if i < n && chars[i] == '*' {
            return Err(FormatError::Bad("* wants int".into()));
        }
        let mut width = 0u64;
        while i < n && chars[i].is_ascii_digit() {
            width = width
                .saturating_mul(10)
                .saturating_add(u64::from(chars[i].to_digit(10).unwrap_or(0)));
            i += 1;
        }
        spec.width = warden_bounded(python_bounded(width, "width", isize::MAX as u64)?, "width")?;
        if i < n && chars[i] == '.' {
            i += 1;
            if i < n && chars[i] == '*' {
                return Err(FormatError::Bad("* wants int".into()));
            }
            let mut p = 0u64;
            while i < n && chars[i].is_ascii_digit() {
                p = p
                    .saturating_mul(10)
                    .saturating_add(u64::from(chars[i].to_digit(10).unwrap_or(0)));
                i += 1;
            }
            spec.precision = Some(python_bounded(p, "precision", i32::MAX as u64)?);
        }
        while i < n && matches!(chars[i], 'h' | 'l' | 'L') {
            i += 1;
        }
        if i >= n {
            return Err(FormatError::Bad("incomplete format".into()));
        }
        if out.len() > MAX_EXPANDED {
            break;
        }
        let conv = chars[i];
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let Some(key) = key else {
            return Err(FormatError::Bad(format!(
                "conversion '%{conv}' at index {start} has no (name) key; write %% for a literal percent sign"
            )));
        };
        let value = match expansions.get(&key) {
            Some(v) => v,
            None => return Err(FormatError::UnknownName(key)),
        };
        match conv {
            's' | 'r' | 'a' => {
                let mut body = match (value, conv) {
                    (PyValue::Str(v), 's') => v.clone(),
                    (PyValue::Str(v), _) => py_repr(v),
                    (PyValue::Int(v), _) => v.to_string(),
                };
                if let Some(p) = spec.precision {
                    body = body.chars().take(p).collect();
                }
                out.push_str(&pad(body, "", "", &spec, false));
            }
            'd' | 'i' | 'u' | 'o' | 'x' | 'X' => match value {
                PyValue::Int(v) => {
                    if let Some(p) = spec.precision {
                        warden_bounded(p, "precision")?;
                    }
                    out.push_str(&format_int(*v, conv, &spec));
                }
                PyValue::Str(_) => {
                    let what = match conv {
                        'd' | 'i' | 'u' => "a real number is required",
                        _ => "an integer is required",
                    };
                    return Err(FormatError::Bad(format!("%{conv} format: {what}, not str")));
                }
            },
            other => {
                return Err(FormatError::Bad(format!(
                    "unsupported format character {} (0x{:x}) at index {}",
                    py_repr(&other.to_string()),
                    other as u32,
                    i - 1
                )))
            }
        }
    }
    if out.len() > MAX_EXPANDED {
        return Err(FormatError::Bad(format!(
            "the expanded value is {} bytes long, over warden's limit of {MAX_EXPANDED}",
            out.len()
        )));
    }
    Ok(out)
}

/// supervisord's `expand(s, expansions, name)` with its error messages.
pub fn expand(s: &str, expansions: &Expansions, name: &str) -> Result<String, String> {
    py_format(s, expansions).map_err(|e| match e {
        FormatError::UnknownName(k) => {
            let available: Vec<&str> = expansions.keys().map(String::as_str).collect();
            format!(
                "Format string {} for {} contains names ({}) which cannot be expanded. Available names: {}",
                py_repr(s),
                py_repr(name),
                py_repr(&k),
                available.join(", ")
            )
        }
        FormatError::Bad(msg) => format!(
            "Format string {} for {} is badly formatted: {}",
            py_repr(s),
            py_repr(name),
            msg
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp() -> Expansions {
        let mut e = Expansions::new();
        e.insert("program_name".into(), "web".into());
        e.insert("process_num".into(), PyValue::Int(7));
        e.insert("neg".into(), PyValue::Int(-7));
        e
    }

    #[test]
    fn basics() {
        let e = exp();
        assert_eq!(
            py_format("%(program_name)s_%(process_num)02d", &e).unwrap(),
            "web_07"
        );
        assert_eq!(py_format("100%%", &e).unwrap(), "100%");
        assert_eq!(py_format("%(process_num)s", &e).unwrap(), "7");
        assert_eq!(py_format("%(process_num)5d|", &e).unwrap(), "    7|");
        assert_eq!(py_format("%(process_num)-3d|", &e).unwrap(), "7  |");
        assert_eq!(py_format("%(neg)04d", &e).unwrap(), "-007");
        assert_eq!(py_format("%(process_num)+d", &e).unwrap(), "+7");
        assert_eq!(py_format("%(process_num).3d", &e).unwrap(), "007");
        assert_eq!(py_format("%(process_num)#x", &e).unwrap(), "0x7");
        assert_eq!(py_format("%(program_name)5s|", &e).unwrap(), "  web|");
        assert_eq!(py_format("%(program_name)05s|", &e).unwrap(), "  web|");
        assert_eq!(py_format("%(program_name).2s", &e).unwrap(), "we");
        assert_eq!(py_format("%(program_name)r", &e).unwrap(), "'web'");
        assert_eq!(py_format("%(process_num)ld", &e).unwrap(), "7");
    }

    #[test]
    fn errors() {
        let e = exp();
        assert_eq!(
            py_format("%(nope)s", &e),
            Err(FormatError::UnknownName("nope".into()))
        );
        assert!(matches!(
            py_format("%(program_name)d", &e),
            Err(FormatError::Bad(_))
        ));
        assert!(matches!(py_format("50%", &e), Err(FormatError::Bad(_))));
        assert!(matches!(py_format("%(x", &e), Err(FormatError::Bad(_))));
        assert!(matches!(
            py_format("%(program_name)q", &e),
            Err(FormatError::Bad(_))
        ));
        assert!(matches!(
            py_format("date +%s", &e),
            Err(FormatError::Bad(_))
        ));
        let bad = |f: &str| match py_format(f, &e) {
            Err(FormatError::Bad(m)) => m,
            other => panic!("{f}: {other:?}"),
        };
        // Python's own limits and words.
        assert_eq!(
            bad("%(process_num)09999999999999999999999d"),
            "width too big"
        );
        assert_eq!(bad("%(process_num).2147483648d"), "precision too big");
        // warden's bound, far below what would exhaust memory.
        assert_eq!(
            bad("%(process_num)0999999999d"),
            "width too big: 999999999 is over warden's limit of 131072"
        );
        assert!(bad("%(process_num).999999d").starts_with("precision too big: 999999"));
        assert_eq!(py_format("%(program_name).999999999s", &e).unwrap(), "web");
        assert_eq!(py_format("%(process_num)09999d", &e).unwrap().len(), 9999);
        assert_eq!(
            py_format("%(process_num)0131072d", &e).unwrap().len(),
            131072
        );
        let many = "%(process_num)0131072d".repeat(17);
        assert!(bad(&many).contains("over warden's limit of 2097152"));
        let msg = expand("%(nope)s", &e, "program:web.command").unwrap_err();
        assert_eq!(
            msg,
            "Format string '%(nope)s' for 'program:web.command' contains names ('nope') which cannot be expanded. Available names: neg, process_num, program_name"
        );
    }
}
