//! Safe wrappers over the `gemm` crate for the row-major shapes the kernels use.

use gemm::Parallelism;

/// A row-major or transposed view of a matrix stored in a slice.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    /// Stored as the transpose: element (i, j) lives at `j * rows + i`.
    pub transposed: bool,
}

impl<'a> View<'a> {
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            transposed: false,
        }
    }

    /// The transpose of the row-major `rows x cols` matrix in `data`.
    pub fn t(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows: cols,
            cols: rows,
            transposed: true,
        }
    }

    /// (row stride, column stride)
    fn strides(&self) -> (isize, isize) {
        if self.transposed {
            (1, self.rows as isize)
        } else {
            (self.cols as isize, 1)
        }
    }
}

/// `dst = a * b` (or `dst += a * b` when `accumulate`), `dst` row-major `a.rows x b.cols`,
/// single-threaded (the kernels parallelise over samples).
pub(crate) fn matmul(dst: &mut [f32], a: View<'_>, b: View<'_>, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "inner dimensions differ");
    assert!(dst.len() >= m * n, "destination too small");
    assert!(
        a.data.len() >= m * k && b.data.len() >= k * n,
        "operand too small"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    let (a_rs, a_cs) = a.strides();
    let (b_rs, b_cs) = b.strides();
    // SAFETY: the asserts above bound every index the strides can reach: a (m x k), b (k x n)
    // and dst (m x n) fit their slices, and dst does not alias the operands (&mut vs &).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut t = vec![0.0; a.len()];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = a[i * cols + j];
            }
        }
        t
    }

    #[test]
    fn plain_transposed_and_accumulated_products_match_the_naive_one() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let close = |x: &[f32]| x.iter().zip(&want).all(|(p, q)| (p - q).abs() < 1e-5);

        let mut c = vec![0.0; m * n];
        matmul(&mut c, View::new(&a, m, k), View::new(&b, k, n), false);
        assert!(close(&c), "{c:?} vs {want:?}");

        let at = transpose(&a, m, k);
        let bt = transpose(&b, k, n);
        let mut c = vec![9.0; m * n];
        matmul(&mut c, View::t(&at, k, m), View::t(&bt, n, k), false);
        assert!(close(&c), "transposed operands: {c:?}");

        let mut c = vec![1.0; m * n];
        matmul(&mut c, View::new(&a, m, k), View::new(&b, k, n), true);
        assert!(
            c.iter().zip(&want).all(|(p, q)| (p - q - 1.0).abs() < 1e-5),
            "accumulate: {c:?}"
        );
    }
}
