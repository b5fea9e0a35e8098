//! Log files: the daemon's main log and per-process capture logs.
//!
//! A [`Sink`] is an append-only file with supervisord's size rotation
//! (`maxbytes`, `backups`: `log` → `log.1` → … → `log.N`), reopen (USR2) and
//! clear (delete and reopen). Writers notify followers (`/logtail`) through a
//! [`tokio::sync::Notify`], so a tail wakes up only when bytes arrive.
//!
//! Capture: every child's stdout/stderr is a pipe read by one local task per
//! stream ([`capture`]) that writes straight into the sink; bytes are kept as
//! they came (partial lines and non-UTF-8 included). Tasks yield to the
//! runtime between reads, so a flooding child never stalls the engine.

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::core::events::{Bus, EventKind};
use crate::core::logfmt::{Formatter, LineFormat};
use crate::core::ring::Ring;
pub use warden_config::LogRotate;
use warden_types::Channel;

/// Main-log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// DEBG
    Debug,
    /// INFO
    Info,
    /// WARN
    Warn,
    /// ERRO
    Error,
    /// CRIT
    Critical,
}

/// An append-only, rotating log file.
pub struct Sink {
    path: PathBuf,
    file: RefCell<Option<File>>,
    maxbytes: u64,
    backups: u32,
    size: Cell<u64>,
    /// Bytes written since the sink was opened (for metrics).
    written: Cell<u64>,
    /// Woken on every write and reopen.
    pub notify: tokio::sync::Notify,
    /// The error of the current episode of failed writes, if any.
    failure: RefCell<Option<String>>,
    /// The recent output, when the log is not a regular file (a terminal,
    /// a pipe: `/dev/stdout`) and cannot be read back.
    ring: Option<RefCell<Ring>>,
    /// Rotation by time and compression (see [`Sink::set_policy`]).
    policy: Cell<Policy>,
    /// Held while backups are renamed, by a rotation and by a compression
    /// naming its result (see [`gzip_backup`]).
    rotation: std::sync::Arc<std::sync::Mutex<()>>,
}

/// warden's rotation keys for one log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Policy {
    rotate: LogRotate,
    compress: bool,
    /// The period (local day or hour) the file was started in.
    period: i64,
    /// Before this Unix time the period cannot have changed.
    next_check: i64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            rotate: LogRotate::Size,
            compress: false,
            period: 0,
            next_check: i64::MAX,
        }
    }
}

/// The local day (`YYYYMMDD`) or hour (`YYYYMMDDHH`) of Unix time `now`.
fn period_of(rotate: LogRotate, now: i64) -> i64 {
    let t = warden_sys::clock::local_time(now);
    let day = i64::from(t.year) * 10_000 + i64::from(t.month) * 100 + i64::from(t.day);
    match rotate {
        LogRotate::Hourly => day * 100 + i64::from(t.hour),
        _ => day,
    }
}

/// Gzips a just-rotated backup (`log.1`, open as `input`) off the engine's
/// thread, into `log.K.gz` where `log.K` is wherever the file is when the
/// compression ends: another rotation may have shifted it meanwhile
/// (`log.1` → `log.2`). The file is found by inode under the sink's
/// rotation lock, so a rotation never moves it between that check and the
/// rename; a backup shifted out of the `backups` meanwhile is not kept.
fn gzip_backup(
    input: File,
    base: &str,
    backups: u32,
    lock: &std::sync::Mutex<()>,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = input.metadata()?;
    let id = (meta.dev(), meta.ino());
    // not a `log.N` name: a rotation does not shift it
    let tmp = PathBuf::from(format!("{base}.gz-{}.tmp", id.1));
    let out = warden_sys::fs::open_protected(
        &tmp,
        OpenOptions::new().create(true).write(true).truncate(true),
        0,
    )?;
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let compressed = std::io::copy(&mut &input, &mut enc)
        .and_then(|_| enc.finish())
        .and_then(|f| f.sync_all());
    let _rotation = lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let now_at = (1..=backups)
        .map(|k| format!("{base}.{k}"))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| (m.dev(), m.ino()) == id));
    match (compressed, now_at) {
        (Ok(()), Some(plain)) => {
            std::fs::rename(&tmp, format!("{plain}.gz"))?;
            std::fs::remove_file(plain)
        }
        (r, _) => {
            let _ = std::fs::remove_file(&tmp);
            r
        }
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("path", &self.path)
            .field("failure", &self.failure.borrow())
            .finish_non_exhaustive()
    }
}

