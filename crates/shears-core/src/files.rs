//! What kind of file a path is, checked before opening it.
//!
//! Opening a named pipe for reading blocks until a writer appears (a hang, not an error), and
//! "file not found" for a directory sends a user looking in the wrong place. Every reader of a
//! checkpoint or dataset file asks [`require_regular_file`] first; it only reads metadata.

use std::io;
use std::path::Path;

/// What a non-regular file is, in words for an error message ("is a directory").
pub fn describe(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        return None;
    }
    if file_type.is_dir() {
        return Some("is a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("is a named pipe (FIFO), not a regular file");
        }
        if file_type.is_char_device() {
            return Some("is a character device, not a regular file");
        }
        if file_type.is_block_device() {
            return Some("is a block device, not a regular file");
        }
        if file_type.is_socket() {
            return Some("is a socket, not a regular file");
        }
    }
    Some("is not a regular file")
}

/// Succeeds when `path` (following symlinks) is a regular file; otherwise an error saying what
/// it is (kind `InvalidInput`), or the error of `stat` itself (e.g. not found).
pub fn require_regular_file(path: &Path) -> io::Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path)?;
    match describe(meta.file_type()) {
        None => Ok(meta),
        Some(what) => Err(io::Error::new(io::ErrorKind::InvalidInput, what)),
    }
}

/// A short tag of this machine's host name (`h` and 8 hex digits), put into temp-file names
/// so that a store on a filesystem shared by several machines sweeps away only the temp files
/// of this machine's dead processes: a pid means nothing on another node (docs/cluster.md).
pub fn host_tag() -> String {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_default();
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let mut h: u32 = 0x811c_9dc5;
        for b in name.trim().bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        format!("h{h:08x}")
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_pass_and_others_say_what_they_are() {
        let dir = std::env::temp_dir().join(format!("shears-core-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(require_regular_file(&file).unwrap().len(), 1);
        let e = require_regular_file(&dir).unwrap_err();
        assert_eq!(e.to_string(), "is a directory");
        #[cfg(unix)]
        {
            let e = require_regular_file(Path::new("/dev/null")).unwrap_err();
            assert!(e.to_string().starts_with("is a character device"), "{e}");
        }
        let missing = require_regular_file(&dir.join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
