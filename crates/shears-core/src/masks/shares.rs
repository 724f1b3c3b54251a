//! Sharing a tensor's cumulative pruned count among its units (output rows for Wanda and
//! patterns, column blocks for SparseGPT): in proportion to size, then made exact.

/// Cumulative per-unit targets: ⌊T·size/N⌋, plus one for the first units until they sum to T.
/// With equal sizes, as T grows by one exactly one unit's share grows, so shares never shrink
/// from step to step.
pub(crate) fn apportion(target: usize, sizes: &[usize], total: usize) -> Vec<usize> {
    let share = |s: usize| (target as u128 * s as u128 / total.max(1) as u128) as usize;
    let mut shares: Vec<usize> = sizes.iter().map(|&s| share(s)).collect();
    let spare = target.saturating_sub(shares.iter().sum());
    shares.iter_mut().take(spare).for_each(|s| *s += 1);
    shares
}

/// Makes `needs` sum to `due`, the entries still to prune: trims from the last unit when units
/// pruned beyond their share earlier push the sum over, and tops up from the last unit when room
/// (an N:M cap on groups pruned beyond m − n earlier) held it under. `room` must hold at least
/// `due` in all.
pub(crate) fn balance(needs: &mut [usize], room: &[usize], due: usize) {
    let mut sum: usize = needs.iter().sum();
    for (need, &free) in needs.iter_mut().zip(room).rev() {
        let cut = sum.saturating_sub(due).min(*need);
        let add = due.saturating_sub(sum).min(free - *need);
        *need = *need - cut + add;
        sum = sum - cut + add;
    }
    assert_eq!(sum, due, "the room was checked against the target");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_proportional_and_exact_and_balance_trims_or_tops_up() {
        assert_eq!(apportion(7, &[4, 4, 4], 12), vec![3, 2, 2]);
        assert_eq!(apportion(5, &[2, 6], 8), vec![2, 3]); // 1.25 → 1+1, 3.75 → 3
        let mut needs = vec![2, 2, 2];
        balance(&mut needs, &[4, 4, 4], 4);
        assert_eq!(needs, vec![2, 2, 0]);
        let mut needs = vec![1, 0, 0];
        balance(&mut needs, &[1, 3, 1], 4);
        assert_eq!(needs, vec![1, 2, 1]);
    }
}
