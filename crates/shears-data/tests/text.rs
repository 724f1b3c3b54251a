//! Language-modelling text data: the embedded corpus, user corpora and their failures,
//! windows and batches, and the bigram baseline.

mod common;

use common::TempDir;
use proptest::prelude::*;
use shears_data::text::{
    KJV_TEST_BOOKS, KJV_VALID_BOOKS, MIN_SPLIT_TOKENS, TextCorpus, TextSplit, TokenBatch,
    TokenBatches, UNKNOWN_ID, Vocab, Windows, bigram_perplexity, load_kjv_mini, load_text,
    load_text_with_min,
};
use shears_data::{DataError, DatasetId, load_corpus};

/// `n` characters of varied, ordinary text.
fn prose(n: usize) -> String {
    let words = [
        "the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dogs.\n",
    ];
    let mut s = String::new();
    let mut i = 0;
    while s.len() < n {
        s.push_str(words[i % words.len()]);
        i += 7;
    }
    s.truncate(n);
    s
}

#[test]
fn kjv_mini_loads_with_sizes_in_the_documented_range() {
    let c = load_kjv_mini().unwrap();
    assert_eq!(c.name, "kjv-mini");
    let (tr, va, te) = (c.train.len(), c.valid.len(), c.test.len());
    let total = tr + va + te;
    assert!(
        (1_000_000..1_500_000).contains(&total),
        "{total} characters"
    );
    for (split, n) in [("validation", va), ("test", te)] {
        let share = n as f64 / total as f64;
        assert!(
            (0.05..0.08).contains(&share),
            "{split} is {share:.3} of the corpus"
        );
    }
    // Plain ASCII prose: about 70 symbols, no verse references left.
    assert!((60..90).contains(&c.vocab.len()), "vocab {}", c.vocab.len());
    let train = c.vocab.decode(&c.train);
    assert!(train.starts_with("In the beginning God created the heaven and the earth.\n"));
    assert!(!train.contains("Ge1:1") && !train.contains("1:1 "));
    // Validation and test use (almost) only characters seen in training.
    for split in [&c.valid, &c.test] {
        let unknown = split.iter().filter(|&&t| t == UNKNOWN_ID).count();
        assert!(
            unknown * 10_000 < split.len(),
            "{unknown} unknown characters"
        );
    }
    assert_eq!(load_corpus(DatasetId::KjvMini, None).unwrap(), c);
}

#[test]
fn kjv_mini_validation_and_test_are_books_unseen_in_training() {
    let c = load_kjv_mini().unwrap();
    let train = c.vocab.decode(&c.train);
    let valid = c.vocab.decode(&c.valid);
    let test = c.vocab.decode(&c.test);
    assert_eq!((KJV_VALID_BOOKS, KJV_TEST_BOOKS), (["Joshua"], ["John"]));
    assert!(valid.starts_with("Now after the death of Moses the servant of the LORD"));
    assert!(test.starts_with("In the beginning was the Word"));
    // No stretch of 200 characters of validation or test occurs in training (whole verses
    // may repeat across books; whole passages must not).
    for (name, text) in [("validation", &valid), ("test", &test)] {
        let chars: Vec<char> = text.chars().collect();
        for start in (0..chars.len() - 200).step_by(5_000) {
            let piece: String = chars[start..start + 200].iter().collect();
            assert!(
                !train.contains(&piece),
                "{name} text at {start} occurs in training"
            );
        }
    }
    assert!(!valid.contains(&test[..500]) && !test.contains(&valid[..500]));
}

#[test]
fn kjv_mini_windows_and_bigram_baseline() {
    let c = load_kjv_mini().unwrap();
    let w = c.windows(TextSplit::Valid, 128).unwrap();
    assert_eq!(w.len(), (c.valid.len() - 1) / 128);
    let v = c.bigram_baseline(TextSplit::Valid).unwrap();
    let t = c.bigram_baseline(TextSplit::Test).unwrap();
    // A character bigram model of English prose has a perplexity around 10.
    for p in [v, t] {
        assert!((8.0..16.0).contains(&p.perplexity), "{p:?}");
        assert!((p.cross_entropy.exp() - p.perplexity).abs() < 1e-9);
    }
    assert_eq!(v.tokens, c.valid.len() - 1);
    eprintln!(
        "kjv-mini bigram: validation {v:?}, test {t:?}, vocab {}",
        c.vocab.len()
    );
}

#[test]
fn vocab_round_trips_and_maps_unseen_characters_to_unknown() {
    let v = Vocab::from_text("Hello, wörld!\n").unwrap();
    let s = "Hello wörld!\nHell, dlrow,";
    assert_eq!(v.decode(&v.encode(s)), s);
    let ids = v.encode("Hé€x");
    assert_eq!(ids[0], v.id('H'));
    assert_eq!(&ids[1..], &[UNKNOWN_ID; 3]);
    assert!(ids[0] > 0 && (ids[0] as usize) < v.len());
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(serde_json::from_str::<Vocab>(&json).unwrap(), v);
}

