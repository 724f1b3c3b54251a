//! Reading a user's corpus: one UTF-8 file or a directory of them, validated and split.

use std::path::{Path, PathBuf};

use crate::files::read_file;
use crate::{DataError, MAX_FILE_BYTES};

use super::TextCorpus;

/// Fewest characters each of the validation and test splits of [`load_text`] must hold
/// (so a corpus needs 20× this): below it a perplexity is noise.
pub const MIN_SPLIT_TOKENS: usize = 100;

/// A file is binary when more than one character in this many is a control character
/// (other than newline, carriage return, tab and form feed).
const CONTROL_SHARE: usize = 20;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Loads a UTF-8 corpus from a file, or from a directory of files (regular, non-hidden,
/// sorted by name, not recursive; joined with a newline where one is missing), and splits
/// it contiguously: the first 90% of the characters train, the next 5% validate, the last
/// 5% test. Contiguous rather than shuffled lines, so validation text is genuinely unseen.
///
/// Each split must hold at least [`MIN_SPLIT_TOKENS`] characters.
pub fn load_text(path: &Path) -> Result<TextCorpus, DataError> {
    load_text_with_min(path, MIN_SPLIT_TOKENS)
}

/// [`load_text`] with a chosen minimum of characters per validation / test split (e.g. the
/// context length plus one, so each split yields a window).
pub fn load_text_with_min(path: &Path, min_tokens: usize) -> Result<TextCorpus, DataError> {
    let text = read_corpus(path)?;
    let name = path.display().to_string();
    let n = text.chars().count();
    let five = n / 20;
    if five < min_tokens {
        return Err(DataError::TooShort {
            what: format!("{name}: the validation split"),
            tokens: five,
            needed: min_tokens,
            hint: format!(
                "the corpus has {n} characters and 5% of them go to validation and 5% to \
                 test, so it needs at least {}",
                min_tokens.saturating_mul(20)
            ),
        });
    }
    let at = |chars: usize| {
        text.char_indices()
            .nth(chars)
            .map_or(text.len(), |(i, _)| i)
    };
    let (cut1, cut2) = (at(n - 2 * five), at(n - five));
    TextCorpus::from_texts(&name, &text[..cut1], &text[cut1..cut2], &text[cut2..])
}

/// The text of a file, or of a directory's files joined.
fn read_corpus(path: &Path) -> Result<String, DataError> {
    let meta = std::fs::metadata(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return parse_text(path, read_file(path)?);
    }
    let files = text_files(path)?;
    let mut text = String::new();
    for f in &files {
        let t = parse_text(f, read_file(f)?)?;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&t);
    }
    Ok(text)
}

/// Regular, non-hidden files directly in `dir`, sorted by name; their total size is capped
/// at [`MAX_FILE_BYTES`] like a single file.
fn text_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io_err = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    let mut total: u64 = 0;
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let p = entry.path();
        // Follows symlinks; broken links, sub-directories, pipes and devices are skipped.
        if let Some(m) = std::fs::metadata(&p).ok().filter(|m| m.is_file()) {
            total = total.saturating_add(m.len());
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(DataError::NoTextFiles {
            path: dir.to_path_buf(),
        });
    }
    if total > MAX_FILE_BYTES {
        return Err(DataError::TooLarge {
            path: dir.to_path_buf(),
            detail: format!(
                "its files hold {total} bytes together, more than the {MAX_FILE_BYTES}-byte limit"
            ),
        });
    }
    files.sort();
    Ok(files)
}

/// Validates `bytes` as the text of `path`: non-empty, no NUL, UTF-8, few control
/// characters. A leading byte-order mark is dropped.
pub(crate) fn parse_text(path: &Path, bytes: Vec<u8>) -> Result<String, DataError> {
    let binary = |detail: String| DataError::Binary {
        path: path.to_path_buf(),
        detail,
    };
    let gz_hint = if bytes.starts_with(&GZIP_MAGIC) {
        "; it looks gzip-compressed: decompress it first"
    } else {
        ""
    };
    if bytes.is_empty() {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            detail: "file is empty; a text corpus needs some text".into(),
        });
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(binary(format!("NUL byte at offset {at}{gz_hint}")));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        let u = e.utf8_error();
        let end = if u.error_len().is_none() {
            " (a multi-byte character is cut off at the end of the file)"
        } else {
            ""
        };
        DataError::NotUtf8 {
            path: path.to_path_buf(),
            offset: u.valid_up_to() as u64,
            hint: format!("{end}{gz_hint}; convert it to UTF-8 (e.g. with iconv)"),
        }
    })?;
    if text.starts_with('\u{FEFF}') {
        text.drain(..'\u{FEFF}'.len_utf8());
    }
    check_control_share(&text).map_err(binary)?;
    Ok(text)
}

/// Fails (with a description) when more than 1 in [`CONTROL_SHARE`] characters is a
/// control character other than ordinary whitespace.
fn check_control_share(text: &str) -> Result<(), String> {
    let is_odd = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c');
    let mut chars = 0usize;
    let mut odd = 0usize;
    let mut first = None;
    for (i, c) in text.char_indices() {
        chars += 1;
        if is_odd(c) {
            odd += 1;
            first.get_or_insert((i, c));
        }
    }
    match first {
        Some((at, c)) if odd.saturating_mul(CONTROL_SHARE) > chars => Err(format!(
            "{odd} of its {chars} characters are control characters (first: U+{:04X} at byte \
             offset {at}); more than 1 in {CONTROL_SHARE} means this is not text",
            c as u32
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<String, DataError> {
        parse_text(Path::new("f.txt"), b.to_vec())
    }

    #[test]
    fn bom_is_dropped_and_ordinary_whitespace_is_text() {
        assert_eq!(
            parse("\u{FEFF}a\r\n\tb\x0c".as_bytes()).unwrap(),
            "a\r\n\tb\x0c"
        );
    }

    #[test]
    fn bad_bytes_are_classified() {
        let e = parse(b"").unwrap_err();
        assert!(matches!(e, DataError::Truncated { .. }), "{e}");
        let e = parse(b"ab\0c").unwrap_err();
        assert!(e.to_string().contains("NUL byte at offset 2"), "{e}");
        let e = parse(b"abc\xffdef").unwrap_err();
        assert!(matches!(e, DataError::NotUtf8 { offset: 3, .. }), "{e}");
        let e = parse("abc\u{e9}".as_bytes().split_last().unwrap().1).unwrap_err();
        assert!(e.to_string().contains("cut off at the end"), "{e}");
        let e = parse(b"\x1f\x8b\x08\0").unwrap_err();
        assert!(e.to_string().contains("gzip"), "{e}");
    }

    #[test]
    fn control_share_threshold() {
        // 1 control character in 20 is tolerated, 2 are not.
        let ok = format!("\x07{}", "a".repeat(19));
        assert!(parse(ok.as_bytes()).is_ok());
        let bad = format!("\x07\x1b{}", "a".repeat(18));
        let e = parse(bad.as_bytes()).unwrap_err();
        assert!(matches!(e, DataError::Binary { .. }), "{e}");
        assert!(e.to_string().contains("U+0007 at byte offset 0"), "{e}");
    }
}
