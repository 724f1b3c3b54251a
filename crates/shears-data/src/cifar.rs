//! CIFAR-10 / CIFAR-100 "binary version" readers.
//!
//! Each record is the label byte(s) followed by 3,072 pixel bytes: 1,024 red, 1,024 green,
//! 1,024 blue, each a row-major 32×32 plane, which is already the CHW order [`Dataset`] uses.
//! The files have no header, so the only structural check is that the length is a whole
//! number of records; labels are range-checked to catch a CIFAR-10 file read as CIFAR-100.

use std::path::Path;

use crate::files::read_file;
use crate::{DataError, Dataset, Splits};

/// Pixel bytes per CIFAR image (3 × 32 × 32).
pub const CIFAR_IMAGE_BYTES: usize = 3 * 32 * 32;

/// Which CIFAR variant a file belongs to; fixes record size, label layout and file names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CifarKind {
    /// 10 classes, records of 1 label byte + 3,072 pixels.
    Cifar10,
    /// 100 fine classes, records of coarse label + fine label + 3,072 pixels; the fine
    /// label is used.
    Cifar100,
}

impl CifarKind {
    /// Bytes per record (3,073 or 3,074).
    pub fn record_len(self) -> usize {
        self.label_bytes() + CIFAR_IMAGE_BYTES
    }

    fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            CifarKind::Cifar100 => 2,
        }
    }

    /// Classes of the label that is kept (10, or 100 fine classes).
    pub fn num_classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100 => 100,
        }
    }

    /// Training files, in the order they are concatenated.
    pub fn train_files(self) -> &'static [&'static str] {
        match self {
            CifarKind::Cifar10 => &[
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            CifarKind::Cifar100 => &["train.bin"],
        }
    }

    /// Test file.
    pub fn test_file(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "test_batch.bin",
            CifarKind::Cifar100 => "test.bin",
        }
    }

    /// Directory the official tarball extracts to.
    pub fn archive_dir(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "cifar-10-batches-bin",
            CifarKind::Cifar100 => "cifar-100-binary",
        }
    }

    fn name(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "CIFAR-10",
            CifarKind::Cifar100 => "CIFAR-100",
        }
    }
}

/// Appends the records of one in-memory file to `images` / `labels`.
fn parse_into(
    path: &Path,
    bytes: &[u8],
    kind: CifarKind,
    images: &mut Vec<u8>,
    labels: &mut Vec<u16>,
) -> Result<(), DataError> {
    let rec = kind.record_len();
    if bytes.is_empty() {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            detail: format!(
                "file is empty; a {} file holds {rec}-byte records",
                kind.name()
            ),
        });
    }
    if !bytes.len().is_multiple_of(rec) {
        return Err(DataError::RecordSize {
            path: path.to_path_buf(),
            len: bytes.len() as u64,
            record: rec,
            what: match kind {
                CifarKind::Cifar10 => "CIFAR-10: 1 label byte + 3072 pixels",
                CifarKind::Cifar100 => "CIFAR-100: coarse + fine label bytes + 3072 pixels",
            },
        });
    }
    images.reserve(bytes.len() / rec * CIFAR_IMAGE_BYTES);
    labels.reserve(bytes.len() / rec);
    for (i, r) in bytes.chunks_exact(rec).enumerate() {
        let (label, limit) = match kind {
            CifarKind::Cifar10 => (r[0], 10),
            CifarKind::Cifar100 => {
                if r[0] >= 20 {
                    return Err(DataError::LabelOutOfRange {
                        path: path.to_path_buf(),
                        index: i,
                        label: r[0] as u32,
                        num_classes: 20,
                    });
                }
                (r[1], 100)
            }
        };
        if label as usize >= limit {
            return Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                index: i,
                label: label as u32,
                num_classes: limit,
            });
        }
        labels.push(label as u16);
        images.extend_from_slice(&r[kind.label_bytes()..]);
    }
    Ok(())
}

/// Parses one in-memory CIFAR binary file. `path` is only used in messages.
pub fn parse_cifar(path: &Path, bytes: &[u8], kind: CifarKind) -> Result<Dataset, DataError> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    parse_into(path, bytes, kind, &mut images, &mut labels)?;
    Dataset::new(images, labels, 3, 32, 32, kind.num_classes())
}

/// Reads one CIFAR binary file.
pub fn read_cifar(path: &Path, kind: CifarKind) -> Result<Dataset, DataError> {
    parse_cifar(path, &read_file(path)?, kind)
}

/// Reads every file of `files` (all must exist) and concatenates them in order.
fn read_many(
    dir: &Path,
    files: &[&str],
    kind: CifarKind,
    hint: &str,
) -> Result<Dataset, DataError> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for f in files {
        let path = dir.join(f);
        if !path.exists() {
            return Err(DataError::MissingFile {
                path,
                hint: hint.to_string(),
            });
        }
        parse_into(&path, &read_file(&path)?, kind, &mut images, &mut labels)?;
    }
    Dataset::new(images, labels, 3, 32, 32, kind.num_classes())
}

/// Loads train (all training batches, in order) and test from a directory holding the
/// extracted binary files.
pub fn load_cifar_dir(dir: &Path, kind: CifarKind) -> Result<Splits, DataError> {
    load_cifar_dir_with_hint(dir, kind, &cifar_hint(kind))
}

pub(crate) fn load_cifar_dir_with_hint(
    dir: &Path,
    kind: CifarKind,
    hint: &str,
) -> Result<Splits, DataError> {
    Ok(Splits {
        train: read_many(dir, kind.train_files(), kind, hint)?,
        test: read_many(dir, &[kind.test_file()], kind, hint)?,
        normalization: None,
        skipped: Vec::new(),
    })
}

/// How to obtain the binary version of a CIFAR dataset.
pub(crate) fn cifar_hint(kind: CifarKind) -> String {
    let (url, sub) = match kind {
        CifarKind::Cifar10 => (
            "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
            "cifar10",
        ),
        CifarKind::Cifar100 => (
            "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
            "cifar100",
        ),
    };
    format!(
        "download the binary version from {url} and extract it into the data directory, e.g. \
         `mkdir -p datasets/{sub} && tar -xzf {file} -C datasets/{sub}` (the {dir}/ folder it \
         creates is found automatically)",
        file = url.rsplit('/').next().unwrap_or(url),
        dir = kind.archive_dir(),
    )
}
