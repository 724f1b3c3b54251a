//! Experiment configs: every mistake names its dotted key, overrides behave like the file, and
//! the experiment id depends on what is run, not on how it is spelled.

use shears_experiment::ExperimentConfig;

fn strings(overrides: &[&str]) -> Vec<String> {
    overrides.iter().map(|s| s.to_string()).collect()
}

fn parse(text: &str, overrides: &[&str]) -> ExperimentConfig {
    ExperimentConfig::from_toml(text, "test.toml", &strings(overrides))
        .unwrap_or_else(|e| panic!("{text:?} {overrides:?} rejected: {e}"))
}

fn error(text: &str, overrides: &[&str]) -> String {
    match ExperimentConfig::from_toml(text, "test.toml", &strings(overrides)) {
        Ok(c) => panic!("{text:?} {overrides:?} accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn unknown_keys_are_named_by_their_dotted_path() {
    let geometric = example("geometric-80.toml");
    // (file text, overrides, dotted key the error must contain)
    let cases: &[(&str, &[&str], &str)] = &[
        ("[finetune]\npatiense = 3\n", &[], "finetune.patiense"),
        ("", &["finetune.patiense=3"], "finetune.patiense"),
        (&geometric, &["finetune.patiense=3"], "finetune.patiense"),
        ("sedes = [1]\n", &[], "sedes"),
        ("", &["sedes=[1]"], "sedes"),
        ("[finetun]\npatience = 3\n", &[], "finetun"),
        ("", &["schedule.stpe=0.2"], "schedule.stpe"),
        (&geometric, &["prune.criterion.x=1"], "prune.criterion"),
        ("[data]\nval_fracton = 0.2\n", &[], "data.val_fracton"),
    ];
    for (text, overrides, key) in cases {
        let e = error(text, overrides);
        assert!(e.contains(key), "{overrides:?}: '{e}' does not name {key}");
    }
    // Malformed overrides are refused before anything runs.
    for bad in ["finetune.patience", "=3", "finetune..patience=3", ".x=1"] {
        let e = error("", &[bad]);
        assert!(e.contains(bad), "'{e}' does not quote '{bad}'");
    }
}

#[test]
fn out_of_range_values_name_their_key() {
    let geometric = example("geometric-80.toml");
    let cases: &[(&str, &str)] = &[
        ("schedule.target=1.0", "schedule.target"),
        ("schedule.target=1.5", "schedule.target"),
        ("schedule.target=0", "schedule.target"),
        ("schedule.target=-0.2", "schedule.target"),
        ("schedule.target=nan", "schedule.target"),
        ("schedule.step=1.0", "schedule.step"),
        ("seeds=[]", "seeds"),
        ("seeds=[1, 1]", "seeds"),
        ("finetune.patience=-1", "finetune.patience"),
        ("finetune.patience=[3, -1]", "finetune.patience"),
        ("finetune.patience=[]", "finetune.patience"),
        ("finetune.patience=ten", "finetune.patience"),
        ("finetune.min_delta=-0.1", "finetune.min_delta"),
        ("finetune.min_delta=nan", "finetune.min_delta"),
        ("finetune.lr=0", "finetune.lr"),
        ("finetune.max_epochs=0", "finetune.max_epochs"),
        ("finetune.batch_size=0", "finetune.batch_size"),
        ("finetune.carry=bestt", "finetune.carry"),
        ("data.val_fraction=1.0", "data.val_fraction"),
        ("data.val_fraction=0", "data.val_fraction"),
        ("dense.epochs=0", "dense.epochs"),
        ("dense.epochs=1.5", "dense.epochs"),
        ("dense.lr=-1", "dense.lr"),
        ("prune.min_density=1", "prune.min_density"),
        ("model.kind=resnet-19", "model.kind"),
    ];
    for (o, key) in cases {
        let e = error(&geometric, &[o]);
        assert!(e.contains(key), "-s {o}: '{e}' does not name {key}");
    }
    // Zero steps: the example uses `step`, so switch to `steps`.
    let steps0 = "[schedule]\nkind = \"geometric\"\ntarget = 0.8\nsteps = 0\n";
    let e = error(steps0, &[]);
    assert!(
        e.contains("schedule.steps"),
        "'{e}' does not name schedule.steps"
    );
    // A one-shot with several steps, and an iterative schedule with both step and steps.
    let e = error(
        "[schedule]\nkind = \"one-shot\"\ntarget = 0.8\nsteps = 3\n",
        &[],
    );
    assert!(e.contains("schedule"), "{e}");
    let e = error(&geometric, &["schedule.steps=4"]);
    assert!(e.contains("schedule"), "{e}");
}

#[test]
fn patience_takes_a_number_or_a_list_in_the_file_and_on_the_command_line() {
    let geometric = example("geometric-80.toml");
    assert_eq!(
        parse(&geometric, &["finetune.patience=10"])
            .finetune
            .patience,
        [10]
    );
    assert_eq!(
        parse(&geometric, &["finetune.patience=[20,2]"])
            .finetune
            .patience,
        [20, 2]
    );
    assert_eq!(
        parse(&geometric, &["finetune.patience = [20, 2]"])
            .finetune
            .patience,
        [20, 2]
    );
    assert_eq!(
        parse("[finetune]\npatience = 7\n", &[]).finetune.patience,
        [7]
    );
    assert_eq!(
        parse("[finetune]\npatience = [4, 1]\n", &[])
            .finetune
            .patience,
        [4, 1]
    );
    // Later overrides win; bare words are strings.
    let c = parse(
        &geometric,
        &[
            "finetune.patience=1",
            "finetune.patience=2",
            "schedule.kind=constant",
        ],
    );
    assert_eq!(c.finetune.patience, [2]);
    assert_eq!(c.regime(), "constant");
}

#[test]
fn an_override_of_a_section_the_file_leaves_out_changes_its_defaults() {
    // The prune command's own example, without a config file.
    let c = parse("", &["schedule.target=0.9"]);
    assert_eq!(c.regime(), "one-shot");
    assert_eq!(c.schedule.target, 0.9);
    let mut want = ExperimentConfig::default();
    want.schedule.target = 0.9;
    assert_eq!(c, want);
    // One field of the optimizer, in a file without an optimizer table.
    let c = parse(
        "[finetune]\nlr = 0.02\n",
        &["finetune.optimizer.momentum=0.5"],
    );
    let mut want = ExperimentConfig::default();
    want.finetune.lr = 0.02;
    want.finetune.optimizer = shears_nn::optim::OptimizerConfig::Sgd {
        momentum: 0.5,
        nesterov: false,
        weight_decay: 5e-4,
    };
    assert_eq!(c, want);
    // Another kind gets that kind's defaults, not the old kind's fields.
    for o in [
        &["finetune.optimizer.kind=adam"][..],
        &["finetune.lr=0.02", "finetune.optimizer.kind=adam"],
        &[
            "finetune.optimizer.weight_decay=0",
            "finetune.optimizer.kind=adam",
        ],
    ] {
        let c = parse("", o);
        assert!(
            matches!(
                c.finetune.optimizer,
                shears_nn::optim::OptimizerConfig::Adam { .. }
            ),
            "{o:?}: {:?}",
            c.finetune.optimizer
        );
    }
    // What the overrides set survives a change of kind.
    let geometric = "[schedule]\nkind = \"geometric\"\ntarget = 0.9\nstep = 0.2\n";
    for o in [
        &[
            "schedule.kind=geometric",
            "schedule.target=0.9",
            "schedule.step=0.2",
        ][..],
        &[
            "schedule.target=0.9",
            "schedule.kind=geometric",
            "schedule.step=0.2",
        ],
        &[
            "schedule.step=0.2",
            "schedule.target=0.9",
            "schedule.kind=geometric",
        ],
    ] {
        assert_eq!(parse("", o), parse(geometric, &[]), "{o:?}");
    }
    // A section the file writes is the file's: its keys stay, as in the file.
    let e = error(
        "[finetune.optimizer]\nkind = \"sgd\"\nmomentum = 0.9\n",
        &["finetune.optimizer.kind=adam"],
    );
    assert!(e.contains("finetune.optimizer"), "{e}");
}

#[test]
fn a_partial_section_in_the_file_keeps_the_defaults_it_leaves_out() {
    // "Every key defaulted" holds inside a section too: a schedule of only a target.
    let c = parse("[schedule]\ntarget = 0.9\n", &[]);
    let mut want = ExperimentConfig::default();
    want.schedule.target = 0.9;
    assert_eq!(c, want);
    assert_eq!(c, parse("", &["schedule.target=0.9"]));
    // Another kind in the file gets that kind's defaults, as an override would.
    let file = "[finetune.optimizer]\nkind = \"adam\"\n";
    assert_eq!(
        parse(file, &[]),
        parse("", &["finetune.optimizer.kind=adam"])
    );
    let c = parse(
        "[schedule]\nstep = 0.2\nkind = \"geometric\"\ntarget = 0.9\n",
        &[],
    );
    assert_eq!(c.regime(), "geometric");
    // A value where a section belongs is the file's error.
    let e = error("schedule = 3\n[finetune]\nlr = 0.02\n", &[]);
    assert!(e.contains("test.toml") && e.contains("schedule"), "{e}");
}

#[test]
fn a_range_error_of_an_overridden_key_names_the_override() {
    let file = "[schedule]\nkind = \"one-shot\"\ntarget = 0.5\n";
    for (o, key) in [
        ("schedule.target=1.2", "schedule.target"),
        ("finetune.min_delta=-1", "finetune.min_delta"),
        ("seeds=[]", "seeds"),
        ("dense.epochs=0", "dense.epochs"),
    ] {
        let e = error(file, &[o]);
        assert!(e.starts_with(&format!("override '{o}': {key}")), "{o}: {e}");
    }
    // The same mistake in the file names the key alone.
    let e = error("[schedule]\nkind = \"one-shot\"\ntarget = 1.2\n", &[]);
    assert!(e.starts_with("schedule.target"), "{e}");
}

#[test]
fn an_override_value_with_a_line_break_is_refused() {
    let e = error("", &["schedule.target=0.9\nseeds = [5]"]);
    assert!(
        e.contains("override 'schedule.target'") && e.contains("line break"),
        "{e}"
    );
}

#[test]
fn spellings_of_one_experiment_share_an_id_and_a_change_gives_another() {
    let geometric = example("geometric-80.toml");
    let base = parse(&geometric, &[]);
    let id = base.id();
    assert_eq!(id.len(), 16);

    // Keys in another order, 0.80 for 0.8, and inline tables.
    let reordered = r#"
        [finetune]
        lr = 0.010
        carry = "best"
        max_epochs = 30
        patience = 1
        mode = "patience"

        [schedule]
        step = 0.20
        target = 0.80
        kind = "geometric"

        [prune]
        scope = "global"
        criterion = "magnitude"

        [data]
        dataset = "fashion-mnist-mini"

        [model]
        kind = "lenet300"
    "#;
    assert_eq!(
        parse(reordered, &[]).id(),
        id,
        "reordered keys, 0.80 vs 0.8"
    );
    // Every default written out explicitly.
    let explicit = base.to_toml();
    assert!(explicit.contains("min_delta"), "{explicit}");
    assert_eq!(parse(&explicit, &[]), base);
    assert_eq!(parse(&explicit, &[]).id(), id, "explicit defaults");
    // Only what differs from the defaults, on the command line.
    let overrides = parse(
        "",
        &[
            "schedule.kind=geometric",
            "schedule.target=0.80",
            "schedule.step=0.2",
            "finetune.patience=[1]",
        ],
    );
    assert_eq!(overrides.id(), id, "overrides only");
    // The dataset's default augmentation written out (off for Fashion-MNIST).
    let augment = parse(&geometric, &["dense.augment=false"]);
    assert_eq!(augment.id(), id, "explicit dense.augment = false");
    assert_eq!(augment.dense_key(0), base.dense_key(0));
    let augmented = parse(&geometric, &["dense.augment=true"]);
    assert_ne!(augmented.id(), id);
    assert_ne!(augmented.dense_key(0), base.dense_key(0));
    // Other seeds are the same experiment (the id excludes them); the seeds are stored apart.
    assert_eq!(parse(&geometric, &["seeds=[3, 4]"]).id(), id);

    // Anything that changes what is run changes the id.
    for o in [
        "schedule.target=0.9",
        "schedule.target=0.8000001",
        "schedule.step=0.3",
        "finetune.patience=2",
        "finetune.carry=last",
        "finetune.lr=0.02",
        "dense.epochs=3",
        "prune.criterion=random",
        "data.val_fraction=0.2",
    ] {
        assert_ne!(parse(&geometric, &[o]).id(), id, "{o} kept the id");
    }
    // The one-shot example is another experiment.
    assert_ne!(parse(&example("oneshot-80.toml"), &[]).id(), id);
}

#[test]
fn a_missing_config_file_is_named() {
    let path = std::path::Path::new("/nonexistent/experiment.toml");
    let e = ExperimentConfig::load(Some(path), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/experiment.toml"), "{e}");
    let e = error("[finetune\n", &[]);
    assert!(e.contains("test.toml"), "{e}");
}

#[test]
fn target_measure_is_for_structured_runs_and_part_of_their_id() {
    // Unstructured: refused by name, and the id does not see the (absent) key.
    let e = error("", &["prune.target_measure=params"]);
    assert!(e.contains("prune.target_measure"), "{e}");
    assert!(e.contains("structured"), "{e}");
    let plain = parse("", &[]);
    assert_eq!(plain.target_measure(), None);
    assert!(!plain.to_toml().contains("target_measure"));

    // Structured: params unless set; the resolved measure is in the id.
    let structured = parse("", &["prune.structured=true"]);
    assert_eq!(
        structured.target_measure(),
        Some(shears_nn::structured::SizeMeasure::Params)
    );
    let params = parse(
        "",
        &["prune.structured=true", "prune.target_measure=params"],
    );
    let channels = parse(
        "",
        &["prune.structured=true", "prune.target_measure=channels"],
    );
    let flops = parse("", &["prune.structured=true", "prune.target_measure=flops"]);
    assert_eq!(structured.id(), params.id());
    assert_ne!(structured.id(), channels.id());
    assert_ne!(flops.id(), params.id());
    // A structured config stored before the key existed (no key, meaning channels) gets a new id.
    let mut old = structured.clone();
    old.prune.target_measure = None;
    let old_json = serde_json::to_string(&{
        let mut c = old.clone();
        c.seeds.clear();
        c
    })
    .unwrap();
    assert_ne!(
        shears_experiment::config::short_hash(&old_json),
        structured.id()
    );

    let e = error(
        "",
        &["prune.structured=true", "prune.target_measure=weights"],
    );
    assert!(e.contains("prune.target_measure"), "{e}");
}
