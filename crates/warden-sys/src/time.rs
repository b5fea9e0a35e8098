//! The monotonic clock as a number, comparable between processes.

/// `CLOCK_MONOTONIC` in nanoseconds. Unlike `std::time::Instant`, the value
/// can be written to a file by one process and compared by another.
#[must_use]
pub fn monotonic_ns() -> u64 {
    // SAFETY: a zeroed timespec is a valid out-parameter.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts);
        ts
    };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
