//! Fixed-length training windows over a token sequence, and their mini-batches.
//!
//! A window is `context + 1` tokens: the model reads the first `context` and predicts the
//! last `context` (each token's successor). Windows start every `context` tokens, so
//! consecutive windows share one token and every token after the first is a target exactly
//! once per epoch. Order is shuffled from `(seed, epoch)` like the image batches.

use crate::DataError;
use crate::batch::epoch_order;

/// The windows of one split: `len()` windows of `context + 1` tokens, window `i` starting at
/// token `i * context`; tokens after the last whole window are dropped.
///
/// Owns its tokens so a training run can keep its splits without borrowing the corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Windows {
    tokens: Vec<u16>,
    context: usize,
    count: usize,
}

impl Windows {
    /// Windows of `context + 1` tokens over `tokens`; fails when `context` is 0 or there are
    /// fewer than `context + 1` tokens (not even one window).
    pub fn new(tokens: impl Into<Vec<u16>>, context: usize) -> Result<Self, DataError> {
        Self::named(tokens.into(), context, "the token sequence")
    }

    /// [`Windows::new`] with `what` (corpus and split) naming the sequence in the error.
    pub(crate) fn named(tokens: Vec<u16>, context: usize, what: &str) -> Result<Self, DataError> {
        if context == 0 {
            return Err(DataError::InvalidArgument(
                "context length must be positive".into(),
            ));
        }
        let needed = context.saturating_add(1);
        if tokens.len() < needed {
            return Err(DataError::TooShort {
                what: what.to_string(),
                tokens: tokens.len(),
                needed,
                hint: format!(
                    "one window is the context ({context}) plus one target token; use a shorter \
                     context or a longer corpus"
                ),
            });
        }
        let count = (tokens.len() - 1) / context;
        Ok(Windows {
            tokens,
            context,
            count,
        })
    }

    /// Number of windows (at least 1).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Always false: construction fails rather than produce no window.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Tokens a model reads per window (and targets it predicts).
    pub fn context(&self) -> usize {
        self.context
    }

    /// Targets per epoch, `len() × context`: the denominator of a per-token loss.
    pub fn target_tokens(&self) -> usize {
        self.count * self.context
    }

    /// The whole token sequence, including any dropped tail.
    pub fn tokens(&self) -> &[u16] {
        &self.tokens
    }

    /// Window `i` (`context + 1` tokens), or `None` when out of range.
    pub fn window(&self, i: usize) -> Option<&[u16]> {
        if i >= self.count {
            return None;
        }
        let start = i * self.context;
        Some(&self.tokens[start..start + self.context + 1])
    }
}

/// One batch of windows as tensor-ready `i64` ids: `inputs[k * len + t]` is token `t` of row
/// `k`, and `targets[k * len + t]` is the token after it (`inputs` shifted left by one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenBatch {
    /// Rows (windows) in this batch.
    pub n: usize,
    /// Tokens per row: the context length.
    pub len: usize,
    pub inputs: Vec<i64>,
    pub targets: Vec<i64>,
}

impl TokenBatch {
    /// `[n, len]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.n, self.len]
    }
}

/// Iterator over one epoch's batches of windows; the last, partial batch is kept so
/// evaluation counts every target token.
#[derive(Clone, Debug)]
pub struct TokenBatches<'a> {
    windows: &'a Windows,
    order: Vec<usize>,
    pos: usize,
    batch_size: usize,
}

impl<'a> TokenBatches<'a> {
    /// Batches of `batch_size` windows. `shuffle: Some(seed)` permutes the windows with
    /// ChaCha8 stream 0 of [`crate::epoch_seed`]`(seed, epoch)` (training); `None` keeps them in
    /// order (evaluation), and then `epoch` is unused.
    pub fn new(
        windows: &'a Windows,
        batch_size: usize,
        shuffle: Option<u64>,
        epoch: u64,
    ) -> Result<Self, DataError> {
        if batch_size == 0 {
            return Err(DataError::InvalidArgument(
                "batch size must be positive".into(),
            ));
        }
        let order = epoch_order(windows.len(), shuffle, epoch);
        Ok(TokenBatches {
            windows,
            order,
            pos: 0,
            batch_size,
        })
    }

