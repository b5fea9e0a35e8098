//! A reader compatible with Python 3's `configparser.RawConfigParser` as
//! supervisord 4.3.0 configures it (`UnhosedConfigParser`):
//! `inline_comment_prefixes=(';', '#')`, `strict=False`,
//! `empty_lines_in_values=True`, option names lower-cased, section names
//! case-sensitive, a `[DEFAULT]` section inherited by every section.
//!
//! This is the first of the two parsing levels: it keeps every value as a
//! raw string together with the file and line it came from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{ConfigError, ErrorKind, Location};

/// The name of the defaults section.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// One option value with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValue {
    /// The value, continuation lines joined with `\n`, trailing whitespace removed.
    pub value: String,
    /// The file holding the option line.
    pub file: Arc<PathBuf>,
    /// The 1-based line of the option (its first line).
    pub line: usize,
}

/// One section: its options in first-seen order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSection {
    /// The name between the brackets, verbatim.
    pub name: String,
    /// The file that first created this section (supervisord's `section_to_file`).
    pub file: Arc<PathBuf>,
    /// The line of the first header.
    pub line: usize,
    /// `(lower-cased key, value)` pairs; a repeated key replaces the value in place.
    pub options: Vec<(String, RawValue)>,
}

impl RawSection {
    fn new(name: &str, file: Arc<PathBuf>, line: usize) -> Self {
        RawSection {
            name: name.to_string(),
            file,
            line,
            options: Vec::new(),
        }
    }

    /// The value of `key` in this section only.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.options.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut RawValue> {
        self.options
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Set (or replace in place) `key`.
    pub fn set(&mut self, key: &str, value: RawValue) {
        match self.get_mut(key) {
            Some(v) => *v = value,
            None => self.options.push((key.to_string(), value)),
        }
    }
}

/// The whole raw configuration, possibly merged from several files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawConfig {
    /// The `[DEFAULT]` section (its `file`/`line` are those of the first header seen, if any).
    pub defaults: RawSection,
    /// All other sections in creation order.
    pub sections: Vec<RawSection>,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            defaults: RawSection::new(DEFAULT_SECTION, Arc::new(PathBuf::new()), 0),
            sections: Vec::new(),
        }
    }
}

fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// The position of a line's first non-space character (0 if none).
fn indent<T: Copy + Into<char>>(line: &[T]) -> usize {
    line.iter()
        .position(|&c| !is_py_space(c.into()))
        .unwrap_or(0)
}

/// Where an inline comment starts, exactly as configparser's round-based
/// search finds it (which is not always the leftmost candidate).
/// `line` is a line's characters, or its bytes when it is ASCII (one byte
/// per character spares collecting the characters of most lines).
fn inline_comment_start<T: Copy + Into<char>>(line: &[T]) -> Option<usize> {
    let prefixes = [';', '#'];
    let mut indexes: Vec<(char, isize)> = prefixes.iter().map(|&p| (p, -1)).collect();
    let mut comment_start: Option<usize> = None;
    while comment_start.is_none() && !indexes.is_empty() {
        let mut next = Vec::new();
        for &(prefix, index) in &indexes {
            let from = (index + 1) as usize;
            let found = line
                .iter()
                .skip(from)
                .position(|&c| c.into() == prefix)
                .map(|p| p + from);
            let Some(i) = found else { continue };
            next.push((prefix, i as isize));
            if i == 0 || is_py_space(line[i - 1].into()) {
                comment_start = Some(comment_start.map_or(i, |c: usize| c.min(i)));
            }
        }
        indexes = next;
    }
    comment_start
}

impl RawConfig {
    /// Look up `key` in `section`, falling back to `[DEFAULT]`.
    /// `None` if the section does not exist or the key is absent in both.
    pub fn get(&self, section: &str, key: &str) -> Option<&RawValue> {
        let s = self.section(section)?;
        s.get(key).or_else(|| self.defaults.get(key))
    }

