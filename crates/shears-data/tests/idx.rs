//! IDX reader: exact parsing of hand-made files and one test per corruption kind.

mod common;

use common::{TempDir, gz, idx_images, idx_labels, idx_labels_n};
use shears_data::{DataError, idx};

const PIXELS: [u8; 12] = [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255];

fn name_in(err: &DataError, name: &str) {
    let msg = err.to_string();
    assert!(msg.contains(name), "message {msg:?} lacks file name {name}");
}

#[test]
fn raw_and_gzip_parse_to_exact_pixels_and_labels() {
    let dir = TempDir::new("idx-ok");
    for (suffix, wrap) in [("", false), (".gz", true)] {
        let enc = |b: Vec<u8>| if wrap { gz(&b) } else { b };
        let ip = dir.file(&format!("img{suffix}"), &enc(idx_images(2, 2, 3, &PIXELS)));
        let lp = dir.file(&format!("lab{suffix}"), &enc(idx_labels(&[3, 9])));
        let img = idx::read_images(&ip).unwrap();
        assert_eq!((img.count, img.height, img.width), (2, 2, 3));
        assert_eq!(img.pixels, PIXELS);
        assert_eq!(idx::read_labels(&lp, 10).unwrap(), [3, 9]);
        let ds = idx::read_dataset(&ip, &lp, 10).unwrap();
        assert_eq!(ds.sample_shape(), [1, 2, 3]);
        assert_eq!(ds.images, PIXELS);
        assert_eq!(ds.labels, [3, 9]);
        assert_eq!(ds.image(1).unwrap(), &PIXELS[6..]);
    }
}

#[test]
fn detection_is_by_magic_not_file_name() {
    let dir = TempDir::new("idx-name");
    let p = dir.file("looks-raw.idx", &gz(&idx_images(2, 2, 3, &PIXELS)));
    assert_eq!(idx::read_images(&p).unwrap().pixels, PIXELS);
    let p = dir.file("looks-gz.gz", &idx_images(2, 2, 3, &PIXELS));
    assert_eq!(idx::read_images(&p).unwrap().pixels, PIXELS);
}

#[test]
fn zero_images_is_a_valid_empty_file() {
    let dir = TempDir::new("idx-zero");
    let p = dir.file("none", &idx_images(0, 28, 28, &[]));
    let img = idx::read_images(&p).unwrap();
    assert_eq!((img.count, img.pixels.len()), (0, 0));
}

#[test]
fn truncated_pixel_data() {
    let dir = TempDir::new("idx-trunc");
    for (name, bytes) in [
        ("trunc-raw", idx_images(2, 2, 3, &PIXELS[..11])),
        ("trunc-gz.gz", gz(&idx_images(2, 2, 3, &PIXELS[..11]))),
    ] {
        let p = dir.file(name, &bytes);
        let e = idx::read_images(&p).unwrap_err();
        assert!(matches!(e, DataError::Truncated { .. }), "{e:?}");
        name_in(&e, name);
        let msg = e.to_string();
        assert!(
            msg.contains("header says 2 images of 2x3 (12 bytes)")
                && msg.contains("holds 11 bytes of pixel data"),
            "{msg}"
        );
    }
}

#[test]
fn truncated_labels() {
    let dir = TempDir::new("idx-trunc-lab");
    let p = dir.file("short-labels", &idx_labels_n(5, &[1, 2]));
    let e = idx::read_labels(&p, 10).unwrap_err();
    assert!(matches!(e, DataError::Truncated { .. }), "{e:?}");
    assert!(e.to_string().contains("header says 5 labels"), "{e}");
    name_in(&e, "short-labels");
}

