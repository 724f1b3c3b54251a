//! Dataset names, where their files are looked for, and loading them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::cifar::{CifarKind, cifar_hint, load_cifar_dir_with_hint};
use crate::folder::{FolderOptions, load_folder};
use crate::text::{self, TextCorpus};
use crate::{Augment, DataError, Normalization, Splits, idx, mini};

/// Side of the square an image folder's images are brought to unless configured.
pub const DEFAULT_IMAGE_SIZE: usize = 32;

/// Environment variable naming a directory that holds one sub-directory per dataset.
pub const DATA_ENV: &str = "SHEARS_DATA";
/// Where Debian's `dataset-fashion-mnist` package installs the files.
pub const SYSTEM_FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The datasets shears knows. The default needs no files: it is compiled into the binary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetId {
    /// 10,000 training images (1,000 per class) + the full 10,000-image test set of
    /// Fashion-MNIST, embedded in the library.
    #[default]
    FashionMnistMini,
    FashionMnist,
    Mnist,
    Cifar10,
    Cifar100,
    /// About 1.3 MB of the King James Bible (public domain), embedded; validation and test
    /// are whole books not seen in training. See `data/kjv-mini/README.md`.
    KjvMini,
    /// The user's own UTF-8 corpus: the file or directory given as the data directory.
    Text,
    /// The user's own images: an ImageFolder directory given as the data directory (read
    /// with [`crate::load_folder`]; classes, channels and statistics come from the files).
    Folder,
}

impl DatasetId {
    pub const ALL: [DatasetId; 8] = [
        DatasetId::FashionMnistMini,
        DatasetId::FashionMnist,
        DatasetId::Mnist,
        DatasetId::Cifar10,
        DatasetId::Cifar100,
        DatasetId::KjvMini,
        DatasetId::Text,
        DatasetId::Folder,
    ];

    /// Canonical name, as accepted by [`FromStr`] and written by serde.
    pub fn name(self) -> &'static str {
        match self {
            DatasetId::FashionMnistMini => "fashion-mnist-mini",
            DatasetId::FashionMnist => "fashion-mnist",
            DatasetId::Mnist => "mnist",
            DatasetId::Cifar10 => "cifar10",
            DatasetId::Cifar100 => "cifar100",
            DatasetId::KjvMini => "kjv-mini",
            DatasetId::Text => "text",
            DatasetId::Folder => "folder",
        }
    }

    /// A corpus for language modelling (loaded with [`load_corpus`]), not images.
    pub fn is_text(self) -> bool {
        matches!(self, DatasetId::KjvMini | DatasetId::Text)
    }

    /// Classes of an image set. A corpus' vocabulary and a folder's classes are only known
    /// once it is loaded: 0.
    pub fn num_classes(self) -> usize {
        match self {
            DatasetId::Cifar100 => 100,
            DatasetId::KjvMini | DatasetId::Text | DatasetId::Folder => 0,
            _ => 10,
        }
    }

    /// `[channels, height, width]` of one image.
    /// For a corpus `[1, 1, 0]`: its window length is the model's context. For a folder the
    /// default: colour at [`DEFAULT_IMAGE_SIZE`] (its files decide the channels, the
    /// configuration the size).
    pub fn sample_shape(self) -> [usize; 3] {
        match self {
            DatasetId::Cifar10 | DatasetId::Cifar100 => [3, 32, 32],
            DatasetId::Folder => [3, DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE],
            DatasetId::KjvMini | DatasetId::Text => [1, 1, 0],
            _ => [1, 28, 28],
        }
    }

    /// The dataset's standard normalization statistics.
    pub fn normalization(self) -> Normalization {
        match self {
            DatasetId::FashionMnistMini | DatasetId::FashionMnist => Normalization::fashion_mnist(),
            DatasetId::Mnist => Normalization::mnist(),
            DatasetId::Cifar10 => Normalization::cifar10(),
            DatasetId::Cifar100 => Normalization::cifar100(),
            DatasetId::KjvMini | DatasetId::Text => Normalization::identity(1),
            // Computed from the training split when it is read (`Splits::normalization`).
            DatasetId::Folder => Normalization::identity(3),
        }
    }

    /// Training augmentation of the reference recipe: crop + flip for CIFAR, none for the
    /// grayscale sets (flipping digits changes their meaning).
    pub fn default_augment(self) -> Option<Augment> {
        match self {
            DatasetId::Cifar10 | DatasetId::Cifar100 => Some(Augment::cifar()),
            _ => None,
        }
    }

    fn cifar_kind(self) -> Option<CifarKind> {
        match self {
            DatasetId::Cifar10 => Some(CifarKind::Cifar10),
            DatasetId::Cifar100 => Some(CifarKind::Cifar100),
            _ => None,
        }
    }

    /// How to obtain the files, for error messages.
    pub fn hint(self) -> String {
        let idx_files = "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
                         t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz";
        match self {
            DatasetId::FashionMnistMini | DatasetId::KjvMini => {
                "it is embedded and needs no files".into()
            }
            DatasetId::Text => "pass a UTF-8 file or a directory of them as the data \
                                directory (--data-dir PATH)"
                .into(),
            DatasetId::Folder => "pass a directory with one sub-directory of PNG/JPEG images \
                                  per class (optionally under train/ and test/) as the data \
                                  directory (--data-dir DIR)"
                .into(),
            DatasetId::FashionMnist => format!(
                "install it with `apt-get install dataset-fashion-mnist` (files go to \
                 {SYSTEM_FASHION_MNIST_DIR}), or put {idx_files} from \
                 https://github.com/zalandoresearch/fashion-mnist into one of these \
                 directories; the embedded `fashion-mnist-mini` subset needs no files"
            ),
            DatasetId::Mnist => format!(
                "download {idx_files} (e.g. from https://ossci-datasets.s3.amazonaws.com/mnist/) \
                 into one of these directories, or set {DATA_ENV} / pass a data directory"
            ),
            DatasetId::Cifar10 => cifar_hint(CifarKind::Cifar10),
            DatasetId::Cifar100 => cifar_hint(CifarKind::Cifar100),
        }
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetId {
    type Err = DataError;

    /// Accepts the canonical names case-insensitively, with `_` for `-` and the spellings
    /// `cifar-10` / `cifar-100`.
    fn from_str(s: &str) -> Result<Self, DataError> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let norm = match norm.as_str() {
            "cifar-10" => "cifar10",
            "cifar-100" => "cifar100",
            other => other,
        };
        DatasetId::ALL
            .into_iter()
            .find(|id| id.name() == norm)
            .ok_or_else(|| {
                let names: Vec<_> = DatasetId::ALL.iter().map(|d| d.name()).collect();
                DataError::InvalidArgument(format!(
                    "unknown dataset `{s}`; expected one of: {}",
                    names.join(", ")
                ))
            })
    }
}

