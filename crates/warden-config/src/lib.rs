#![forbid(unsafe_code)]
//! Parser and validator for supervisord 4.3.0 configuration files.
//!
//! `warden supervise` reads supervisord's INI files unchanged. This crate
//! reproduces what supervisord does with them, in two levels:
//!
//! 1. [`ini`]: a reader compatible with Python's `RawConfigParser` as
//!    supervisord configures it (inline `;`/`#` comments only after
//!    whitespace, continuation lines, case-insensitive keys, case-sensitive
//!    sections, duplicates merged with the last value winning, `[DEFAULT]`),
//!    plus `[include] files=` globbing relative to the including file.
//! 2. validation into the typed [`Config`]: every key with supervisord's
//!    default and check, `%(name)s` expansion with the names supervisord
//!    offers for that key, `numprocs` expansion, group membership and
//!    priority ordering.
//!
//! Unlike supervisord, all errors are collected (each with file, line,
//! section and key), and keys or sections supervisord silently ignores are
//! reported as [`Warning`]s.
//!
//! ```no_run
//! use std::collections::HashMap;
//! let env = warden_config::host_env();
//! match warden_config::load("/etc/supervisord.conf".as_ref(), &env) {
//!     Ok(loaded) => println!("{} groups", loaded.config.groups.len()),
//!     Err(errors) => eprintln!("{errors}"),
//! }
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub mod datatypes;
pub mod envfile;
mod error;
pub mod expand;
mod glob;
pub mod ini;
mod lifecycle;
mod model;
pub mod shlex;
mod system;
mod validate;

pub use error::{ConfigError, ConfigErrors, ErrorKind, Location, Warning, WarningKind};
pub use lifecycle::dependents;
pub use model::*;
pub use system::{python_tempdir, Context, OsSystem, System};
pub use validate::EVENT_TYPES;

/// The environment as `%(ENV_X)s` expansion sees it, read with
/// `std::env::vars_os` (`std::env::vars` panics on a variable that is not
/// UTF-8). Such variables are left out rather than converted lossily:
/// a config is UTF-8 text, so it cannot name a non-UTF-8 key, and a value
/// with U+FFFD in place of its bytes would silently be a different value;
/// leaving it out makes `%(ENV_X)s` a config error that names it. Children
/// still get these variables byte for byte: the supervisor builds their
/// environment from `vars_os` itself.
pub fn host_env() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Load the config file at `path` as supervisord would on this host, with
/// `env` as the environment supervisord was started with.
pub fn load(path: &Path, env: &HashMap<String, String>) -> Result<Loaded, ConfigErrors> {
    load_with(path, &Context::from_host(env))
}

/// [`load`] with an explicit [`Context`] (working directory, host name,
/// user database, ...).
pub fn load_with(path: &Path, ctx: &Context<'_>) -> Result<Loaded, ConfigErrors> {
    let abs = datatypes::normpath(&ctx.cwd.join(path).to_string_lossy());
    let abs = PathBuf::from(abs);
    let text = match std::fs::read_to_string(&abs) {
        Ok(t) => t,
        Err(e) => {
            let reason = if abs.exists() {
                e.to_string()
            } else {
                format!("could not find config file {}", path.display())
            };
            return Err(ConfigErrors(vec![ConfigError {
                location: Location::file(abs),
                kind: ErrorKind::Read { reason },
            }]));
        }
    };
    let dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| "/".into());
    run(&text, abs, &dir, ctx)
}

/// Parse `text` as if it were a file in the directory `here` (which gives
/// `%(here)s` and the base for `[include]` patterns), on this host.
pub fn parse_str(
    text: &str,
    here: &Path,
    env: &HashMap<String, String>,
) -> Result<Loaded, ConfigErrors> {
    parse_str_with(text, here, &Context::from_host(env))
}

/// [`parse_str`] with an explicit [`Context`].
pub fn parse_str_with(text: &str, here: &Path, ctx: &Context<'_>) -> Result<Loaded, ConfigErrors> {
    let dir = PathBuf::from(datatypes::normpath(&ctx.cwd.join(here).to_string_lossy()));
    run(text, dir.join("<string>"), &dir, ctx)
}

fn run(text: &str, file: PathBuf, dir: &Path, ctx: &Context<'_>) -> Result<Loaded, ConfigErrors> {
    let here = dir.to_string_lossy().into_owned();
    let mut loader = validate::Loader::new(ctx, file, here);
    validate::read_all(&mut loader, text, dir);
    let syntax_failed = !loader.errors.is_empty();
    let config = if syntax_failed { None } else { loader.build() };
    let mut errors = std::mem::take(&mut loader.errors);
    dedup(&mut errors);
    let mut warnings = std::mem::take(&mut loader.warnings);
    dedup(&mut warnings);
    match config {
        Some(config) if errors.is_empty() => Ok(Loaded { config, warnings }),
        _ => Err(ConfigErrors(errors)),
    }
}

/// Drops repeats, keeping the first of each in order. Linear: with
/// `numprocs=20000` and one bad per-process value, a pairwise comparison took
/// seconds.
fn dedup<T: Eq + std::hash::Hash>(v: &mut Vec<T>) {
    let keep: Vec<bool> = {
        let mut seen = std::collections::HashSet::with_capacity(v.len());
        v.iter().map(|x| seen.insert(x)).collect()
    };
    let mut keep = keep.into_iter();
    // `retain` visits the elements once each, in order.
    v.retain(|_| keep.next().unwrap_or(true));
}

/// The files supervisord tries, in order, when no `-c` is given.
///
/// `exe_dir` is the directory of the executable as invoked (Python's
/// `dirname(argv[0])`; empty for a bare command name); the first two
/// candidates are `exe_dir/../etc/supervisord.conf` and
/// `exe_dir/../supervisord.conf`. Relative candidates are resolved against `cwd`.
pub fn default_config_candidates(cwd: &Path, exe_dir: &Path) -> Vec<PathBuf> {
    let exe = exe_dir.to_string_lossy();
    let here = datatypes::dirname(exe.trim_end_matches('/')).to_string();
    let here = if exe.starts_with('/') && here.is_empty() {
        "/".to_string()
    } else {
        here
    };
    let join = |a: &str, b: &str| -> String {
        if a.is_empty() {
            b.to_string()
        } else if a.ends_with('/') {
            format!("{a}{b}")
        } else {
            format!("{a}/{b}")
        }
    };
    [
        join(&here, "etc/supervisord.conf"),
        join(&here, "supervisord.conf"),
        "supervisord.conf".to_string(),
        "etc/supervisord.conf".to_string(),
        "/etc/supervisord.conf".to_string(),
        "/etc/supervisor/supervisord.conf".to_string(),
    ]
    .into_iter()
    .map(|p| {
        if p.starts_with('/') {
            PathBuf::from(p)
        } else {
            cwd.join(p)
        }
    })
    .collect()
}

/// The first of [`default_config_candidates`] that exists.
pub fn find_default_config(cwd: &Path, exe_dir: &Path) -> Option<PathBuf> {
    default_config_candidates(cwd, exe_dir)
        .into_iter()
        .find(|p| p.exists())
}
