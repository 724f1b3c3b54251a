//! Helpers shared by the integration tests: temp dirs and hand-built files.
//!
//! The IDX/CIFAR builders here are written from the format description, independently of
//! the library's encoder, so a bug in one cannot hide a bug in the other.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use shears_data::Dataset;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "shears-data-test-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to `name` (sub-directories created) and returns the full path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Raw IDX image file with an arbitrary header (the header may lie about `pixels`).
pub fn idx_images(n: u32, h: u32, w: u32, pixels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for d in [n, h, w] {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(pixels);
    v
}

/// Raw IDX label file whose header states `labels.len()`.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    idx_labels_n(labels.len() as u32, labels)
}

/// Raw IDX label file with an arbitrary count in the header.
pub fn idx_labels_n(n: u32, labels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&n.to_be_bytes());
    v.extend_from_slice(labels);
    v
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// CIFAR-10 records: label byte then 3072 pixels; pixel `j` of record `i` is `(i*7 + j) % 251`.
pub fn cifar10_bytes(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        v.push(l);
        v.extend((0..3072).map(|j| ((i * 7 + j) % 251) as u8));
    }
    v
}

/// CIFAR-100 records: coarse, fine, then pixels as in [`cifar10_bytes`].
pub fn cifar100_bytes(labels: &[(u8, u8)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, &(c, f)) in labels.iter().enumerate() {
        v.push(c);
        v.push(f);
        v.extend((0..3072).map(|j| ((i * 7 + j) % 251) as u8));
    }
    v
}

/// 1×1×2 images whose two bytes spell the item index (big-endian), so any subset can be
/// traced back to its source items.
pub fn indexed_dataset(labels: &[u16], num_classes: usize) -> Dataset {
    let images = (0..labels.len())
        .flat_map(|i| (i as u16).to_be_bytes())
        .collect();
    Dataset::new(images, labels.to_vec(), 1, 1, 2, num_classes).unwrap()
}

/// Original item indices of an [`indexed_dataset`] subset.
pub fn item_ids(d: &Dataset) -> Vec<usize> {
    d.images
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]) as usize)
        .collect()
}
