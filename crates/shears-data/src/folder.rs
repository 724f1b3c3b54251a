//! Image folders (the ImageFolder layout): one sub-directory per class of PNG/JPEG files,
//! either under `train/` and `test/` (or ImageNet's `val/`) or directly (then split, seeded
//! and stratified). Images
//! are decoded with the `image` crate, resized (shorter side) and centre-cropped to a square,
//! kept grey when every training image is, and normalised with per-channel statistics of the
//! training split. docs/interop.md#image-folders.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageReader, Limits};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::{DataError, Dataset, Normalization, Splits};

/// Fraction of each class held out as the test split when the folder has no `test/`.
pub const FOLDER_TEST_FRACTION: f64 = 0.2;
/// Seed of that split: fixed, so every run and every later evaluation sees the same test set.
pub const FOLDER_SPLIT_SEED: u64 = 0;
/// Largest side and decoded size an image may have (a decompression bomb is refused).
const MAX_SIDE: u32 = 16_384;
const MAX_DECODED_BYTES: u64 = 256 << 20;

/// How to read an image folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderOptions {
    /// Images become `size × size` (shorter side resized to `size`, then centre-cropped).
    pub size: usize,
    /// Skip files that fail to decode (counted) instead of stopping at the first.
    pub skip_corrupt: bool,
}

/// How a command reads an image folder: its size (`None`: [`crate::DEFAULT_IMAGE_SIZE`]) and
/// whether undecodable files are skipped. Ignored by the other datasets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderRead {
    pub size: Option<usize>,
    pub skip_corrupt: bool,
}

/// An image folder read into train/test splits.
#[derive(Debug, Clone)]
pub struct FolderData {
    /// Per-channel statistics of the training split ride along in `splits.normalization`,
    /// files skipped as undecodable (only with `skip_corrupt`) in `splits.skipped`.
    pub splits: Splits,
    /// Class names (sub-directory names), in label order.
    pub classes: Vec<String>,
}

fn io(path: &Path, source: std::io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// Visible entries of `dir`, sorted by name.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| io(dir, e)))
        .collect::<Result<_, _>>()?;
    v.retain(|p| {
        !p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    });
    v.sort();
    Ok(v)
}