impl Sink {
    /// Opens (creates) `path` for appending.
    pub fn open(path: &Path, maxbytes: i64, backups: i64) -> std::io::Result<Rc<Sink>> {
        let s = Sink {
            path: path.to_path_buf(),
            file: RefCell::new(None),
            maxbytes: u64::try_from(maxbytes).unwrap_or(0),
            backups: u32::try_from(backups).unwrap_or(0),
            size: Cell::new(0),
            written: Cell::new(0),
            notify: tokio::sync::Notify::new(),
            failure: RefCell::new(None),
            ring: std::fs::metadata(path)
                .is_ok_and(|m| !m.is_file())
                .then(|| RefCell::new(Ring::default())),
            policy: Cell::new(Policy::default()),
            rotation: std::sync::Arc::default(),
        };
        s.reopen()?;
        Ok(Rc::new(s))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The error of the current episode of failed writes, if any.
    pub fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Records a failed write; the message when it starts an episode.
    fn failed(&self, e: &std::io::Error) -> Option<String> {
        if self.failure.borrow().is_some() {
            return None;
        }
        let msg = format!("cannot write to {}: {e}", self.path.display());
        *self.failure.borrow_mut() = Some(msg.clone());
        Some(msg)
    }

    /// Closes the file until the next write (a process that is not running
    /// keeps no descriptor open).
    pub fn release(&self) {
        *self.file.borrow_mut() = None;
    }

    /// Closes and reopens the file (after an external rotation, USR2).
    pub fn reopen(&self) -> std::io::Result<()> {
        // Never through a link planted in a shared directory such as /tmp.
        let f = warden_sys::fs::open_protected(
            &self.path,
            OpenOptions::new().create(true).append(true),
            0,
        )?;
        self.size.set(f.metadata().map(|m| m.len()).unwrap_or(0));
        *self.file.borrow_mut() = Some(f);
        self.notify.notify_waiters();
        Ok(())
    }

    /// Deletes the file and starts a new one (supervisord's `removelogs`).
    pub fn clear(&self) -> std::io::Result<()> {
        if let Some(r) = &self.ring {
            r.borrow_mut().clear();
        }
        if self.path.exists() && !self.is_regular() {
            // `/dev/stdout` and friends are never deleted
            return Ok(());
        }
        *self.file.borrow_mut() = None;
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        self.reopen()
    }

    /// Appends `data`, then rotates when the file reached `maxbytes`.
    /// Returns the error once at the start of every episode of failed
    /// writes (a full disk, a vanished file system), for the caller to
    /// report: lost bytes are never silent.
    pub fn write(&self, data: &[u8]) -> Option<String> {
        if data.is_empty() {
            return None;
        }
        if let Some(r) = &self.ring {
            r.borrow_mut().push(data);
        }
        if self.file.borrow().is_none() {
            if let Err(e) = self.reopen() {
                return self.failed(&e);
            }
        }
        let written = match self.file.borrow_mut().as_mut() {
            Some(f) => f.write_all(data),
            None => Ok(()),
        };
        let report = match written {
            Ok(()) => {
                self.size.set(self.size.get() + data.len() as u64);
                self.written.set(self.written.get() + data.len() as u64);
                self.failure.borrow_mut().take();
                None
            }
            Err(e) => self.failed(&e),
        };
        if self.maxbytes > 0 && self.size.get() >= self.maxbytes {
            let _ = self.rotate();
        }
        self.notify.notify_waiters();
        report
    }

    fn is_regular(&self) -> bool {
        std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_file())
    }

