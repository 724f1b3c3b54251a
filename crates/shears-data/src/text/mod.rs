//! Character-level language-modelling data: corpora, vocabulary, windows and batches.
//!
//! - [`load_kjv_mini`]: the embedded King James Bible subset, validation and test being
//!   whole books absent from training; [`load_text`]: a user's UTF-8 file or directory,
//!   split 90/5/5 by position. Both validate like the image readers: every error names the
//!   file, and hostile input is rejected rather than panicking.
//! - [`Vocab`]: the training text's characters, id 0 for anything unseen.
//! - [`Windows`] and [`TokenBatches`]: `context + 1`-token windows, batched as `i64`
//!   inputs and next-token targets, shuffled from `(seed, epoch)` like [`crate::Batches`].
//! - [`bigram_perplexity`]: the smoothed bigram baseline a trained model must beat.

mod bigram;
mod corpus;
mod kjv;
mod vocab;
mod windows;

use std::fmt;

pub use bigram::{Perplexity, bigram_perplexity};
pub use corpus::{MIN_SPLIT_TOKENS, load_text, load_text_with_min};
pub use kjv::{KJV_TEST_BOOKS, KJV_TRAIN_BOOKS, KJV_VALID_BOOKS, load_kjv_mini};
pub use vocab::{MAX_VOCAB, UNKNOWN_CHAR, UNKNOWN_ID, Vocab};
pub use windows::{TokenBatch, TokenBatches, Windows};

use crate::DataError;

/// One of a corpus' three token sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextSplit {
    Train,
    Valid,
    Test,
}

impl TextSplit {
    pub const ALL: [TextSplit; 3] = [TextSplit::Train, TextSplit::Valid, TextSplit::Test];

    /// Human name, as used in error messages ("validation").
    pub fn name(self) -> &'static str {
        match self {
            TextSplit::Train => "training",
            TextSplit::Valid => "validation",
            TextSplit::Test => "test",
        }
    }
}

impl fmt::Display for TextSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tokenized corpus: one id per character, with the vocabulary of the training split
/// (so validation and test may contain [`UNKNOWN_ID`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextCorpus {
    /// `kjv-mini`, or the path the corpus was read from.
    pub name: String,
    pub vocab: Vocab,
    pub train: Vec<u16>,
    pub valid: Vec<u16>,
    pub test: Vec<u16>,
}

impl TextCorpus {
    /// Tokenizes three texts with the vocabulary of `train`. Fails only when `train` has
    /// more than [`MAX_VOCAB`]` - 1` distinct characters.
    pub fn from_texts(name: &str, train: &str, valid: &str, test: &str) -> Result<Self, DataError> {
        let vocab = Vocab::build(train, name)?;
        Ok(TextCorpus {
            name: name.to_string(),
            train: vocab.encode(train),
            valid: vocab.encode(valid),
            test: vocab.encode(test),
            vocab,
        })
    }

    /// The tokens of one split.
    pub fn split(&self, split: TextSplit) -> &[u16] {
        match split {
            TextSplit::Train => &self.train,
            TextSplit::Valid => &self.valid,
            TextSplit::Test => &self.test,
        }
    }

    /// [`Windows::new`] over one split; a split too short for one window is an error naming
    /// the corpus and the split.
    pub fn windows(&self, split: TextSplit, context: usize) -> Result<Windows, DataError> {
        Windows::named(
            self.split(split).to_vec(),
            context,
            &format!("{}: the {split} split", self.name),
        )
    }

    /// The same text under another vocabulary (a trained model's): characters it lacks become
    /// [`UNKNOWN_ID`], as do this corpus' own unknowns.
    pub fn reencoded(&self, vocab: &Vocab) -> TextCorpus {
        // Old id → new id; id 0 (unknown here) stays unknown there.
        let map: Vec<u16> = std::iter::once(UNKNOWN_ID)
            .chain(self.vocab.chars().iter().map(|&c| vocab.id(c)))
            .collect();
        let code = |ids: &[u16]| -> Vec<u16> {
            ids.iter()
                .map(|&i| map.get(i as usize).copied().unwrap_or(UNKNOWN_ID))
                .collect()
        };
        TextCorpus {
            name: self.name.clone(),
            train: code(&self.train),
            valid: code(&self.valid),
            test: code(&self.test),
            vocab: vocab.clone(),
        }
    }

    /// [`bigram_perplexity`] of one split under a bigram model of the training split.
    pub fn bigram_baseline(&self, split: TextSplit) -> Result<Perplexity, DataError> {
        bigram_perplexity(&self.train, self.split(split), self.vocab.len())
    }
}
