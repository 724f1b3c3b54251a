//! Damaged checkpoints never panic the loader: random and mutated bytes (headers, metadata,
//! tensor offsets, truncation) are loaded or rejected with an error naming the file.
//!
//! Cases per property: `SHEARS_FUZZ_CASES` (default 200; the issue note records longer runs).

use proptest::prelude::*;
use shears_nn::Device;
use shears_nn::checkpoint::{CheckpointMeta, FORMAT_VERSION, load_bytes, to_bytes};
use shears_nn::models::{ModelKind, ModelSpec};
use std::path::Path;
use std::sync::OnceLock;

fn cases() -> u32 {
    std::env::var("SHEARS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn spec(kind: ModelKind) -> ModelSpec {
    let input = match kind {
        ModelKind::LeNet300 | ModelKind::LeNet5 => [1, 28, 28],
        _ => [3, 32, 32],
    };
    ModelSpec {
        kind,
        input,
        classes: 10,
        shape: None,
    }
}

/// Valid checkpoints of two small models (dense weights, as `shears train` writes them).
fn valid() -> &'static [(ModelSpec, Vec<u8>)] {
    static FILES: OnceLock<Vec<(ModelSpec, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        [ModelKind::LeNet5, ModelKind::LeNet300]
            .into_iter()
            .map(|kind| {
                let spec = spec(kind);
                let model = spec.init(&Device::flex());
                let meta = CheckpointMeta {
                    format_version: FORMAT_VERSION,
                    model: spec,
                    dataset: "fashion-mnist-mini".into(),
                    seed: 0,
                    epoch: 1,
                    test: None,
                    sparsity: 0.0,
                    vocab: None,
                    widths: None,
                };
                (spec, to_bytes(&model, &meta).unwrap())
            })
            .collect()
    })
}

/// Loads `bytes` as a checkpoint; an error must name the file.
fn feed(bytes: Vec<u8>, expected: Option<&ModelSpec>) {
    let path = Path::new("fuzz.ckpt");
    let device = Device::flex();
    if let Err(e) = load_bytes(path, bytes, expected, |m| {
        // A mutated header may claim any architecture; keep the skeleton small so a case
        // stays cheap (the claim is then rejected as a weight mismatch, as it should be).
        let kind = match m.model.kind {
            ModelKind::LeNet300 | ModelKind::LeNet5 => m.model.kind,
            _ => ModelKind::LeNet5,
        };
        Ok(spec(kind).init(&device))
    }) {
        assert!(e.to_string().contains("fuzz.ckpt"), "{e}");
    }
}

/// Offset of the first tensor byte (after the 8-byte length and the JSON header).
fn data_start(bytes: &[u8]) -> usize {
    8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        feed(bytes, None);
    }

    #[test]
    fn mutated_headers(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        expect in any::<bool>(),
    ) {
        let (spec, v) = &valid()[which];
        let mut v = v.clone();
        let header = data_start(&v);
        for (pos, b) in edits {
            v[pos % header] = b;
        }
        feed(v, expect.then_some(spec));
    }

    #[test]
    fn truncated_or_extended(which in 0usize..2, cut in any::<usize>(), extra in 0usize..64) {
        let (_, v) = &valid()[which];
        let mut v = v.clone();
        v.truncate(cut % (v.len() + 1));
        v.extend(std::iter::repeat_n(0xAB, extra));
        feed(v, None);
    }

    #[test]
    fn mutated_weights(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
    ) {
        let (spec, v) = &valid()[which];
        let mut v = v.clone();
        let start = data_start(&v);
        let n = v.len() - start;
        for (pos, b) in edits {
            v[start + pos % n] = b;
        }
        // Weight bytes are not checked here (checksums guard them in the store): any value
        // loads, including NaN; what matters is that nothing panics.
        feed(v, Some(spec));
    }

    #[test]
    fn header_text_edits(
        which in 0usize..2,
        find in prop::sample::select(vec!["lenet", "\"F32\"", "shape", "[", ",", "data_offsets", "format_version", "classes", "input"]),
        replace in prop::sample::select(vec!["", "resnet", "\"F64\"", "shap", "[9999999999,", "-1", "1e400", "null", "]]"]),
    ) {
        let (spec, v) = &valid()[which];
        let start = data_start(v);
        let header = String::from_utf8_lossy(&v[8..start]).replacen(find, replace, 1);
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&v[start..]);
        feed(out, Some(spec));
    }
}

#[test]
fn the_valid_checkpoints_load() {
    for (spec, v) in valid() {
        load_bytes(Path::new("ok.ckpt"), v.clone(), Some(spec), |m| {
            Ok(m.model.init(&Device::flex()))
        })
        .unwrap();
    }
}
