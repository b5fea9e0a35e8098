//! The one thin syscall layer of warden.
//!
//! Every `unsafe` block of the project lives in this crate; the policy crates
//! (`warden-daemon`, `warden`) are `#![forbid(unsafe_code)]` and see only the
//! safe functions and small newtypes exported here (never `libc` or `nix` types).
//!
//! # Async-signal-safety
//!
//! Functions documented as *async-signal-safe* make exactly one system call and
//! neither allocate nor lock; they may be called in a child between `fork` and
//! `exec` of a multi-threaded parent. Everything else (user lookups, reading
//! `/proc`) allocates and must run before forking or in a single-threaded process.
//!
//! Conventions: each wrapper returns `std::io::Result`, converting the C return
//! value once through `cvt`; descriptors are created close-on-exec.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod cgroup;
pub mod clock;
pub mod cred;
pub mod fd;
pub mod fs;
pub mod lock;
pub mod notify;
pub mod pid;
pub mod process;
pub mod procfs;
pub mod signal;
pub mod spawn;
pub mod time;

pub use pid::Pid;
pub use signal::Signal;

/// Converts a C return value (`-1` on error, errno set) into an `io::Result`.
pub(crate) fn cvt(ret: libc::c_int) -> std::io::Result<libc::c_int> {
    if ret == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Like [`cvt`], retrying while the call fails with `EINTR`.
pub(crate) fn cvt_retry(mut f: impl FnMut() -> libc::c_int) -> std::io::Result<libc::c_int> {
    loop {
        match cvt(f()) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Open flags and errno values the policy crates need, as plain integers.
pub mod consts {
    /// `O_NOFOLLOW`: fail with `ELOOP` if the last path component is a symlink.
    pub const O_NOFOLLOW: i32 = libc::O_NOFOLLOW;
    /// `O_NOCTTY`: never acquire a controlling terminal by opening a tty.
    pub const O_NOCTTY: i32 = libc::O_NOCTTY;
    /// `ELOOP`.
    pub const ELOOP: i32 = libc::ELOOP;
    /// `EEXIST`.
    pub const EEXIST: i32 = libc::EEXIST;
    /// `ENOENT`.
    pub const ENOENT: i32 = libc::ENOENT;
    /// `ESRCH`.
    pub const ESRCH: i32 = libc::ESRCH;
    /// `EINVAL`.
    pub const EINVAL: i32 = libc::EINVAL;
}
