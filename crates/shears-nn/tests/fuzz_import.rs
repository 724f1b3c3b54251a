//! Untrusted weight files never panic the importer: mutated and truncated safetensors files
//! and PyTorch pickles (`.pt`, the committed LeNet-5 fixture) are imported or refused with an
//! error naming the file; a file with a NaN weight is refused naming the tensor.
//!
//! Cases per property: `SHEARS_FUZZ_CASES` (default 200).

use proptest::prelude::*;
use shears_nn::Device;
use shears_nn::interop::{import_weights, to_safetensors};
use shears_nn::models::{ModelKind, ModelSpec, Network};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

fn cases() -> u32 {
    std::env::var("SHEARS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn lenet5() -> Network {
    ModelSpec {
        kind: ModelKind::LeNet5,
        input: [1, 28, 28],
        classes: 10,
        shape: None,
    }
    .init(&Device::flex())
}

/// The two valid files: LeNet-5 as safetensors (written by shears) and as PyTorch's pickle.
fn valid() -> &'static [(&'static str, Vec<u8>)] {
    static FILES: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let pt = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch/lenet5.pt");
        vec![
            ("safetensors", to_safetensors(&lenet5(), &[]).unwrap()),
            ("pt", std::fs::read(pt).unwrap()),
        ]
    })
}

/// A fresh file name per case (the cases of one property run in one process).
fn scratch(ext: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("shears-fuzz-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("case-{}.{ext}", N.fetch_add(1, Ordering::SeqCst)))
}

/// Imports `bytes` as a file of format `ext`; a refusal must name the file.
fn feed(ext: &str, bytes: &[u8]) {
    let path = scratch(ext);
    std::fs::write(&path, bytes).unwrap();
    if let Err(e) = import_weights(lenet5(), &path) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(e.to_string().contains(&name), "{e}");
    }
    let _ = std::fs::remove_file(&path);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_bytes(pt in any::<bool>(), bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        feed(if pt { "pt" } else { "safetensors" }, &bytes);
    }

    #[test]
    fn mutated_bytes(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12),
        head in any::<bool>(),
    ) {
        let (ext, v) = &valid()[which];
        let mut v = v.clone();
        // Half the cases edit the first 2 KB, where the headers and the pickle's opcodes are.
        let span = if head { v.len().min(2048) } else { v.len() };
        for (pos, b) in edits {
            v[pos % span] = b;
        }
        feed(ext, &v);
    }

    #[test]
    fn truncated_or_extended(which in 0usize..2, cut in any::<usize>(), extra in 0usize..64) {
        let (ext, v) = &valid()[which];
        let mut v = v.clone();
        v.truncate(cut % (v.len() + 1));
        v.extend(std::iter::repeat_n(0x5A, extra));
        feed(ext, &v);
    }
}

#[test]
fn a_nan_weight_is_refused_by_name() {
    let (_, v) = &valid()[0];
    let header = 8 + u64::from_le_bytes(v[..8].try_into().unwrap()) as usize;
    let text = String::from_utf8_lossy(&v[8..header]).into_owned();
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    let [start, _] = [0, 1].map(|i| meta["fc2.weight"]["data_offsets"][i].as_u64().unwrap());
    let mut v = v.clone();
    let at = header + start as usize + 4 * 3;
    v[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let path = scratch("safetensors");
    std::fs::write(&path, &v).unwrap();
    let e = import_weights(lenet5(), Path::new(&path))
        .unwrap_err()
        .to_string();
    assert!(e.contains("fc2.weight") && e.contains("NaN"), "{e}");
}
