//! Files only this user reads, opened never through a link: the platform's primitives
//! behind the file store, so that the store itself reads the same on every platform.
//!
//! - Unix: modes 0600/0700 whatever the umask, `O_NOFOLLOW`, identity by device and inode.
//! - Windows: a file inherits its directory's ACL (a user's profile is private to the
//!   user), links are opened as themselves (`FILE_FLAG_OPEN_REPARSE_POINT`), and a lock
//!   file is opened without `FILE_SHARE_DELETE`, so it cannot be removed or replaced
//!   while held: a held lock is always at its path.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Options that create a file readable by this user only and never follow a link.
pub(crate) fn open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    options
}

/// `open_options()` for a lock file: on Windows, nobody may delete or rename it while
/// it is open, which `same_file` relies on.
pub(crate) fn lock_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = open_options();
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_SHARE_READ_WRITE: u32 = 0x1 | 0x2;
        options.share_mode(FILE_SHARE_READ_WRITE);
    }
    options
}

/// Makes an open file readable by this user only, in case it existed with looser modes.
pub(crate) fn restrict(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Creates a directory only this user can enter (the parent must exist).
pub(crate) fn create_dir(path: &Path) -> io::Result<()> {
    #[allow(unused_mut)]
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Syncs a directory, so that a rename into it survives a crash. Windows cannot open a
/// directory as a `File`, and NTFS journals a rename itself: nothing to do there.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(path)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Whether `held` is still the file named `path` (not removed or replaced meanwhile).
pub(crate) fn same_file(held: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (held.metadata(), fs::symlink_metadata(path)) {
            (Ok(held), Ok(named)) => held.dev() == named.dev() && held.ino() == named.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        // Opened by `lock_options`: the file cannot have left its path.
        held.metadata().is_ok() && fs::symlink_metadata(path).is_ok()
    }
}
