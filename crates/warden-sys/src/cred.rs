//! Users, groups and the privilege drop.
//!
//! Names are resolved (NSS: `/etc/passwd`, LDAP, ...) *before* forking and
//! before any `chroot`, into a [`Credentials`] value; [`drop_privileges`] then
//! only makes system calls, in the one correct order: supplementary groups,
//! then gid, then uid, then a check that the drop cannot be undone.

use std::ffi::CString;

use crate::cvt;

/// A resolved user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The login name.
    pub name: String,
    /// The numeric user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// The home directory.
    pub home: std::path::PathBuf,
}

/// Resolves a user by name, or by number when `spec` is all digits (a number
/// without a passwd entry is accepted with gid = uid's group unknown → gid 0 is
/// *not* assumed: such a user must be given a group explicitly).
pub fn lookup_user(spec: &str) -> std::io::Result<Option<UserInfo>> {
    let user = if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
        let uid: u32 = spec.parse().map_err(|_| std::io::ErrorKind::InvalidInput)?;
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
    } else {
        nix::unistd::User::from_name(spec)
    }
    .map_err(std::io::Error::from)?;
    Ok(user.map(|u| UserInfo {
        name: u.name,
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        home: u.dir,
    }))
}

/// Resolves a group by name, or by number when `spec` is all digits.
pub fn lookup_group(spec: &str) -> std::io::Result<Option<u32>> {
    if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(spec.parse().ok());
    }
    let group = nix::unistd::Group::from_name(spec).map_err(std::io::Error::from)?;
    Ok(group.map(|g| g.gid.as_raw()))
}

/// What to set the supplementary group list to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Supplementary {
    /// Every group the user is a member of (`initgroups`), plus the gid.
    OfUser(CString),
    /// Exactly these groups (usually just the explicit `:group`).
    Exactly(Vec<u32>),
}

/// Everything [`drop_privileges`] needs, computed before forking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Target uid.
    pub uid: u32,
    /// Target gid.
    pub gid: u32,
    /// Target supplementary groups.
    pub groups: Supplementary,
}

/// Switches to `cred`: `initgroups`/`setgroups`, `setgid`, `setuid` (which set
/// real, effective and saved ids when the caller is root), then verifies the
/// result, including that regaining root fails. Refuses nothing when already
/// running as the target ids and not root.
pub fn drop_privileges(cred: &Credentials) -> std::io::Result<()> {
    match &cred.groups {
        Supplementary::OfUser(name) => {
            // SAFETY: name is a valid NUL-terminated string.
            cvt(unsafe { libc::initgroups(name.as_ptr(), cred.gid) })?;
            set_ids_checked(cred.uid, cred.gid, Via::Libc)
        }
        Supplementary::Exactly(groups) => set_ids(groups, cred.uid, cred.gid, Via::Libc),
    }
    .map_err(|e| e.into_io(cred.uid, cred.gid))
}

/// Why [`set_ids`] failed, without allocating (it runs in forked children).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DropFailure {
    /// A call failed with this errno.
    Call(i32),
    /// Every call succeeded but the ids are not the wanted ones, or root can
    /// be regained.
    NotTaken,
}

impl DropFailure {
    fn into_io(self, uid: u32, gid: u32) -> std::io::Error {
        match self {
            DropFailure::Call(e) => std::io::Error::from_raw_os_error(e),
            DropFailure::NotTaken => std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("privilege drop did not take: wanted {uid}:{gid}, got other ids or root could be regained"),
            ),
        }
    }
}

/// How ids are changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// The C library's wrappers: in a multi-threaded process they make every
    /// thread change (POSIX credentials are per process), which is what a
    /// process dropping its own privileges needs.
    Libc,
    /// Raw system calls, for the calling process alone: what a child that
    /// shares its parent's memory (the `CLONE_VM` child of
    /// [`crate::spawn::spawn`]) must use, since the C library's wrappers
    /// would signal the parent's threads, which they believe are its own.
    Kernel,
}

