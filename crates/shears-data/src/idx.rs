//! IDX reader and writer (the MNIST / Fashion-MNIST container format).
//!
//! Layout: a big-endian magic `0x0000_08NN` (unsigned bytes, `NN` dimensions), `NN` big-endian
//! `u32` sizes, then the data. Files may be gzip-compressed; that is detected from the gzip
//! magic `1f 8b`, not from the file name. Every size in a header is checked against the bytes
//! actually present before anything is allocated from it: raw files are compared with their
//! length, gzip files are decompressed through a reader capped at the announced size plus
//! one byte, so a lying header can neither trigger a huge allocation nor go unnoticed.

use std::io::{self, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::MultiGzDecoder;

use crate::files::read_file;
use crate::{DataError, Dataset};

/// Magic of an image file: unsigned bytes, 3 dimensions (count, height, width).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of a label file: unsigned bytes, 1 dimension (count).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Largest payload a header may announce (4 GiB); anything larger is a corrupt header.
pub const MAX_IDX_BYTES: u64 = 1 << 32;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Images of one IDX file, row-major `count × height × width` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub height: usize,
    pub width: usize,
    pub pixels: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGES_MAGIC,
            Kind::Labels => LABELS_MAGIC,
        }
    }
    fn header_len(self) -> usize {
        match self {
            Kind::Images => 16,
            Kind::Labels => 8,
        }
    }
    fn what(self) -> &'static str {
        match self {
            Kind::Images => "image",
            Kind::Labels => "label",
        }
    }
}

/// A validated header: the payload size is known to be within [`MAX_IDX_BYTES`].
struct Header {
    count: usize,
    height: usize,
    width: usize,
    payload: usize,
}

impl Header {
    fn describe(&self, kind: Kind) -> String {
        match kind {
            Kind::Images => format!(
                "{} images of {}x{} ({} bytes)",
                self.count, self.height, self.width, self.payload
            ),
            Kind::Labels => format!("{} labels ({} bytes)", self.count, self.payload),
        }
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Checks the magic; `prefix` must hold at least 4 bytes.
fn check_magic(path: &Path, kind: Kind, prefix: &[u8]) -> Result<(), DataError> {
    let found = be_u32(prefix, 0);
    if found != kind.magic() {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            what: kind.what(),
            expected: kind.magic(),
            found,
        });
    }
    Ok(())
}

/// Validates a full header (`kind.header_len()` bytes, magic already checked).
fn parse_header(path: &Path, kind: Kind, h: &[u8]) -> Result<Header, DataError> {
    let count = be_u32(h, 4) as u64;
    let (height, width) = match kind {
        Kind::Images => (be_u32(h, 8) as u64, be_u32(h, 12) as u64),
        Kind::Labels => (1, 1),
    };
    if kind == Kind::Images && (height == 0 || width == 0) {
        return Err(DataError::BadHeader {
            path: path.to_path_buf(),
            detail: format!("images of {height}x{width} pixels"),
        });
    }
    // u128 cannot overflow: three u32 factors.
    let payload = count as u128 * height as u128 * width as u128;
    let too_large = || DataError::TooLarge {
        path: path.to_path_buf(),
        detail: match kind {
            Kind::Images => format!(
                "header says {count} images of {height}x{width} ({payload} bytes), more than the \
                 {MAX_IDX_BYTES}-byte limit; the header is corrupt"
            ),
            Kind::Labels => format!(
                "header says {count} labels, more than the {MAX_IDX_BYTES}-byte limit; \
                 the header is corrupt"
            ),
        },
    };
    if payload > MAX_IDX_BYTES as u128 {
        return Err(too_large());
    }
    let to_usize = |v: u64| usize::try_from(v).map_err(|_| too_large());
    Ok(Header {
        count: to_usize(count)?,
        height: to_usize(height)?,
        width: to_usize(width)?,
        payload: to_usize(payload as u64)?,
    })
}

