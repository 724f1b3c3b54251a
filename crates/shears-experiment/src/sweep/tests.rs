//! Tests of sweep grids (`sweep.rs`).

use super::*;
use shears_nn::prune::Criterion;

#[test]
fn placeholders_scale_the_target() {
    assert_eq!(
        substitute("schedule.start={target*0.7}", 0.9).unwrap(),
        "schedule.start=0.63"
    );
    assert_eq!(substitute("x={target}", 0.5).unwrap(), "x=0.5");
    assert!(substitute("x={target*abc}", 0.5).is_err());
}

#[test]
fn grid_expands_regimes_targets_and_axes() {
    let s = SweepConfig::from_toml(
        r#"
        targets = [0.5, 0.9]
        seeds = [0, 1]
        [regimes]
        one-shot = ["schedule.kind=one-shot"]
        hybrid = ["schedule.kind=hybrid", "schedule.start={target*0.7}"]
        [grid]
        "finetune.patience" = ["[2]", "[4]"]
        "hybrid/schedule.steps" = ["2", "4", "6"]
        "#,
        "t",
    )
    .unwrap();
    let cells = s.cells().unwrap();
    // one-shot: 2 targets x 2 patiences; hybrid: 2 targets x 2 patiences x 3 step counts.
    assert_eq!(cells.len(), 2 * 2 + 2 * 2 * 3);
    let h = cells
        .iter()
        .find(|c| c.regime == "hybrid" && c.target == 0.9)
        .unwrap();
    assert_eq!(h.config.schedule.start, Some(0.63));
    assert_eq!(h.config.seeds, vec![0, 1]);
    let ids: std::collections::BTreeSet<_> = cells.iter().map(|c| c.config.id()).collect();
    assert_eq!(
        ids.len(),
        cells.len(),
        "every cell is a distinct experiment"
    );
}

#[test]
fn an_invalid_cell_is_named_before_any_work() {
    let s = SweepConfig::from_toml(
        r#"
        targets = [0.5]
        [regimes]
        hybrid = ["schedule.kind=hybrid", "schedule.steps=3"]
        "#,
        "t",
    )
    .unwrap();
    let e = s.cells().unwrap_err().to_string();
    assert!(e.contains("hybrid") && e.contains("start"), "{e}");
}

/// The override strings the built-in regimes were written as before they were typed.
fn builtin_overrides(regime: Regime) -> Vec<String> {
    let o: &[&str] = match regime {
        Regime::OneShot => &["schedule.kind=one-shot", "finetune.patience=[5]"],
        Regime::Geometric => &[
            "schedule.kind=geometric",
            "schedule.steps=5",
            "finetune.patience=[1]",
        ],
        Regime::Constant => &[
            "schedule.kind=constant",
            "schedule.steps=5",
            "finetune.patience=[1]",
        ],
        Regime::Hybrid => &[
            "schedule.kind=hybrid",
            "schedule.start={target*0.7}",
            "schedule.steps=3",
            "finetune.patience=[5,1]",
        ],
    };
    o.iter().map(|s| s.to_string()).collect()
}

/// Cells as they were made before targets and built-in regimes were typed: every value
/// as override text (`schedule.target={target}` first, `seeds=[..]` last).
fn cells_from_text(s: &SweepConfig) -> Vec<(String, f64, ExperimentConfig)> {
    let base = toml::to_string(&s.base).unwrap();
    let mut out = Vec::new();
    for (regime, recipe) in &s.regimes {
        let overrides = match recipe {
            Recipe::Overrides(o) => o.clone(),
            Recipe::Typed(_) => builtin_overrides(regime.parse().unwrap()),
        };
        for axes in s.combos_for(regime) {
            for &target in &s.targets {
                let mut all = vec![format!("schedule.target={target}")];
                for o in overrides
                    .iter()
                    .cloned()
                    .chain(axes.iter().map(|(k, v)| format!("{k}={v}")))
                {
                    all.push(substitute(&o, target).unwrap());
                }
                let seeds: Vec<String> = s.seeds_for(target).iter().map(u64::to_string).collect();
                all.push(format!("seeds=[{}]", seeds.join(",")));
                let config = ExperimentConfig::from_toml(&base, "sweep base", &all).unwrap();
                out.push((regime.clone(), target, config));
            }
        }
    }
    out
}