#[test]
fn header_claiming_many_more_items_than_present() {
    let dir = TempDir::new("idx-more");
    let p = dir.file(
        "train-images-idx3-ubyte.gz",
        &gz(&idx_images(60000, 28, 28, &[7; 1000])),
    );
    let e = idx::read_images(&p).unwrap_err();
    assert!(matches!(e, DataError::Truncated { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(
            "train-images-idx3-ubyte.gz: header says 60000 images of 28x28 (47040000 bytes)"
        ) && msg.contains("holds 1000 bytes of pixel data"),
        "{msg}"
    );
}

#[test]
fn short_header_and_empty_file() {
    let dir = TempDir::new("idx-short");
    let cases: [(&str, Vec<u8>); 5] = [
        ("empty-raw", vec![]),
        ("empty-gz", gz(&[])),
        ("three-bytes", vec![0, 0, 8]),
        ("half-header", idx_images(2, 2, 3, &[])[..10].to_vec()),
        ("half-header-gz", gz(&idx_images(2, 2, 3, &[])[..10])),
    ];
    for (name, bytes) in cases {
        let p = dir.file(name, &bytes);
        let e = idx::read_images(&p).unwrap_err();
        assert!(matches!(e, DataError::Truncated { .. }), "{name}: {e:?}");
        name_in(&e, name);
        if name.starts_with("empty") {
            assert!(e.to_string().contains("empty"), "{e}");
        }
    }
    let p = dir.file("empty-labels", &[]);
    let e = idx::read_labels(&p, 10).unwrap_err();
    assert!(matches!(e, DataError::Truncated { .. }), "{e:?}");
}

#[test]
fn wrong_magic() {
    let dir = TempDir::new("idx-magic");
    // A label file handed to the image reader and vice versa, raw and gzip.
    let p = dir.file("labels-as-images", &idx_labels(&[1, 2]));
    let e = idx::read_images(&p).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::BadMagic {
                expected: 0x803,
                found: 0x801,
                ..
            }
        ),
        "{e:?}"
    );
    name_in(&e, "labels-as-images");
    assert!(e.to_string().contains("0x00000801"), "{e}");

    let p = dir.file("images-as-labels.gz", &gz(&idx_images(2, 2, 3, &PIXELS)));
    let e = idx::read_labels(&p, 10).unwrap_err();
    assert!(
        matches!(e, DataError::BadMagic { found: 0x803, .. }),
        "{e:?}"
    );
    name_in(&e, "images-as-labels.gz");

    let p = dir.file("text.txt", b"hello world, not an idx file at all");
    let e = idx::read_images(&p).unwrap_err();
    assert!(matches!(e, DataError::BadMagic { .. }), "{e:?}");
}

#[test]
fn absurd_sizes_are_refused_before_allocating() {
    let dir = TempDir::new("idx-absurd");
    let cases = [
        ("two-pow-31-raw", idx_images(1 << 31, 28, 28, &[0; 64])),
        ("two-pow-31-gz", gz(&idx_images(1 << 31, 28, 28, &[0; 64]))),
        ("max-dims", idx_images(u32::MAX, u32::MAX, u32::MAX, &[])),
    ];
    for (name, bytes) in cases {
        let p = dir.file(name, &bytes);
        let e = idx::read_images(&p).unwrap_err();
        assert!(matches!(e, DataError::TooLarge { .. }), "{name}: {e:?}");
        name_in(&e, name);
        assert!(e.to_string().contains("2147483648 images") || name == "max-dims");
    }
    let p = dir.file("labels-huge", &idx_labels_n(u32::MAX, &[1]));
    // 4 GiB − 1 labels is under the cap, so this is caught by the length check instead.
    let e = idx::read_labels(&p, 10).unwrap_err();
    assert!(matches!(e, DataError::Truncated { .. }), "{e:?}");
}

#[test]
fn zero_sized_images_are_a_bad_header() {
    let dir = TempDir::new("idx-zero-dim");
    let p = dir.file("zero-width", &idx_images(3, 28, 0, &[]));
    let e = idx::read_images(&p).unwrap_err();
    assert!(matches!(e, DataError::BadHeader { .. }), "{e:?}");
    name_in(&e, "zero-width");
}