/// Directories searched for `id`, in order.
///
/// With `data_dir`: `data_dir` itself, then `data_dir/<name>`. Without: `$SHEARS_DATA/<name>`,
/// `./datasets/<name>` (relative to the working directory), and for Fashion-MNIST the Debian
/// install location. For CIFAR each candidate is also tried with the folder the official
/// tarball creates appended. The embedded set has no directories.
pub fn search_dirs(id: DatasetId, data_dir: Option<&Path>) -> Vec<PathBuf> {
    if matches!(id, DatasetId::FashionMnistMini | DatasetId::KjvMini) {
        return Vec::new();
    }
    let name = id.name();
    let mut dirs = match data_dir {
        Some(d) => vec![d.to_path_buf(), d.join(name)],
        None => {
            let mut v = Vec::new();
            if let Some(root) = std::env::var_os(DATA_ENV).filter(|r| !r.is_empty()) {
                v.push(PathBuf::from(root).join(name));
            }
            v.push(Path::new(".").join("datasets").join(name));
            if id == DatasetId::FashionMnist {
                v.push(PathBuf::from(SYSTEM_FASHION_MNIST_DIR));
            }
            v
        }
    };
    if let Some(kind) = id.cifar_kind() {
        dirs = dirs
            .into_iter()
            .flat_map(|d| {
                let sub = d.join(kind.archive_dir());
                [d, sub]
            })
            .collect();
    }
    dirs
}

/// IDX base names, train then test.
const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Accepted spellings of one IDX file: gzip, raw, and the `train-images.idx3-ubyte` form
/// some mirrors use.
fn idx_variants(dir: &Path, base: &str) -> [PathBuf; 3] {
    [
        dir.join(format!("{base}.gz")),
        dir.join(base),
        dir.join(base.replacen("-idx", ".idx", 1)),
    ]
}

