//! Dataset names, directory search and loading IDX datasets from disk.

mod common;

use std::path::Path;

use common::{TempDir, gz, idx_images, idx_labels};
use shears_data::{
    DataError, DatasetId, MINI_SEED, MINI_TRAIN_PER_CLASS, SYSTEM_FASHION_MNIST_DIR, load,
    load_fashion_mnist_mini, search_dirs, stratified_subset_indices,
};

#[test]
fn names_parse_and_print() {
    for id in DatasetId::ALL {
        assert_eq!(id.name().parse::<DatasetId>().unwrap(), id);
        assert_eq!(id.to_string(), id.name());
    }
    let names: Vec<_> = DatasetId::ALL.iter().map(|d| d.name()).collect();
    assert_eq!(
        names,
        [
            "fashion-mnist-mini",
            "fashion-mnist",
            "mnist",
            "cifar10",
            "cifar100",
            "kjv-mini",
            "text",
            "folder"
        ]
    );
    assert_eq!("CIFAR-10".parse::<DatasetId>().unwrap(), DatasetId::Cifar10);
    assert_eq!(
        "fashion_mnist".parse::<DatasetId>().unwrap(),
        DatasetId::FashionMnist
    );
    let e = "imagenet".parse::<DatasetId>().unwrap_err();
    assert!(e.to_string().contains("fashion-mnist-mini"), "{e}");
    assert_eq!(DatasetId::default(), DatasetId::FashionMnistMini);
}

#[test]
fn serde_uses_kebab_case_names() {
    for id in DatasetId::ALL {
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.name()));
        assert_eq!(serde_json::from_str::<DatasetId>(&json).unwrap(), id);
    }
}

#[test]
fn per_dataset_constants() {
    assert_eq!(DatasetId::Cifar100.num_classes(), 100);
    assert_eq!(DatasetId::Cifar10.sample_shape(), [3, 32, 32]);
    assert_eq!(DatasetId::Mnist.normalization().mean, [0.1307]);
    assert_eq!(DatasetId::FashionMnistMini.normalization().std, [0.3530]);
    assert_eq!(
        DatasetId::Cifar100.normalization().std,
        [0.2675, 0.2565, 0.2761]
    );
    assert!(DatasetId::Cifar10.default_augment().is_some());
    assert!(DatasetId::FashionMnist.default_augment().is_none());
}

#[test]
fn search_order() {
    let d = search_dirs(DatasetId::FashionMnist, None);
    assert_eq!(d.last().unwrap(), Path::new(SYSTEM_FASHION_MNIST_DIR));
    assert!(d.contains(&Path::new("./datasets/fashion-mnist").to_path_buf()));
    let given = search_dirs(DatasetId::Mnist, Some(Path::new("/data")));
    assert_eq!(given, [Path::new("/data"), Path::new("/data/mnist")]);
    let cifar = search_dirs(DatasetId::Cifar10, Some(Path::new("/d")));
    assert_eq!(cifar[1], Path::new("/d/cifar-10-batches-bin"));
    assert!(search_dirs(DatasetId::FashionMnistMini, None).is_empty());
}

/// Writes a tiny MNIST-style set: train 3 images (2 gzip files), test 2 (raw files).
fn write_tiny_mnist(dir: &TempDir, sub: &str, test_w: u32) {
    let px: Vec<u8> = (0..12).collect();
    dir.file(
        &format!("{sub}train-images-idx3-ubyte.gz"),
        &gz(&idx_images(3, 2, 2, &px)),
    );
    dir.file(
        &format!("{sub}train-labels-idx1-ubyte.gz"),
        &gz(&idx_labels(&[0, 5, 9])),
    );
    dir.file(
        &format!("{sub}t10k-images-idx3-ubyte"),
        &idx_images(2, 2, test_w, &px[..4 * test_w as usize]),
    );
    dir.file(
        &format!("{sub}t10k-labels.idx1-ubyte"),
        &idx_labels(&[1, 2]),
    );
}

