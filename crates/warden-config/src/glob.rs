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
    names.retain(|n| fnmatch(n, pattern));
    names
}

enum Tok {
    Lit(char),
    Any,
    Star,
    Set {
        negate: bool,
        items: Vec<(char, char)>,
    },
}

fn compile(pat: &str) -> Vec<Tok> {
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

fn matches(toks: &[Tok], s: &[char]) -> bool {
    match toks.first() {
        None => s.is_empty(),
        Some(Tok::Star) => (0..=s.len()).any(|k| matches(&toks[1..], &s[k..])),
        Some(t) => {
            let Some(&c) = s.first() else { return false };
            let ok = match t {
                Tok::Lit(l) => *l == c,
                Tok::Any => true,
                Tok::Set { negate, items } => {
                    items.iter().any(|&(a, b)| a <= c && c <= b) != *negate
                }
                Tok::Star => unreachable!(),
            };
            ok && matches(&toks[1..], &s[1..])
        }
    }
}

/// `fnmatch.fnmatchcase(name, pattern)`.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    let toks = compile(pattern);
    let s: Vec<char> = name.chars().collect();
    matches(&toks, &s)
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
    }

    #[test]
    fn split_like_python() {
        assert_eq!(split("/a/b/c"), ("/a/b".into(), "c".into()));
        assert_eq!(split("/c"), ("/".into(), "c".into()));
        assert_eq!(split("c"), ("".into(), "c".into()));
        assert_eq!(split("/a//b"), ("/a".into(), "b".into()));
    }
}