fn assert_same_cells(s: &SweepConfig, what: &str) {
    let mut typed: Vec<_> = s
        .cells()
        .unwrap()
        .into_iter()
        .map(|c| (c.regime, c.target, c.config))
        .collect();
    let mut text = cells_from_text(s);
    let key = |c: &(String, f64, ExperimentConfig)| (c.0.clone(), c.2.id());
    typed.sort_by_key(key);
    text.sort_by_key(key);
    assert_eq!(typed.len(), text.len(), "{what}");
    for (t, o) in typed.iter().zip(&text) {
        assert_eq!(t.2.id(), o.2.id(), "{what}: {} at {}", t.0, t.1);
        assert_eq!(t, o, "{what}");
    }
}

#[test]
fn typed_builtin_regimes_give_the_configs_and_ids_of_their_override_strings() {
    for r in Regime::ALL {
        assert_eq!(r.recipe().overrides(), builtin_overrides(r), "{r}");
    }
    let odd = vec![
        0.5,
        0.7,
        0.8,
        0.9,
        0.95,
        0.98,
        0.33,
        0.123456789,
        0.999,
        0.1,
    ];
    let comparisons = [
        Comparison::default(),
        Comparison {
            targets: odd.clone(),
            seeds: Seeds::List(vec![4, 0, 9]),
            ..Comparison::default()
        },
        Comparison {
            structured: true,
            budget: Some(12),
            targets: odd.clone(),
            ..Comparison::default()
        },
        Comparison {
            criterion: Criterion::Wanda,
            pattern: Some("2:4".parse().unwrap()),
            targets: vec![0.5],
            ..Comparison::default()
        },
        Comparison {
            criterion: Criterion::Random,
            data_dir: Some("/data/x".into()),
            regimes: vec![Regime::Hybrid, Regime::OneShot],
            targets: odd,
            ..Comparison::default()
        },
    ];
    for (i, c) in comparisons.iter().enumerate() {
        assert_same_cells(&c.sweep(), &format!("comparison {i}"));
    }
    let hybrid = Comparison::default()
        .sweep()
        .cells()
        .unwrap()
        .into_iter()
        .find(|c| c.regime == "hybrid" && c.target == 0.95)
        .unwrap();
    assert_eq!(hybrid.config.schedule.start, Some(0.665));
}

#[test]
fn typed_targets_give_the_configs_of_target_override_strings() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let sweeps = [
        std::fs::read_to_string(examples.join("sweep.toml")).unwrap(),
        // A regime that keeps the default kind, one that changes it around set keys, and
        // a base with its own schedule.
        r#"
        targets = [0.5, 0.9, 0.37]
        seeds = [3]
        [regimes]
        plain = ["finetune.patience=[2]"]
        compat = ["schedule.compat=reference", "schedule.kind=geometric", "schedule.step=0.2"]
        poly = ["schedule.power=2", "schedule.kind=polynomial", "schedule.steps=4"]
        [grid]
        "finetune.lr" = ["0.01", "0.02"]
        "#
        .to_string(),
        r#"
        targets = [0.6, 0.95]
        [base.schedule]
        kind = "constant"
        steps = 3
        [regimes]
        same = []
        hybrid = ["schedule.kind=hybrid", "schedule.start={target*0.5}"]
        "#
        .to_string(),
    ];
    for (i, text) in sweeps.iter().enumerate() {
        let s = SweepConfig::from_toml(text, "t").unwrap();
        assert_same_cells(&s, &format!("sweep {i}"));
    }
}