/// The privilege drop of warden, for the daemon and for supervised children
/// alike: `setgroups(groups)`, `setgid`, `setuid`, then the check of
/// [`set_ids_checked`]. Async-signal-safe (no allocation, raw calls only).
pub(crate) fn set_ids(groups: &[u32], uid: u32, gid: u32, via: Via) -> Result<(), DropFailure> {
    let ret = match via {
        // SAFETY: the pointer and length describe a valid gid_t slice.
        Via::Libc => unsafe { libc::setgroups(groups.len(), groups.as_ptr()) },
        // SAFETY: the same arguments to the system call itself.
        Via::Kernel => unsafe {
            libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) as libc::c_int
        },
    };
    if ret != 0 {
        return Err(DropFailure::Call(errno()));
    }
    set_ids_checked(uid, gid, via)
}

/// `setgid`, `setuid`, then verifies that real, effective and saved ids all
/// changed and that `setuid(0)` fails for a non-root target.
/// Async-signal-safe.
pub(crate) fn set_ids_checked(uid: u32, gid: u32, via: Via) -> Result<(), DropFailure> {
    let setgid = |g: u32| match via {
        // SAFETY: setgid takes an integer only.
        Via::Libc => unsafe { libc::setgid(g) },
        // SAFETY: the same system call, an integer argument.
        Via::Kernel => unsafe { libc::syscall(libc::SYS_setgid, g) as libc::c_int },
    };
    let setuid = |u: u32| match via {
        // SAFETY: setuid takes an integer only.
        Via::Libc => unsafe { libc::setuid(u) },
        // SAFETY: the same system call, an integer argument.
        Via::Kernel => unsafe { libc::syscall(libc::SYS_setuid, u) as libc::c_int },
    };
    if setgid(gid) != 0 || setuid(uid) != 0 {
        return Err(DropFailure::Call(errno()));
    }
    let (mut r, mut e, mut s) = (0u32, 0u32, 0u32);
    let (mut gr, mut ge, mut gs) = (0u32, 0u32, 0u32);
    // SAFETY: six valid out-pointers; getres[ug]id change nothing, so the
    // C library's forms are fine in either case.
    let queried = unsafe {
        libc::getresuid(&raw mut r, &raw mut e, &raw mut s) == 0
            && libc::getresgid(&raw mut gr, &raw mut ge, &raw mut gs) == 0
    };
    let ok =
        queried && [r, e, s].iter().all(|&u| u == uid) && [gr, ge, gs].iter().all(|&g| g == gid);
    // setuid(0) must fail for a non-root target.
    let regained = uid != 0 && setuid(0) == 0;
    if !ok || regained {
        return Err(DropFailure::NotTaken);
    }
    Ok(())
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The supplementary groups of the calling process.
pub fn groups() -> std::io::Result<Vec<u32>> {
    nix::unistd::getgroups()
        .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
        .map_err(std::io::Error::from)
}

/// Every group `user` belongs to, `gid` included (`getgrouplist`): what
/// `initgroups` would set, computed ahead of time so that a forked child can
/// apply it with a plain `setgroups` (initgroups reads the group database and
/// is not async-signal-safe).
pub fn group_list(user: &str, gid: u32) -> std::io::Result<Vec<u32>> {
    let name = CString::new(user).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(gid))
        .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
        .map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_root_by_name_and_number() {
        let by_name = lookup_user("root").unwrap().unwrap();
        assert_eq!(by_name.uid, 0);
        assert_eq!(lookup_user("0").unwrap().unwrap().name, "root");
        assert_eq!(lookup_user("no-such-user-warden").unwrap(), None);
        assert_eq!(lookup_group("0").unwrap(), Some(0));
        assert_eq!(lookup_group("no-such-group-warden").unwrap(), None);
        assert!(group_list("root", 0).unwrap().contains(&0));
    }
}
