//! Creating and opening files safely in directories other users can write.
//!
//! Root writing into a shared directory (`/tmp`, a world-writable run or log
//! directory) is the classic target of symlink attacks: another user plants a
//! link where root is about to create a file, and root writes through it into
//! any file of the system. Every file warden creates goes through this module:
//!
//! - [`create_temp_in`]: a fresh file under an unpredictable name, created with
//!   `O_CREAT | O_EXCL` (which never follows a symlink), for write-then-rename.
//! - [`create_temp_dir_in`]: the same for a private directory (0700).
//! - [`rename_over`]: the rename of such a temporary file into place, refused
//!   when the destination is a symlink planted by another user.
//! - [`open_protected`]: opening a user-given path (a log file) that may
//!   legitimately be a symlink, following the rule of the kernel's
//!   `fs.protected_symlinks` whether or not the machine enables it: a symlink in
//!   a sticky world-writable directory is followed only when it belongs to us
//!   (the effective uid) or to the directory's owner.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What a `PATH` search ([`search_path`]) found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Search {
    /// The first candidate that is an executable regular file.
    Found(PathBuf),
    /// No executable candidate; this one exists but cannot be executed.
    NotExecutable(PathBuf),
    /// No candidate exists.
    NotFound,
}

/// Looks `program` up as `execvp` does, before any fork: a name containing a
/// `/` is the single candidate `base/program`; a bare name is tried in each
/// non-empty directory of `path` (a `PATH` value), in order. Candidates are
/// examined under `root` (`/`, or the directory a `chroot` will make the root);
/// the path returned is the one seen from inside it.
#[must_use]
pub fn search_path(program: &str, path: &str, base: &Path, root: &Path) -> Search {
    let candidates: Vec<PathBuf> = if program.contains('/') {
        vec![base.join(program)]
    } else {
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(program))
            .collect()
    };
    let mut not_executable = None;
    for c in candidates {
        let seen = root.join(c.strip_prefix("/").unwrap_or(&c));
        match std::fs::metadata(seen) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Search::Found(c),
            Ok(_) => {
                not_executable.get_or_insert(c);
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                not_executable.get_or_insert(c);
            }
            Err(_) => {}
        }
    }
    not_executable.map_or(Search::NotFound, Search::NotExecutable)
}

/// How many symlinks [`open_protected`] follows before giving up (`ELOOP`), as
/// Linux does.
const MAX_LINKS: usize = 40;

/// The directory a path's last component lives in (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates a new file in `dir` named `<prefix><random><suffix>`, with exactly
/// `mode` (whatever the umask), opened read-write and close-on-exec.
///
/// The name is unpredictable and the file is created with `O_CREAT | O_EXCL`:
/// a file or symlink planted in advance can be neither guessed nor followed.
/// Returns the open file and its path; the caller renames it into place (see
/// [`rename_over`]) or removes it.
///
/// # Errors
///
/// Any error creating the file or setting its mode (the file is removed then).
pub fn create_temp_in(
    dir: &Path,
    prefix: &str,
    suffix: &str,
    mode: u32,
) -> io::Result<(File, PathBuf)> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    // tempfile draws random names and opens with `create_new` (O_EXCL),
    // retrying on collisions.
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(suffix)
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    // Exact mode whatever the umask.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.keep().map_err(|e| e.error)
}

/// Creates a new directory in `dir` named `<prefix><random>`, mode 0700, and
/// returns its path. Like [`create_temp_in`], the name cannot be guessed
/// (`mkdir` never follows a symlink, but a predictable name can be squatted).
///
/// # Errors
///
/// Any error of `mkdir`.
pub fn create_temp_dir_in(dir: &Path, prefix: &str) -> io::Result<PathBuf> {
    let created = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(dir)?
        .keep();
    // Exact mode whatever the umask (nothing is inside yet).
    std::fs::set_permissions(&created, std::fs::Permissions::from_mode(0o700))?;
    Ok(created)
}

/// Renames `from` over `to`, refusing when `to` is a symbolic link owned by
/// another user than us (planted by someone else: replacing it is not what the
/// caller meant, and it shows somebody is attacking the directory).
///
/// # Errors
///
/// `PermissionDenied` for such a link; otherwise the error of `rename`.
pub fn rename_over(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(to) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let euid = crate::process::geteuid();
            if meta.uid() != euid {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "refusing to replace {}: it is a symbolic link owned by uid {}, not by us (uid {euid})",
                        to.display(),
                        meta.uid()
                    ),
                ));
            }
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::rename(from, to)
}