    /// Batches per epoch.
    pub fn len(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    /// True when there are no windows (never, since [`Windows`] always has one).
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Batches not yet returned.
    pub fn remaining(&self) -> usize {
        (self.order.len() - self.pos).div_ceil(self.batch_size)
    }

    /// The window order of this epoch (indices into [`Windows::window`]).
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Like [`Iterator::next`] but refills `batch`, reusing its buffers; returns `false` at
    /// the end of the epoch.
    pub fn next_into(&mut self, batch: &mut TokenBatch) -> bool {
        let end = (self.pos + self.batch_size).min(self.order.len());
        if self.pos >= end {
            return false;
        }
        let len = self.windows.context;
        batch.n = end - self.pos;
        batch.len = len;
        batch.inputs.clear();
        batch.targets.clear();
        batch.inputs.reserve(batch.n * len);
        batch.targets.reserve(batch.n * len);
        for &w in &self.order[self.pos..end] {
            let start = w * len;
            let win = &self.windows.tokens[start..start + len + 1];
            batch
                .inputs
                .extend(win[..len].iter().map(|&t| i64::from(t)));
            batch.targets.extend(win[1..].iter().map(|&t| i64::from(t)));
        }
        self.pos = end;
        true
    }
}

impl Iterator for TokenBatches<'_> {
    type Item = TokenBatch;

    fn next(&mut self) -> Option<TokenBatch> {
        let mut b = TokenBatch::default();
        self.next_into(&mut b).then_some(b)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let r = self.remaining();
        (r, Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_overlap_by_one_and_drop_the_tail() {
        let t: Vec<u16> = (0..10).collect();
        let w = Windows::new(t.clone(), 3).unwrap();
        // Starts 0, 3, 6: [0..=3], [3..=6], [6..=9]; nothing is left over.
        assert_eq!(w.len(), 3);
        assert_eq!(w.window(2), Some(&t[6..10]));
        assert_eq!(w.window(3), None);
        assert_eq!(w.target_tokens(), 9);
        let w = Windows::new(&t[..9], 3).unwrap();
        assert_eq!(w.len(), 2, "the partial window 6..=8 is dropped");
        assert_eq!(Windows::new(&t[..4], 3).unwrap().len(), 1);
    }

    #[test]
    fn too_few_tokens_or_zero_context_fail() {
        let t = [1u16, 2, 3];
        let e = Windows::named(t.to_vec(), 3, "corp: the validation split").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("corp: the validation split holds 3 tokens, fewer than the 4 needed"),
            "{e}"
        );
        assert!(Windows::new(t, 0).is_err());
        assert!(Windows::new(t, usize::MAX).is_err());
    }

    #[test]
    fn eval_batches_are_in_order_with_a_partial_last() {
        let t: Vec<u16> = (0..21).collect();
        let w = Windows::new(t, 4).unwrap();
        let mut it = TokenBatches::new(&w, 2, None, 7).unwrap();
        assert_eq!((it.len(), it.remaining()), (3, 3));
        let b = it.next().unwrap();
        assert_eq!(b.shape(), [2, 4]);
        assert_eq!(b.inputs, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(b.targets, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        let mut last = TokenBatch::default();
        assert!(it.next_into(&mut last));
        assert!(it.next_into(&mut last));
        assert_eq!((last.n, last.inputs.len()), (1, 4));
        assert_eq!(last.targets, vec![17, 18, 19, 20]);
        assert!(!it.next_into(&mut last));
        assert!(TokenBatches::new(&w, 0, None, 0).is_err());
    }
}
