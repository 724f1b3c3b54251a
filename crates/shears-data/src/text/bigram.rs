//! The count-bigram baseline: the perplexity a trained language model has to beat.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::DataError;

/// Score of a model on an evaluation sequence.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Perplexity {
    /// Mean negative log-likelihood per predicted token, in nats.
    pub cross_entropy: f64,
    /// `exp(cross_entropy)`: the effective number of equally likely next tokens.
    pub perplexity: f64,
    /// Tokens predicted (`eval.len() - 1`).
    pub tokens: usize,
}

/// Fits a bigram model with add-one (Laplace) smoothing on `train` and scores `eval`:
/// `P(b | a) = (count(a, b) + 1) / (count(a, ·) + vocab_size)`, averaged over each token of
/// `eval` after the first, given the token before it. Smoothing gives unseen pairs (and
/// the unknown id) a non-zero probability, so the score is always finite.
///
/// Fails when `vocab_size` is 0, an id is `>= vocab_size`, or `eval` has fewer than 2 tokens.
pub fn bigram_perplexity(
    train: &[u16],
    eval: &[u16],
    vocab_size: usize,
) -> Result<Perplexity, DataError> {
    if vocab_size == 0 {
        return Err(DataError::InvalidArgument(
            "vocabulary size must be positive".into(),
        ));
    }
    for (what, seq) in [("training", train), ("evaluation", eval)] {
        if let Some(&t) = seq.iter().find(|&&t| t as usize >= vocab_size) {
            return Err(DataError::InvalidArgument(format!(
                "{what} token id {t} is out of range for a vocabulary of {vocab_size}"
            )));
        }
    }
    if eval.len() < 2 {
        return Err(DataError::InvalidArgument(format!(
            "the evaluation sequence has {} token(s); a bigram score needs at least 2",
            eval.len()
        )));
    }
    let mut pairs: HashMap<(u16, u16), u64> = HashMap::new();
    let mut rows = vec![0u64; vocab_size];
    for w in train.windows(2) {
        *pairs.entry((w[0], w[1])).or_default() += 1;
        rows[w[0] as usize] += 1;
    }
    let v = vocab_size as f64;
    let nll: f64 = eval
        .windows(2)
        .map(|w| {
            let pair = pairs.get(&(w[0], w[1])).copied().unwrap_or(0) as f64;
            let row = rows[w[0] as usize] as f64;
            ((row + v) / (pair + 1.0)).ln()
        })
        .sum();
    let tokens = eval.len() - 1;
    let cross_entropy = nll / tokens as f64;
    Ok(Perplexity {
        cross_entropy,
        perplexity: cross_entropy.exp(),
        tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_training_data_is_uniform() {
        let p = bigram_perplexity(&[], &[0, 1, 2, 3], 4).unwrap();
        assert!((p.perplexity - 4.0).abs() < 1e-12, "{p:?}");
        assert_eq!(p.tokens, 3);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(bigram_perplexity(&[0], &[0, 1], 0).is_err());
        assert!(bigram_perplexity(&[5], &[0, 1], 3).is_err());
        assert!(bigram_perplexity(&[0], &[0, 3], 3).is_err());
        assert!(bigram_perplexity(&[0, 1], &[1], 3).is_err());
    }
}
