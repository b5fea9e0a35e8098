//! Python's `glob.glob` (non-recursive) and `fnmatch`, which `[include]`
//! uses: `*`, `?`, `[seq]`, `[!seq]`; a wildcard does not match a leading
//! dot unless the pattern component starts with one; results of one
//! pattern are sorted by the caller.

use std::path::Path;

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `os.path.split`.
fn split(p: &str) -> (String, String) {
    match p.rfind('/') {
        Some(i) => {
            let head = &p[..=i];
            let tail = &p[i + 1..];
            let trimmed = head.trim_end_matches('/');
            let head = if trimmed.is_empty() { head } else { trimmed };
            (head.to_string(), tail.to_string())
        }
        None => (String::new(), p.to_string()),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn lexists(p: &str) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

fn is_dir(p: &str) -> bool {
    Path::new(if p.is_empty() { "." } else { p }).is_dir()
}

/// `glob.glob(pattern)`, unsorted.
pub fn glob(pattern: &str) -> Vec<String> {
    let (dirname, basename) = split(pattern);
    if !has_magic(pattern) {
        if !basename.is_empty() {
            if lexists(pattern) {
                return vec![pattern.to_string()];
            }
        } else if is_dir(&dirname) {
            return vec![pattern.to_string()];
        }
        return Vec::new();
    }
    if dirname.is_empty() {
        return glob1("", &basename);
    }
    let dirs = if dirname != pattern && has_magic(&dirname) {
        glob(&dirname)
    } else {
        vec![dirname.clone()]
    };
    let mut out = Vec::new();
    for d in dirs {
        let names = if has_magic(&basename) {
            glob1(&d, &basename)
        } else if basename.is_empty() {
            if is_dir(&d) {
                vec![String::new()]
            } else {
                Vec::new()
            }
        } else if lexists(&join(&d, &basename)) {
            vec![basename.clone()]
        } else {
            Vec::new()
        };
        for name in names {
            out.push(join(&d, &name));
        }
    }
    out
}

fn glob1(dir: &str, pattern: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(if dir.is_empty() { "." } else { dir }) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    if !pattern.starts_with('.') {
        names.retain(|n| !n.starts_with('.'));
    }
    // Compiled once per directory, as `fnmatch.filter` does.
    let Some(re) = Matcher::new(pattern) else {
        return Vec::new();
    };
    names.retain(|n| re.is_match(n));
    names
}

/// One component of a Python fnmatch pattern.
enum Tok {
    Lit(char),
    Any,
    Star,
    Set {
        negate: bool,
        items: Vec<(char, char)>,
    },
}

/// Splits a pattern as `fnmatch.translate` does: an unclosed `[` is a
/// literal, `]` right after `[` or `[!` belongs to the set, a reversed range
/// (`z-a`) is dropped, and there is no backslash escape.
fn tokens(pat: &str) -> Vec<Tok> {
    let p: Vec<char> = pat.chars().collect();
    let n = p.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = p[i];
        i += 1;
        match c {
            '*' => {
                if !matches!(out.last(), Some(Tok::Star)) {
                    out.push(Tok::Star);
                }
            }
            '?' => out.push(Tok::Any),
            '[' => {
                let mut j = i;
                if j < n && p[j] == '!' {
                    j += 1;
                }
                if j < n && p[j] == ']' {
                    j += 1;
                }
                while j < n && p[j] != ']' {
                    j += 1;
                }
                if j >= n {
                    out.push(Tok::Lit('['));
                    continue;
                }
                let mut stuff: &[char] = &p[i..j];
                i = j + 1;
                let negate = stuff.first() == Some(&'!');
                if negate {
                    stuff = &stuff[1..];
                }
                let mut items = Vec::new();
                let mut k = 0;
                while k < stuff.len() {
                    if k + 2 < stuff.len() && stuff[k + 1] == '-' {
                        if stuff[k] <= stuff[k + 2] {
                            items.push((stuff[k], stuff[k + 2]));
                        }
                        k += 3;
                    } else {
                        items.push((stuff[k], stuff[k]));
                        k += 1;
                    }
                }
                out.push(Tok::Set { negate, items });
            }
            c => out.push(Tok::Lit(c)),
        }
    }
    out
}

/// A compiled fnmatch pattern. Like Python, which translates the pattern
/// into a regular expression, this translates it for the `regex-lite` crate
/// (the `regex` crate's engine without its large tables: the supervisor's
/// binary stays small), whose matching is linear in the name's length
/// whatever the pattern
/// (`a*a*a*a*b` made the backtracking matcher this replaces exponential).
/// `globset` was not used: its syntax differs from fnmatch's (unclosed `[`,
/// reversed ranges and `[!]` are errors there), so the pattern would have to
/// be re-tokenized anyway and re-spelled in a second glob dialect.
struct Matcher(regex_lite::Regex);

impl Matcher {
    /// `None` if the pattern can match nothing (an empty set such as `[z-a]`)
    /// or is too large for the regex engine's size limit.
    fn new(pattern: &str) -> Option<Matcher> {
        let mut re = String::from(r"(?s)\A");
        for tok in tokens(pattern) {
            match tok {
                Tok::Lit(c) => re.push_str(&regex_lite::escape(c.encode_utf8(&mut [0; 4]))),
                Tok::Any => re.push('.'),
                Tok::Star => re.push_str(".*"),
                Tok::Set { negate, items } => {
                    if items.is_empty() {
                        if negate {
                            re.push('.');
                            continue;
                        }
                        return None;
                    }
                    re.push_str(if negate { "[^" } else { "[" });
                    for (a, b) in items {
                        re.push_str(&format!("\\x{{{:x}}}-\\x{{{:x}}}", a as u32, b as u32));
                    }
                    re.push(']');
                }
            }
        }
        re.push_str(r"\z");
        regex_lite::Regex::new(&re).ok().map(Matcher)
    }

    fn is_match(&self, name: &str) -> bool {
        self.0.is_match(name)
    }
}

/// `fnmatch.fnmatchcase(name, pattern)`.
#[cfg(test)]
fn fnmatch(name: &str, pattern: &str) -> bool {
    Matcher::new(pattern).is_some_and(|m| m.is_match(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_cases() {
        assert!(fnmatch("a.conf", "*.conf"));
        assert!(!fnmatch("a.conf.bak", "*.conf"));
        assert!(fnmatch("a1", "a?"));
        assert!(fnmatch("b", "[abc]"));
        assert!(!fnmatch("d", "[abc]"));
        assert!(fnmatch("d", "[!abc]"));
        assert!(fnmatch("5", "[0-9]"));
        assert!(fnmatch("]", "[]]"));
        assert!(fnmatch("[x", "[x"));
        assert!(!fnmatch("A.conf", "a.conf"));
        // Regex metacharacters and backslashes are literals in fnmatch.
        assert!(fnmatch("a+b(c)$^|.{1}", "a+b(c)$^|.{1}"));
        assert!(!fnmatch("aab", "a+b"));
        assert!(fnmatch("a\\b", "a\\b"));
        assert!(fnmatch("\\", "[\\]"));
        // A reversed range is dropped; a set left empty matches nothing, its
        // negation any character.
        assert!(!fnmatch("a", "[z-a]"));
        assert!(fnmatch("q", "[!z-a]"));
        assert!(fnmatch("-", "[a-]"));
        assert!(fnmatch("é.conf", "?.conf"));
        assert!(fnmatch("a\nb", "a?b"));
        assert!(!fnmatch("]", "[!]a]"));
        assert!(fnmatch("b", "[!]a]"));
    }

    #[test]
    fn pathological_pattern_is_linear() {
        let pattern = format!("{}b", "a*".repeat(30));
        let name = "a".repeat(200);
        let t = std::time::Instant::now();
        assert!(!fnmatch(&name, &pattern));
        assert!(fnmatch(&format!("{name}b"), &pattern));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn split_like_python() {
        assert_eq!(split("/a/b/c"), ("/a/b".into(), "c".into()));
        assert_eq!(split("/c"), ("/".into(), "c".into()));
        assert_eq!(split("c"), ("".into(), "c".into()));
        assert_eq!(split("/a//b"), ("/a".into(), "b".into()));
    }
}
