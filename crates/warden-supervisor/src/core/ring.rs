//! A bounded in-memory ring of a stream's recent output.
//!
//! A log that is not a regular file (`stdout_logfile=/dev/stdout` in a
//! container, a pipe) cannot be read back, so its [`Sink`](super::logs::Sink)
//! also keeps the last [`CAPACITY`] bytes here. Reading and tailing then
//! work on a virtual file whose size is every byte ever written and of which
//! only the tail is kept: `readProcessStdoutLog`, `tailProcessStdoutLog`,
//! `/logtail` and the web UI serve it as they serve a file.

use std::collections::VecDeque;

/// Bytes kept per stream.
pub const CAPACITY: usize = 64 * 1024;

/// The last bytes written and how many were written in all.
#[derive(Debug, Default)]
pub struct Ring {
    buf: VecDeque<u8>,
    total: u64,
}

impl Ring {
    /// Appends `data`, dropping the oldest bytes beyond [`CAPACITY`].
    pub fn push(&mut self, data: &[u8]) {
        self.total += data.len() as u64;
        let data = &data[data.len().saturating_sub(CAPACITY)..];
        let over = (self.buf.len() + data.len()).saturating_sub(CAPACITY);
        self.buf.drain(..over);
        self.buf.extend(data);
    }

    /// Every byte ever written (the virtual file's size).
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Forgets everything (a cleared log).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.total = 0;
    }

    /// The kept bytes of `[start, start + len)` of the virtual file.
    #[must_use]
    pub fn slice(&self, start: u64, len: u64) -> Vec<u8> {
        let base = self.total - self.buf.len() as u64;
        let from = start.max(base);
        let to = start.saturating_add(len).min(self.total);
        if to <= from {
            return Vec::new();
        }
        let (a, b) = (
            usize::try_from(from - base).unwrap_or(0),
            usize::try_from(to - base).unwrap_or(0),
        );
        self.buf.range(a..b).copied().collect()
    }

    /// supervisord's `readFile` rules over the virtual file.
    ///
    /// # Errors
    ///
    /// `BAD_ARGUMENTS` as supervisord raises it.
    pub fn read(&self, offset: i64, length: i64) -> Result<Vec<u8>, &'static str> {
        if offset < 0 {
            if length != 0 {
                return Err("BAD_ARGUMENTS");
            }
            let n = offset.unsigned_abs();
            return Ok(self.slice(self.total.saturating_sub(n), n));
        }
        if length < 0 {
            return Err("BAD_ARGUMENTS");
        }
        let len = if length == 0 {
            u64::MAX
        } else {
            length.unsigned_abs()
        };
        Ok(self.slice(offset.unsigned_abs(), len))
    }

    /// supervisord's `tailFile` rules over the virtual file.
    #[must_use]
    pub fn tail(&self, offset: i64, length: i64) -> (Vec<u8>, i64, bool) {
        let sz = i64::try_from(self.total).unwrap_or(i64::MAX);
        let (offset, length, overflow) = super::logs::tail_window(sz, offset, length);
        let data = self.slice(offset.unsigned_abs(), length.unsigned_abs());
        (data, sz, overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail_of_a_virtual_file() {
        let mut r = Ring::default();
        r.push(b"0123456789");
        assert_eq!(r.read(-3, 0).unwrap(), b"789");
        assert_eq!(r.read(2, 3).unwrap(), b"234");
        assert_eq!(r.read(-3, 1), Err("BAD_ARGUMENTS"));
        assert_eq!(r.tail(0, 4), (b"6789".to_vec(), 10, true));
        assert_eq!(r.tail(10, 4), (Vec::new(), 10, false));
        let big = vec![b'x'; CAPACITY];
        r.push(&big);
        r.push(b"end");
        assert_eq!(r.total(), 10 + CAPACITY as u64 + 3);
        assert_eq!(r.read(0, 4).unwrap(), b"");
        assert_eq!(r.read(-3, 0).unwrap(), b"end");
        assert_eq!(r.read(0, 0).unwrap().len(), CAPACITY);
        r.clear();
        assert_eq!(r.tail(0, 10), (Vec::new(), 0, false));
    }
}
