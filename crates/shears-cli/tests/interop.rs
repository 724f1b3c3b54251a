//! `shears import` and `shears export`: a PyTorch state dict in, measured and saved as a
//! checkpoint; the checkpoint out as PyTorch-layout safetensors, which imports back to the
//! same model; a file for another model refused by key, writing nothing; a structurally
//! pruned run exported (ONNX, safetensors with its widths) and evaluated sample by sample.

use std::path::PathBuf;
use std::process::{Command, Output};

fn shears(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shears"))
        .args(args)
        .output()
        .expect("run shears")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shears-interop-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shears-nn/tests/fixtures/torch");
    root.join(name).display().to_string()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

#[test]
fn a_pytorch_model_goes_in_and_comes_back_out_unchanged() {
    let dir = scratch("roundtrip");
    let ckpt = dir.join("imported.ckpt").display().to_string();
    let st = dir.join("exported.safetensors").display().to_string();
    let again = dir.join("again.ckpt").display().to_string();
    let first = json(&shears(&[
        "import",
        "--from",
        &fixture("lenet5.pt"),
        "--model",
        "lenet5",
        "--out",
        &ckpt,
        "--json",
    ]));
    let o = shears(&["export", "--checkpoint", &ckpt, "--out", &st]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let second = json(&shears(&[
        "import", "--from", &st, "--model", "lenet5", "--out", &again, "--json",
    ]));
    for k in ["test_top1", "test_loss"] {
        assert!(first[k].is_number(), "{first}");
        assert_eq!(first[k], second[k], "{k}");
    }
    // What `eval` measures on the imported checkpoint is what `import` reported.
    let eval = json(&shears(&["eval", "--checkpoint", &ckpt, "--json"]));
    assert_eq!(eval["test_loss"], first["test_loss"]);
}

#[test]
fn weights_for_another_model_are_refused_by_key_and_nothing_is_written() {
    let dir = scratch("refused");
    let out = dir.join("x.ckpt");
    let o = shears(&[
        "import",
        "--from",
        &fixture("resnet20.pt"),
        "--model",
        "lenet5",
        "--out",
        &out.display().to_string(),
    ]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("resnet20.pt") && stderr.contains("conv1.weight: missing from the file"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists());
    let o = shears(&[
        "import",
        "--from",
        "model.onnx",
        "--model",
        "lenet5",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("expected .safetensors, .pt or .pth"));
}

/// The `shears` record in a safetensors file's header.
fn safetensors_record(path: &std::path::Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    serde_json::from_str(header["__metadata__"]["shears"].as_str().unwrap()).unwrap()
}

#[test]
fn a_shrunk_model_goes_out_from_its_run_and_is_evaluated_sample_by_sample() {
    let dir = scratch("shrunk");
    let store = dir.join("runs").display().to_string();
    let o = shears(&[
        "prune",
        "--store",
        &store,
        "-s",
        "model.kind=lenet5",
        "-s",
        "dense.epochs=1",
        "-s",
        "schedule.kind=one-shot",
        "-s",
        "schedule.target=0.5",
        "-s",
        "prune.structured=true",
        "-s",
        "finetune.mode=epochs",
        "-s",
        "finetune.epochs=1",
        "-s",
        "finetune.batches_per_epoch=5",
    ]);
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The pruned model's path is printed, and the experiment directory stays the last line.
    let ckpt = stdout
        .lines()
        .find_map(|l| l.strip_prefix("pruned model seed 0: "))
        .unwrap_or_else(|| panic!("no pruned model path in\n{stdout}"))
        .to_string();
    assert!(PathBuf::from(&ckpt).is_file(), "{ckpt}");
    let run = PathBuf::from(stdout.lines().last().unwrap()).join("seed-0");
    let run = run.display().to_string();

    // Exported from the run directory; the format follows the name.
    let onnx = dir.join("lenet5.onnx").display().to_string();
    let o = shears(&["export", "--checkpoint", &run, "--out", &onnx]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains(&format!("checkpoint {ckpt}")));
    assert!(std::fs::metadata(&onnx).unwrap().len() > 0);
    // The safetensors record carries the channel widths that rebuild the shrunk model.
    let st = dir.join("lenet5.safetensors");
    let o = shears(&[
        "export",
        "--checkpoint",
        &ckpt,
        "--out",
        &st.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let record = safetensors_record(&st);
    let conv1 = record["widths"]["conv1"].as_u64().expect("recorded widths");
    assert!(conv1 < 6, "{record}");

    // Every test sample's prediction, agreeing with the reported top-1.
    let csv = dir.join("predictions.csv");
    let e = json(&shears(&[
        "eval",
        "--checkpoint",
        &run,
        "--predictions",
        &csv.display().to_string(),
        "--json",
    ]));
    let body = std::fs::read_to_string(&csv).unwrap();
    let mut lines = body.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..4], ["sample", "label", "predicted", "correct"]);
    assert_eq!(header.len(), 4 + 10);
    let correct: Vec<f64> = lines
        .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
        .collect();
    assert_eq!(correct.len() as u64, e["samples"].as_u64().unwrap());
    let top1 = correct.iter().sum::<f64>() / correct.len() as f64;
    assert!(
        (top1 - e["test_top1"].as_f64().unwrap()).abs() < 1e-12,
        "{top1} vs {e}"
    );

    // An experiment directory is not one model: refused, naming its runs.
    let exp = PathBuf::from(&run).parent().unwrap().display().to_string();
    let o = shears(&["export", "--checkpoint", &exp, "--out", &onnx]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("experiment directory") && err.contains("seed-0"),
        "{err}"
    );
    // Another program's names are for state dicts, not for ONNX graphs.
    let o = shears(&[
        "export",
        "--checkpoint",
        &ckpt,
        "--out",
        &onnx,
        "--layout",
        "reference",
    ]);
    assert!(
        text(&o.stderr).contains("ONNX graph keeps"),
        "{}",
        text(&o.stderr)
    );
    // A name that says no format, without --format.
    let o = shears(&["export", "--checkpoint", &ckpt, "--out", "model.bin"]);
    assert!(text(&o.stderr).contains("--format"), "{}", text(&o.stderr));
}

#[test]
fn a_pytorch_state_dict_is_the_dense_model_of_an_experiment() {
    let dir = scratch("dense-pt");
    let ckpt = dir.join("imported.ckpt").display().to_string();
    let imported = json(&shears(&[
        "import",
        "--from",
        &fixture("lenet5.pt"),
        "--model",
        "lenet5",
        "--out",
        &ckpt,
        "--json",
    ]));
    let model = dir.join("model.pt");
    std::fs::copy(fixture("lenet5.pt"), &model).unwrap();
    let dense = format!("dense.checkpoint={}", model.display());
    let store = dir.join("runs").display().to_string();
    let prune = || {
        shears(&[
            "prune",
            "--store",
            &store,
            "-s",
            "model.kind=lenet5",
            "-s",
            &dense,
            "-s",
            "schedule.kind=one-shot",
            "-s",
            "schedule.target=0.5",
            "-s",
            "finetune.mode=epochs",
            "-s",
            "finetune.epochs=1",
            "-s",
            "finetune.batches_per_epoch=2",
        ])
    };
    let o = prune();
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Step 0 is the PyTorch model itself: what `import` measured.
    let exp = PathBuf::from(text(&o.stdout).lines().last().unwrap());
    let rows = std::fs::read_to_string(exp.join("seed-0/steps.jsonl")).unwrap();
    let dense: serde_json::Value = serde_json::from_str(rows.lines().next().unwrap()).unwrap();
    assert_eq!(dense["step"], 0);
    assert_eq!(dense["test_loss"], imported["test_loss"], "{dense}");
    // The same command again serves the stored result; after the file is replaced it refuses
    // to, since those results are not the new file's.
    assert!(prune().status.success());
    std::fs::copy(fixture("lenet5.safetensors"), &model).unwrap();
    let o = prune();
    let err = text(&o.stderr);
    assert!(
        !o.status.success() && err.contains("has changed since the runs"),
        "{err}"
    );
    // A state dict for another model is refused by key.
    let wrong = format!("dense.checkpoint={}", fixture("resnet20.pt"));
    let o = shears(&[
        "prune",
        "--store",
        &store,
        "-s",
        "model.kind=lenet5",
        "-s",
        &wrong,
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("dense.checkpoint") && err.contains("conv1.weight"),
        "{err}"
    );
}

#[test]
fn another_layout_is_for_the_resnets_only() {
    let dir = scratch("layout");
    let out = dir.join("x.ckpt");
    let o = shears(&[
        "import",
        "--from",
        &fixture("lenet5.pt"),
        "--model",
        "lenet5",
        "--layout",
        "reference",
        "--out",
        &out.display().to_string(),
    ]);
    let err = text(&o.stderr);
    assert!(
        !o.status.success() && err.contains("for the ResNets"),
        "{err}"
    );
    assert!(!out.exists());
    let o = shears(&[
        "import", "--from", "x.pt", "--model", "lenet5", "--layout", "keras", "--out", "y.ckpt",
    ]);
    assert!(
        text(&o.stderr).contains("unknown layout 'keras'"),
        "{}",
        text(&o.stderr)
    );
}

/// A user's images: a folder of class sub-directories (flat colours with a seeded speckle,
/// so the classes are learnable and no two images are alike).
fn image_folder(dir: &std::path::Path) {
    for k in 0..3u32 {
        let class = dir.join(format!("class-{k}"));
        std::fs::create_dir_all(&class).unwrap();
        for i in 0..10u32 {
            let img = image::RgbImage::from_fn(30 + i, 30, |x, y| {
                let speckle = ((x * 7 + y * 13 + i * 31) % 17) as u8;
                image::Rgb([(40 + 70 * k) as u8 + speckle, 90, 200 - (60 * k) as u8])
            });
            img.save(class.join(format!("{i:02}.png"))).unwrap();
        }
    }
}

#[test]
fn an_image_folder_trains_prunes_and_evaluates_at_the_models_size() {
    let dir = scratch("folder");
    let data = dir.join("images");
    image_folder(&data);
    let d = data.display().to_string();
    let ckpt = dir.join("dense.ckpt").display().to_string();
    let t = json(&shears(&[
        "train",
        "--model",
        "lenet5",
        "--data",
        "folder",
        "--data-dir",
        &d,
        "--image-size",
        "20",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--out",
        &ckpt,
        "--json",
    ]));
    let top1 = t["test_top1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&top1), "{t}");
    // eval reads the folder at the checkpoint's input size (20) without being told.
    let e = json(&shears(&[
        "eval",
        "--checkpoint",
        &ckpt,
        "--data",
        "folder",
        "--data-dir",
        &d,
        "--json",
    ]));
    assert_eq!(e["test_top1"], t["test_top1"]);
    assert_eq!(e["test_loss"], t["test_loss"]);
    let i = json(&shears(&["inspect", "--checkpoint", &ckpt, "--json"]));
    // 3 colour channels into conv1 (6·3·5·5 + 6), a 20×20 input leaves 16·3·3 for fc1.
    assert_eq!(i["layers"][0]["params"], 456, "{i}");
    assert_eq!(i["layers"][2]["params"], 120 * 16 * 3 * 3 + 120, "{i}");

    // An experiment on the folder: the config's data.image_size reaches the runner.
    let store = dir.join("runs").display().to_string();
    let dir_override = format!("data.dir={d}");
    let prune = |extra: &[&str]| {
        let mut args = vec!["prune", "--config", "../../examples/oneshot-80.toml"];
        args.extend(["--store", &store, "-s", "model.kind=lenet5", "-s"]);
        args.extend(["data.dataset=folder", "-s", &dir_override, "-s"]);
        args.extend(["data.image_size=20", "-s", "dense.epochs=1", "-s"]);
        args.extend(["finetune.mode=epochs", "-s", "finetune.epochs=1", "-s"]);
        args.extend(["data.val_fraction=0.2", "-s", "dense.batch_size=8", "-s"]);
        args.extend(["finetune.batch_size=8"]);
        args.extend(extra);
        shears(&args)
    };
    let o = prune(&[]);
    assert!(o.status.success(), "{}", text(&o.stderr));

    // A file that does not decode stops the read, named; --skip-corrupt (data.skip_corrupt)
    // leaves it out with a warning.
    std::fs::write(data.join("class-1").join("broken.png"), b"not a PNG").unwrap();
    let mut train = vec![
        "train",
        "--model",
        "lenet5",
        "--data",
        "folder",
        "--data-dir",
        &d,
    ];
    train.extend([
        "--image-size",
        "20",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--out",
        &ckpt,
    ]);
    let o = shears(&train);
    let err = text(&o.stderr);
    assert!(
        !o.status.success() && err.contains("broken.png: not a readable PNG/JPEG image"),
        "{err}"
    );
    train.push("--skip-corrupt");
    let o = shears(&train);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("1 image file that does not decode left out: ") && err.contains("broken.png"),
        "{err}"
    );
    let o = prune(&["-s", "data.skip_corrupt=true", "-s", "seeds=[1]"]);
    let err = text(&o.stderr);
    assert!(o.status.success() && err.contains("broken.png"), "{err}");

    // The options are for folders only, and a folder needs its directory.
    let o = shears(&[
        "train",
        "--image-size",
        "20",
        "--epochs",
        "1",
        "--out",
        &ckpt,
    ]);
    let err = text(&o.stderr);
    assert!(
        err.contains("--image-size and --skip-corrupt: only for --data folder"),
        "{err}"
    );
    let o = shears(&["train", "--data", "folder", "--epochs", "1", "--out", &ckpt]);
    let err = text(&o.stderr);
    assert!(err.contains("needs a data directory"), "{err}");
}
