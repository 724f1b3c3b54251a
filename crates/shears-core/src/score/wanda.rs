//! Wanda's activation-aware score.

use super::ScoreError;

/// Wanda (Sun et al., arXiv 2306.11695): `|W_rc| · ‖X_c‖₂`, the weight's magnitude times the
/// L2 norm of the input feature it multiplies over the calibration data (`input_sq[c]` = the
/// sum of that feature's squares; for a convolution its im2col column: one input channel at
/// one kernel offset, over every sample and output position). Compared within output rows
/// ([`crate::masks::remove_in_rows`]) — the choice that makes it work. A bias (one row, no
/// input) scores `|b|`.
///
/// ```
/// use shears_core::masks::RowLayout;
/// // Linear [in = 2, out = 2] in Burn's layout: entry (out r, in c) at c·2 + r.
/// let w = [1.0, -1.0, 1.0, 2.0];
/// let s = shears_core::score::wanda(&w, RowLayout::for_shape(&[2, 2]), &[4.0, 1.0]).unwrap();
/// assert_eq!(s, vec![2.0, 2.0, 1.0, 2.0]); // input 0 has norm 2, input 1 norm 1
/// ```
pub fn wanda(
    w: &[f32],
    layout: crate::masks::RowLayout,
    input_sq: &[f64],
) -> Result<Vec<f32>, ScoreError> {
    if layout.len() != w.len() {
        return Err(ScoreError::LengthMismatch {
            what: "weight",
            expected: layout.len(),
            got: w.len(),
        });
    }
    if input_sq.len() != layout.cols() {
        return Err(ScoreError::LengthMismatch {
            what: "input norms",
            expected: layout.cols(),
            got: input_sq.len(),
        });
    }
    let mut out = vec![0.0f32; w.len()];
    for r in 0..layout.rows() {
        for (c, &sq) in input_sq.iter().enumerate() {
            let i = layout.index(r, c);
            out[i] = (w[i].abs() as f64 * sq.max(0.0).sqrt()) as f32;
        }
    }
    Ok(out)
}
