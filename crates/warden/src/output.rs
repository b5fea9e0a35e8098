//! The program's output files: the last lines it wrote (shown when a start
//! fails) and `warden logs`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{LogsArgs, StartArgs};
use crate::commands::resolve;
use crate::record::{self, Record};
use crate::Failure;

/// How many lines of a failed start's output are shown.
pub const SHOWN_LINES: usize = 10;

/// At most this much of the end of a file is read to find its last lines.
const TAIL_BYTES: u64 = 64 * 1024;

/// The output files of an instance (stdout's, then stderr's if it differs),
/// `/dev/null` left out.
#[must_use]
pub fn files(args: &StartArgs) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    for p in [&args.stdout, &args.stderr].into_iter().flatten() {
        if p != Path::new("/dev/null") && !v.contains(p) {
            v.push(p.clone());
        }
    }
    v
}

/// Where this run's output starts in each output file.
#[derive(Debug, Clone)]
pub struct Marks(Vec<(PathBuf, u64)>);

impl Marks {
    /// The current sizes of `args`'s output files (0 for a missing one).
    #[must_use]
    pub fn take(args: &StartArgs) -> Marks {
        Marks(
            files(args)
                .into_iter()
                .map(|p| {
                    let len = std::fs::metadata(&p).map_or(0, |m| m.len());
                    (p, len)
                })
                .collect(),
        )
    }

    /// The last `n` lines written since the marks were taken, indented, one
    /// block per file; says so when the output is discarded or empty.
    #[must_use]
    pub fn last_lines(&self, n: usize) -> String {
        if self.0.is_empty() {
            return "\n  (its output is discarded: -o /dev/null)".into();
        }
        let mut text = String::new();
        for (path, from) in &self.0 {
            let lines = tail(path, *from, n).unwrap_or_default();
            if lines.is_empty() {
                text.push_str(&format!("\n  it wrote nothing to {}", path.display()));
                continue;
            }
            text.push_str(&format!("\n  last lines of {}:", path.display()));
            for l in lines {
                text.push_str("\n  | ");
                text.push_str(&l);
            }
        }
        text
    }
}

/// The last `n` lines of `path` after byte `from`.
fn tail(path: &Path, from: u64, n: usize) -> std::io::Result<Vec<String>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    // A file truncated since (copytruncate) is read from its start.
    let from = if from > len { 0 } else { from };
    let start = from.max(len.saturating_sub(TAIL_BYTES));
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(len - start).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    // A cut at TAIL_BYTES may split the first line: drop it then.
    let skip_partial = usize::from(start > from && lines.len() > 1);
    let keep = lines.len().saturating_sub(n).max(skip_partial);
    Ok(lines[keep..].iter().map(|l| (*l).to_string()).collect())
}

/// `warden logs`.
pub fn logs(a: &LogsArgs) -> Result<i32, Failure> {
    let (name, pidfile) = resolve(&a.target.target())?;
    let rec = Record::load(&pidfile).ok().flatten();
    let mut paths = rec.map(|r| files(&r.options)).unwrap_or_default();
    if paths.is_empty() {
        paths.push(record::log_for(&pidfile));
    }
    paths.retain(|p| p.is_file());
    if paths.is_empty() {
        return Err(Failure::setup(format!(
            "no output file for {name} (started with -o /dev/null, or never started)"
        )));
    }
    let headers = paths.len() > 1;
    let mut out = std::io::stdout().lock();
    let mut open = Vec::new();
    for p in &paths {
        let mut f =
            File::open(p).map_err(|e| Failure::setup(format!("open {}: {e}", p.display())))?;
        if headers && writeln!(out, "==> {} <==", p.display()).is_err() {
            return Ok(0);
        }
        let shown = match a.lines {
            Some(n) => tail(p, 0, n)
                .map(|lines| lines.iter().try_for_each(|l| writeln!(out, "{l}")).is_ok()),
            None => Ok(std::io::copy(&mut f, &mut out).is_ok()),
        };
        match shown {
            Ok(true) => {}
            // stdout closed (`warden logs web | head`): done.
            Ok(false) => return Ok(0),
            Err(e) => return Err(Failure::setup(format!("read {}: {e}", p.display()))),
        }
        let _ = f.seek(SeekFrom::End(0));
        let ino = f.metadata().map_or(0, |m| m.ino());
        open.push((p.clone(), f, ino));
    }
    if !a.follow {
        return Ok(0);
    }
    follow(&mut out, open, headers)
}

/// Follows the files like `tail -F`: new bytes are copied as they come; a
/// file that was truncated is read again from its start, one that was moved
/// away (logrotate) is finished and its successor opened.
fn follow(
    out: &mut impl Write,
    mut files: Vec<(PathBuf, File, u64)>,
    headers: bool,
) -> Result<i32, Failure> {
    // Hand-written: a quarter-second poll per file is all `tail -F` does
    // without inotify, and needs no crate.
    let mut last_shown = files.len().saturating_sub(1);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        for (i, (path, f, ino)) in files.iter_mut().enumerate() {
            let pos = f.stream_position().unwrap_or(0);
            if f.metadata().is_ok_and(|m| m.len() < pos) {
                let _ = f.seek(SeekFrom::Start(0));
            }
            loop {
                let n = f.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                if headers && last_shown != i {
                    if writeln!(out, "\n==> {} <==", path.display()).is_err() {
                        return Ok(0);
                    }
                    last_shown = i;
                }
                if out.write_all(&buf[..n]).is_err() {
                    return Ok(0);
                }
            }
            if let Ok(m) = std::fs::metadata(&*path) {
                if m.ino() != *ino {
                    if let Ok(nf) = File::open(&*path) {
                        *f = nf;
                        *ino = m.ino();
                    }
                }
            }
        }
        if out.flush().is_err() {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
