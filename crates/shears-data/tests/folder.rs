//! Image folders: both layouts, channels, the seeded split, statistics, and clear errors for
//! what a user's folder can get wrong.

use image::{GrayImage, Luma, Rgb, RgbImage};
use shears_data::{DataError, FolderOptions, load_folder};
use std::path::{Path, PathBuf};

fn fresh(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shears-folder-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Class `k`'s images are one flat colour, `30 + 50k` in every channel (grey: the same).
fn value(k: usize) -> u8 {
    (30 + 50 * k) as u8
}

fn write_rgb(dir: &Path, class: usize, n: usize, ext: &str) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        // Sizes vary; every one is resized and centre-cropped to the same square.
        let img = RgbImage::from_pixel(20 + 7 * i as u32, 24, Rgb([value(class); 3]));
        img.save(dir.join(format!("img{i}.{ext}"))).unwrap();
    }
}

fn write_grey(dir: &Path, class: usize, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let img = GrayImage::from_pixel(28, 28, Luma([value(class)]));
        img.save(dir.join(format!("g{i}.png"))).unwrap();
    }
}

fn options(size: usize) -> FolderOptions {
    FolderOptions {
        size,
        skip_corrupt: false,
    }
}

#[test]
fn a_flat_folder_is_split_per_class_and_read_as_colour_squares() {
    let d = fresh("flat");
    for (k, name) in ["cat", "dog", "eel"].iter().enumerate() {
        write_rgb(&d.join(name), k, 5, if k == 1 { "jpg" } else { "png" });
    }
    std::fs::write(d.join("cat").join("notes.txt"), "not an image, ignored").unwrap();
    let f = load_folder(&d, &options(16)).unwrap();
    assert_eq!(f.classes, ["cat", "dog", "eel"]);
    let (train, test) = (&f.splits.train, &f.splits.test);
    // One of five per class to the test split (20%), the rest to training.
    assert_eq!((train.len(), test.len()), (12, 3));
    assert_eq!(train.sample_shape(), [3, 16, 16]);
    assert_eq!(test.num_classes, 3);
    for ds in [train, test] {
        for (i, &label) in ds.labels.iter().enumerate() {
            let img = &ds.images[i * 3 * 256..(i + 1) * 3 * 256];
            let expected = value(label as usize) as i32;
            // PNG is exact; the dog JPEGs are within JPEG's rounding of the flat colour.
            assert!(
                img.iter().all(|&p| (p as i32 - expected).abs() <= 3),
                "image {i} of class {label}"
            );
        }
    }
    let n = f.splits.normalization.clone().unwrap();
    assert_eq!(n.mean.len(), 3);
    let mean = (0..3).map(|k| value(k) as f32 / 255.0).sum::<f32>() / 3.0;
    assert!((n.mean[0] - mean).abs() < 0.02, "{n:?}");
    assert!(n.std.iter().all(|s| s.is_finite() && *s > 0.0), "{n:?}");
    // The split is seeded, not random: a second read is the same data.
    assert_eq!(load_folder(&d, &options(16)).unwrap().splits, f.splits);
}

#[test]
fn train_and_test_folders_are_taken_as_given_and_grey_stays_grey() {
    let d = fresh("given");
    for k in 0..2 {
        write_grey(&d.join("train").join(format!("c{k}")), k, 3);
        write_grey(&d.join("test").join(format!("c{k}")), k, 2);
    }
    let f = load_folder(&d, &options(28)).unwrap();
    assert_eq!((f.splits.train.len(), f.splits.test.len()), (6, 4));
    assert_eq!(f.splits.train.sample_shape(), [1, 28, 28]);
    assert_eq!(f.splits.test.labels, [0, 0, 1, 1]);

    // ImageNet's `val/` serves as the test split when there is no `test/`.
    let imagenet = fresh("imagenet");
    for k in 0..2 {
        write_grey(&imagenet.join("train").join(format!("n0{k}")), k, 2);
        write_grey(&imagenet.join("val").join(format!("n0{k}")), k, 1);
    }
    let f = load_folder(&imagenet, &options(8)).unwrap();
    assert_eq!((f.splits.train.len(), f.splits.test.len()), (4, 2));

    // A test class training never saw is named.
    write_grey(&d.join("test").join("c9"), 1, 1);
    let e = load_folder(&d, &options(28)).unwrap_err().to_string();
    assert!(e.contains("class 'c9'"), "{e}");
}