fn find_idx(dir: &Path, base: &str, hint: &str) -> Result<PathBuf, DataError> {
    let variants = idx_variants(dir, base);
    // Anything at the name counts as found (not only regular files): a directory or FIFO
    // there is then reported for what it is by the reader, not as a missing file.
    if let Some(found) = variants.iter().find(|p| p.exists()) {
        return Ok(found.clone());
    }
    let [gz, raw, dotted] = variants;
    Err(DataError::MissingFile {
        hint: format!(
            "(also tried {} and {}); {hint}",
            raw.display(),
            dotted.display()
        ),
        path: gz,
    })
}

/// True when `dir` holds at least one file of the dataset, i.e. it is the dataset's
/// directory (a partial one is then reported file by file rather than skipped).
fn holds_any(id: DatasetId, dir: &Path) -> bool {
    match id.cifar_kind() {
        Some(kind) => kind
            .train_files()
            .iter()
            .chain([kind.test_file()].iter())
            .any(|f| dir.join(f).exists()),
        None => IDX_FILES
            .iter()
            .flat_map(|b| idx_variants(dir, b))
            .any(|p| p.exists()),
    }
}

/// The first directory of [`search_dirs`] that holds the dataset.
pub fn locate(id: DatasetId, data_dir: Option<&Path>) -> Result<PathBuf, DataError> {
    let searched = search_dirs(id, data_dir);
    searched
        .iter()
        .find(|d| holds_any(id, d))
        .cloned()
        .ok_or_else(|| DataError::DatasetNotFound {
            dataset: id.name().to_string(),
            searched,
            hint: id.hint(),
        })
}

/// Loads the official train and test splits of `id`.
///
/// `fashion-mnist-mini` comes from the binary and ignores `data_dir`; the others are
/// located with [`search_dirs`].
pub fn load(id: DatasetId, data_dir: Option<&Path>) -> Result<Splits, DataError> {
    if id.is_text() {
        return Err(DataError::InvalidArgument(format!(
            "`{id}` is a text corpus, not images: it is read with load_corpus"
        )));
    }
    if id == DatasetId::FashionMnistMini {
        return mini::load_fashion_mnist_mini();
    }
    if id == DatasetId::Folder {
        let dir = data_dir.ok_or_else(|| {
            DataError::InvalidArgument(format!(
                "dataset `folder` needs a data directory: {}",
                id.hint()
            ))
        })?;
        let options = FolderOptions {
            size: DEFAULT_IMAGE_SIZE,
            skip_corrupt: false,
        };
        return Ok(load_folder(dir, &options)?.splits);
    }
    let dir = locate(id, data_dir)?;
    match id.cifar_kind() {
        Some(kind) => load_cifar_dir_with_hint(&dir, kind, &id.hint()),
        None => load_idx_dir_with_hint(&dir, id.num_classes(), &id.hint()),
    }
}

/// Loads a text corpus: the embedded `kjv-mini`, or for `text` the file or directory
/// `data_dir` (required).
pub fn load_corpus(id: DatasetId, data_dir: Option<&Path>) -> Result<TextCorpus, DataError> {
    match (id, data_dir) {
        (DatasetId::KjvMini, _) => text::load_kjv_mini(),
        (DatasetId::Text, Some(path)) => text::load_text(path),
        (DatasetId::Text, None) => Err(DataError::InvalidArgument(format!(
            "dataset `text` needs a corpus: {}",
            id.hint()
        ))),
        _ => Err(DataError::InvalidArgument(format!(
            "`{id}` is an image dataset, not a text corpus"
        ))),
    }
}

/// Loads MNIST-style IDX files (gzip or raw) from one directory.
pub fn load_idx_dir(dir: &Path, num_classes: usize) -> Result<Splits, DataError> {
    load_idx_dir_with_hint(
        dir,
        num_classes,
        "the directory must hold train-images-idx3-ubyte, train-labels-idx1-ubyte, \
         t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz)",
    )
}

fn load_idx_dir_with_hint(dir: &Path, num_classes: usize, hint: &str) -> Result<Splits, DataError> {
    let [tri, trl, tei, tel] = IDX_FILES.map(|b| find_idx(dir, b, hint));
    let train = idx::read_dataset(&tri?, &trl?, num_classes)?;
    let (tei, tel) = (tei?, tel?);
    let test = idx::read_dataset(&tei, &tel, num_classes)?;
    if train.sample_shape() != test.sample_shape() {
        return Err(DataError::Inconsistent {
            detail: format!(
                "{}: test images are {:?} but training images are {:?}",
                tei.display(),
                test.sample_shape(),
                train.sample_shape()
            ),
        });
    }
    Ok(Splits {
        train,
        test,
        normalization: None,
        skipped: Vec::new(),
    })
}
