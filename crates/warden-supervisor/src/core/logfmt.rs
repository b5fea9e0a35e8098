//! warden's log line formats: `*_logfile_timestamps=true` and
//! `*_logfile_format=json`.
//!
//! - Timestamps: an RFC 3339 UTC time with milliseconds and a space at the
//!   start of every line (`2026-12-02T09:58:01.123Z hello`). A line written
//!   in several pieces is stamped once, with the time of its first piece.
//!   Bytes pass through unchanged otherwise (invalid UTF-8 too).
//! - JSON: one object per line, `{"time","program","stream","message"}`,
//!   the message without its newline; a line is held until its newline (or
//!   [`MAX_LINE`] bytes, or the end of the stream) and stamped with the time
//!   its first byte came. Bytes that are not UTF-8 become U+FFFD.
//!
//! Without either key the capture path never builds a [`Formatter`]: output
//! is logged as written, byte for byte as supervisord logs it.
//!
//! The JSON is written here by hand (a string escaper): the log line is the
//! core's own file format, and it keeps a serializer out of the core.

use std::time::SystemTime;

/// The length of a stamp, `2026-12-02T09:58:01.007Z`.
const STAMP: usize = 24;

/// A JSON line longer than this is written out in pieces.
pub const MAX_LINE: usize = 64 * 1024;

/// How a stream's lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineFormat {
    /// A time at the start of each line.
    pub timestamps: bool,
    /// One JSON object per line.
    pub json: bool,
}

/// Formats one stream's output (it keeps the state of a partial line).
#[derive(Debug)]
pub struct Formatter {
    format: LineFormat,
    program: String,
    stream: &'static str,
    /// Text: the next byte starts a line.
    at_line_start: bool,
    /// JSON: the line so far and when it began.
    line: Vec<u8>,
    line_time: Option<SystemTime>,
    out: Vec<u8>,
    /// The last second formatted and its `YYYY-MM-DDTHH:MM:SS.`.
    cached: (u64, String),
}

impl Formatter {
    /// A formatter for `program`'s `stream` (`stdout`, `stderr`).
    #[must_use]
    pub fn new(format: LineFormat, program: &str, stream: &'static str) -> Formatter {
        Formatter {
            format,
            program: program.to_string(),
            stream,
            at_line_start: true,
            line: Vec::new(),
            line_time: None,
            out: Vec::new(),
            cached: (u64::MAX, String::new()),
        }
    }

    /// The bytes to log for `data`, read at `now`.
    pub fn format(&mut self, data: &[u8], now: SystemTime) -> &[u8] {
        self.out.clear();
        if self.format.json {
            let mut rest = data;
            while !rest.is_empty() {
                if self.line_time.is_none() {
                    self.line_time = Some(now);
                }
                let room = MAX_LINE - self.line.len();
                let (piece, more, ended) = match memchr(rest) {
                    Some(i) if i <= room => (&rest[..i], &rest[i + 1..], true),
                    _ => {
                        let n = rest.len().min(room);
                        (&rest[..n], &rest[n..], false)
                    }
                };
                self.line.extend_from_slice(piece);
                rest = more;
                if ended || self.line.len() >= MAX_LINE {
                    self.emit_json();
                }
            }
        } else {
            // one stamp for the whole chunk (it was read at one time),
            // copied before each line
            self.stamp(now);
            self.out.push(b' ');
            let stamp: [u8; STAMP + 1] = self.out[..STAMP + 1]
                .try_into()
                .unwrap_or([b' '; STAMP + 1]);
            self.out.clear();
            self.out
                .reserve(data.len() + (data.len() / 32 + 1) * stamp.len());
            let mut start = 0;
            for nl in memchr::memchr_iter(b'\n', data) {
                if self.at_line_start {
                    self.out.extend_from_slice(&stamp);
                }
                self.out.extend_from_slice(&data[start..=nl]);
                self.at_line_start = true;
                start = nl + 1;
            }
            if start < data.len() {
                if self.at_line_start {
                    self.out.extend_from_slice(&stamp);
                }
                self.out.extend_from_slice(&data[start..]);
                self.at_line_start = false;
            }
        }
        &self.out
    }

