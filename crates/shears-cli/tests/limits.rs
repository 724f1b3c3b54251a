//! The `shears` binary at the edges of its environment: closed pipes, file-size limits,
//! unbounded input echoed in errors, and override/config text that could be half applied.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

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
    let dir = std::env::temp_dir().join(format!("shears-limits-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Files under `dir`, recursively.
fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_closed_pipe_ends_the_process_quietly() {
    // Far more than a pipe buffer (64 KiB), so the writer meets the closed end.
    let mut child = Command::new(env!("CARGO_BIN_EXE_shears"))
        .args([
            "schedule", "constant", "--target", "0.99", "--steps", "20000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 5];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is dropped here: like `shears schedule … | head -c 5`.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}");
}

#[test]
fn a_file_size_limit_is_reported_as_out_of_disk_space_with_nothing_left_behind() {
    let dir = scratch("fsize");
    let out = dir.join("model.ckpt");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shears"));
    cmd.args(["train", "--epochs", "1", "--out"]).arg(&out);
    // `ulimit -f` as a shell sets it: SIGXFSZ keeps its default (fatal) disposition.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 200_000,
                rlim_max: 200_000,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{:?} {stderr}", o.status);
    assert!(
        stderr.contains("out of disk space") && stderr.contains("model.ckpt"),
        "{stderr}"
    );
    assert!(files(&dir).is_empty(), "left behind: {:?}", files(&dir));
}

#[test]
fn errors_never_echo_unbounded_input() {
    let dir = scratch("huge");
    let config = dir.join("huge.toml");
    let seeds = vec!["7"; 1_000_000].join(", ");
    std::fs::write(&config, format!("seeds = [{seeds}]\n")).unwrap();
    let cfg = config.to_str().unwrap();
    let o = shears(&["prune", "--config", cfg, "--print-config"]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("seeds"), "{stderr}");
    assert!(stderr.len() < 4000, "{} bytes of stderr", stderr.len());

    let huge = format!("model.kind={}", "x".repeat(100_000));
    let o = shears(&["prune", "-s", &huge, "--print-config"]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("model.kind"), "{stderr}");
    assert!(stderr.len() < 4000, "{} bytes of stderr", stderr.len());

    // clap's own errors (an unknown subcommand echoed back) are bounded too.
    let o = shears(&[&"y".repeat(100_000)]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.len() < 4000, "{} bytes of stderr", stderr.len());
}

#[test]
fn an_override_with_a_line_break_is_refused_not_half_applied() {
    let o = shears(&[
        "prune",
        "-s",
        "schedule.target=0.9\nseeds=[5]",
        "--print-config",
    ]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("override 'schedule.target'") && stderr.contains("line break"),
        "{stderr}"
    );
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
}

#[test]
fn a_partial_config_section_keeps_the_defaults_it_leaves_out() {
    let dir = scratch("partial");
    let config = dir.join("partial.toml");
    std::fs::write(&config, "[schedule]\ntarget = 0.9\n").unwrap();
    let o = shears(&[
        "prune",
        "--config",
        config.to_str().unwrap(),
        "--print-config",
    ]);
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{stderr}");
    let defaults = text(&shears(&["prune", "--print-config"]).stdout);
    let printed: toml::Table = toml::from_str(&stdout).unwrap();
    let mut expected: toml::Table = toml::from_str(&defaults).unwrap();
    expected["schedule"]
        .as_table_mut()
        .unwrap()
        .insert("target".into(), toml::Value::Float(0.9));
    assert_eq!(printed, expected);
}

#[test]
fn a_missing_dataset_does_not_suggest_rerunning_to_resume() {
    let store = scratch("no-data");
    let o = shears(&[
        "prune",
        "--store",
        store.to_str().unwrap(),
        "-s",
        "data.dataset=cifar10",
        "-s",
        "data.dir=/nonexistent/shears-data",
    ]);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/nonexistent/shears-data"), "{stderr}");
    assert!(
        !stderr.contains("resume") && !stderr.contains("rerun"),
        "{stderr}"
    );
}

#[test]
fn compare_checks_its_targets_and_recommendation_before_any_work() {
    let out = scratch("compare-args").join("out");
    let o_str = out.to_str().unwrap();
    for (args, needle) in [
        (&["--recommend", "80"][..], "did you mean 0.8?"),
        (&["--recommend", "0.9,-3"], "epoch budget '-3'"),
        (&["--recommend", "abc"], "'abc' is not a number"),
        (&["--targets", "0.5", "95"], "did you mean 0.95?"),
        (&["--targets", "1"], "1 is not a fraction in (0, 1)"),
        // A sweep file is the whole grid: a grid option beside it would be ignored.
        (
            &["--config", "examples/sweep.toml", "--criterion", "wanda"],
            "'--config <CONFIG>' cannot be used with '--criterion <CRITERION>'",
        ),
        (
            &["--config", "examples/sweep.toml", "--budget", "4"],
            "cannot be used with",
        ),
    ] {
        let mut all = vec!["compare", "--out", o_str];
        all.extend_from_slice(args);
        let o = shears(&all);
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?} started work");
    }
    // Both documented forms are accepted (checked without running: a bad --jobs stops it).
    for r in ["0.9", "0.9,20"] {
        let o = shears(&["compare", "--out", o_str, "--recommend", r, "--jobs", "x"]);
        let stderr = text(&o.stderr);
        assert!(
            stderr.contains("--jobs") && !stderr.contains("--recommend"),
            "{stderr}"
        );
    }
}