    fn rotate(&self) -> std::io::Result<()> {
        if !self.is_regular() {
            return Ok(());
        }
        *self.file.borrow_mut() = None;
        let base = self.path.to_string_lossy().into_owned();
        if self.backups == 0 {
            let f = warden_sys::fs::open_protected(
                &self.path,
                OpenOptions::new().create(true).write(true).truncate(true),
                0,
            )?;
            drop(f);
            return self.reopen();
        }
        let compress = self.policy.get().compress;
        // a compression that ends now waits until the names are shifted
        let lock = self.rotation.clone();
        let _rotation = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // compressed backups (`log.N.gz`) move along with plain ones
        let suffixes: &[&str] = if compress { &["", ".gz"] } else { &[""] };
        for i in (1..self.backups).rev() {
            for ext in suffixes {
                let src = format!("{base}.{i}{ext}");
                let dst = format!("{base}.{}{ext}", i + 1);
                if Path::new(&src).exists() {
                    let _ = std::fs::remove_file(&dst);
                    std::fs::rename(&src, &dst)?;
                }
            }
        }
        let dst = format!("{base}.1");
        let _ = std::fs::remove_file(&dst);
        if compress {
            let _ = std::fs::remove_file(format!("{dst}.gz"));
        }
        std::fs::rename(&self.path, &dst)?;
        if compress {
            // off the engine's thread: a large log takes a while to gzip;
            // opened here, before any later rotation can move it
            if let Ok(input) = File::open(&dst) {
                let backups = self.backups;
                let lock = self.rotation.clone();
                std::thread::spawn(move || {
                    let _ = gzip_backup(input, &base, backups, &lock);
                });
            }
        }
        drop(_rotation);
        self.reopen()
    }

    /// Sets warden's rotation keys: `rotate` by time (besides `maxbytes`)
    /// and `compress` for rotated files; `now` is the Unix time.
    pub fn set_policy(&self, rotate: LogRotate, compress: bool, now: i64) {
        let p = self.policy.get();
        if p.rotate == rotate && p.compress == compress {
            return;
        }
        self.policy.set(Policy {
            rotate,
            compress,
            period: period_of(rotate, now),
            next_check: if rotate == LogRotate::Size {
                i64::MAX
            } else {
                now
            },
        });
    }

    /// Rotates when the day or hour changed since the file was started
    /// (with `*_logfile_rotate`); `now` is the Unix time. Cheap: the local
    /// time is worked out at most once a minute.
    pub fn tick(&self, now: i64) {
        let mut p = self.policy.get();
        if now < p.next_check {
            return;
        }
        p.next_check = now - now.rem_euclid(60) + 60;
        let period = period_of(p.rotate, now);
        let changed = period != p.period;
        p.period = period;
        self.policy.set(p);
        if changed && self.size.get() > 0 {
            let _ = self.rotate();
        }
    }

    /// The in-memory ring of a log that is not a regular file.
    pub fn ring(&self) -> Option<std::cell::Ref<'_, Ring>> {
        self.ring.as_ref().map(RefCell::borrow)
    }

    /// Up to `max` bytes at `pos` (from the ring when there is one).
    ///
    /// # Errors
    ///
    /// The file cannot be read.
    pub fn read_chunk(&self, pos: u64, max: u64) -> std::io::Result<Vec<u8>> {
        match self.ring() {
            Some(r) => Ok(r.slice(pos, max)),
            None => read_at(&self.path, pos, Some(max)),
        }
    }

    /// Bytes written since the sink was opened.
    pub fn written(&self) -> u64 {
        self.written.get()
    }

    /// The current size of the file on disk (of the ring's virtual file).
    pub fn len(&self) -> u64 {
        if let Some(r) = self.ring() {
            return r.total();
        }
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads `len` bytes at `offset` (or to the end with `len == None`).
pub fn read_at(path: &Path, offset: u64, len: Option<u64>) -> std::io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut out = Vec::new();
    match len {
        Some(n) => {
            f.take(n).read_to_end(&mut out)?;
        }
        None => {
            f.read_to_end(&mut out)?;
        }
    }
    Ok(out)
}

/// supervisord's `readFile(filename, offset, length)`: `Err("BAD_ARGUMENTS")`
/// or `Err("FAILED")` as it raises them.
pub fn read_file(path: &Path, offset: i64, length: i64) -> Result<Vec<u8>, &'static str> {
    let failed = |_| "FAILED";
    let size = std::fs::metadata(path).map_err(failed)?.len();
    if offset < 0 {
        if length != 0 {
            return Err("BAD_ARGUMENTS");
        }
        let abs = offset.unsigned_abs();
        let pos = size.saturating_sub(abs);
        read_at(path, pos, Some(abs)).map_err(failed)
    } else {
        if length < 0 {
            return Err("BAD_ARGUMENTS");
        }
        let off = offset.unsigned_abs();
        let len = (length > 0).then_some(length.unsigned_abs());
        read_at(path, off, len).map_err(failed)
    }
}