#[test]
fn a_corrupt_image_is_named_or_skipped_and_counted() {
    let d = fresh("corrupt");
    write_rgb(&d.join("a"), 0, 5, "png");
    write_rgb(&d.join("b"), 1, 5, "png");
    let bad = d.join("b").join("zz-broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n this is not the rest of a PNG").unwrap();
    let e = load_folder(&d, &options(8)).unwrap_err();
    assert!(matches!(e, DataError::BadImage { .. }), "{e:?}");
    assert!(e.to_string().contains("zz-broken.png"), "{e}");
    let skipping = FolderOptions {
        skip_corrupt: true,
        ..options(8)
    };
    let f = load_folder(&d, &skipping).unwrap();
    assert_eq!(f.splits.skipped, [bad]);
    assert_eq!(f.splits.train.len() + f.splits.test.len(), 10);
}

#[test]
fn folders_without_images_are_clear_errors() {
    let empty = fresh("empty");
    let e = load_folder(&empty, &options(8)).unwrap_err().to_string();
    assert!(e.contains("no class folders"), "{e}");

    let d = fresh("hollow");
    write_rgb(&d.join("a"), 0, 3, "png");
    std::fs::create_dir_all(d.join("b")).unwrap();
    let e = load_folder(&d, &options(8)).unwrap_err().to_string();
    assert!(e.contains("class folder without PNG/JPEG images"), "{e}");
    assert!(e.contains(&d.join("b").display().to_string()), "{e}");

    // One image per class leaves the test split empty (20% of 1 rounds to 0).
    let single = fresh("single");
    write_rgb(&single.join("a"), 0, 1, "png");
    let e = load_folder(&single, &options(8)).unwrap_err().to_string();
    assert!(e.contains("both splits need at least one"), "{e}");

    let e = load_folder(&d, &options(0)).unwrap_err().to_string();
    assert!(e.contains("image size 0"), "{e}");
    let missing = load_folder(&d.join("nowhere"), &options(8)).unwrap_err();
    assert!(matches!(missing, DataError::Io { .. }), "{missing:?}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Damaged files (a real PNG cut short and with bytes changed, or noise) are an error
    /// naming the file, or decode; never a panic, never an allocation their header asks for.
    #[test]
    fn damaged_images_never_panic(
        cut in 0usize..400,
        flips in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 0..8),
        noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        jpeg in proptest::prelude::any::<bool>(),
    ) {
        let d = fresh(&format!("fuzz-{cut}-{}-{}", flips.len(), noise.len()));
        write_rgb(&d.join("a"), 0, 5, "png");
        write_rgb(&d.join("b"), 1, 5, "png");
        let mut bytes = std::fs::read(d.join("a").join("img0.png")).unwrap();
        bytes.truncate(cut.min(bytes.len()));
        for (at, b) in flips {
            if let Some(x) = bytes.get_mut(at) {
                *x = b;
            }
        }
        bytes.extend(noise);
        let name = if jpeg { "x.jpg" } else { "x.png" };
        std::fs::write(d.join("b").join(name), &bytes).unwrap();
        match load_folder(&d, &options(8)) {
            Ok(f) => proptest::prop_assert_eq!(f.splits.train.len() + f.splits.test.len(), 11),
            Err(e) => proptest::prop_assert!(e.to_string().contains(name), "{}", e),
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn a_folder_too_big_for_memory_is_refused_before_decoding() {
    let d = fresh("huge");
    let class = d.join("a");
    write_rgb(&class, 0, 1, "png");
    let png = std::fs::read(class.join("img0.png")).unwrap();
    // 2,800 images of 1024×1024 would take 8.2 GiB as colour squares.
    for i in 1..2800 {
        std::fs::write(class.join(format!("c{i}.png")), &png).unwrap();
    }
    write_rgb(&d.join("b"), 1, 1, "png");
    let e = load_folder(&d, &options(1024)).unwrap_err();
    assert!(matches!(e, DataError::TooLarge { .. }), "{e:?}");
    assert!(e.to_string().contains("smaller image size"), "{e}");
    // At a size that fits, the same folder reads.
    assert_eq!(
        load_folder(&d, &options(4)).unwrap().splits.train.len(),
        2241
    );
    let _ = std::fs::remove_dir_all(&d);
}