/// Class name → its image files, for a directory of class sub-directories.
fn classes_in(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, DataError> {
    let mut out = Vec::new();
    for d in entries(dir)?.into_iter().filter(|p| p.is_dir()) {
        let files: Vec<PathBuf> = entries(&d)?.into_iter().filter(|p| is_image(p)).collect();
        let name = d
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if files.is_empty() {
            return Err(DataError::Inconsistent {
                detail: format!("{}: class folder without PNG/JPEG images", d.display()),
            });
        }
        out.push((name, files));
    }
    if out.is_empty() {
        return Err(DataError::Inconsistent {
            detail: format!(
                "{}: no class folders (an image folder holds one sub-directory of PNG/JPEG \
                 images per class, optionally under train/ and test/)",
                dir.display()
            ),
        });
    }
    Ok(out)
}

/// (file, label) lists of the training and test splits.
type Listing = (Vec<String>, Vec<(PathBuf, u16)>, Vec<(PathBuf, u16)>);

fn listing(dir: &Path) -> Result<Listing, DataError> {
    let label = |classes: &[String], name: &str, path: &Path| {
        classes
            .iter()
            .position(|c| c == name)
            .map(|i| i as u16)
            .ok_or_else(|| DataError::Inconsistent {
                detail: format!("{}: class '{name}' is not one of train/'s", path.display()),
            })
    };
    // ImageNet's layout names its held-out split `val/`.
    let train_dir = dir.join("train");
    let test_dir = [dir.join("test"), dir.join("val")]
        .into_iter()
        .find(|d| d.is_dir())
        .unwrap_or_else(|| dir.join("test"));
    if train_dir.is_dir() && test_dir.is_dir() {
        let train = classes_in(&train_dir)?;
        let classes: Vec<String> = train.iter().map(|(n, _)| n.clone()).collect();
        let mut test = Vec::new();
        for (name, files) in classes_in(&test_dir)? {
            let l = label(&classes, &name, &test_dir)?;
            test.extend(files.into_iter().map(|f| (f, l)));
        }
        let train = train
            .into_iter()
            .enumerate()
            .flat_map(|(l, (_, files))| files.into_iter().map(move |f| (f, l as u16)))
            .collect();
        return Ok((classes, train, test));
    }
    let all = classes_in(dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(FOLDER_SPLIT_SEED);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    let mut classes = Vec::new();
    for (l, (name, mut files)) in all.into_iter().enumerate() {
        let n_test = (files.len() as f64 * FOLDER_TEST_FRACTION).round() as usize;
        files.shuffle(&mut rng);
        test.extend(files[..n_test].iter().map(|f| (f.clone(), l as u16)));
        train.extend(files[n_test..].iter().map(|f| (f.clone(), l as u16)));
        classes.push(name);
    }
    train.sort();
    test.sort();
    Ok((classes, train, test))
}

/// Decodes one file with bounded memory.
fn decode(path: &Path) -> Result<DynamicImage, String> {
    let mut reader = ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    reader.decode().map_err(|e| e.to_string())
}

/// `img` as `3 × size × size` bytes (channel-major): shorter side to `size`, centre crop.
fn to_square(img: &DynamicImage, size: u32) -> Vec<u8> {
    let (w, h) = (img.width().max(1), img.height().max(1));
    let scale = size as f64 / w.min(h) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(size),
        ((h as f64 * scale).round() as u32).max(size),
    );
    let resized = img.resize_exact(nw, nh, FilterType::Triangle);
    let cropped = resized.crop_imm((nw - size) / 2, (nh - size) / 2, size, size);
    let n = (size * size) as usize;
    let mut out = vec![0u8; 3 * n];
    for (i, px) in cropped.to_rgb8().pixels().enumerate() {
        for c in 0..3 {
            out[c * n + i] = px[c];
        }
    }
    out
}

/// Most bytes the decoded squares of a folder may take (three planes an image while reading).
pub const MAX_FOLDER_BYTES: u64 = 8 << 30;

/// One split decoded: colour squares (three planes an image), labels, and whether every
/// image was grey.
struct Decoded {
    pixels: Vec<u8>,
    labels: Vec<u16>,
    grey: bool,
}

impl Decoded {
    /// The split as a dataset of `channels` (1: the Rec. 709 luma of the three planes, which
    /// is the grey value itself for a grey image).
    fn into_dataset(
        self,
        channels: usize,
        size: usize,
        classes: usize,
    ) -> Result<Dataset, DataError> {
        let n = size * size;
        let images = if channels == 3 {
            self.pixels
        } else {
            self.pixels
                .chunks_exact(3 * n)
                .flat_map(|img| {
                    (0..n).map(move |i| {
                        let (r, g, b) = (img[i] as f32, img[n + i] as f32, img[2 * n + i] as f32);
                        (0.2126 * r + 0.7152 * g + 0.0722 * b).round().min(255.0) as u8
                    })
                })
                .collect()
        };
        Dataset::new(images, self.labels, channels, size, size, classes)
    }
}

/// Reads the image folder `dir` (see the module docs).
pub fn load_folder(dir: &Path, o: &FolderOptions) -> Result<FolderData, DataError> {
    if o.size == 0 || o.size > 1024 {
        return Err(DataError::InvalidArgument(format!(
            "image size {}: must be in 1..=1024",
            o.size
        )));
    }
    let (classes, train, test) = listing(dir)?;
    let square = 3 * (o.size * o.size) as u64;
    let bytes = (train.len() + test.len()) as u64 * square;
    if bytes > MAX_FOLDER_BYTES {
        return Err(DataError::TooLarge {
            path: dir.to_path_buf(),
            detail: format!(
                "{} images of {}x{} take {:.1} GiB in memory, more than the {} GiB limit; use a \
                 smaller image size or fewer images",
                train.len() + test.len(),
                o.size,
                o.size,
                bytes as f64 / (1u64 << 30) as f64,
                MAX_FOLDER_BYTES >> 30
            ),
        });
    }
    let mut skipped = Vec::new();
    // Each image is brought to its square as soon as it is decoded: only squares are kept.
    let mut read = |files: Vec<(PathBuf, u16)>| -> Result<Decoded, DataError> {
        let mut d = Decoded {
            pixels: Vec::with_capacity(files.len() * square as usize),
            labels: Vec::with_capacity(files.len()),
            grey: true,
        };
        for (path, label) in files {
            match decode(&path) {
                Ok(img) => {
                    d.grey &= img.color().channel_count() <= 2;
                    d.pixels.extend(to_square(&img, o.size as u32));
                    d.labels.push(label);
                }
                Err(_) if o.skip_corrupt => skipped.push(path),
                Err(detail) => return Err(DataError::BadImage { path, detail }),
            }
        }
        Ok(d)
    };
    let (train, test) = (read(train)?, read(test)?);
    if train.labels.is_empty() || test.labels.is_empty() {
        return Err(DataError::Inconsistent {
            detail: format!(
                "{}: {} training and {} test images; both splits need at least one (a class \
                 folder of a single image gives none to the test split)",
                dir.display(),
                train.labels.len(),
                test.labels.len()
            ),
        });
    }
    let channels = if train.grey { 1 } else { 3 };
    let train = train.into_dataset(channels, o.size, classes.len())?;
    let test = test.into_dataset(channels, o.size, classes.len())?;
    let normalization = statistics(&train)?;
    Ok(FolderData {
        splits: Splits {
            train,
            test,
            normalization: Some(normalization),
            skipped,
        },
        classes,
    })
}

/// Per-channel mean and standard deviation of a split's pixels, on the [0, 1] scale.
fn statistics(d: &Dataset) -> Result<Normalization, DataError> {
    let n = d.height * d.width;
    let (mut sum, mut sq, mut count) = (vec![0f64; d.channels], vec![0f64; d.channels], 0f64);
    for img in d.images.chunks_exact(d.channels * n) {
        for (c, plane) in img.chunks_exact(n).enumerate() {
            for &p in plane {
                let x = p as f64 / 255.0;
                sum[c] += x;
                sq[c] += x * x;
            }
        }
        count += n as f64;
    }
    let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
    let std: Vec<f32> = sq
        .iter()
        .zip(&sum)
        .map(|(q, s)| {
            let m = s / count;
            // A constant channel would divide by zero: leave it unscaled.
            ((q / count - m * m).max(0.0).sqrt() as f32).max(1e-3)
        })
        .collect();
    Normalization::new(mean, std)
}