#[test]
fn loads_idx_directory_with_mixed_spellings() {
    let dir = TempDir::new("load-mnist");
    write_tiny_mnist(&dir, "", 2);
    let s = load(DatasetId::Mnist, Some(dir.path())).unwrap();
    assert_eq!(s.train.labels, [0, 5, 9]);
    assert_eq!(s.test.labels, [1, 2]);
    assert_eq!(s.train.sample_shape(), [1, 2, 2]);
    assert_eq!(s.test.images, (0..8).collect::<Vec<u8>>());

    // A parent directory with a `mnist/` folder works too.
    let parent = TempDir::new("load-mnist-parent");
    write_tiny_mnist(&parent, "mnist/", 2);
    assert_eq!(load(DatasetId::Mnist, Some(parent.path())).unwrap(), s);
}

#[test]
fn train_test_shape_mismatch() {
    let dir = TempDir::new("load-shape");
    write_tiny_mnist(&dir, "", 3);
    let e = load(DatasetId::Mnist, Some(dir.path())).unwrap_err();
    assert!(matches!(e, DataError::Inconsistent { .. }), "{e:?}");
}

#[test]
fn partial_directory_names_the_missing_file() {
    let dir = TempDir::new("load-partial");
    dir.file(
        "train-images-idx3-ubyte.gz",
        &gz(&idx_images(1, 1, 1, &[0])),
    );
    dir.file("train-labels-idx1-ubyte.gz", &gz(&idx_labels(&[0])));
    let e = load(DatasetId::FashionMnist, Some(dir.path())).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e:?}");
    assert!(e.to_string().contains("t10k-images-idx3-ubyte"), "{e}");
}

#[test]
fn absent_dataset_says_where_and_how() {
    let dir = TempDir::new("load-none");
    let e = load(DatasetId::FashionMnist, Some(dir.path())).unwrap_err();
    let DataError::DatasetNotFound { searched, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(searched[0], dir.path());
    let msg = e.to_string();
    assert!(
        msg.contains("apt-get install dataset-fashion-mnist"),
        "{msg}"
    );
    assert!(
        msg.contains(&dir.path().join("fashion-mnist").display().to_string()),
        "{msg}"
    );
    let e = load(DatasetId::Mnist, Some(dir.path())).unwrap_err();
    assert!(matches!(e, DataError::DatasetNotFound { .. }), "{e:?}");
}

#[test]
fn embedded_ignores_data_dir() {
    let a = load(DatasetId::FashionMnistMini, Some(Path::new("/nonexistent"))).unwrap();
    assert_eq!(a.train.len(), 10_000);
}

/// Full Fashion-MNIST from the Debian package, when installed (skipped otherwise): checks
/// the real files parse, and that the embedded subset is exactly what the documented
/// selection rule picks from them.
#[test]
fn system_fashion_mnist_and_mini_provenance() {
    if !Path::new(SYSTEM_FASHION_MNIST_DIR).is_dir() {
        eprintln!("skipped: {SYSTEM_FASHION_MNIST_DIR} absent");
        return;
    }
    let full = load(
        DatasetId::FashionMnist,
        Some(Path::new(SYSTEM_FASHION_MNIST_DIR)),
    )
    .unwrap();
    assert_eq!((full.train.len(), full.test.len()), (60_000, 10_000));
    assert_eq!(full.train.sample_shape(), [1, 28, 28]);
    assert_eq!(full.train.class_counts(), vec![6000; 10]);

    let mini = load_fashion_mnist_mini().unwrap();
    let picked =
        stratified_subset_indices(&full.train.labels, 10, MINI_TRAIN_PER_CLASS, MINI_SEED).unwrap();
    assert_eq!(full.train.subset(&picked).unwrap(), mini.train);
    assert_eq!(full.test, mini.test);
}
