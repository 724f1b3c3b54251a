//! Which seeds each cell of a grid runs: a fixed list, or `"auto"` — 3 seeds to start, then
//! one more at a time for the targets whose answer is still open, up to a maximum. What is
//! "open" is the report layer's call (a group-sequential design, docs/statistics.md); this file
//! only records how many seeds each target has been given, so a report directory names
//! exactly the runs behind it and a rerun retraces the same steps.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Seeds every target starts with under `"auto"` (the design's first look: a paired t-test
/// needs 2, a spread estimate worth the name 3).
pub const AUTO_START: usize = 3;
/// Default maximum seeds per target under `"auto"`.
pub const AUTO_MAX: usize = 12;
/// Largest maximum accepted (beyond it the run, not the statistics, is the problem).
pub const AUTO_MAX_LIMIT: usize = 100;

/// The `seeds` of a sweep or comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Seeds {
    /// Every cell runs these seeds.
    List(Vec<u64>),
    /// Seeds 0, 1, … — [`AUTO_START`] per target to start, more where the answer is open.
    Auto,
}

impl Seeds {
    pub fn is_auto(&self) -> bool {
        matches!(self, Seeds::Auto)
    }
}

impl fmt::Display for Seeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seeds::List(s) => {
                let s: Vec<String> = s.iter().map(u64::to_string).collect();
                write!(f, "{}", s.join(","))
            }
            Seeds::Auto => f.write_str("auto"),
        }
    }
}

impl Serialize for Seeds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Seeds::List(l) => l.serialize(s),
            Seeds::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for Seeds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Seeds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of seeds (non-negative integers) or \"auto\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seeds, E> {
                if v == "auto" {
                    Ok(Seeds::Auto)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Seeds, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = a.next_element::<u64>()? {
                    v.push(s);
                }
                Ok(Seeds::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// How many seeds one target has under `"auto"` (seeds `0..seeds`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSeeds {
    pub target: f64,
    pub seeds: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct T {
        seeds: Seeds,
    }

    #[test]
    fn seeds_read_as_a_list_or_auto_and_write_back_the_same() {
        for (text, want) in [
            ("seeds = [4, 0, 9]", Seeds::List(vec![4, 0, 9])),
            ("seeds = \"auto\"", Seeds::Auto),
        ] {
            let t: T = toml::from_str(text).unwrap();
            assert_eq!(t.seeds, want);
            assert_eq!(toml::to_string(&t).unwrap().trim(), text);
        }
        for bad in [
            "seeds = \"many\"",
            "seeds = 3",
            "seeds = [-1]",
            "seeds = [\"a\"]",
        ] {
            let e = toml::from_str::<T>(bad).unwrap_err().to_string();
            assert!(e.contains("seeds"), "{bad}: {e}");
        }
    }
}
