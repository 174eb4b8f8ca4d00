//! Owner-only files: the database holds ciphertext, token hashes and run history, so its
//! directory (when this code creates it) is `0700` and its files (`.db`, `-wal`, `-shm`) are
//! `0600`, whatever the umask.
//!
//! SQLite creates its `-wal` and `-shm` files with the permissions of the database file, so the
//! database file is created here (empty, `0600`) before SQLite first opens it. Files left with
//! group or other permissions by an older version are tightened on open; a file this user does
//! not own is left as it is (its owner decided).

use std::io;
use std::path::Path;

/// Mode of the directories created for the database and the secrets key.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of the database files and the secrets key file.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents, each new one owner-only (`0700`). Directories that
/// already exist are not changed (they may be shared ones such as `/tmp`).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(PRIVATE_DIR_MODE);
    }
    builder.create(dir)
}

/// Makes sure the SQLite database at `path` and its `-wal`/`-shm` companions are owner-only:
/// creates the (empty) database file `0600` if it does not exist, and removes group and other
/// permissions from the files that do.
pub(crate) fn prepare_sqlite_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_FILE_MODE);
    }
    match options.open(path) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let mut companions = Vec::with_capacity(3);
    companions.push(path.to_path_buf());
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        companions.push(name.into());
    }
    for file in companions {
        tighten(&file)?;
    }
    Ok(())
}

/// Removes group and other permissions from an existing file this user owns.
#[cfg(unix)]
fn tighten(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mode = meta.permissions().mode();
    if mode & 0o077 == 0 {
        return Ok(());
    }
    // Only the owner may change a file's mode; someone else's file stays as its owner made it.
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7700)) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
fn tighten(_path: &Path) -> io::Result<()> {
    Ok(())
}
