//! Verifying what a store holds before it is used: a seed's committed rows against the
//! checksums its state recorded (and, for a finished run, every kept file), and an
//! experiment's `config.toml` against its own checksum line and its directory name.
//!
//! Everything that reads results (`runs list`/`show`, a rerun, a sweep's cached runs,
//! `report`) goes through here, so a file edited, truncated or flipped after its commit is an
//! error naming it ([`StoreError::Damaged`]), never a quietly different number.

use super::{RunDir, RunState, StoreError, damaged, io, sha256_hex};
use crate::config::ExperimentConfig;
use shears_core::results::StepRow;
use std::path::{Path, PathBuf};

/// The first line of a `config.toml` written by this build: the SHA-256 of the rest.
pub const CONFIG_CHECKSUM_PREFIX: &str = "# sha256 of the lines below: ";

/// How to repair a damaged `config.toml`.
const RECOMPUTE_CONFIG: &str = "rerun the command that made this experiment (shears prune, \
     sweep or compare, with the same config) with --recompute-damaged to write it again";

/// `config.toml`'s text for `config`: the checksum line, then the TOML.
pub fn config_text(config: &ExperimentConfig) -> String {
    let toml = config.to_toml();
    format!(
        "{CONFIG_CHECKSUM_PREFIX}{}\n{toml}",
        sha256_hex(toml.as_bytes())
    )
}

fn config_damaged(path: &Path, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Damaged {
        path: path.to_path_buf(),
        detail: detail.to_string(),
        remedy: RECOMPUTE_CONFIG,
    }
}

/// The experiment directory `dir`'s stored config, verified: its checksum line (absent in
/// older stores) matches the TOML below it, and the config hashes to the directory's name,
/// so an edit (a target of 0.9 beside rows computed for 0.8) is an error naming the file.
/// Returns the config and its TOML text (without the checksum line).
pub fn verified_config(dir: &Path) -> Result<(ExperimentConfig, String), StoreError> {
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => io(&path, e),
        _ => config_damaged(&path, e),
    })?;
    let toml = match text.strip_prefix(CONFIG_CHECKSUM_PREFIX) {
        Some(rest) => {
            let (sum, toml) = rest.split_once('\n').unwrap_or((rest, ""));
            if sha256_hex(toml.as_bytes()) != sum.trim() {
                return Err(config_damaged(
                    &path,
                    "its content does not match its checksum line (edited or corrupted)",
                ));
            }
            toml
        }
        // Older stores have no checksum line; a comment first line that is not one is a
        // damaged checksum line, not an older store.
        None if text.starts_with('#') => {
            return Err(config_damaged(&path, "its checksum line is damaged"));
        }
        None => text.as_str(),
    };
    let config = ExperimentConfig::parse_stored(toml).map_err(|e| config_damaged(&path, e))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = config.id();
    if id != name {
        return Err(config_damaged(
            &path,
            format!(
                "it describes experiment {id}, not {name} (the directory is named by the hash of \
                 the config its rows were computed with)"
            ),
        ));
    }
    Ok((config, toml.to_string()))
}

/// One seed's committed results, verified.
#[derive(Debug, Clone)]
pub struct SeedRecord {
    pub run: RunDir,
    pub state: RunState,
    /// Steps `0..=state.completed_step`.
    pub rows: Vec<StepRow>,
}

/// The committed state and rows of `run` (`None` when nothing is committed), verified: the
/// state against its digest, the rows against their checksums and step sequence, and for a
/// finished run every kept checkpoint and masks file as well (nothing rewrites those any
/// more; an unfinished run's are verified when it resumes).
pub fn seed_record(run: &RunDir) -> Result<Option<SeedRecord>, StoreError> {
    let Some(state) = run.read_state()? else {
        return Ok(None);
    };
    let rows = committed_rows(run, &state)?;
    if state.finished {
        if state.verified() {
            let step = state.completed_step;
            for path in [run.checkpoint(step), run.masks(step)] {
                require_checksum(run, &state, &path)?;
            }
        }
        for name in state.checksums.keys() {
            if !name.starts_with("steps.") {
                run.verify(&state, &run.dir.join(name))?;
            }
        }
    }
    Ok(Some(SeedRecord {
        run: run.clone(),
        state,
        rows,
    }))
}

