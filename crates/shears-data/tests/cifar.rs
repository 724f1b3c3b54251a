//! CIFAR binary readers on hand-made files.

mod common;

use common::{TempDir, cifar10_bytes, cifar100_bytes};
use shears_data::cifar::{CifarKind, load_cifar_dir, parse_cifar, read_cifar};
use shears_data::{DataError, DatasetId, load};
use std::path::Path;

#[test]
fn cifar10_parses_labels_and_chw_pixels() {
    let dir = TempDir::new("cifar10-ok");
    let p = dir.file("data_batch_1.bin", &cifar10_bytes(&[3, 9]));
    let d = read_cifar(&p, CifarKind::Cifar10).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d.sample_shape(), [3, 32, 32]);
    assert_eq!(d.num_classes, 10);
    assert_eq!(d.labels, [3, 9]);
    // Record 1, byte j of its 3072 pixels = (7 + j) % 251: red plane first, then green, blue.
    let img = d.image(1).unwrap();
    assert_eq!(img[0], 7);
    assert_eq!(img[1024], ((7 + 1024) % 251) as u8); // first green pixel
    assert_eq!(img[3071], ((7 + 3071) % 251) as u8);
}

#[test]
fn cifar100_uses_fine_labels() {
    let bytes = cifar100_bytes(&[(5, 42), (19, 99)]);
    let d = parse_cifar(Path::new("train.bin"), &bytes, CifarKind::Cifar100).unwrap();
    assert_eq!(d.labels, [42, 99]);
    assert_eq!(d.num_classes, 100);
    assert_eq!(d.image(0).unwrap()[0], 0);
}

#[test]
fn record_size_must_divide_length() {
    let dir = TempDir::new("cifar-size");
    let mut b = cifar10_bytes(&[1, 2]);
    b.pop();
    let p = dir.file("data_batch_2.bin", &b);
    let e = read_cifar(&p, CifarKind::Cifar10).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::RecordSize {
                record: 3073,
                len: 6145,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("data_batch_2.bin"), "{e}");
    // A CIFAR-10 file read as CIFAR-100 fails the 3074-byte record check.
    let p = dir.file("ten-as-hundred.bin", &cifar10_bytes(&[1, 2]));
    let e = read_cifar(&p, CifarKind::Cifar100).unwrap_err();
    assert!(
        matches!(e, DataError::RecordSize { record: 3074, .. }),
        "{e:?}"
    );
}

#[test]
fn empty_file() {
    let e = parse_cifar(Path::new("test_batch.bin"), &[], CifarKind::Cifar10).unwrap_err();
    assert!(matches!(e, DataError::Truncated { .. }), "{e:?}");
    assert!(e.to_string().contains("test_batch.bin"));
}

#[test]
fn label_range() {
    let p = Path::new("bad.bin");
    let e = parse_cifar(p, &cifar10_bytes(&[0, 10]), CifarKind::Cifar10).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                index: 1,
                label: 10,
                num_classes: 10,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("bad.bin"));
    let e = parse_cifar(p, &cifar100_bytes(&[(1, 100)]), CifarKind::Cifar100).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                label: 100,
                num_classes: 100,
                ..
            }
        ),
        "{e:?}"
    );
    let e = parse_cifar(p, &cifar100_bytes(&[(20, 1)]), CifarKind::Cifar100).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                label: 20,
                num_classes: 20,
                ..
            }
        ),
        "{e:?}"
    );
}

fn write_cifar10(dir: &TempDir, sub: &str, skip: Option<&str>) {
    for (k, f) in CifarKind::Cifar10.train_files().iter().enumerate() {
        if Some(*f) != skip {
            dir.file(
                &format!("{sub}{f}"),
                &cifar10_bytes(&[k as u8, 9 - k as u8]),
            );
        }
    }
    dir.file(&format!("{sub}test_batch.bin"), &cifar10_bytes(&[7]));
}

#[test]
fn directory_concatenates_batches_in_order() {
    let dir = TempDir::new("cifar-dir");
    write_cifar10(&dir, "", None);
    let s = load_cifar_dir(dir.path(), CifarKind::Cifar10).unwrap();
    assert_eq!(s.train.labels, [0, 9, 1, 8, 2, 7, 3, 6, 4, 5]);
    assert_eq!(s.test.labels, [7]);
    assert_eq!(s.train.images.len(), 10 * 3072);
}

#[test]
fn missing_batch_is_named() {
    let dir = TempDir::new("cifar-missing");
    write_cifar10(&dir, "", Some("data_batch_3.bin"));
    let e = load(DatasetId::Cifar10, Some(dir.path())).unwrap_err();
    assert!(matches!(e, DataError::MissingFile { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("data_batch_3.bin") && msg.contains("cifar-10-binary.tar.gz"),
        "{msg}"
    );
}

#[test]
fn load_finds_the_extracted_tarball_folder() {
    let dir = TempDir::new("cifar-load");
    write_cifar10(&dir, "cifar10/cifar-10-batches-bin/", None);
    let s = load(DatasetId::Cifar10, Some(dir.path())).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (10, 1));

    let dir100 = TempDir::new("cifar100-load");
    dir100.file(
        "cifar-100-binary/train.bin",
        &cifar100_bytes(&[(0, 1), (2, 3)]),
    );
    dir100.file("cifar-100-binary/test.bin", &cifar100_bytes(&[(4, 55)]));
    let s = load(DatasetId::Cifar100, Some(dir100.path())).unwrap();
    assert_eq!(s.train.labels, [1, 3]);
    assert_eq!(s.test.labels, [55]);
}

#[test]
fn absent_dataset_names_directories_and_download() {
    let dir = TempDir::new("cifar-none");
    for (id, url) in [
        (
            DatasetId::Cifar10,
            "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        ),
        (
            DatasetId::Cifar100,
            "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        ),
    ] {
        let e = load(id, Some(dir.path())).unwrap_err();
        assert!(matches!(e, DataError::DatasetNotFound { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(url), "{msg}");
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    }
}