fn short_data(path: &Path, kind: Kind, header: &Header, holds: usize, gz: bool) -> DataError {
    let what = match kind {
        Kind::Images => "pixel",
        Kind::Labels => "label",
    };
    let file = if gz { "decompressed file" } else { "file" };
    DataError::Truncated {
        path: path.to_path_buf(),
        detail: format!(
            "header says {} but the {file} holds {holds} bytes of {what} data",
            header.describe(kind)
        ),
    }
}

fn short_header(path: &Path, kind: Kind, got: usize, gz: bool) -> DataError {
    let file = if gz { "decompressed file" } else { "file" };
    let detail = if got == 0 {
        format!(
            "{file} is empty; an IDX {} file starts with a {}-byte header",
            kind.what(),
            kind.header_len()
        )
    } else {
        format!(
            "{file} is {got} bytes, shorter than the {}-byte IDX {} header",
            kind.header_len(),
            kind.what()
        )
    };
    DataError::Truncated {
        path: path.to_path_buf(),
        detail,
    }
}

fn gzip_err(path: &Path, e: io::Error) -> DataError {
    DataError::Gzip {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Returns the validated header and exactly `header.payload` bytes of data.
fn decode(path: &Path, bytes: &[u8], kind: Kind) -> Result<(Header, Vec<u8>), DataError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        decode_gzip(path, bytes, kind)
    } else {
        decode_raw(path, bytes, kind)
    }
}

fn decode_raw(path: &Path, bytes: &[u8], kind: Kind) -> Result<(Header, Vec<u8>), DataError> {
    let hl = kind.header_len();
    if bytes.len() < 4 {
        return Err(short_header(path, kind, bytes.len(), false));
    }
    check_magic(path, kind, bytes)?;
    if bytes.len() < hl {
        return Err(short_header(path, kind, bytes.len(), false));
    }
    let header = parse_header(path, kind, &bytes[..hl])?;
    let data = &bytes[hl..];
    if data.len() < header.payload {
        return Err(short_data(path, kind, &header, data.len(), false));
    }
    if data.len() > header.payload {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected: (hl + header.payload) as u64,
            extra: (data.len() - header.payload) as u64,
        });
    }
    let data = data.to_vec();
    Ok((header, data))
}

fn decode_gzip(path: &Path, bytes: &[u8], kind: Kind) -> Result<(Header, Vec<u8>), DataError> {
    let hl = kind.header_len();
    let mut dec = MultiGzDecoder::new(bytes);
    let mut head = [0u8; 16];
    let got = read_up_to(&mut dec, &mut head[..hl]).map_err(|e| gzip_err(path, e))?;
    if got < 4 {
        return Err(short_header(path, kind, got, true));
    }
    check_magic(path, kind, &head)?;
    if got < hl {
        return Err(short_header(path, kind, got, true));
    }
    let header = parse_header(path, kind, &head[..hl])?;
    // Capacity follows the compressed size actually present, not the header; the `take`
    // stops a lying header (or a gzip bomb) one byte past the announced size.
    let mut data = Vec::with_capacity(header.payload.min(bytes.len().saturating_mul(4)));
    (&mut dec)
        .take(header.payload as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| gzip_err(path, e))?;
    if data.len() < header.payload {
        return Err(short_data(path, kind, &header, data.len(), true));
    }
    if data.len() > header.payload {
        // Count the rest without storing it, so the message can say how much is extra.
        let rest = io::copy(&mut (&mut dec).take(MAX_IDX_BYTES), &mut io::sink())
            .map_err(|e| gzip_err(path, e))?;
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected: (hl + header.payload) as u64,
            extra: 1 + rest,
        });
    }
    Ok((header, data))
}

/// Parses an IDX image file held in memory (raw or gzip). `path` is only used in messages.
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<IdxImages, DataError> {
    let (h, pixels) = decode(path, bytes, Kind::Images)?;
    Ok(IdxImages {
        count: h.count,
        height: h.height,
        width: h.width,
        pixels,
    })
}

