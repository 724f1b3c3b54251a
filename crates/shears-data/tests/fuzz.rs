//! Random and mutated input never panics the parsers: it is parsed or rejected.

mod common;

use std::path::Path;

use common::{cifar10_bytes, cifar100_bytes, gz, idx_images, idx_labels};
use proptest::prelude::*;
use shears_data::cifar::{CifarKind, parse_cifar};
use shears_data::idx::{parse_images, parse_labels};

/// Cases per property: `SHEARS_FUZZ_CASES` (default 512).
fn cases() -> u32 {
    std::env::var("SHEARS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

fn feed(bytes: &[u8]) {
    let p = Path::new("fuzz");
    let _ = parse_images(p, bytes);
    let _ = parse_labels(p, bytes, 10);
    let _ = parse_labels(p, bytes, 0);
    let _ = parse_cifar(p, bytes, CifarKind::Cifar10);
    let _ = parse_cifar(p, bytes, CifarKind::Cifar100);
}

/// Applies `(position, byte)` overwrites and an optional cut to a valid file.
fn mutate(mut v: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    if v.is_empty() {
        return v;
    }
    for &(pos, b) in edits {
        let n = v.len();
        v[pos % n] = b;
    }
    if let Some(c) = cut {
        v.truncate(c % (v.len() + 1));
    }
    v
}

fn valid_files() -> Vec<Vec<u8>> {
    let px: Vec<u8> = (0..48).collect();
    let img = idx_images(3, 4, 4, &px);
    let lab = idx_labels(&[1, 2, 3]);
    vec![
        gz(&img),
        gz(&lab),
        img,
        lab,
        cifar10_bytes(&[1, 2]),
        cifar100_bytes(&[(1, 2)]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        feed(&bytes);
    }

    #[test]
    fn random_bytes_behind_real_magics(
        prefix in 0usize..4,
        tail in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let magics: [&[u8]; 4] = [&[0x1f, 0x8b], &[0, 0, 8, 3], &[0, 0, 8, 1], &[0x1f, 0x8b, 8, 0]];
        let mut v = magics[prefix].to_vec();
        v.extend_from_slice(&tail);
        feed(&v);
    }

    #[test]
    fn mutated_valid_files(
        which in 0usize..6,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let v = mutate(valid_files().swap_remove(which), &edits, cut);
        feed(&v);
    }

    #[test]
    fn mutated_content_inside_gzip(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in proptest::option::of(any::<usize>()),
    ) {
        // Corrupt the IDX content, then compress: exercises header checks behind gzip.
        let raw = valid_files().swap_remove(2 + which);
        feed(&gz(&mutate(raw, &edits, cut)));
    }
}
