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
        if !self.format.json {
            return self.stamp_lines(data, now);
        }
        self.out.clear();
        {
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
        }
        &self.out
    }

    /// Text with a stamp at the start of every line: one stamp for the whole
    /// chunk (it was read at one time), copied before each line.
    ///
    /// One pass over 16-byte blocks: each block is stored whole, and for
    /// each newline in it (found with one SIMD compare) the stamp is stored
    /// after the newline and the block again after the stamp, shifted. Every
    /// store has a size known at compile time, so there is no `memcpy` call
    /// and no search call per line: a call per line cost more than the rest
    /// (musl's `memcpy` above all, in the static binary).
    fn stamp_lines(&mut self, data: &[u8], now: SystemTime) -> &[u8] {
        let mut stamp = [b' '; STAMPED];
        stamp[..STAMP].copy_from_slice(&self.stamp_bytes(now));
        if data.is_empty() {
            return &[];
        }
        // room for lines of 64 bytes on average; grown when they are shorter
        let want = data.len() + (data.len() / 64 + 1) * STAMPED + WORST;
        if self.out.len() < want {
            self.out.resize(want, 0);
        }
        let mut pos = 0;
        if self.at_line_start {
            self.out[..STAMPED].copy_from_slice(&stamp);
            pos = STAMPED;
        }
        let mut blocks = data.chunks_exact(BLOCK);
        for block in &mut blocks {
            let block: &[u8; BLOCK] = block.try_into().expect("chunks_exact");
            if pos + WORST > self.out.len() {
                let room = (self.out.len() * 2).max(pos + WORST);
                self.out.resize(room, 0);
            }
            let out = &mut self.out[..];
            out[pos..pos + BLOCK].copy_from_slice(block);
            // where the block's first byte stands
            let mut base = pos;
            let mut newlines = newline_mask(block);
            while newlines != 0 {
                let k = newlines.trailing_zeros() as usize;
                newlines &= newlines - 1;
                // the block again, moved past the stamp (its first k + 1
                // bytes are in place already), then the stamp over its head
                let after = base + k + 1;
                base += STAMPED;
                out[base..base + BLOCK].copy_from_slice(block);
                out[after..after + STAMPED].copy_from_slice(&stamp);
            }
            pos = base + BLOCK;
        }
        if pos + WORST > self.out.len() {
            self.out.resize(pos + WORST, 0);
        }
        for &b in blocks.remainder() {
            self.out[pos] = b;
            pos += 1;
            if b == b'\n' {
                self.out[pos..pos + STAMPED].copy_from_slice(&stamp);
                pos += STAMPED;
            }
        }
        // a stamp after the last newline belongs to the next chunk's line,
        // with the next chunk's time
        self.at_line_start = data.last() == Some(&b'\n');
        if self.at_line_start {
            pos -= STAMPED;
        }
        &self.out[..pos]
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
        let stamp = self.stamp_bytes(when);
        self.out.extend_from_slice(&stamp);
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) for `when`.
    fn stamp_bytes(&mut self, when: SystemTime) -> [u8; STAMP] {
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
        let mut out = [b'0'; STAMP];
        let head = self.cached.1.as_bytes();
        out[..head.len().min(STAMP - 4)].copy_from_slice(&head[..head.len().min(STAMP - 4)]);
        let ms = d.subsec_millis();
        out[STAMP - 4..].copy_from_slice(&[
            b'0' + u8::try_from(ms / 100).unwrap_or(0),
            b'0' + u8::try_from(ms / 10 % 10).unwrap_or(0),
            b'0' + u8::try_from(ms % 10).unwrap_or(0),
            b'Z',
        ]);
        out
    }
}

/// The block size of [`Formatter::stamp_lines`].
const BLOCK: usize = 16;

/// A stamp and the space after it.
const STAMPED: usize = STAMP + 1;

/// The most one block can take in the output (every byte a newline).
const WORST: usize = BLOCK * (STAMPED + 1) + STAMPED;

/// Bit `i` is set when `block[i]` is a newline (SSE2's compare and
/// move-mask through `wide`, which keeps this crate free of `unsafe`).
fn newline_mask(block: &[u8; BLOCK]) -> u32 {
    let eq = wide::u8x16::new(*block).cmp_eq(wide::u8x16::splat(b'\n'));
    // move_mask gives 16 bits in the low half of an i32
    u32::try_from(eq.move_mask()).unwrap_or(0) & 0xFFFF
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

    /// A formatter with timestamps for web's stdout.
    fn stamped() -> Formatter {
        Formatter::new(
            LineFormat {
                timestamps: true,
                json: false,
            },
            "web",
            "stdout",
        )
    }

    /// `text` stamped in chunks of `cut` bytes, and the reference: a stamp
    /// before every line of the whole text.
    fn stamped_in_chunks(text: &[u8], cut: usize) -> (Vec<u8>, Vec<u8>) {
        let mut f = stamped();
        let mut got = Vec::new();
        for chunk in text.chunks(cut) {
            got.extend_from_slice(f.format(chunk, at(7)));
        }
        let want = text
            .split_inclusive(|&b| b == b'\n')
            .flat_map(|l| [&b"2026-12-02T09:58:01.007Z "[..], l].concat())
            .collect();
        (got, want)
    }

    #[test]
    fn timestamps_stamp_each_line_once() {
        let mut f = stamped();
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
    fn newline_masks_mark_every_newline() {
        for i in 0..BLOCK {
            let mut block = [b'x'; BLOCK];
            block[i] = b'\n';
            assert_eq!(newline_mask(&block), 1 << i);
        }
        assert_eq!(newline_mask(&[b'\n'; BLOCK]), 0xFFFF);
        assert_eq!(newline_mask(&[0xFF; BLOCK]), 0);
    }

    #[test]
    fn stamped_chunks_of_every_shape_keep_every_byte() {
        // lines of many lengths, cut into chunks at many places
        let text: Vec<u8> = (0..60)
            .flat_map(|i| {
                let mut l = vec![b'a' + (i % 26) as u8; i * 7 % 41];
                l.push(b'\n');
                l
            })
            .collect();
        for cut in [1, 2, 5, 16, 17, 33, 100, 4096] {
            let (got, want) = stamped_in_chunks(&text, cut);
            assert_eq!(got, want, "chunks of {cut}");
        }
    }

    #[test]
    fn stamped_chunks_match_a_reference_for_dense_and_sparse_newlines() {
        // pseudo-random texts: runs of newlines (a whole block of them),
        // lines of 0 to 40 bytes, bytes that are not UTF-8
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..200 {
            let len = next(600) as usize;
            let dense = round % 3 == 0;
            let text: Vec<u8> = (0..len)
                .map(|_| match next(if dense { 2 } else { 20 }) {
                    0 => b'\n',
                    1 => 0xFF,
                    _ => b'a' + next(26) as u8,
                })
                .collect();
            let cut = 1 + next(70) as usize;
            let (got, want) = stamped_in_chunks(&text, cut);
            assert_eq!(got, want, "round {round}, chunks of {cut}");
        }
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
