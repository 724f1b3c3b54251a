//! One error type for every reader and helper, so callers can match on the kind of failure
//! while users read a message that always starts with the offending file.

use std::path::PathBuf;

/// Everything that can go wrong turning files into datasets and batches.
///
/// Variants that concern a file carry its path and print it first, so the message alone
/// tells a user which file to fix or re-download.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The operating system refused to read the file.
    #[error("{}: cannot read file: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A directory, named pipe or device where a data file was expected.
    #[error("{}: {what}", .path.display())]
    NotAFile { path: PathBuf, what: &'static str },

    /// The file (or its decompressed content) ends before the data its header announces,
    /// including a completely empty file.
    #[error("{}: {detail}", .path.display())]
    Truncated { path: PathBuf, detail: String },

    /// The first four bytes are not the magic number of the expected file type.
    #[error(
        "{}: not an IDX {what} file: magic number is 0x{found:08x}, expected 0x{expected:08x}",
        .path.display()
    )]
    BadMagic {
        path: PathBuf,
        what: &'static str,
        expected: u32,
        found: u32,
    },

    /// The header is well-formed but describes something meaningless (e.g. 0-pixel-wide images).
    #[error("{}: invalid header: {detail}", .path.display())]
    BadHeader { path: PathBuf, detail: String },

    /// The header asks for more memory than any sane dataset needs; refused before allocating.
    #[error("{}: {detail}", .path.display())]
    TooLarge { path: PathBuf, detail: String },

    /// Bytes follow the last item; usually a concatenated or wrongly converted file.
    #[error("{}: {extra} unexpected byte(s) after the {expected} bytes the header describes", .path.display())]
    TrailingBytes {
        path: PathBuf,
        expected: u64,
        extra: u64,
    },

    /// The gzip stream is corrupt (bad header, bad deflate data, checksum mismatch, cut short).
    #[error("{}: corrupt gzip data: {detail}", .path.display())]
    Gzip { path: PathBuf, detail: String },

    /// A label is not a valid class index for this dataset.
    #[error(
        "{}: label {label} of item {index} is out of range (dataset has {num_classes} classes)",
        .path.display()
    )]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        label: u32,
        num_classes: usize,
    },

    /// Image and label files disagree on how many items there are.
    #[error(
        "{} holds {images} images but {} holds {labels} labels",
        .images_path.display(),
        .labels_path.display()
    )]
    CountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },

    /// A fixed-record file (CIFAR) whose length is not a whole number of records.
    #[error(
        "{}: file length {len} is not a multiple of the {record}-byte record size ({what})",
        .path.display()
    )]
    RecordSize {
        path: PathBuf,
        len: u64,
        record: usize,
        what: &'static str,
    },

    /// A dataset directory was found but one of its files is absent.
    #[error("{}: file not found; {hint}", .path.display())]
    MissingFile { path: PathBuf, hint: String },

    /// No candidate directory holds the dataset.
    #[error("dataset {dataset} not found; searched {}; {hint}", display_dirs(.searched))]
    DatasetNotFound {
        dataset: String,
        searched: Vec<PathBuf>,
        hint: String,
    },

    /// A validation fraction outside `[0, 1)` (or NaN).
    #[error("validation fraction must be in [0, 1), got {fraction}")]
    InvalidFraction { fraction: f64 },

    /// Pieces that must agree do not (train/test shapes, dataset fields, normalization channels).
    #[error("inconsistent data: {detail}")]
    Inconsistent { detail: String },

    /// An image file of an image folder that does not decode.
    #[error("{}: not a readable PNG/JPEG image ({detail})", .path.display())]
    BadImage { path: PathBuf, detail: String },

    /// A caller-supplied parameter is unusable (batch size 0, subset index out of range, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A text file is not valid UTF-8; `offset` is the first bad byte, so it can be found
    /// with a hex editor or `cmp`.
    #[error("{}: not UTF-8 text: invalid byte sequence at byte offset {offset}{hint}", .path.display())]
    NotUtf8 {
        path: PathBuf,
        offset: u64,
        hint: String,
    },

    /// A file given as text holds binary data (NUL bytes or many control characters).
    #[error("{}: binary data, not text: {detail}", .path.display())]
    Binary { path: PathBuf, detail: String },

    /// A corpus directory holds no file that could be read as text.
    #[error(
        "{}: no text files in this directory (regular files are read, sorted by name; \
         hidden files and sub-directories are skipped)",
        .path.display()
    )]
    NoTextFiles { path: PathBuf },

    /// A corpus, or one split of it, holds fewer tokens than its use needs.
    /// `what` names the file or corpus and the split ("corpus.txt: the validation split").
    #[error("{what} holds {tokens} tokens, fewer than the {needed} needed; {hint}")]
    TooShort {
        what: String,
        tokens: usize,
        needed: usize,
        hint: String,
    },

    /// The training text has more distinct characters than a character vocabulary allows.
    #[error(
        "{corpus}: the training text has more than {max} distinct characters, too many for a \
         character vocabulary; is this really natural-language text?"
    )]
    VocabTooLarge { corpus: String, max: usize },
}

fn display_dirs(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "no directories".to_string();
    }
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
