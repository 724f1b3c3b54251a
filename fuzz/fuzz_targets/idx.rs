//! IDX images and labels (plain or gzip): parsed or rejected, never a panic or an allocation
//! sized by an unchecked header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shears_data::idx::{parse_images, parse_labels};
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let p = Path::new("fuzz");
    let _ = parse_images(p, bytes);
    let _ = parse_labels(p, bytes, 10);
    let _ = parse_labels(p, bytes, 0);
});