/// supervisord's `tailFile`: `(data, next_offset, overflow)`.
pub fn tail_file(path: &Path, offset: i64, length: i64) -> (Vec<u8>, i64, bool) {
    let Ok(meta) = std::fs::metadata(path) else {
        return (Vec::new(), offset, false);
    };
    let sz = i64::try_from(meta.len()).unwrap_or(i64::MAX);
    let (offset, length, overflow) = tail_window(sz, offset, length);
    let data = if length == 0 {
        Vec::new()
    } else {
        read_at(path, offset.unsigned_abs(), Some(length.unsigned_abs())).unwrap_or_default()
    };
    (data, sz, overflow)
}

/// `tailFile`'s window of a file of `sz` bytes: (offset, length, overflow).
pub(crate) fn tail_window(sz: i64, offset: i64, length: i64) -> (i64, i64, bool) {
    let (mut offset, mut length) = (offset, length);
    let mut overflow = false;
    if sz > offset.saturating_add(length) {
        overflow = true;
        offset = sz - 1;
    }
    if offset.saturating_add(length) > sz {
        if offset > sz - 1 {
            length = 0;
        }
        offset = sz - length;
    }
    (offset.max(0), length.max(0), overflow)
}

/// The daemon's own log: `YYYY-MM-DD HH:MM:SS,mmm LEVEL message`.
#[derive(Debug, Clone)]
pub struct MainLog {
    /// The file, unless `logfile=syslog`.
    pub sink: Option<Rc<Sink>>,
    /// `logfile=syslog`: lines go to the local syslog (see
    /// [`crate::core::syslog::send_main`]).
    pub syslog: bool,
    /// Lowest level written.
    pub level: Level,
    /// Also echo to stdout (nodaemon and not silent).
    pub echo: bool,
}

impl MainLog {
    /// The main log `config` asks for (`echo`: also to stdout).
    ///
    /// # Errors
    ///
    /// The log file cannot be opened (a directory, a missing directory, no
    /// permission): the supervisor must not run without its log.
    pub fn for_config(config: &warden_config::Config, echo: bool) -> Result<MainLog, String> {
        let s = &config.supervisord;
        let syslog = s.logfile.as_os_str() == "syslog";
        let sink = if syslog {
            None
        } else {
            let sink = Sink::open(&s.logfile, s.logfile_maxbytes, s.logfile_backups)
                .map_err(|e| format!("cannot open the main log {}: {e}", s.logfile.display()))?;
            Some(sink)
        };
        let level = match s.loglevel {
            warden_config::LogLevel::Blather
            | warden_config::LogLevel::Trace
            | warden_config::LogLevel::Debug => Level::Debug,
            warden_config::LogLevel::Info => Level::Info,
            warden_config::LogLevel::Warn => Level::Warn,
            warden_config::LogLevel::Error => Level::Error,
            warden_config::LogLevel::Critical => Level::Critical,
        };
        Ok(MainLog {
            sink,
            syslog,
            level,
            echo,
        })
    }

    /// Writes one line if `level` passes the filter.
    pub fn log(&self, level: Level, msg: &str) {
        if level < self.level {
            return;
        }
        let stamp = timestamp();
        let line = format!("{stamp} {} {msg}\n", level_name(level));
        if let Some(s) = &self.sink {
            s.write(line.as_bytes());
        }
        if self.echo {
            let _ = std::io::stdout().write_all(line.as_bytes());
        }
        if self.syslog {
            crate::core::syslog::send_main(&stamp, level_name(level), msg, self.echo);
        }
    }
}

/// supervisord's level names.
pub fn level_name(l: Level) -> &'static str {
    match l {
        Level::Debug => "DEBG",
        Level::Info => "INFO",
        Level::Warn => "WARN",
        Level::Error => "ERRO",
        Level::Critical => "CRIT",
    }
}

/// Local time as `YYYY-MM-DD HH:MM:SS,mmm`.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let t = warden_sys::clock::local_time(i64::try_from(now.as_secs()).unwrap_or(0));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        now.subsec_millis()
    )
}

