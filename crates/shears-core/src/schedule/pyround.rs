//! Python's `round`, needed to replay the reference schedulers exactly
//! (`docs/design.md#python-rounding`).

/// Python 3 `round(x)`: to the nearest integer, ties to even (`round(4.5) == 4`,
/// `round(5.5) == 6`). Returned as `f64`; non-finite values pass through.
///
/// ```
/// use shears_core::schedule::py_round;
///
/// assert_eq!(py_round(4.5), 4.0);
/// assert_eq!(py_round(5.5), 6.0);
/// assert_eq!(py_round(0.9 / 0.2), 4.0); // the reference's constant step count for 0.9 / 0.2
/// ```
pub fn py_round(x: f64) -> f64 {
    x.round_ties_even()
}

/// Python 3 `round(x, ndigits)` for floats: the correctly rounded decimal with `ndigits`
/// fractional digits of the *exact binary value* of `x`, ties (only possible when `x` is an
/// exact binary fraction such as 0.125) to even, read back as the nearest `f64`.
///
/// So `round(2.675, 2) == 2.67` (2.675 is stored as 2.67499999…) and
/// `round(0.125, 2) == 0.12`. CPython does this with `_Py_dg_dtoa` mode 3; Rust's
/// fixed-precision float formatting is likewise exact with ties-to-even, so formatting and
/// parsing back reproduces it. Non-finite values pass through, as in Python.
///
/// ```
/// use shears_core::schedule::py_round_ndigits;
///
/// assert_eq!(py_round_ndigits(2.675, 2), 2.67);
/// assert_eq!(py_round_ndigits(0.125, 2), 0.12);
/// assert_eq!(py_round_ndigits(0.2 * 0.8, 8), 0.16);
/// ```
pub fn py_round_ndigits(x: f64, ndigits: u32) -> f64 {
    // Beyond ~323 digits every finite double is already exact (CPython returns x).
    if !x.is_finite() || ndigits > 330 {
        return x;
    }
    let text = format!("{:.*}", ndigits as usize, x);
    // A formatted finite float always parses back.
    text.parse::<f64>().unwrap_or(x)
}