#[test]
fn load_text_splits_90_5_5_at_character_boundaries() {
    let dir = TempDir::new("text-split");
    // Multi-byte characters everywhere, so a byte-based cut would break one.
    let text: String = prose(3_000).replace('o', "ö");
    let n = text.chars().count();
    let f = dir.file("corpus.txt", text.as_bytes());
    let c = load_text(&f).unwrap();
    assert_eq!((c.valid.len(), c.test.len()), (n / 20, n / 20));
    assert_eq!(c.train.len(), n - 2 * (n / 20));
    let joined = [&c.train, &c.valid, &c.test]
        .map(|s| c.vocab.decode(s))
        .concat();
    assert_eq!(joined, text, "splits are contiguous and in order");
    assert_eq!(c.name, f.display().to_string());
}

#[test]
fn load_text_reads_a_directory_in_name_order_skipping_hidden_files() {
    let dir = TempDir::new("text-dir");
    dir.file("b.txt", prose(2_500).as_bytes());
    dir.file("a.txt", b"AAAA");
    dir.file(".hidden", b"\0\0 binary, but skipped");
    dir.file("sub/c.txt", b"not read: not recursive");
    let c = load_text(dir.path()).unwrap();
    let all = [&c.train, &c.valid, &c.test]
        .map(|s| c.vocab.decode(s))
        .concat();
    assert_eq!(all, format!("AAAA\n{}", prose(2_500)));
}

/// The error of loading `bytes` as `name`: it must name the file.
fn load_err(name: &str, bytes: &[u8]) -> DataError {
    let dir = TempDir::new("text-bad");
    let f = dir.file(name, bytes);
    let e = load_text(&f).unwrap_err();
    assert!(
        e.to_string().starts_with(&f.display().to_string()),
        "error does not name {}: {e}",
        f.display()
    );
    e
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let e = load_err("empty.txt", b"");
    assert!(matches!(e, DataError::Truncated { .. }) && e.to_string().contains("empty"));
    let mut latin1 = prose(3_000).into_bytes();
    latin1[1234] = 0xE9;
    let e = load_err("latin1.txt", &latin1);
    assert!(matches!(e, DataError::NotUtf8 { offset: 1234, .. }), "{e}");
    assert!(e.to_string().contains("byte offset 1234"), "{e}");
    let mut nul = prose(3_000).into_bytes();
    nul[10] = 0;
    let e = load_err("nul.bin", &nul);
    assert!(matches!(e, DataError::Binary { .. }), "{e}");
    let controls: Vec<u8> = (0..3_000u32)
        .map(|i| [b'a', 0x01, 0x1b][i as usize % 3])
        .collect();
    let e = load_err("controls.txt", &controls);
    assert!(matches!(e, DataError::Binary { .. }), "{e}");
    let e = load_err("short.txt", prose(20 * MIN_SPLIT_TOKENS - 1).as_bytes());
    assert!(matches!(e, DataError::TooShort { .. }), "{e}");
    assert!(e.to_string().contains("validation"), "{e}");
    let dir = TempDir::new("text-ok");
    assert!(load_text(&dir.file("ok.txt", prose(20 * MIN_SPLIT_TOKENS).as_bytes())).is_ok());
}

#[test]
fn directory_errors_name_the_directory_or_the_bad_file() {
    let dir = TempDir::new("text-empty-dir");
    dir.file(".only-hidden", b"text");
    std::fs::create_dir_all(dir.path().join("sub")).unwrap();
    let e = load_text(dir.path()).unwrap_err();
    assert!(matches!(e, DataError::NoTextFiles { .. }), "{e}");
    assert!(
        e.to_string().starts_with(&dir.path().display().to_string()),
        "{e}"
    );
    let bad = dir.file("z.txt", b"ok\xff");
    dir.file("a.txt", prose(3_000).as_bytes());
    let e = load_text(dir.path()).unwrap_err();
    assert!(e.to_string().starts_with(&bad.display().to_string()), "{e}");
    let missing = dir.path().join("missing.txt");
    let e = load_text(&missing).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e}");
    assert!(
        e.to_string().starts_with(&missing.display().to_string()),
        "{e}"
    );
    assert!(load_corpus(DatasetId::Text, None).is_err());
}

#[test]
fn min_tokens_is_configurable() {
    let dir = TempDir::new("text-min");
    let f = dir.file("c.txt", prose(400).as_bytes());
    assert!(load_text(&f).is_err());
    let c = load_text_with_min(&f, 20).unwrap();
    let e = c.windows(TextSplit::Test, 20).unwrap_err();
    assert!(matches!(e, DataError::TooShort { .. }));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: the test split", f.display())),
        "{e}"
    );
    assert_eq!(c.windows(TextSplit::Test, 19).unwrap().len(), 1);
}

