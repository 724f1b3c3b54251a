//! Selection within rows and under N:M patterns (`rows.rs`).

use super::rows::*;
use super::{Mask, SelectError};
use proptest::prelude::*;

fn pruned_per_row(mask: &Mask, layout: RowLayout) -> Vec<usize> {
    (0..layout.rows())
        .map(|r| {
            (0..layout.cols())
                .filter(|&c| !mask.is_kept(layout.index(r, c)))
                .count()
        })
        .collect()
}

#[test]
fn burn_layouts_put_output_rows_where_burn_stores_them() {
    // Linear [in = 3, out = 2]: row (output) 1, input 2 is at 2·2 + 1.
    let l = RowLayout::for_shape(&[3, 2]);
    assert_eq!((l.rows(), l.cols(), l.index(1, 2)), (2, 3, 5));
    // Conv [out = 4, in = 2, 3, 3]: rows of 18 contiguous inputs.
    let c = RowLayout::for_shape(&[4, 2, 3, 3]);
    assert_eq!((c.rows(), c.cols(), c.index(1, 0)), (4, 18, 18));
    assert_eq!(RowLayout::for_shape(&[5]).rows(), 1);
}

#[test]
fn rows_share_the_count_instead_of_one_global_threshold() {
    // Row 0 holds all the small scores; a global threshold would empty it, rows do not.
    let layout = RowLayout::RowMajor { rows: 2, cols: 4 };
    let scores = [0.1, 0.2, 0.3, 0.4, 5.0, 6.0, 7.0, 8.0];
    let m = remove_in_rows(&scores, &Mask::dense(8), 4, layout, None).unwrap();
    assert_eq!(
        m.as_slice(),
        &[false, false, true, true, false, false, true, true]
    );
    // An odd count: the first rows take the remainder.
    let m = remove_in_rows(&scores, &Mask::dense(8), 3, layout, None).unwrap();
    assert_eq!(pruned_per_row(&m, layout), vec![2, 1]);
}

#[test]
fn an_iterative_run_toward_two_four_stays_feasible_and_ends_on_the_pattern() {
    let layout = RowLayout::ColMajor { rows: 3, cols: 8 };
    let p: Pattern = "2:4".parse().unwrap();
    // Scores that would put three of a group's four entries first without the cap.
    let scores: Vec<f32> = (0..24).map(|i| ((i * 7) % 24) as f32).collect();
    let mut mask = Mask::dense(24);
    for total in [5, 9, 12] {
        let k = total - mask.pruned();
        let next = remove_in_rows(&scores, &mask, k, layout, Some(p)).unwrap();
        assert!(next.is_subset_of(&mask));
        assert_eq!(next.pruned(), total);
        // Never more than M − N pruned in a group: the pattern's feasible set.
        for r in 0..3 {
            for g in 0..2 {
                let pruned = (g * 4..g * 4 + 4)
                    .filter(|&c| !next.is_kept(layout.index(r, c)))
                    .count();
                assert!(pruned <= 2, "row {r} group {g} at {total}");
            }
        }
        mask = next;
    }
    check_pattern(&mask, layout, p).unwrap();
    assert_eq!(pruned_per_row(&mask, layout), vec![4, 4, 4]);
    // One more is beyond the pattern.
    let e = remove_in_rows(&scores, &mask, 1, layout, Some(p)).unwrap_err();
    assert!(e.to_string().contains("only 0 fit"), "{e}");
}

#[test]
fn pattern_errors_name_the_problem() {
    let p: Pattern = "2:4".parse().unwrap();
    let layout = RowLayout::RowMajor { rows: 1, cols: 6 };
    let e = remove_in_rows(&[0.0; 6], &Mask::dense(6), 1, layout, Some(p)).unwrap_err();
    assert!(
        e.to_string()
            .contains("rows of 6 inputs cannot be split into groups of 4"),
        "{e}"
    );
    let layout = RowLayout::RowMajor { rows: 1, cols: 4 };
    let three = Mask::from_keep(vec![false, false, false, true]);
    let e = check_pattern(&Mask::dense(4), layout, p).unwrap_err();
    assert!(
        e.to_string().contains("row 0, inputs 0..4: 4 kept of 4"),
        "{e}"
    );
    check_pattern(&three, layout, p).unwrap();
    let e =
        remove_in_rows(&[f32::NAN, 1.0, 2.0, 3.0], &Mask::dense(4), 1, layout, None).unwrap_err();
    assert_eq!(
        e,
        PatternOrSelect::Select(SelectError::NanScore {
            tensor: 0,
            index: 0
        })
    );
    for bad in ["4:2", "0:4", "2-4", "2:", "2:4:8", "2:100"] {
        assert!(bad.parse::<Pattern>().is_err(), "{bad}");
    }
    assert_eq!("1:4".parse::<Pattern>().unwrap().sparsity(), 0.75);
}

proptest! {
    #[test]
    fn exact_counts_subsets_and_caps_for_any_scores_and_masks(
        rows in 1usize..5,
        groups in 1usize..4,
        scores in proptest::collection::vec(-10.0f32..10.0, 48),
        old in proptest::collection::vec(any::<bool>(), 48),
        frac in 0.0f64..1.0,
        col_major in any::<bool>(),
    ) {
        let p = Pattern { n: 2, m: 4 };
        let cols = groups * 4;
        let n = rows * cols;
        let layout = if col_major {
            RowLayout::ColMajor { rows, cols }
        } else {
            RowLayout::RowMajor { rows, cols }
        };
        // Without a pattern: any old mask, any k up to the kept entries.
        let old = Mask::from_keep(old[..n].to_vec());
        let k = (old.kept() as f64 * frac) as usize;
        let m = remove_in_rows(&scores[..n], &old, k, layout, None).unwrap();
        prop_assert!(m.is_subset_of(&old));
        prop_assert_eq!(m.pruned(), old.pruned() + k);
        // With the pattern, from a dense start: exact, and no group over its cap.
        let room = rows * groups * 2;
        let k = (room as f64 * frac) as usize;
        let m = remove_in_rows(&scores[..n], &Mask::dense(n), k, layout, Some(p)).unwrap();
        prop_assert_eq!(m.pruned(), k);
        if k == room {
            prop_assert!(check_pattern(&m, layout, p).is_ok());
        }
        for r in 0..rows {
            for g in 0..groups {
                let pruned = (g * 4..g * 4 + 4).filter(|&c| !m.is_kept(layout.index(r, c))).count();
                prop_assert!(pruned <= 2);
            }
        }
    }
}