/// Opens `path` with `opts` (plus `custom_flags`, which replace any set on
/// `opts`), following symlinks only as the kernel's `fs.protected_symlinks`
/// rule allows: a symlink in a sticky world-writable directory (`/tmp`) is
/// followed only when it is owned by us (the effective uid) or by the
/// directory's owner.
///
/// Every link of a chain is checked: the path is opened with `O_NOFOLLOW`, and
/// when its last component is a symlink, the link is checked, read and the
/// open repeated on its target. A checked link cannot be swapped afterwards by
/// the attacker: the sticky bit lets only its owner or the directory's owner
/// remove it. Symlinks among the directories leading to the file are left to
/// the kernel.
///
/// # Errors
///
/// `PermissionDenied` (naming the link, its owner and the directory) for a
/// link that may not be followed; `ELOOP` after 40 links; any error of `open`.
pub fn open_protected(path: &Path, opts: &OpenOptions, custom_flags: i32) -> io::Result<File> {
    let mut opts = opts.clone();
    opts.custom_flags(custom_flags | libc::O_NOFOLLOW);
    let mut current = path.to_path_buf();
    let mut links = 0;
    loop {
        let err = match opts.open(&current) {
            Ok(f) => return Ok(f),
            Err(e) => e,
        };
        // `O_NOFOLLOW` on a symlink fails with ELOOP, or with EACCES when
        // `O_CREAT` meets another user's link in a sticky directory.
        let code = err.raw_os_error();
        if code != Some(libc::ELOOP) && code != Some(libc::EACCES) {
            return Err(err);
        }
        let meta = match std::fs::symlink_metadata(&current) {
            Ok(m) => m,
            Err(_) => return Err(err),
        };
        if !meta.file_type().is_symlink() {
            if code != Some(libc::ELOOP) {
                return Err(err);
            }
            // Replaced between the open and the check (or a real ELOOP in a
            // directory component): try again, within the bound.
            links += 1;
            if links > MAX_LINKS {
                return Err(err);
            }
            continue;
        }
        let dir = parent_of(&current);
        may_follow(&current, &meta, dir)?;
        links += 1;
        if links > MAX_LINKS {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = std::fs::read_link(&current)?;
        current = dir.join(target);
    }
}

/// The `protected_symlinks` rule for the link `link` (metadata `meta`) in `dir`.
fn may_follow(link: &Path, meta: &std::fs::Metadata, dir: &Path) -> io::Result<()> {
    let d = std::fs::metadata(dir)?;
    let sticky_world_writable = d.mode() & 0o1002 == 0o1002;
    let euid = crate::process::geteuid();
    if !sticky_world_writable || meta.uid() == euid || meta.uid() == d.uid() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "refusing to follow the symbolic link {} owned by uid {} in the sticky world-writable directory {} (only links of uid {euid} or of the directory's owner, uid {}, are followed there)",
            link.display(),
            meta.uid(),
            dir.display(),
            d.uid()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn chown_link(p: &Path, uid: u32) {
        std::os::unix::fs::lchown(p, Some(uid), Some(uid)).unwrap();
    }

    #[test]
    fn path_search_takes_the_first_executable() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("prog"), "").unwrap();
        std::fs::write(b.join("prog"), "").unwrap();
        std::fs::set_permissions(b.join("prog"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("::{}:{}", a.display(), b.display());
        let root = Path::new("/");
        assert_eq!(
            search_path("prog", &path, root, root),
            Search::Found(b.join("prog"))
        );
        assert_eq!(
            search_path("prog", &a.display().to_string(), root, root),
            Search::NotExecutable(a.join("prog"))
        );
        assert_eq!(search_path("none", &path, root, root), Search::NotFound);
        assert_eq!(
            search_path("./prog", "", &b, root),
            Search::Found(b.join("./prog"))
        );
        // Inside a root: the path as seen from there.
        assert_eq!(
            search_path("prog", "/b", root, d.path()),
            Search::Found(PathBuf::from("/b/prog"))
        );
    }

    #[test]
    fn temporaries_get_fresh_unpredictable_names_and_the_exact_mode() {
        let d = tempfile::tempdir().unwrap();
        let (_, a) = create_temp_in(d.path(), ".x.", ".tmp", 0o640).unwrap();
        let (_, b) = create_temp_in(d.path(), ".x.", ".tmp", 0o640).unwrap();
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_str().unwrap();
        let sub = create_temp_dir_in(d.path(), ".n-").unwrap();
        let meta = std::fs::symlink_metadata(&sub).unwrap();
        assert!(meta.is_dir() && meta.mode() & 0o777 == 0o700);
        assert!(name.starts_with(".x.") && name.ends_with(".tmp"), "{name}");
        let meta = std::fs::symlink_metadata(&a).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.mode() & 0o7777, 0o640);
    }

    #[test]
    fn links_in_sticky_world_writable_dirs_follow_the_kernel_rule() {
        if crate::process::geteuid() != 0 {
            return; // needs chown to plant another user's link
        }
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let mut append = OpenOptions::new();
        append.append(true).create(true);

        // Another user's link: refused, the victim untouched.
        let hostile = d.path().join("hostile.log");
        symlink(&victim, &hostile).unwrap();
        chown_link(&hostile, 65534);
        let e = open_protected(&hostile, &append, 0).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("uid 65534"), "{e}");
        // Also when it hides behind a link of ours.
        let ours = d.path().join("ours.log");
        symlink(&hostile, &ours).unwrap();
        assert!(open_protected(&ours, &append, 0).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

        // Our own link is followed.
        let mine = d.path().join("mine.log");
        symlink(&victim, &mine).unwrap();
        use std::io::Write;
        open_protected(&mine, &append, 0)
            .unwrap()
            .write_all(b"+")
            .unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious+");

        // Outside a sticky world-writable directory, any link is followed.
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(open_protected(&hostile, &append, 0).is_ok());

        // A plain path is created.
        let fresh = d.path().join("fresh.log");
        assert!(open_protected(&fresh, &append, 0).is_ok());
        assert!(fresh.is_file());
    }

    #[test]
    fn rename_over_refuses_another_users_link() {
        if crate::process::geteuid() != 0 {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let to = d.path().join("x.json");
        symlink(&victim, &to).unwrap();
        chown_link(&to, 65534);
        let (_, tmp) = create_temp_in(d.path(), ".x.json.", ".tmp", 0o644).unwrap();
        let e = rename_over(&tmp, &to).unwrap_err();
        assert!(
            e.to_string().contains("symbolic link owned by uid 65534"),
            "{e}"
        );
        // A regular file is replaced.
        std::fs::remove_file(&to).unwrap();
        std::fs::write(&to, b"old").unwrap();
        rename_over(&tmp, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }
}