#[test]
fn targets_are_inputs_shifted_by_one() {
    let c = TextCorpus::from_texts("t", &prose(5_000), "v", "t").unwrap();
    let w = c.windows(TextSplit::Train, 16).unwrap();
    let it = TokenBatches::new(&w, 7, Some(3), 0).unwrap();
    let mut rows = 0;
    for b in it {
        assert_eq!(b.inputs.len(), b.n * 16);
        for (x, y) in b.inputs.chunks(16).zip(b.targets.chunks(16)) {
            assert_eq!(&x[1..], &y[..15]);
            // The row is a window of the corpus: its first input locates it.
            let win = (0..w.len()).map(|i| w.window(i).unwrap());
            let found = win
                .filter(|t| t[..16].iter().map(|&v| v as i64).eq(x.iter().copied()))
                .any(|t| i64::from(t[16]) == y[15]);
            assert!(found, "row is not a corpus window with its successor");
            rows += 1;
        }
    }
    assert_eq!(rows, w.len());
}

fn epoch_order(w: &Windows, seed: Option<u64>, epoch: u64) -> Vec<i64> {
    let mut it = TokenBatches::new(w, 5, seed, epoch).unwrap();
    let mut b = TokenBatch::default();
    let mut firsts = Vec::new();
    while it.next_into(&mut b) {
        firsts.extend(b.inputs.chunks(b.len).map(|r| r[0] * 1_000 + r[1]));
    }
    firsts
}

#[test]
fn shuffling_is_deterministic_per_seed_and_epoch() {
    let tokens: Vec<u16> = (0..1_000u16).map(|i| i % 997).collect();
    let w = Windows::new(tokens, 10).unwrap();
    assert_eq!(w.len(), 99);
    assert_eq!(w.target_tokens(), 990);
    let a0 = epoch_order(&w, Some(42), 0);
    assert_eq!(a0, epoch_order(&w, Some(42), 0));
    assert_ne!(a0, epoch_order(&w, Some(42), 1));
    assert_ne!(a0, epoch_order(&w, Some(43), 0));
    let eval = epoch_order(&w, None, 5);
    assert_eq!(
        eval,
        epoch_order(&w, None, 6),
        "evaluation ignores the epoch"
    );
    let mut sorted = a0.clone();
    sorted.sort();
    assert_eq!(
        sorted, eval,
        "a shuffle is a permutation of the in-order windows"
    );
    assert_eq!(TokenBatches::new(&w, 5, Some(1), 0).unwrap().len(), 20);
}

#[test]
fn bigram_perplexity_matches_a_hand_computation() {
    // Vocabulary {0, 1, 2}; training bigrams (1,2)×2 and (2,1)×2, so rows 1 and 2 count 2.
    // P(2|1) = (2+1)/(2+3) = 3/5, P(2|2) = (0+1)/(2+3) = 1/5.
    let p = bigram_perplexity(&[1, 2, 1, 2, 1], &[1, 2, 2], 3).unwrap();
    let ce = -((0.6f64).ln() + (0.2f64).ln()) / 2.0;
    assert!((p.cross_entropy - ce).abs() < 1e-12, "{p:?} vs {ce}");
    assert!((p.perplexity - (1.0 / (0.6f64 * 0.2)).sqrt()).abs() < 1e-12);
    assert_eq!(p.tokens, 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_load_text(
        bytes in prop::collection::vec(any::<u8>(), 0..4_000),
        text in "\\PC{0,3000}",
    ) {
        let dir = TempDir::new("text-fuzz");
        for (name, b) in [("bytes", &bytes[..]), ("text", text.as_bytes())] {
            let f = dir.file(name, b);
            if let Err(e) = load_text_with_min(&f, 1) {
                prop_assert!(e.to_string().starts_with(&f.display().to_string()), "{}", e);
            }
        }
        let _ = load_text_with_min(dir.path(), 1);
    }
}

#[test]
fn reencoding_under_a_model_vocabulary_keeps_characters_and_marks_the_rest_unknown() {
    let own = TextCorpus::from_texts("own", "abcxyz", "xyz?", "cab").unwrap();
    // The model knew only a, b, c (ids 1, 2, 3).
    let model = Vocab::from_text("cba").unwrap();
    let r = own.reencoded(&model);
    assert_eq!(r.vocab, model);
    assert_eq!(model.decode(&r.train), "abc\u{FFFD}\u{FFFD}\u{FFFD}");
    assert_eq!(r.train, vec![1, 2, 3, 0, 0, 0]);
    assert_eq!(r.valid, vec![0, 0, 0, 0], "own unknowns stay unknown");
    assert_eq!(r.test, vec![3, 1, 2]);
}
