//! Seeded, class-stratified selection: validation splits and fixed-size subsets.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::{DataError, Dataset};

/// Fraction of the training set held out for validation unless configured otherwise.
pub const DEFAULT_VALIDATION_FRACTION: f64 = 0.1;

/// Item indices of each class, in dataset order.
fn by_class(labels: &[u16], num_classes: usize) -> Vec<Vec<usize>> {
    let mut classes = vec![Vec::new(); num_classes];
    for (i, &l) in labels.iter().enumerate() {
        if let Some(c) = classes.get_mut(l as usize) {
            c.push(i);
        }
    }
    classes
}

/// Splits a training set into `(train, validation)`.
///
/// Pruning decisions (when to stop, which level to keep) must be made on data the final
/// test score never sees; the reference validated on the test set, this does not. Each
/// class contributes `round(count × fraction)` items to validation, chosen by a
/// ChaCha8 RNG seeded with `seed`; both parts keep the original item order.
pub fn split_validation(
    data: &Dataset,
    fraction: f64,
    seed: u64,
) -> Result<(Dataset, Dataset), DataError> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(DataError::InvalidFraction { fraction });
    }
    data.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut train = Vec::with_capacity(data.len());
    let mut val = Vec::new();
    for mut idx in by_class(&data.labels, data.num_classes) {
        let n_val = (idx.len() as f64 * fraction).round() as usize;
        idx.shuffle(&mut rng);
        val.extend_from_slice(&idx[..n_val]);
        train.extend_from_slice(&idx[n_val..]);
    }
    train.sort_unstable();
    val.sort_unstable();
    Ok((data.subset(&train)?, data.subset(&val)?))
}

/// Picks `per_class` items of every class (seeded, without replacement) and returns their
/// indices in ascending order. This is the rule that built the embedded Fashion-MNIST subset.
pub fn stratified_subset_indices(
    labels: &[u16],
    num_classes: usize,
    per_class: usize,
    seed: u64,
) -> Result<Vec<usize>, DataError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picked = Vec::with_capacity(per_class.saturating_mul(num_classes));
    for (class, mut idx) in by_class(labels, num_classes).into_iter().enumerate() {
        if idx.len() < per_class {
            return Err(DataError::InvalidArgument(format!(
                "class {class} has {} items, fewer than the {per_class} requested",
                idx.len()
            )));
        }
        idx.shuffle(&mut rng);
        picked.extend_from_slice(&idx[..per_class]);
    }
    picked.sort_unstable();
    Ok(picked)
}
