//! Reading, tailing, clearing and following logs.

use std::path::PathBuf;

use warden_types::Namespec;

use crate::core::api::{ApiError, Channel, ErrorKind, Reply, Target};
use crate::core::engine::{Answer, Engine, ProcId};
use crate::core::logs::{read_file, tail_file, Sink};

fn read_error(w: &str) -> ApiError {
    ApiError::bare(if w == "BAD_ARGUMENTS" {
        ErrorKind::BadArguments
    } else {
        ErrorKind::Failed
    })
}

fn main_path(e: &Engine) -> PathBuf {
    e.config.supervisord.logfile.clone()
}

/// `readLog`.
pub(super) fn read_main(e: &Engine, offset: i64, length: i64) -> Result<Reply, ApiError> {
    let path = main_path(e);
    if !path.exists() {
        return Err(ApiError::new(ErrorKind::NoFile, path.display()));
    }
    read_file(&path, offset, length)
        .map(Reply::Bytes)
        .map_err(read_error)
}

/// `clearLog`.
pub(super) fn clear_main(e: &Engine) -> Result<Reply, ApiError> {
    let path = main_path(e);
    if !path.exists() {
        return Err(ApiError::new(ErrorKind::NoFile, path.display()));
    }
    match &e.log.sink {
        Some(s) => s.clear(),
        None => std::fs::remove_file(&path),
    }
    .map_err(|_| ApiError::bare(ErrorKind::Failed))?;
    Ok(Reply::Ok)
}

fn process(e: &Engine, spec: &Namespec) -> Result<ProcId, ApiError> {
    match e.find(spec)? {
        (_, Some(id)) => Ok(id),
        _ => Err(ApiError::new(ErrorKind::BadName, spec)),
    }
}

fn path_of(e: &Engine, id: ProcId, channel: Channel) -> Option<PathBuf> {
    let p = &e.procs[&id];
    match channel {
        Channel::Stdout => p.stdout_path.clone(),
        Channel::Stderr => p.stderr_path.clone(),
    }
}

/// The in-memory ring of a log that is not a regular file (`/dev/stdout`).
fn ring_of(e: &Engine, id: ProcId, channel: Channel) -> Option<std::rc::Rc<Sink>> {
    let p = &e.procs[&id];
    let sink = match channel {
        Channel::Stdout => p.stdout.clone(),
        Channel::Stderr => p.stderr.clone(),
    }?;
    let has_ring = sink.ring().is_some();
    has_ring.then_some(sink)
}

/// `readProcessStdoutLog` / `readProcessStderrLog`.
pub(super) fn read(
    e: &Engine,
    spec: &Namespec,
    channel: Channel,
    offset: i64,
    length: i64,
) -> Result<Reply, ApiError> {
    let id = process(e, spec)?;
    if let Some(sink) = ring_of(e, id, channel) {
        let ring = sink.ring();
        return ring
            .map_or(Ok(Vec::new()), |r| r.read(offset, length))
            .map(Reply::Bytes)
            .map_err(read_error);
    }
    let path = path_of(e, id, channel);
    let Some(path) = path.as_ref().filter(|p| p.exists()) else {
        // supervisord's RPCError(NO_FILE, None) is just `NO_FILE`.
        return Err(match path {
            Some(p) => ApiError::new(ErrorKind::NoFile, p.display()),
            None => ApiError::bare(ErrorKind::NoFile),
        });
    };
    read_file(path, offset, length)
        .map(Reply::Bytes)
        .map_err(read_error)
}

/// `tailProcessStdoutLog` / `tailProcessStderrLog`.
pub(super) fn tail(
    e: &Engine,
    spec: &Namespec,
    channel: Channel,
    offset: i64,
    length: i64,
) -> Result<Reply, ApiError> {
    let id = process(e, spec)?;
    if offset < 0 || length < 0 {
        return Err(ApiError::bare(ErrorKind::BadArguments));
    }
    if let Some(sink) = ring_of(e, id, channel) {
        let (data, offset, overflow) = sink
            .ring()
            .map_or((Vec::new(), 0, false), |r| r.tail(offset, length));
        return Ok(Reply::Tail {
            data,
            offset,
            overflow,
        });
    }
    let Some(path) = path_of(e, id, channel).filter(|p| p.exists()) else {
        return Ok(Reply::Tail {
            data: Vec::new(),
            offset: 0,
            overflow: false,
        });
    };
    let (data, offset, overflow) = tail_file(&path, offset, length);
    Ok(Reply::Tail {
        data,
        offset,
        overflow,
    })
}

/// `clearProcessLogs` (one process) and `clearAllProcessLogs`.
pub(super) fn clear(e: &mut Engine, target: &Target) -> Answer {
    let ids = match target {
        Target::Spec(spec) => match process(e, spec) {
            Ok(id) => return Answer::Now(clear_one(e, id, &spec.to_string())),
            Err(err) => return Answer::Now(Err(err)),
        },
        Target::Group(_) | Target::All => e.ordered_procs(),
    };
    let results = ids
        .into_iter()
        .map(|id| {
            let p = &e.procs[&id];
            let (name, group) = (p.cfg.name.clone(), p.cfg.group.clone());
            let spec = Namespec::process(&group, &name).to_string();
            crate::core::api::ResultEntry {
                result: clear_one(e, id, &spec).map(drop),
                name,
                group,
            }
        })
        .collect();
    Answer::Now(Ok(Reply::Results(results)))
}

fn clear_one(e: &Engine, id: ProcId, name: &str) -> Result<Reply, ApiError> {
    let p = &e.procs[&id];
    for (sink, path) in [(&p.stdout, &p.stdout_path), (&p.stderr, &p.stderr_path)] {
        let r = match (sink, path) {
            (Some(s), _) => s.clear(),
            (None, Some(path)) if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) => {
                std::fs::remove_file(path)
            }
            _ => Ok(()),
        };
        if r.is_err() {
            return Err(ApiError::new(ErrorKind::Failed, name));
        }
    }
    Ok(Reply::Ok)
}

/// The sink `/logtail` follows: a process's channel, or the main log.
pub(super) fn follow(e: &Engine, what: Option<&(Namespec, Channel)>) -> Result<Reply, ApiError> {
    let Some((spec, channel)) = what else {
        return Ok(Reply::Follow(e.log.sink.clone()));
    };
    let Ok(id) = process(e, spec) else {
        return Ok(Reply::Follow(None));
    };
    let p = &e.procs[&id];
    let slot = match channel {
        Channel::Stdout => &p.stdout,
        Channel::Stderr => &p.stderr,
    };
    Ok(Reply::Follow(slot.clone()))
}