/// Parses an IDX label file held in memory (raw or gzip); every label must be `< num_classes`.
pub fn parse_labels(path: &Path, bytes: &[u8], num_classes: usize) -> Result<Vec<u16>, DataError> {
    let (_, data) = decode(path, bytes, Kind::Labels)?;
    if let Some((index, &label)) = data
        .iter()
        .enumerate()
        .find(|&(_, &l)| l as usize >= num_classes)
    {
        return Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label: label as u32,
            num_classes,
        });
    }
    Ok(data.into_iter().map(u16::from).collect())
}

/// Reads and validates an IDX image file (raw or gzip).
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_images(path, &read_file(path)?)
}

/// Reads and validates an IDX label file (raw or gzip).
pub fn read_labels(path: &Path, num_classes: usize) -> Result<Vec<u16>, DataError> {
    parse_labels(path, &read_file(path)?, num_classes)
}

/// Builds a single-channel [`Dataset`] from in-memory image and label files, checking that
/// they describe the same number of items.
pub fn parse_dataset(
    images_path: &Path,
    images: &[u8],
    labels_path: &Path,
    labels: &[u8],
    num_classes: usize,
) -> Result<Dataset, DataError> {
    let img = parse_images(images_path, images)?;
    let lab = parse_labels(labels_path, labels, num_classes)?;
    join(images_path, img, labels_path, lab, num_classes)
}

/// Reads an image/label file pair into a single-channel [`Dataset`].
pub fn read_dataset(
    images_path: &Path,
    labels_path: &Path,
    num_classes: usize,
) -> Result<Dataset, DataError> {
    let img = read_images(images_path)?;
    let lab = read_labels(labels_path, num_classes)?;
    join(images_path, img, labels_path, lab, num_classes)
}

fn join(
    images_path: &Path,
    img: IdxImages,
    labels_path: &Path,
    labels: Vec<u16>,
    num_classes: usize,
) -> Result<Dataset, DataError> {
    if img.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: img.count,
            labels_path: labels_path.to_path_buf(),
            labels: labels.len(),
        });
    }
    Dataset::new(img.pixels, labels, 1, img.height, img.width, num_classes)
}

/// Encodes images as a raw IDX file; `pixels` must hold `count × height × width` bytes.
pub fn encode_images(
    count: usize,
    height: usize,
    width: usize,
    pixels: &[u8],
) -> Result<Vec<u8>, DataError> {
    let dim = |v: usize, name: &str| {
        u32::try_from(v)
            .map_err(|_| DataError::InvalidArgument(format!("IDX {name} {v} does not fit in u32")))
    };
    let (n, h, w) = (
        dim(count, "count")?,
        dim(height, "height")?,
        dim(width, "width")?,
    );
    if count.checked_mul(height).and_then(|v| v.checked_mul(width)) != Some(pixels.len()) {
        return Err(DataError::InvalidArgument(format!(
            "{} pixel bytes do not make {count} images of {height}x{width}",
            pixels.len()
        )));
    }
    let mut out = Vec::with_capacity(16 + pixels.len());
    for v in [IMAGES_MAGIC, n, h, w] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    Ok(out)
}

/// Encodes labels as a raw IDX file; labels must fit in a byte.
pub fn encode_labels(labels: &[u16]) -> Result<Vec<u8>, DataError> {
    let n = u32::try_from(labels.len())
        .map_err(|_| DataError::InvalidArgument("too many labels for IDX".into()))?;
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&n.to_be_bytes());
    for &l in labels {
        let b = u8::try_from(l)
            .map_err(|_| DataError::InvalidArgument(format!("label {l} does not fit in a byte")))?;
        out.push(b);
    }
    Ok(out)
}

/// Gzip-compresses at the best level with a zero timestamp, so identical input gives
/// byte-identical output (reproducible checksums for committed data).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}
