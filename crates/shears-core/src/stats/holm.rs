//! Holm–Bonferroni step-down correction: a family of tests whose chance of *any* false
//! rejection (the family-wise error rate) is at most α, under any dependence between them.

use super::StatsError;

/// Holm-adjusted p-values of a family, in the input order.
///
/// With the raw p-values sorted ascending, p₍₁₎ ≤ … ≤ p₍ₘ₎, the adjusted value of the i-th is
/// min(1, max_{j ≤ i} (m − j + 1)·p₍ⱼ₎); rejecting every hypothesis whose adjusted p is < α
/// is Holm's procedure. The running maximum makes the adjusted values monotone in the raw
/// ones, so a smaller raw p never gets a larger adjusted p. Ties keep their input order.
///
/// Errors name the first value that is not in [0, 1] (NaN included).
///
/// ```
/// use shears_core::stats::holm;
///
/// // Sorted 0.01, 0.03, 0.04 → ×3, ×2, ×1 = 0.03, 0.06, 0.04 → running max 0.03, 0.06, 0.06.
/// let adj = holm(&[0.04, 0.01, 0.03])?;
/// assert_eq!(adj.len(), 3);
/// assert!((adj[1] - 0.03).abs() < 1e-12); // smallest: × 3
/// assert!((adj[2] - 0.06).abs() < 1e-12); // second: × 2
/// assert!((adj[0] - 0.06).abs() < 1e-12); // largest: × 1 = 0.04, raised to the running max
/// assert_eq!(holm(&[0.9, 0.5])?, vec![1.0, 1.0]); // capped at 1
/// assert!(holm(&[0.2, 1.5]).is_err());
/// # Ok::<(), shears_core::stats::StatsError>(())
/// ```
pub fn holm(p: &[f64]) -> Result<Vec<f64>, StatsError> {
    if let Some((index, &value)) = p
        .iter()
        .enumerate()
        .find(|(_, v)| !(0.0..=1.0).contains(*v))
    {
        return Err(StatsError::InvalidPValue { index, value });
    }
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]).then(i.cmp(&j)));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    Ok(adjusted)
}

/// [`holm`] over a family where some tests could not be computed (`None`: n < 2, zero
/// variance). An undefined test still counts as a member of the family, as if its p were 1:
/// dropping it would shrink m and make the others easier to reject after the fact.
///
/// ```
/// use shears_core::stats::holm_options;
///
/// let adj = holm_options(&[Some(0.01), None, Some(0.02)])?;
/// assert_eq!(adj[1], None);
/// assert!((adj[0].unwrap() - 0.03).abs() < 1e-12); // m = 3, not 2
/// assert!((adj[2].unwrap() - 0.04).abs() < 1e-12);
/// # Ok::<(), shears_core::stats::StatsError>(())
/// ```
pub fn holm_options(p: &[Option<f64>]) -> Result<Vec<Option<f64>>, StatsError> {
    let filled: Vec<f64> = p.iter().map(|v| v.unwrap_or(1.0)).collect();
    let adjusted = holm(&filled)?;
    Ok(p.iter()
        .zip(adjusted)
        .map(|(raw, adj)| raw.map(|_| adj))
        .collect())
}
