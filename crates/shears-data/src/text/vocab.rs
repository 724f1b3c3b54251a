//! Character vocabulary: the distinct characters of a training text, in sorted order.

use serde::{Deserialize, Serialize};

use crate::DataError;

/// Most symbols a [`Vocab`] may hold, the unknown symbol included. Natural-language text
/// needs well under a hundred; a larger alphabet means the input is not such text, and an
/// embedding or output layer that wide would dwarf a character model.
pub const MAX_VOCAB: usize = 4096;

/// Id of the unknown symbol: every character not seen in the training text.
pub const UNKNOWN_ID: u16 = 0;

/// What [`Vocab::decode`] prints for the unknown symbol (and for ids out of range).
pub const UNKNOWN_CHAR: char = '\u{FFFD}';

/// Character-level vocabulary: id 0 is the unknown symbol, ids `1..=n` the `n` distinct
/// characters of the training text in sorted order, so the ids depend only on the set of
/// characters, never on the order they were met.
///
/// Serializes as the string of its characters (e.g. `"\n !,.ABC..."`), compact and readable
/// inside a checkpoint; deserializing checks the string is sorted, unique and within
/// [`MAX_VOCAB`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Vocab {
    /// Sorted, distinct; `chars[i]` has id `i + 1`.
    chars: Vec<char>,
}

impl Vocab {
    /// The vocabulary of `text`; fails when it has more than `MAX_VOCAB - 1` distinct
    /// characters (counting stops there, so a huge alphabet costs no memory).
    pub fn from_text(text: &str) -> Result<Self, DataError> {
        Self::build(text, "text")
    }

    /// [`Vocab::from_text`] with `corpus` (a file or corpus name) in the error message.
    pub(crate) fn build(text: &str, corpus: &str) -> Result<Self, DataError> {
        let mut seen_ascii = [false; 128];
        let mut other = std::collections::BTreeSet::new();
        for c in text.chars() {
            if c.is_ascii() {
                seen_ascii[c as usize] = true;
            } else if other.insert(c) && other.len() >= MAX_VOCAB {
                return Err(too_large(corpus));
            }
        }
        let ascii = (0u8..128)
            .filter(|&b| seen_ascii[b as usize])
            .map(char::from);
        Self::from_sorted(ascii.chain(other).collect(), corpus)
    }

    /// From characters already sorted and distinct (checked).
    fn from_sorted(chars: Vec<char>, corpus: &str) -> Result<Self, DataError> {
        if chars.len() >= MAX_VOCAB {
            return Err(too_large(corpus));
        }
        if let Some(w) = chars.windows(2).find(|w| w[0] >= w[1]) {
            return Err(DataError::Inconsistent {
                detail: format!(
                    "vocabulary characters must be sorted and distinct, but {:?} comes before {:?}",
                    w[0], w[1]
                ),
            });
        }
        Ok(Vocab { chars })
    }

    /// Number of ids, the unknown symbol included: the width of a model's embedding and
    /// output layers.
    pub fn len(&self) -> usize {
        self.chars.len() + 1
    }

    /// Always false: the unknown symbol is always present. (Here for API symmetry.)
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The known characters, in id order (id `i + 1` for index `i`).
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// Id of one character; [`UNKNOWN_ID`] when it was not in the training text.
    pub fn id(&self, c: char) -> u16 {
        match self.chars.binary_search(&c) {
            // Fits: i + 1 <= MAX_VOCAB - 1 < u16::MAX.
            Ok(i) => (i + 1) as u16,
            Err(_) => UNKNOWN_ID,
        }
    }

    /// One id per character of `text`; unseen characters become [`UNKNOWN_ID`], so
    /// validation or user text with new symbols still encodes.
    pub fn encode(&self, text: &str) -> Vec<u16> {
        text.chars().map(|c| self.id(c)).collect()
    }

    /// The text of `ids`; the unknown id and ids out of range print as [`UNKNOWN_CHAR`].
    pub fn decode(&self, ids: &[u16]) -> String {
        ids.iter()
            .map(|&id| {
                (id as usize)
                    .checked_sub(1)
                    .and_then(|i| self.chars.get(i))
                    .copied()
                    .unwrap_or(UNKNOWN_CHAR)
            })
            .collect()
    }
}

fn too_large(corpus: &str) -> DataError {
    DataError::VocabTooLarge {
        corpus: corpus.to_string(),
        max: MAX_VOCAB - 1,
    }
}

impl TryFrom<String> for Vocab {
    type Error = DataError;

    fn try_from(s: String) -> Result<Self, DataError> {
        Self::from_sorted(s.chars().collect(), "serialized vocabulary")
    }
}

impl From<Vocab> for String {
    fn from(v: Vocab) -> String {
        v.chars.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sorted_characters_after_unknown() {
        let v = Vocab::from_text("banana é!").unwrap();
        assert_eq!(v.chars(), &[' ', '!', 'a', 'b', 'n', 'é']);
        assert_eq!(v.len(), 7);
        assert_eq!(v.encode("ab é"), vec![3, 4, 1, 6]);
        assert_eq!(v.encode("xÿ"), vec![UNKNOWN_ID, UNKNOWN_ID]);
        assert_eq!(v.decode(&[4, 3, 0, 99]), "ba\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn empty_text_has_only_the_unknown_symbol() {
        let v = Vocab::from_text("").unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v.encode("a"), vec![0]);
    }

    #[test]
    fn too_many_distinct_characters_are_refused() {
        let ok: String = (0..MAX_VOCAB as u32 - 1)
            .map(|i| char::from_u32(0x4E00 + i).unwrap())
            .collect();
        assert_eq!(Vocab::from_text(&ok).unwrap().len(), MAX_VOCAB);
        let big = format!("{ok}\u{AC00}");
        let e = Vocab::build(&big, "big.txt").unwrap_err();
        assert!(matches!(e, DataError::VocabTooLarge { .. }), "{e}");
        assert!(e.to_string().starts_with("big.txt: "), "{e}");
    }

    #[test]
    fn serde_is_the_string_of_characters_and_validated() {
        let v = Vocab::from_text("hello\n").unwrap();
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#""\nehlo""#);
        assert_eq!(serde_json::from_str::<Vocab>(&json).unwrap(), v);
        assert!(serde_json::from_str::<Vocab>(r#""ba""#).is_err());
        assert!(serde_json::from_str::<Vocab>(r#""aa""#).is_err());
    }
}
