//! Whole-file reads with a size cap, shared by the IDX and CIFAR readers.

use std::path::Path;

use crate::DataError;

/// Largest file any reader accepts (4 GiB): far above MNIST (47 MB) or CIFAR (184 MB), and a
/// guard against pointing the loader at a disk image by mistake.
pub const MAX_FILE_BYTES: u64 = 1 << 32;

/// Reads a whole file, sizing the buffer from the file system rather than from any header.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Checked before opening: a named pipe would block the read forever.
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if let Some(what) = shears_core::files::describe(meta.file_type()) {
        return Err(DataError::NotAFile {
            path: path.to_path_buf(),
            what,
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            detail: format!(
                "file is {} bytes, more than the {MAX_FILE_BYTES}-byte limit",
                meta.len()
            ),
        });
    }
    std::fs::read(path).map_err(io_err)
}
