//! Builds the embedded `fashion-mnist-mini` set from the full Fashion-MNIST.
//!
//! ```text
//! CARGO_TARGET_DIR=/tmp/target-data cargo run -p shears-data --example make_mini -- \
//!     /usr/share/datasets/fashion-mnist data/fashion-mnist-mini
//! ```
//!
//! Training subset: `stratified_subset_indices(labels, 10, MINI_TRAIN_PER_CLASS, MINI_SEED)`
//! (1,000 per class, ChaCha8 seeded, kept in original order), written as best-level gzip
//! with a zero timestamp so reruns are byte-identical. Test set: the official t10k files,
//! copied byte for byte when they are gzip (so their checksums match upstream), otherwise
//! encoded like the training files. Every output is re-read through the validating parser.
//!
//! The library embeds the output files, so they must exist for this example to compile;
//! to regenerate from nothing, `touch` the four file names first.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use shears_data::{
    DataError, MINI_SEED, MINI_TRAIN_PER_CLASS, idx, load_idx_dir, stratified_subset_indices,
};

fn write(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    std::fs::write(path, bytes).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    println!("wrote {} ({} bytes)", path.display(), bytes.len());
    Ok(())
}

fn run(src: &Path, out: &Path) -> Result<(), DataError> {
    let full = load_idx_dir(src, 10)?;
    println!(
        "source: {} train, {} test images",
        full.train.len(),
        full.test.len()
    );
    let picked =
        stratified_subset_indices(&full.train.labels, 10, MINI_TRAIN_PER_CLASS, MINI_SEED)?;
    let train = full.train.subset(&picked)?;
    std::fs::create_dir_all(out).map_err(|source| DataError::Io {
        path: out.to_path_buf(),
        source,
    })?;

    let (h, w) = (train.height, train.width);
    write(
        &out.join("train-images-idx3-ubyte.gz"),
        &idx::gzip(&idx::encode_images(train.len(), h, w, &train.images)?),
    )?;
    write(
        &out.join("train-labels-idx1-ubyte.gz"),
        &idx::gzip(&idx::encode_labels(&train.labels)?),
    )?;

    for (base, encode) in [
        (
            "t10k-images-idx3-ubyte",
            idx::encode_images(full.test.len(), h, w, &full.test.images)?,
        ),
        (
            "t10k-labels-idx1-ubyte",
            idx::encode_labels(&full.test.labels)?,
        ),
    ] {
        let official: PathBuf = src.join(format!("{base}.gz"));
        let bytes = match std::fs::read(&official) {
            Ok(b) if b.starts_with(&[0x1f, 0x8b]) => b,
            _ => idx::gzip(&encode),
        };
        write(&out.join(format!("{base}.gz")), &bytes)?;
    }

    // Read back through the same path the embedded copy takes.
    let check = load_idx_dir(out, 10)?;
    if check.train != train || check.test != full.test {
        return Err(DataError::Inconsistent {
            detail: "written files do not read back identically".into(),
        });
    }
    println!(
        "ok: {} train ({:?} per class), {} test; record checksums with `sha256sum {}/*.gz`",
        check.train.len(),
        check.train.class_counts(),
        check.test.len(),
        out.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, out] = args.as_slice() else {
        eprintln!("usage: make_mini <fashion-mnist dir> <output dir>");
        return ExitCode::from(2);
    };
    match run(Path::new(src), Path::new(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