fn require_checksum(run: &RunDir, state: &RunState, path: &Path) -> Result<(), StoreError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    if state.checksums.contains_key(name.as_ref()) {
        return Ok(());
    }
    Err(damaged(
        &run.state_path(),
        format!("it records no checksum for {name}"),
    ))
}

/// The first `n` lines of `text` (each with its newline) and whether more follow.
fn first_lines(text: &str, n: usize) -> Option<(&str, bool)> {
    let mut end = 0;
    for _ in 0..n {
        let rest = &text[end..];
        let len = rest.find('\n')? + 1;
        end += len;
    }
    Some((&text[..end], end < text.len()))
}

/// Reads `path` and checks that its first `lines` lines hash to the checksum `state`
/// recorded for it (rows past them are an interrupted step's, allowed only while the run is
/// unfinished). Returns those lines.
fn checked_prefix(
    run: &RunDir,
    state: &RunState,
    path: &Path,
    lines: usize,
    what: &str,
) -> Result<String, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| damaged(path, e))?;
    let Some((prefix, more)) = first_lines(&text, lines) else {
        return Err(damaged(
            path,
            format!(
                "has {} {what} lines for committed step {}",
                text.lines().count(),
                state.completed_step
            ),
        ));
    };
    if more && state.finished {
        return Err(damaged(
            path,
            format!(
                "has lines after the last step's ({} expected)",
                state.completed_step
            ),
        ));
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    match state.checksums.get(name.as_ref()) {
        Some(sum) if *sum != sha256_hex(prefix.as_bytes()) => Err(damaged(
            path,
            format!(
                "its committed rows do not match the SHA-256 recorded in {} (edited or corrupted)",
                run.state_path().display()
            ),
        )),
        None if state.verified() => Err(damaged(
            &run.state_path(),
            format!("it records no checksum for {name}"),
        )),
        _ => Ok(prefix.to_string()),
    }
}

/// Rows `0..=state.completed_step` of `run`, verified against `state` (see [`seed_record`]);
/// a missing, short, extended, reordered or edited rows file is an error naming it.
pub fn committed_rows(run: &RunDir, state: &RunState) -> Result<Vec<StepRow>, StoreError> {
    let n = state
        .completed_step
        .checked_add(1)
        .ok_or_else(|| damaged(&run.state_path(), "completed_step is out of range"))?;
    let path = run.rows_path();
    let text = checked_prefix(run, state, &path, n, "row")?;
    let mut rows = Vec::with_capacity(n.min(4096));
    for (i, line) in text.lines().enumerate() {
        let row: StepRow = serde_json::from_str(line)
            .map_err(|e| damaged(&path, format!("line {}: {e}", i + 1)))?;
        if row.step != i {
            return Err(damaged(
                &path,
                format!("line {} holds step {}, expected step {i}", i + 1, row.step),
            ));
        }
        rows.push(row);
    }
    // The CSV export is checked too: it is what people read and plot (one header line).
    if state.verified() || state.checksums.contains_key("steps.csv") {
        checked_prefix(run, state, &run.csv_path(), n + 1, "CSV")?;
    }
    Ok(rows)
}

/// Moves a damaged seed run out of the way (to `damaged-seed-<s>[.<k>]` beside it, which
/// nothing reads) so it can be computed again; returns where it went. Takes the run's lock
/// first: a run another process holds is not moved.
pub fn move_aside(run: &RunDir) -> Result<PathBuf, StoreError> {
    let lock = super::Lock::acquire(&run.dir)?;
    let name = run
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = run.dir.parent().unwrap_or(Path::new("."));
    let mut target = parent.join(format!("damaged-{name}"));
    let mut k = 1;
    while target.exists() {
        target = parent.join(format!("damaged-{name}.{k}"));
        k += 1;
    }
    std::fs::rename(&run.dir, &target).map_err(|e| io(&run.dir, e))?;
    let _ = std::fs::remove_file(target.join(".lock"));
    drop(lock);
    Ok(target)
}
