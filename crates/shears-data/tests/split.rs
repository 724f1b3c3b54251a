//! Validation split and stratified subset selection.

mod common;

use std::collections::BTreeSet;

use common::{indexed_dataset, item_ids};
use shears_data::{DataError, split_validation, stratified_subset_indices};

/// 100 items: class 0 ×50, class 1 ×30, class 2 ×20, interleaved.
fn labels() -> Vec<u16> {
    let mut l = Vec::new();
    for i in 0..100 {
        l.push(match i % 10 {
            0..=4 => 0,
            5..=7 => 1,
            _ => 2,
        });
    }
    l
}

#[test]
fn disjoint_complete_stratified_and_ordered() {
    let d = indexed_dataset(&labels(), 3);
    let (train, val) = split_validation(&d, 0.1, 7).unwrap();
    assert_eq!((train.len(), val.len()), (90, 10));
    assert_eq!(val.class_counts(), [5, 3, 2]);
    assert_eq!(train.class_counts(), [45, 27, 18]);
    let (t, v) = (item_ids(&train), item_ids(&val));
    let ts: BTreeSet<_> = t.iter().copied().collect();
    let vs: BTreeSet<_> = v.iter().copied().collect();
    assert!(ts.is_disjoint(&vs));
    assert_eq!(ts.union(&vs).count(), 100);
    assert!(
        t.windows(2).all(|w| w[0] < w[1]),
        "train keeps dataset order"
    );
    assert!(v.windows(2).all(|w| w[0] < w[1]), "val keeps dataset order");
    // Labels travel with their images.
    for (k, &id) in v.iter().enumerate() {
        assert_eq!(val.labels[k], d.labels[id]);
    }
}

#[test]
fn deterministic_by_seed() {
    let d = indexed_dataset(&labels(), 3);
    let a = split_validation(&d, 0.2, 1).unwrap();
    assert_eq!(a, split_validation(&d, 0.2, 1).unwrap());
    assert_ne!(
        item_ids(&a.1),
        item_ids(&split_validation(&d, 0.2, 2).unwrap().1)
    );
}

#[test]
fn fraction_bounds() {
    let d = indexed_dataset(&labels(), 3);
    for f in [1.0, 1.5, -0.1, f64::NAN, f64::INFINITY] {
        let e = split_validation(&d, f, 0).unwrap_err();
        assert!(matches!(e, DataError::InvalidFraction { .. }), "{f}: {e:?}");
    }
    let (train, val) = split_validation(&d, 0.0, 0).unwrap();
    assert_eq!((train.len(), val.len()), (100, 0));
    assert_eq!(val.sample_shape(), d.sample_shape());
}

#[test]
fn stratified_subset() {
    let l = labels();
    let idx = stratified_subset_indices(&l, 3, 20, 5).unwrap();
    assert_eq!(idx.len(), 60);
    assert!(idx.windows(2).all(|w| w[0] < w[1]));
    let mut counts = [0; 3];
    for &i in &idx {
        counts[l[i] as usize] += 1;
    }
    assert_eq!(counts, [20; 3]);
    assert_eq!(idx, stratified_subset_indices(&l, 3, 20, 5).unwrap());
    assert_ne!(idx, stratified_subset_indices(&l, 3, 20, 6).unwrap());
    assert!(matches!(
        stratified_subset_indices(&l, 3, 21, 5),
        Err(DataError::InvalidArgument(_))
    ));
}

#[test]
fn subset_out_of_range_is_an_error() {
    let d = indexed_dataset(&labels(), 3);
    assert!(matches!(
        d.subset(&[0, 100]),
        Err(DataError::InvalidArgument(_))
    ));
    assert_eq!(item_ids(&d.subset(&[3, 3, 1]).unwrap()), [3, 3, 1]);
}
