//! The embedded `kjv-mini` corpus, so a fresh clone trains a language model with zero
//! downloads. Made by `scripts/make-kjv-mini.sh`; see `data/kjv-mini/README.md`.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::TextCorpus;
use super::corpus::parse_text;
use crate::DataError;

const TRAIN: &[u8] = include_bytes!("../../../../data/kjv-mini/train.txt.gz");
const VALID: &[u8] = include_bytes!("../../../../data/kjv-mini/valid.txt.gz");
const TEST: &[u8] = include_bytes!("../../../../data/kjv-mini/test.txt.gz");

/// Cap on one decompressed split: ten times the largest, in case a regenerated file is wrong.
const MAX_SPLIT_BYTES: u64 = 16 << 20;

/// Training books, in order (the script's `TRAIN_BOOKS`).
pub const KJV_TRAIN_BOOKS: [&str; 10] = [
    "Genesis", "Exodus", "Judges", "Ruth", "1 Samuel", "2 Samuel", "1 Kings", "Esther", "Matthew",
    "Luke",
];
/// The validation book, absent from training.
pub const KJV_VALID_BOOKS: [&str; 1] = ["Joshua"];
/// The test book, absent from training.
pub const KJV_TEST_BOOKS: [&str; 1] = ["John"];

/// Decodes the embedded King James Bible subset: about 1.13 MB of training text, one
/// validation and one test book (about 0.1 MB each), one verse per line.
pub fn load_kjv_mini() -> Result<TextCorpus, DataError> {
    let [train, valid, test] = [
        ("train.txt.gz", TRAIN),
        ("valid.txt.gz", VALID),
        ("test.txt.gz", TEST),
    ]
    .map(|(file, gz)| gunzip(&Path::new("<embedded>/data/kjv-mini").join(file), gz));
    TextCorpus::from_texts("kjv-mini", &train?, &valid?, &test?)
}

fn gunzip(path: &Path, gz: &[u8]) -> Result<String, DataError> {
    let mut bytes = Vec::with_capacity(gz.len().saturating_mul(4));
    MultiGzDecoder::new(gz)
        .take(MAX_SPLIT_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| DataError::Gzip {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    parse_text(path, bytes)
}
