//! supervisord's names for processes and groups.

use std::fmt;

/// What a request names: one process, or every process of a group.
///
/// supervisord's `split_namespec`: `group:name` is a process of a group,
/// `group:*` and `group:` the whole group, and a bare `name` the process
/// `name` of the group `name` (a program's own homogeneous group). Which of
/// these exist is for the supervisor to say; parsing never fails.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespec {
    /// The group.
    pub group: String,
    /// The process, or `None` for the whole group.
    pub process: Option<String>,
}

impl Namespec {
    /// Parses `name`, `group:name`, `group:*` or `group:`.
    #[must_use]
    pub fn parse(spec: &str) -> Namespec {
        match spec.split_once(':') {
            Some((g, p)) if p.is_empty() || p == "*" => Namespec::group(g),
            Some((g, p)) => Namespec::process(g, p),
            None => Namespec::process(spec, spec),
        }
    }

    /// The process `name` of `group`.
    #[must_use]
    pub fn process(group: &str, name: &str) -> Namespec {
        Namespec {
            group: group.to_string(),
            process: Some(name.to_string()),
        }
    }

    /// Every process of `group`.
    #[must_use]
    pub fn group(group: &str) -> Namespec {
        Namespec {
            group: group.to_string(),
            process: None,
        }
    }

    /// Whether this names a whole group.
    #[must_use]
    pub fn is_group(&self) -> bool {
        self.process.is_none()
    }
}

/// supervisord's `make_namespec`: `name` when the process is alone in a
/// group of its own name, else `group:name`; `group:*` for a group.
impl fmt::Display for Namespec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.process {
            None => write!(f, "{}:*", self.group),
            Some(p) if *p == self.group => f.write_str(p),
            Some(p) => write!(f, "{}:{p}", self.group),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(Namespec::parse("web"), Namespec::process("web", "web"));
        assert_eq!(Namespec::parse("g:web"), Namespec::process("g", "web"));
        assert_eq!(Namespec::parse("g:*"), Namespec::group("g"));
        assert_eq!(Namespec::parse("g:"), Namespec::group("g"));
        assert_eq!(Namespec::parse("a:b:c"), Namespec::process("a", "b:c"));
        assert_eq!(Namespec::parse(""), Namespec::process("", ""));
    }

    #[test]
    fn displays_as_supervisord() {
        for s in ["web", "g:web", "g:*"] {
            assert_eq!(Namespec::parse(s).to_string(), s);
        }
        assert_eq!(Namespec::parse("g:").to_string(), "g:*");
    }
}