#[test]
fn trailing_garbage() {
    let dir = TempDir::new("idx-trail");
    let mut raw = idx_images(2, 2, 3, &PIXELS);
    raw.extend_from_slice(&[9, 9, 9]);
    for (name, bytes) in [("trail-raw", raw.clone()), ("trail-gz", gz(&raw))] {
        let p = dir.file(name, &bytes);
        let e = idx::read_images(&p).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::TrailingBytes {
                    expected: 28,
                    extra: 3,
                    ..
                }
            ),
            "{name}: {e:?}"
        );
        name_in(&e, name);
    }
}

#[test]
fn labels_out_of_range() {
    let dir = TempDir::new("idx-range");
    let p = dir.file("labels-eleven", &gz(&idx_labels(&[0, 9, 10, 3])));
    let e = idx::read_labels(&p, 10).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                index: 2,
                label: 10,
                num_classes: 10,
                ..
            }
        ),
        "{e:?}"
    );
    name_in(&e, "labels-eleven");
    // The same file is fine for an 11-class dataset.
    assert_eq!(idx::read_labels(&p, 11).unwrap(), [0, 9, 10, 3]);
}

#[test]
fn image_label_count_mismatch() {
    let dir = TempDir::new("idx-count");
    let ip = dir.file("two-images", &idx_images(2, 2, 3, &PIXELS));
    let lp = dir.file("three-labels", &idx_labels(&[1, 2, 3]));
    let e = idx::read_dataset(&ip, &lp, 10).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::CountMismatch {
                images: 2,
                labels: 3,
                ..
            }
        ),
        "{e:?}"
    );
    name_in(&e, "two-images");
    name_in(&e, "three-labels");
}

#[test]
fn corrupted_gzip() {
    let dir = TempDir::new("idx-gzip");
    let good = gz(&idx_images(2, 2, 3, &PIXELS));
    let n = good.len();

    let mut crc = good.clone();
    crc[n - 8] ^= 0xff; // CRC32 in the trailer
    let mut size = good.clone();
    size[n - 4] ^= 0x01; // ISIZE in the trailer
    let mut block = good.clone();
    block[10] = 0xff; // first deflate byte: BTYPE = 11 (reserved)
    let cut = good[..n - 6].to_vec(); // trailer cut short
    let cut_early = good[..12].to_vec(); // stream ends inside the deflate data
    let mut bad_header = good.clone();
    bad_header[2] = 7; // compression method must be 8 (deflate)
    let mut garbage_member = good.clone();
    garbage_member.extend_from_slice(b"\x1f\x8bjunk"); // a second, broken gzip member

    for (name, bytes) in [
        ("crc.gz", crc),
        ("isize.gz", size),
        ("block.gz", block),
        ("cut.gz", cut),
        ("cut-early.gz", cut_early),
        ("method.gz", bad_header),
        ("member.gz", garbage_member),
    ] {
        let p = dir.file(name, &bytes);
        let e = idx::read_images(&p).unwrap_err();
        assert!(matches!(e, DataError::Gzip { .. }), "{name}: {e:?}");
        name_in(&e, name);
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let dir = TempDir::new("idx-missing");
    let p = dir.path().join("nope-idx3-ubyte.gz");
    let e = idx::read_images(&p).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    name_in(&e, "nope-idx3-ubyte.gz");
}

#[test]
fn encoder_round_trips_and_rejects_bad_input() {
    let raw = idx::encode_images(2, 2, 3, &PIXELS).unwrap();
    assert_eq!(raw, idx_images(2, 2, 3, &PIXELS));
    let p = std::path::Path::new("mem");
    assert_eq!(
        idx::parse_images(p, &idx::gzip(&raw)).unwrap().pixels,
        PIXELS
    );
    assert_eq!(
        idx::gzip(&raw),
        idx::gzip(&raw),
        "gzip output must be reproducible"
    );
    let lab = idx::encode_labels(&[4, 2]).unwrap();
    assert_eq!(lab, idx_labels(&[4, 2]));
    assert!(idx::encode_images(3, 2, 3, &PIXELS).is_err());
    assert!(idx::encode_labels(&[256]).is_err());
}