fn unix_secs(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Receives a process's raw stdout chunks: (group, process, pid, bytes).
/// The event listener protocol reads listeners' stdout this way.
pub type Tap = Rc<dyn Fn(&str, &str, i32, &[u8])>;

/// Who wrote what a capture task reads: shared by the process's streams.
#[derive(Clone)]
pub struct Origin {
    /// The bus to publish on.
    pub bus: Rc<Bus>,
    /// The group.
    pub group: String,
    /// The process.
    pub name: String,
    /// Its pid.
    pub pid: i32,
    /// `strip_ansi`.
    pub strip_ansi: bool,
    /// The main log: lost output is reported there, and every chunk is
    /// echoed to it at `loglevel=debug`.
    pub log: MainLog,
}

/// One stream of a process and where it goes besides the log.
pub struct Stream {
    /// Which stream.
    pub channel: Channel,
    /// `*_events_enabled`: its output is also a `PROCESS_LOG_*` event.
    pub log_events: bool,
    /// `*_capture_maxbytes`: capture mode between the XSUPERVISOR tokens
    /// (0: off).
    pub capture_maxbytes: usize,
    /// Raw chunks for the listener protocol.
    pub tap: Option<Tap>,
    /// `*_syslog`: its output also goes to the local syslog.
    pub syslog: bool,
    /// `*_logfile_timestamps`, `*_logfile_format`.
    pub format: LineFormat,
    /// `*_logfile_rotate`.
    pub rotate: LogRotate,
    /// `*_logfile_compress`.
    pub compress: bool,
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin")
            .field("group", &self.group)
            .field("name", &self.name)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// supervisord's capture-mode tokens.
pub const BEGIN_TOKEN: &[u8] = b"<!--XSUPERVISOR:BEGIN-->";
/// The end of a captured message.
pub const END_TOKEN: &[u8] = b"<!--XSUPERVISOR:END-->";

/// supervisord's `POutputDispatcher` for one stream: normal output goes to
/// the log; with capture mode on, what stands between the tokens becomes a
/// `PROCESS_COMMUNICATION_*` event instead.
struct Recorder {
    origin: Rc<Origin>,
    stream: Stream,
    sink: Option<Rc<Sink>>,
    pending: Vec<u8>,
    capturing: bool,
    captured: Vec<u8>,
    /// warden's line formats, when the program asked for one.
    fmt: Option<Formatter>,
    /// The log rotates by time too.
    timed: bool,
}

impl Recorder {
    fn feed(&mut self, data: &[u8]) {
        if let Some(tap) = &self.stream.tap {
            tap(&self.origin.group, &self.origin.name, self.origin.pid, data);
        }
        if self.stream.capture_maxbytes == 0 {
            self.log(data);
            return;
        }
        self.pending.extend_from_slice(data);
        loop {
            let token = if self.capturing {
                END_TOKEN
            } else {
                BEGIN_TOKEN
            };
            if self.pending.len() <= token.len() {
                return; // not enough to decide
            }
            let data = std::mem::take(&mut self.pending);
            match find(&data, token) {
                None => {
                    // keep what may be the start of a token for next time
                    let keep = prefix_at_end(&data, token);
                    let (head, tail) = data.split_at(data.len() - keep);
                    self.pending = tail.to_vec();
                    self.log(head);
                    return;
                }
                Some(at) => {
                    self.log(&data[..at]);
                    self.toggle();
                    self.pending = data[at + token.len()..].to_vec();
                    if self.pending.is_empty() {
                        return;
                    }
                }
            }
        }
    }

    fn toggle(&mut self) {
        self.capturing = !self.capturing;
        if self.capturing {
            return;
        }
        let data = std::mem::take(&mut self.captured);
        let o = &self.origin;
        if o.log.level == Level::Debug {
            o.log.log(
                Level::Debug,
                &format!(
                    "'{}' {} output:\n{}",
                    o.name,
                    self.stream.channel.name(),
                    py_text(&data)
                ),
            );
        }
        o.bus.publish(EventKind::ProcessCommunication {
            group: o.group.clone(),
            name: o.name.clone(),
            pid: o.pid,
            channel: self.stream.channel,
            data: Rc::from(&data[..]),
        });
    }

    /// supervisord's `_log`: the log (or the capture buffer), the debug
    /// echo, output events.
    fn log(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let stripped;
        let data = if self.origin.strip_ansi {
            stripped = strip_escapes(data);
            &stripped[..]
        } else {
            data
        };
        let o = &self.origin;
        let st = &self.stream;
        if self.capturing {
            // a bounded buffer: the last capture_maxbytes bytes
            self.captured.extend_from_slice(data);
            let over = self.captured.len().saturating_sub(st.capture_maxbytes);
            self.captured.drain(..over);
        } else {
            if let Some(s) = &self.sink {
                let now = (self.fmt.is_some() || self.timed).then(std::time::SystemTime::now);
                if let (true, Some(now)) = (self.timed, now) {
                    s.tick(unix_secs(now));
                }
                let data = match (&mut self.fmt, now) {
                    (Some(f), Some(now)) => f.format(data, now),
                    _ => data,
                };
                if let Some(e) = s.write(data) {
                    o.log
                        .log(Level::Warn, &format!("'{}' output lost: {e}", o.name));
                }
            }
            if st.syslog {
                crate::core::syslog::send(&o.name, data);
            }
        }
        if o.log.level == Level::Debug {
            let log = &o.log;
            // supervisord shows a listener's protocol output as Python
            // bytes, everything else as text
            let shown = if st.tap.is_some() {
                py_bytes_repr(data)
            } else {
                py_text(data)
            };
            log.log(
                Level::Debug,
                &format!("'{}' {} output:\n{shown}", o.name, st.channel.name()),
            );
        }
        if o.bus.wants_output() {
            o.bus.publish(EventKind::ProcessOutput {
                group: o.group.clone(),
                name: o.name.clone(),
                pid: o.pid,
                channel: st.channel,
                data: Rc::from(data),
                log_event: st.log_events,
            });
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// supervisord's `find_prefix_at_end`: how many trailing bytes of `data`
/// could begin `token`.
fn prefix_at_end(data: &[u8], token: &[u8]) -> usize {
    (1..token.len())
        .rev()
        .find(|&n| n <= data.len() && data.ends_with(&token[..n]))
        .unwrap_or(0)
}

/// Bytes as supervisord shows them in text: UTF-8 as is, else
/// `Undecodable: ` and Python's `repr` of the bytes.
#[must_use]
pub fn py_text(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(s) => s.to_string(),
        Err(_) => format!("Undecodable: {}", py_bytes_repr(data)),
    }
}

/// Python's `repr()` of a `bytes` value.
#[must_use]
pub fn py_bytes_repr(data: &[u8]) -> String {
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(quote as char);
    for &b in data {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if b == quote => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote as char);
    out
}

/// One captured pipe: its reader and its recorder.
pub struct Pipe {
    /// The read end.
    pub rx: tokio::net::unix::pipe::Receiver,
    /// Where its bytes go.
    pub sink: Option<Rc<Sink>>,
    /// Which stream it is.
    pub stream: Stream,
}

/// Reads a child's stdout and stderr pipes until both reach EOF, recording
/// everything as supervisord's output dispatcher does (see [`Origin`]).
/// One task serves both streams of a process: an idle program costs one
/// task, not two.
pub async fn capture(origin: Rc<Origin>, pipes: Vec<Pipe>) {
    // One read buffer for all pipes of this thread: a task borrows it only
    // between readiness and the end of its (synchronous) write, so 2000
    // idle pipes cost no buffer memory.
    thread_local! {
        static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; 64 * 1024]);
    }
    let mut open: Vec<(tokio::net::unix::pipe::Receiver, Recorder)> = pipes
        .into_iter()
        .map(|p| {
            let st = &p.stream;
            let timed = st.rotate != LogRotate::Size;
            let fmt = (st.format.timestamps || st.format.json)
                .then(|| Formatter::new(st.format, &origin.name, st.channel.name()));
            if let Some(s) = &p.sink {
                let now = unix_secs(std::time::SystemTime::now());
                s.set_policy(st.rotate, st.compress, now);
                s.tick(now);
            }
            let rec = Recorder {
                origin: origin.clone(),
                stream: p.stream,
                sink: p.sink,
                pending: Vec::new(),
                capturing: false,
                captured: Vec::new(),
                fmt,
                timed,
            };
            (p.rx, rec)
        })
        .collect();
    let mut turn = 0usize;
    while !open.is_empty() {
        // a pipe with something to read (or at EOF), taking turns so that a
        // flooding stream never starves the other
        turn = turn.wrapping_add(1);
        let ready = std::future::poll_fn(|cx| {
            let n = open.len();
            for k in 0..n {
                let i = (turn + k) % n;
                if let std::task::Poll::Ready(r) = open[i].0.poll_read_ready(cx) {
                    return std::task::Poll::Ready((i, r.is_err()));
                }
            }
            std::task::Poll::Pending
        })
        .await;
        let (i, failed) = ready;
        let done = failed
            || BUF.with(|b| {
                let mut buf = b.borrow_mut();
                let (rx, rec) = &mut open[i];
                match rx.try_read(&mut buf) {
                    Ok(0) => true,
                    Ok(n) => {
                        rec.feed(&buf[..n]);
                        false
                    }
                    Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                }
            });
        if done {
            let (_, mut rec) = open.swap_remove(i);
            // what is left at EOF is output too
            let rest = std::mem::take(&mut rec.pending);
            rec.log(&rest);
            if let (Some(f), Some(s)) = (&mut rec.fmt, &rec.sink) {
                let _ = s.write(f.finish());
            }
        }
    }
}

/// supervisord's `stripEscapes`: drops `ESC [` up to a terminator letter.
pub fn strip_escapes(s: &[u8]) -> Vec<u8> {
    const TERMINATORS: &[u8] = b"HfABCDRsuJKhlpm";
    let mut out = Vec::with_capacity(s.len());
    let mut show = true;
    let mut i = 0;
    while i < s.len() {
        if !show && TERMINATORS.contains(&s[i]) {
            show = true;
        } else if show {
            match s[i..].windows(2).position(|w| w == b"\x1b[") {
                None => {
                    out.extend_from_slice(&s[i..]);
                    return out;
                }
                Some(n) => {
                    out.extend_from_slice(&s[i..i + n]);
                    i += n;
                    show = false;
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_and_tail_follow_supervisord() {
        let dir = std::env::temp_dir().join(format!("wsup-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f.log");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_file(&p, -3, 0).unwrap(), b"789");
        assert_eq!(read_file(&p, 2, 3).unwrap(), b"234");
        assert_eq!(read_file(&p, 8, 0).unwrap(), b"89");
        assert_eq!(read_file(&p, -3, 1), Err("BAD_ARGUMENTS"));
        assert_eq!(read_file(&p, 0, -1), Err("BAD_ARGUMENTS"));
        assert_eq!(tail_file(&p, 0, 4), (b"6789".to_vec(), 10, true));
        assert_eq!(tail_file(&p, 10, 4), (Vec::new(), 10, false));
        let s = Sink::open(&p, 12, 2).unwrap();
        s.write(b"abc");
        assert!(dir.join("f.log.1").exists());
        assert_eq!(s.len(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Waits up to 10 s for `p` to exist.
    fn appears(p: &Path) -> bool {
        test_programs::poll_until(std::time::Duration::from_secs(10), || p.exists())
    }

    /// A sink of `d.log` in `dir` rotated daily with compression, at an
    /// injected clock: local noon of some day, which it returns.
    fn daily_gzipped(dir: &Path) -> (Rc<Sink>, i64) {
        let s = Sink::open(&dir.join("d.log"), 0, 3).unwrap();
        let mut t: i64 = 1_796_205_481;
        while warden_sys::clock::local_time(t).hour != 12 {
            t += 3600;
        }
        s.set_policy(LogRotate::Daily, true, t);
        s.tick(t);
        (s, t)
    }

    fn zcat(p: &Path) -> Vec<u8> {
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(p)
            .output()
            .unwrap();
        assert!(out.status.success(), "gzip -dc {}", p.display());
        out.stdout
    }

    #[test]
    fn rotates_by_the_clock_and_gzips_off_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.log");
        let (s, t) = daily_gzipped(dir.path());
        s.write(b"day one\n");
        s.tick(t + 60);
        s.tick(t + 6 * 3600); // 18:00, the same day
        assert!(!dir.path().join("d.log.1").exists());
        assert!(!dir.path().join("d.log.1.gz").exists());
        s.tick(t + 24 * 3600); // the next day
        s.write(b"day two\n");
        let gz1 = dir.path().join("d.log.1.gz");
        assert!(appears(&gz1), "the rotated file is gzipped");
        let st = std::process::Command::new("gzip")
            .arg("-t")
            .arg(&gz1)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(zcat(&gz1), b"day one\n");
        assert_eq!(std::fs::read(&p).unwrap(), b"day two\n");
        // a quiet day rotates nothing; the next write's day does
        s.tick(t + 2 * 24 * 3600);
        let gz2 = dir.path().join("d.log.2.gz");
        assert!(appears(&gz2));
        assert!(appears(&gz1));
        assert_eq!(zcat(&gz2), b"day one\n");
        assert_eq!(zcat(&gz1), b"day two\n");
        assert_eq!(std::fs::read(&p).unwrap(), b"");
        // no leftovers of the compression
        assert!(!dir.path().join("d.log.1").exists());
        let tmps = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(tmps, 0);

        // hourly, without compression
        let h = dir.path().join("h.log");
        let s = Sink::open(&h, 0, 2).unwrap();
        let t = t - t.rem_euclid(3600);
        s.set_policy(LogRotate::Hourly, false, t);
        s.write(b"noon\n");
        s.tick(t + 59 * 60);
        assert!(!dir.path().join("h.log.1").exists());
        s.tick(t + 3600);
        assert_eq!(
            std::fs::read(dir.path().join("h.log.1")).unwrap(),
            b"noon\n"
        );
    }

    /// A second rotation while the first backup is still being gzipped:
    /// each backup ends up compressed under its own number, none is lost.
    #[test]
    fn a_rotation_during_a_compression_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (s, t) = daily_gzipped(dir.path());
        // incompressible, so that gzip takes a while
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let big: Vec<u8> = (0..24 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect();
        s.write(&big);
        s.tick(t + 24 * 3600);
        s.write(b"day two\n");
        // the first backup is still being compressed
        assert!(dir.path().join("d.log.1").exists());
        s.tick(t + 2 * 24 * 3600);
        let (gz1, gz2) = (dir.path().join("d.log.1.gz"), dir.path().join("d.log.2.gz"));
        assert!(appears(&gz1) && appears(&gz2));
        let done = || !dir.path().join("d.log.1").exists() && !dir.path().join("d.log.2").exists();
        assert!(
            test_programs::poll_until(std::time::Duration::from_secs(30), done),
            "plain backups left behind"
        );
        assert_eq!(zcat(&gz1), b"day two\n");
        assert!(zcat(&gz2) == big, "the first day's log, whole");
    }

    #[test]
    fn a_log_that_is_no_file_keeps_a_ring() {
        // a character device, as /dev/stdout is in a container
        let s = Sink::open(Path::new("/dev/null"), 0, 0).unwrap();
        s.write(b"hello ");
        s.write(b"world\n");
        assert_eq!(s.len(), 12);
        assert_eq!(s.ring().unwrap().read(-6, 0).unwrap(), b"world\n");
        assert_eq!(s.read_chunk(6, 100).unwrap(), b"world\n");
        s.clear().unwrap();
        assert_eq!(s.len(), 0);
        assert!(Path::new("/dev/null").exists());
    }

    #[test]
    fn bytes_repr_is_pythons() {
        assert_eq!(py_bytes_repr(b"a\xffb'\n"), "b\"a\\xffb'\\n\"");
        assert_eq!(py_bytes_repr(b"\x00\\"), "b'\\x00\\\\'");
        assert_eq!(py_text(b"ok"), "ok");
        assert_eq!(py_text(b"\xc3"), "Undecodable: b'\\xc3'");
    }

    #[test]
    fn token_prefixes_at_the_end() {
        assert_eq!(prefix_at_end(b"abc<!--XSUP", BEGIN_TOKEN), 8);
        assert_eq!(prefix_at_end(b"abc", BEGIN_TOKEN), 0);
        assert_eq!(find(b"x<!--XSUPERVISOR:END-->y", END_TOKEN), Some(1));
    }

    #[test]
    fn strips_ansi_like_supervisord() {
        assert_eq!(strip_escapes(b"a\x1b[31mred\x1b[0m b"), b"ared b");
        assert_eq!(strip_escapes(b"plain"), b"plain");
    }
}