    /// The section named exactly `name`.
    pub fn section(&self, name: &str) -> Option<&RawSection> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// Whether the section exists.
    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// All option names visible in `section` (section keys first, then defaults), like `options()`.
    pub fn options(&self, section: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(s) = self.section(section) {
            for (k, _) in &s.options {
                out.push(k.clone());
            }
        }
        for (k, _) in &self.defaults.options {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
        out
    }

    /// supervisord's `expand_here`: textually replace `%(here)s` with `here`
    /// in every value visible in every section (defaults are copied into the
    /// section when they contain it; `[DEFAULT]` itself is left alone).
    pub fn expand_here(&mut self, here: &str) {
        const HERE: &str = "%(here)s";
        let defaults = self.defaults.options.clone();
        for section in &mut self.sections {
            let mut updates = Vec::new();
            for (k, v) in &section.options {
                if v.value.contains(HERE) {
                    updates.push((k.clone(), v.clone()));
                }
            }
            for (k, v) in &defaults {
                if section.get(k).is_none() && v.value.contains(HERE) {
                    updates.push((k.clone(), v.clone()));
                }
            }
            for (k, mut v) in updates {
                v.value = v.value.replace(HERE, here);
                section.set(&k, v);
            }
        }
    }

    /// Parse `text` (the content of `file`) into this configuration, merging
    /// sections like `RawConfigParser.read` with `strict=False`. Returns the
    /// syntax errors found (configparser reports all bad lines of a file, but
    /// stops at the first line before any section header).
    pub fn read_str(&mut self, text: &str, file: &Path) -> Vec<ConfigError> {
        let file = Arc::new(file.to_path_buf());
        let mut errors = Vec::new();
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        // Which section is current: None, Some(None) = DEFAULT, Some(Some(i)) = sections[i].
        let mut cursect: Option<Option<usize>> = None;
        // Section name to index, so that a file of many sections is read in
        // linear time (a linear search made 1000 sections cost ~1.5 ms).
        let mut index: HashMap<String, usize> = self
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let mut optname: Option<String> = None;
        let mut indent_level: usize = 0;
        for (idx, raw_line) in text.split_inclusive('\n').enumerate() {
            let lineno = idx + 1;
            // Character positions; for an ASCII line they are byte positions.
            let chars: Vec<char> = if raw_line.is_ascii() {
                Vec::new()
            } else {
                raw_line.chars().collect()
            };
            let (mut comment_start, cur_indent) = if raw_line.is_ascii() {
                let b = raw_line.as_bytes();
                (inline_comment_start(b), indent(b))
            } else {
                (inline_comment_start(&chars), indent(&chars))
            };
            let stripped_full = py_strip(raw_line);
            if stripped_full.starts_with('#') || stripped_full.starts_with(';') {
                comment_start = Some(0);
            }
            let upto: std::borrow::Cow<'_, str> = match comment_start {
                Some(c) if raw_line.is_ascii() => raw_line[..c].into(),
                Some(c) => chars[..c].iter().collect::<String>().into(),
                None => raw_line.into(),
            };
            let value = py_strip(&upto);
            if value.is_empty() {
                if comment_start.is_none() {
                    if let (Some(cs), Some(opt)) =
                        (cursect, optname.as_ref().filter(|o| !o.is_empty()))
                    {
                        if let Some(v) = self.sect_mut(cs).get_mut(opt) {
                            v.value.push('\n');
                        }
                    }
                }
                continue;
            }
            if let (Some(cs), Some(opt), true) = (
                cursect,
                optname.as_ref().filter(|o| !o.is_empty()),
                cur_indent > indent_level,
            ) {
                if let Some(v) = self.sect_mut(cs).get_mut(opt) {
                    v.value.push('\n');
                    v.value.push_str(value);
                }
                continue;
            }
            indent_level = cur_indent;
            if let Some(header) = section_header(value) {
                if header == DEFAULT_SECTION {
                    if self.defaults.line == 0 {
                        self.defaults.file = file.clone();
                        self.defaults.line = lineno;
                    }
                    cursect = Some(None);
                } else if let Some(&i) = index.get(header.as_str()) {
                    cursect = Some(Some(i));
                } else {
                    index.insert(header.clone(), self.sections.len());
                    self.sections
                        .push(RawSection::new(&header, file.clone(), lineno));
                    cursect = Some(Some(self.sections.len() - 1));
                }
                optname = None;
                continue;
            }
            let Some(cs) = cursect else {
                errors.push(ConfigError {
                    location: Location {
                        file: Some((*file).clone()),
                        line: Some(lineno),
                        ..Location::default()
                    },
                    kind: ErrorKind::MissingSectionHeader {
                        text: raw_line.trim_end_matches('\n').to_string(),
                    },
                });
                return errors;
            };
            match value.find(['=', ':']) {
                Some(pos) => {
                    let key = py_strip(&value[..pos]).to_lowercase();
                    let val = py_strip(&value[pos + 1..]).to_string();
                    if key.is_empty() {
                        let section_name = self.sect_mut(cs).name.clone();
                        errors.push(syntax_error(&file, lineno, &section_name, raw_line));
                    }
                    self.sect_mut(cs).set(
                        &key,
                        RawValue {
                            value: val,
                            file: file.clone(),
                            line: lineno,
                        },
                    );
                    optname = Some(key);
                }
                None => {
                    let section_name = self.sect_mut(cs).name.clone();
                    errors.push(syntax_error(&file, lineno, &section_name, raw_line));
                }
            }
        }
        // _join_multiline_values: rstrip everything.
        for (_, v) in self.defaults.options.iter_mut() {
            v.value = v.value.trim_end_matches(is_py_space).to_string();
        }
        for s in self.sections.iter_mut() {
            for (_, v) in s.options.iter_mut() {
                v.value = v.value.trim_end_matches(is_py_space).to_string();
            }
        }
        errors
    }

