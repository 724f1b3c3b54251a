//! Config and sweep loading never panics: mutated example files and random overrides are
//! accepted or rejected with an error; whatever is accepted validates and plans without a
//! panic or a runaway loop.
//!
//! Cases per property: `SHEARS_FUZZ_CASES` (default 300; the issue note records longer runs).

use proptest::prelude::*;
use shears_experiment::ExperimentConfig;
use shears_experiment::sweep::SweepConfig;

fn cases() -> u32 {
    std::env::var("SHEARS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn examples() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    ["oneshot-80.toml", "geometric-80.toml", "sweep.toml"]
        .iter()
        .map(|n| std::fs::read_to_string(dir.join(n)).unwrap())
        .collect()
}

/// Everything a run does with a config before training: parse, validate, plan, hash.
fn feed(text: &str, overrides: &[String]) {
    if let Ok(c) = ExperimentConfig::from_toml(text, "fuzz.toml", overrides) {
        let _ = c.validate();
        let _ = c.schedule.plan().map(|p| p.cumulative());
        let _ = (c.id(), c.to_toml(), c.manual());
    }
    if let Ok(s) = SweepConfig::from_toml(text, "fuzz.toml")
        && let Ok(cells) = s.cells()
    {
        for c in cells.iter().take(64) {
            let _ = c.config.schedule.plan();
        }
    }
}

fn mutate(text: &str, edits: &[(usize, u8)], cut: Option<usize>) -> String {
    let mut v = text.as_bytes().to_vec();
    for &(pos, b) in edits {
        let n = v.len();
        v[pos % n] = b;
    }
    if let Some(c) = cut {
        v.truncate(c % (v.len() + 1));
    }
    String::from_utf8_lossy(&v).into_owned()
}

const KEYS: &[&str] = &[
    "seeds",
    "schedule.kind",
    "schedule.target",
    "schedule.step",
    "schedule.steps",
    "schedule.start",
    "schedule.power",
    "schedule.compat",
    "finetune.patience",
    "finetune.mode",
    "finetune.budget",
    "finetune.max_epochs",
    "finetune.lr",
    "finetune.min_delta",
    "prune.scope",
    "prune.per_layer",
    "prune.min_density",
    "prune.criterion",
    "prune.structured",
    "prune.target_measure",
    "prune.include",
    "dense.epochs",
    "data.val_fraction",
    "model.kind",
    "nonsense.key",
    "schedule",
];
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.5",
    "0.999999",
    "1e-300",
    "1e300",
    "nan",
    "inf",
    "-inf",
    "[]",
    "[0]",
    "[[0.5]]",
    "[[0.9],[0.9]]",
    "[1,2,3]",
    "geometric",
    "hybrid",
    "reference",
    "one-shot",
    "flops",
    "\"x\"",
    "true",
    "{a=1}",
    "18446744073709551615",
    "99999999",
    "[[0.1,0.2]]",
    "",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn mutated_examples(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let text = mutate(&examples()[which], &edits, cut);
        feed(&text, &[]);
    }

    #[test]
    fn random_overrides(
        which in 0usize..3,
        sets in proptest::collection::vec((0..KEYS.len(), 0..VALUES.len()), 1..5),
    ) {
        let overrides: Vec<String> =
            sets.iter().map(|&(k, v)| format!("{}={}", KEYS[k], VALUES[v])).collect();
        feed(&examples()[which], &overrides);
    }

    #[test]
    fn random_text(text in "\\PC{0,200}") {
        feed(&text, &[]);
        feed("", &[text]);
    }
}