#[test]
fn the_builtin_comparison_is_recorded_as_the_committed_reports_record_it() {
    /// The report layer's analysis options, in their serialised layout.
    #[derive(Serialize, Deserialize)]
    struct Options {
        select_on_validation: bool,
        one_shot_regime: String,
        iterative_regime: String,
        recommend_target: Option<f64>,
        epoch_budget: Option<f64>,
        margin: f64,
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/results/fashion-mnist-mini-lenet300/compare.json");
    let committed = std::fs::read_to_string(path).unwrap();
    let recorded: Manifest<Options> = serde_json::from_str(&committed).unwrap();
    let sweep = Comparison::default().sweep();
    let ours = Manifest {
        sweep: sweep.clone(),
        experiments: recorded.experiments.clone(),
        options: recorded.options,
    };
    assert_eq!(serde_json::to_string_pretty(&ours).unwrap(), committed);
    // Read back, the recorded sweep is override text that gives the same experiments.
    let ids = |s: &SweepConfig| -> Vec<String> {
        s.cells().unwrap().iter().map(|c| c.config.id()).collect()
    };
    assert_eq!(ids(&recorded.sweep), ids(&sweep));
}

#[test]
fn auto_seeds_grow_per_target_up_to_the_maximum_and_read_back() {
    let text = r#"
        targets = [0.5, 0.9]
        seeds = "auto"
        max_seeds = 5
        [regimes]
        one-shot = ["schedule.kind=one-shot"]
        "#;
    let mut s = SweepConfig::from_toml(text, "t").unwrap();
    assert_eq!(s.auto_max(), Some(5));
    assert_eq!(s.seeds_for(0.9), vec![0, 1, 2]);
    assert!(s.add_seed(0.9) && s.add_seed(0.9));
    assert!(!s.add_seed(0.9), "past the maximum");
    assert_eq!(s.seeds_for(0.9), vec![0, 1, 2, 3, 4]);
    assert_eq!(s.seeds_for(0.5), vec![0, 1, 2]);
    let seeds: Vec<(f64, usize)> = s
        .cells()
        .unwrap()
        .iter()
        .map(|c| (c.target, c.config.seeds.len()))
        .collect();
    assert_eq!(seeds, vec![(0.5, 3), (0.9, 5)]);
    // The grown grid is what compare.json records, and reads back to the same cells.
    let json = serde_json::to_string(&s).unwrap();
    let back: SweepConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);
    back.check_seeds().unwrap();
    // A list never grows; its experiments' ids are those of the auto grid (seeds are not
    // part of an id), so added seeds reuse finished runs.
    let mut list = SweepConfig::from_toml(
        &text
            .replace("\"auto\"", "[0, 1, 2]")
            .replace("max_seeds = 5", ""),
        "t",
    )
    .unwrap();
    assert!(!list.add_seed(0.9));
    let ids = |s: &SweepConfig| -> Vec<String> {
        s.cells().unwrap().iter().map(|c| c.config.id()).collect()
    };
    assert_eq!(ids(&list), ids(&s));
}

#[test]
fn inconsistent_seed_settings_are_refused() {
    let grid = "targets = [0.5]\n[regimes]\na = []\n";
    for (seeds, needle) in [
        ("seeds = []", "the list is empty"),
        ("seeds = [0]\nmax_seeds = 6", "only with seeds = \"auto\""),
        (
            "seeds = \"auto\"\nmax_seeds = 2",
            "max_seeds: 2 is outside 3..=100",
        ),
        ("seeds = \"auto\"\nmax_seeds = 101", "outside"),
        (
            "seeds = \"auto\"\nmax_seeds = 4\n[[seeds_by_target]]\ntarget = 0.5\nseeds = 9",
            "seeds_by_target",
        ),
        (
            "seeds = \"auto\"\n[[seeds_by_target]]\ntarget = 0.7\nseeds = 4",
            "seeds_by_target",
        ),
        ("seeds = \"some\"", "auto"),
    ] {
        let (head, tail) = seeds
            .split_once("\n[[")
            .map_or((seeds, String::new()), |(h, t)| (h, format!("[[{t}\n")));
        let text = format!("{head}\n{grid}{tail}");
        let e = SweepConfig::from_toml(&text, "t").unwrap_err().to_string();
        assert!(e.contains(needle), "{seeds}: {e}");
    }
}

#[test]
fn a_pattern_comparison_prunes_layer_wise_to_the_pattern() {
    let c = Comparison {
        pattern: Some("2:4".parse().unwrap()),
        targets: vec![0.5],
        ..Comparison::default()
    };
    let cells = c.sweep().cells().unwrap();
    assert!(!cells.is_empty());
    for cell in &cells {
        let p = &cell.config.prune;
        assert_eq!(p.pattern.map(|p| p.to_string()).as_deref(), Some("2:4"));
        assert_eq!(p.scope, shears_core::masks::ScopeKind::LayerWise);
        assert_eq!(cell.config.schedule.target, 0.5);
    }
    // A target the pattern cannot reach is refused by the config's validation.
    let wrong = Comparison {
        targets: vec![0.8],
        ..c
    };
    let err = wrong.sweep().cells().unwrap_err().to_string();
    assert!(err.contains("2:4") && err.contains("0.8"), "{err}");
}