    fn sect_mut(&mut self, cs: Option<usize>) -> &mut RawSection {
        match cs {
            None => &mut self.defaults,
            Some(i) => &mut self.sections[i],
        }
    }
}

fn syntax_error(file: &Arc<PathBuf>, line: usize, section: &str, text: &str) -> ConfigError {
    ConfigError {
        location: Location {
            file: Some((**file).clone()),
            line: Some(line),
            section: Some(section.to_string()),
            key: None,
        },
        kind: ErrorKind::Syntax {
            text: text.trim_end_matches('\n').to_string(),
        },
    }
}

/// `SECTCRE = r"\[(?P<header>.+)\]"` matched (not anchored at the end) on the stripped line.
fn section_header(value: &str) -> Option<String> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    if end == 0 {
        return None;
    }
    Some(rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (RawConfig, Vec<ConfigError>) {
        let mut c = RawConfig::default();
        let e = c.read_str(text, Path::new("/etc/t.conf"));
        (c, e)
    }

    fn val<'a>(c: &'a RawConfig, s: &str, k: &str) -> &'a str {
        &c.get(s, k).unwrap().value
    }

    #[test]
    fn delimiters_and_case() {
        let (c, e) = parse("[Sec]\nKey = v1\nother: v2\nx=a=b\ny:a=b\n");
        assert!(e.is_empty());
        assert_eq!(val(&c, "Sec", "key"), "v1");
        assert_eq!(val(&c, "Sec", "other"), "v2");
        assert_eq!(val(&c, "Sec", "x"), "a=b");
        assert_eq!(val(&c, "Sec", "y"), "a=b");
        assert!(
            c.section("sec").is_none(),
            "section names are case-sensitive"
        );
        assert_eq!(c.get("Sec", "key").unwrap().line, 2);
    }

    #[test]
    fn comments() {
        let (c, e) = parse(
            "# full\n; full\n[s]\n  ; indented comment\na = x;y ; comment\nb = x#y # c\nc = x;y #c ;d\nd = ;\ne = a ;b\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(val(&c, "s", "a"), "x;y");
        assert_eq!(val(&c, "s", "b"), "x#y");
        assert_eq!(val(&c, "s", "c"), "x;y");
        assert_eq!(val(&c, "s", "d"), "");
        assert_eq!(val(&c, "s", "e"), "a");
    }

    #[test]
    fn non_ascii_lines_count_characters() {
        // Comment and indent positions are character positions: the same
        // with and without non-ASCII text before them.
        let (c, e) = parse("[s]\na = é;x ; comment\nb = e;x ; comment\nc = one\n  été\n");
        assert!(e.is_empty());
        assert_eq!(val(&c, "s", "a"), "é;x");
        assert_eq!(val(&c, "s", "b"), "e;x");
        assert_eq!(val(&c, "s", "c"), "one\nété");
    }

    #[test]
    fn comment_search_is_round_based() {
        // configparser checks the first ';' and the first '#' together; the
        // first '#' qualifies, so the later ' ;' is never considered.
        let (c, _) = parse("[s]\na = x;y ;c #d\n");
        assert_eq!(val(&c, "s", "a"), "x;y ;c");
    }

    #[test]
    fn continuation_lines() {
        let (c, e) = parse("[s]\na = one\n  two\n\n   three\nb = x\n\n\n");
        assert!(e.is_empty());
        assert_eq!(val(&c, "s", "a"), "one\ntwo\n\nthree");
        assert_eq!(val(&c, "s", "b"), "x");
    }

    #[test]
    fn duplicates_merge_last_wins() {
        let (c, e) = parse("[s]\na=1\nb=2\n[t]\n[s]\na=3\n");
        assert!(e.is_empty());
        assert_eq!(val(&c, "s", "a"), "3");
        assert_eq!(c.sections.len(), 2);
        assert_eq!(c.section("s").unwrap().options[0].0, "a");
    }

    #[test]
    fn defaults_visible() {
        let (c, _) = parse("[DEFAULT]\nd=1\n[s]\n");
        assert_eq!(val(&c, "s", "d"), "1");
        assert!(c.section("DEFAULT").is_none());
    }

    #[test]
    fn header_is_not_anchored() {
        let (c, _) = parse("[a] trailing\nk=v\n[b]x]\n");
        assert!(c.has_section("a"));
        assert!(c.has_section("b]x"));
    }

    #[test]
    fn errors() {
        let (_, e) = parse("k=v\n");
        assert!(matches!(e[0].kind, ErrorKind::MissingSectionHeader { .. }));
        let (_, e) = parse("[s]\ngarbage\nok=1\nmore garbage\n");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].location.line, Some(2));
        assert_eq!(e[1].location.line, Some(4));
        assert_eq!(e[0].location.section.as_deref(), Some("s"));
    }
}