    /// What is left at the end of the stream (a JSON line without its
    /// newline).
    pub fn finish(&mut self) -> &[u8] {
        self.out.clear();
        if self.format.json && self.line_time.is_some() {
            self.emit_json();
        }
        &self.out
    }

    fn emit_json(&mut self) {
        let when = self.line_time.take().unwrap_or_else(SystemTime::now);
        let line = std::mem::take(&mut self.line);
        self.out.extend_from_slice(b"{\"time\":\"");
        self.stamp(when);
        self.out.extend_from_slice(b"\",\"program\":");
        let program = std::mem::take(&mut self.program);
        escape_into(&mut self.out, &program);
        self.program = program;
        self.out.extend_from_slice(b",\"stream\":\"");
        self.out.extend_from_slice(self.stream.as_bytes());
        self.out.extend_from_slice(b"\",\"message\":");
        escape_into(&mut self.out, &String::from_utf8_lossy(&line));
        self.out.extend_from_slice(b"}\n");
        self.line = line;
        self.line.clear();
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) for `when`.
    fn stamp(&mut self, when: SystemTime) {
        let d = when
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = d.as_secs();
        if self.cached.0 != secs {
            let t =
                time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            self.cached = (
                secs,
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                ),
            );
        }
        self.out.extend_from_slice(self.cached.1.as_bytes());
        let ms = d.subsec_millis();
        self.out.extend_from_slice(&[
            b'0' + u8::try_from(ms / 100).unwrap_or(0),
            b'0' + u8::try_from(ms / 10 % 10).unwrap_or(0),
            b'0' + u8::try_from(ms % 10).unwrap_or(0),
            b'Z',
        ]);
    }
}

fn memchr(s: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', s)
}

/// `s` as a JSON string literal.
fn escape_into(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> SystemTime {
        // 2026-12-02T09:58:01Z
        SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_205_481_000 + ms)
    }

    #[test]
    fn timestamps_stamp_each_line_once() {
        let mut f = Formatter::new(
            LineFormat {
                timestamps: true,
                json: false,
            },
            "web",
            "stdout",
        );
        assert_eq!(
            f.format(b"one\ntw", at(7)),
            b"2026-12-02T09:58:01.007Z one\n2026-12-02T09:58:01.007Z tw"
        );
        assert_eq!(
            f.format(b"o\n\xffbad\n", at(1_250)),
            b"o\n2026-12-02T09:58:02.250Z \xffbad\n"
        );
        assert_eq!(f.format(b"", at(0)), b"");
        assert_eq!(f.finish(), b"");
    }

    #[test]
    fn json_lines_hold_partial_lines() {
        let mut f = Formatter::new(
            LineFormat {
                timestamps: false,
                json: true,
            },
            "web \"x\"",
            "stderr",
        );
        assert_eq!(f.format(b"par", at(1)), b"");
        let out = String::from_utf8(f.format(b"t\xff\tial\nnext", at(2)).to_vec()).unwrap();
        assert_eq!(
            out,
            "{\"time\":\"2026-12-02T09:58:01.001Z\",\"program\":\"web \\\"x\\\"\",\"stream\":\"stderr\",\"message\":\"part\u{fffd}\\tial\"}\n"
        );
        let rest = String::from_utf8(f.finish().to_vec()).unwrap();
        assert!(rest.contains("\"message\":\"next\"}\n"), "{rest}");
        assert!(rest.contains("01.002Z"), "{rest}");
        assert_eq!(f.finish(), b"");
        // a control character
        let out = String::from_utf8(f.format(b"\x01\n", at(3)).to_vec()).unwrap();
        assert!(out.contains("\"message\":\"\\u0001\""), "{out}");
    }

    #[test]
    fn json_splits_overlong_lines() {
        let mut f = Formatter::new(
            LineFormat {
                timestamps: false,
                json: true,
            },
            "p",
            "stdout",
        );
        let big = vec![b'x'; MAX_LINE + 10];
        let out = f.format(&big, at(0)).to_vec();
        assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
        assert!(f.finish().ends_with(b"\"xxxxxxxxxx\"}\n"));
    }
}
