//! Broken-down local time (`localtime_r`), for log timestamps in the host's
//! time zone.

/// Local calendar time fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Full year, e.g. 2026.
    pub year: i32,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    /// 0–23.
    pub hour: u32,
    /// 0–59.
    pub minute: u32,
    /// 0–60.
    pub second: u32,
}

/// `localtime_r(secs)`: the local time of Unix time `secs`. Falls back to
/// the epoch fields when the C library cannot convert.
// libc deprecates `time_t` on musl only (it will follow musl's 64-bit
// change); the alias is the C library's own type either way.
#[allow(deprecated)]
pub fn local_time(secs: i64) -> LocalTime {
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: a zeroed tm is a valid out-parameter; both pointers are valid.
    let (ok, tm) = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let r = libc::localtime_r(&raw const t, &raw mut tm);
        (!r.is_null(), tm)
    };
    if !ok {
        return LocalTime {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
        };
    }
    LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
    }
}
