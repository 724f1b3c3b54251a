//! CIFAR-10/100 binary batches: parsed or rejected, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shears_data::cifar::{CifarKind, parse_cifar};
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let p = Path::new("fuzz");
    let _ = parse_cifar(p, bytes, CifarKind::Cifar10);
    let _ = parse_cifar(p, bytes, CifarKind::Cifar100);
});
