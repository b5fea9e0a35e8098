//! Errors and warnings produced while loading a configuration.

use std::fmt;
use std::path::PathBuf;

/// Where in the configuration a problem was found. Every field is optional
/// because some problems (e.g. a missing section) have no key or line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file the offending section or value came from.
    pub file: Option<PathBuf>,
    /// 1-based line number of the offending line, when known.
    pub line: Option<usize>,
    /// The section name, without brackets (e.g. `program:web`).
    pub section: Option<String>,
    /// The option name, lower-cased as supervisord does.
    pub key: Option<String>,
}

impl Location {
    /// A location naming only a file.
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location {
            file: Some(file.into()),
            ..Location::default()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            wrote = true;
        }
        if let Some(section) = &self.section {
            if wrote {
                f.write_str(": ")?;
            }
            write!(f, "[{section}]")?;
            wrote = true;
        }
        if let Some(key) = &self.key {
            if wrote {
                f.write_str(" ")?;
            }
            write!(f, "{key}")?;
            wrote = true;
        }
        if !wrote {
            f.write_str("<config>")?;
        }
        Ok(())
    }
}

/// What is wrong, independent of where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ErrorKind {
    /// The file could not be found or read.
    #[error("could not read config file: {reason}")]
    Read {
        /// The operating system's reason.
        reason: String,
    },
    /// A non-comment line appeared before any `[section]` header.
    #[error("file contains no section headers: {text:?}")]
    MissingSectionHeader {
        /// The offending line.
        text: String,
    },
    /// A line is neither a section header, an option, a comment nor a continuation.
    #[error("parsing error: {text:?}")]
    Syntax {
        /// The offending line.
        text: String,
    },
    /// The `[supervisord]` section is absent.
    #[error(".ini file does not include supervisord section")]
    MissingSupervisordSection,
    /// A required key is absent.
    #[error("missing required key: {what}")]
    MissingKey {
        /// Explanation in supervisord's words.
        what: String,
    },
    /// A `%(name)s` expansion failed.
    #[error("{0}")]
    Expansion(String),
    /// A value failed its type or range check.
    #[error("invalid value {value:?}: {reason}")]
    InvalidValue {
        /// The value after expansion.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Any other semantic problem (e.g. an unknown program in a group).
    #[error("{0}")]
    Invalid(String),
}

/// One configuration error with its location.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct ConfigError {
    /// Where the problem is.
    pub location: Location,
    /// What the problem is.
    pub kind: ErrorKind,
}

/// All errors found while loading; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The individual errors.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "{n} configuration error{}",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Kinds of non-fatal findings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum WarningKind {
    /// A key that supervisord does not know; it is ignored.
    #[error("unknown key ignored")]
    UnknownKey,
    /// A section that supervisord does not know; it is ignored.
    #[error("unknown section ignored")]
    UnknownSection,
    /// An `[include]` pattern matched no file.
    #[error("No file matches via include {pattern:?}")]
    IncludeNoMatch {
        /// The absolute pattern.
        pattern: String,
    },
    /// A matched include file could not be read; supervisord skips it silently.
    #[error("included file could not be read and was skipped: {reason}")]
    IncludeUnreadable {
        /// The operating system's reason.
        reason: String,
    },
    /// An included file has its own `[include]` section, which is not followed.
    #[error("[include] inside an included file is not followed")]
    NestedInclude,
    /// `*_logfile=syslog` is deprecated.
    #[error("{key}=syslog but this is deprecated and will be removed. Use {syslog_key}=true to enable syslog instead.")]
    DeprecatedSyslogLogfile {
        /// The logfile key.
        key: String,
        /// The replacement key.
        syslog_key: String,
    },
    /// AUTO log file with maxbytes = 0.
    #[error("AUTO logging used for {key} without rollover, set maxbytes > 0 to avoid filling up filesystem unintentionally")]
    AutoLogWithoutRollover {
        /// The logfile key.
        key: String,
    },
    /// `redirect_stderr=true` together with a stderr_logfile path.
    #[error("redirect_stderr=true but stderr_logfile has also been set to a filename, the filename has been ignored")]
    StderrLogfileIgnored,
    /// A problem in `[supervisorctl]`, which supervisord itself never reads.
    #[error("[supervisorctl]: {0}")]
    Supervisorctl(String),
}

/// A non-fatal finding with its location.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct Warning {
    /// Where.
    pub location: Location,
    /// What.
    pub kind: WarningKind,
}
