//! Reading a results store as a whole: its experiments and their seeds, the stores under a
//! directory, an experiment by id or unique id prefix, and the rows of finished runs.

use super::{RunDir, RunState, StoreError, io};
use crate::config::ExperimentConfig;
use shears_core::results::{FailedRun, StepRow};
use std::path::{Path, PathBuf};

/// One stored experiment, as `shears runs list` shows it.
#[derive(Debug, Clone)]
pub struct ExperimentSummary {
    /// The experiment id (its directory's name).
    pub id: String,
    pub dir: PathBuf,
    /// Its stored config, or why it cannot be read.
    pub config: Result<ExperimentConfig, String>,
    /// Seed runs started.
    pub seeds: usize,
    /// Seed runs finished.
    pub finished: usize,
}

/// An experiment directory: one holding a `config.toml`.
fn is_experiment(dir: &Path) -> bool {
    dir.join("config.toml").is_file()
}

/// The experiments of a store, by id.
pub fn list_experiments(store: &Path) -> Result<Vec<ExperimentSummary>, StoreError> {
    let entries = std::fs::read_dir(store)
        .map_err(|e| io(store, format!("cannot read results store: {e}")))?;
    let mut dirs: Vec<_> = entries
        .flatten()
        .filter(|e| is_experiment(&e.path()))
        .collect();
    dirs.sort_by_key(|e| e.file_name());
    Ok(dirs
        .into_iter()
        .map(|e| {
            let dir = e.path();
            let config = std::fs::read_to_string(dir.join("config.toml"))
                .map_err(|e| e.to_string())
                .and_then(|t| ExperimentConfig::parse_stored(&t));
            let seeds = seed_runs(&dir);
            let finished = seeds
                .iter()
                .filter(|r| r.read_state().ok().flatten().is_some_and(|s| s.finished))
                .count();
            ExperimentSummary {
                id: e.file_name().to_string_lossy().into_owned(),
                dir,
                config,
                seeds: seeds.len(),
                finished,
            }
        })
        .collect())
}

/// The seed runs (`seed-*`) of an experiment directory, by name.
pub fn seed_runs(experiment: &Path) -> Vec<RunDir> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(experiment)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("seed-"))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    runs.sort();
    runs.into_iter().map(|dir| RunDir { dir }).collect()
}

/// Directories not searched for stores: build output, version control, hidden ones.
fn skipped(name: &str) -> bool {
    name.starts_with('.') || name == "target" || name == "node_modules"
}

/// How deep [`find_stores`] looks (`results/compare/runs` is 3 levels down).
const SEARCH_DEPTH: usize = 5;

/// Results stores under `root` (directories holding experiment directories), relative to
/// `root` (`.` for `root` itself), sorted; stores are not searched inside.
pub fn find_stores(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![(PathBuf::from("."), 0)];
    while let Some((rel, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        let dirs: Vec<_> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .collect();
        if dirs.iter().any(|e| is_experiment(&e.path())) {
            found.push(rel);
            continue;
        }
        if depth < SEARCH_DEPTH {
            for e in dirs {
                let name = e.file_name().to_string_lossy().into_owned();
                if !skipped(&name) {
                    let child = if rel == Path::new(".") {
                        PathBuf::from(&name)
                    } else {
                        rel.join(&name)
                    };
                    pending.push((child, depth + 1));
                }
            }
        }
    }
    found.sort();
    found
}

#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("no experiment '{id}' in {stores}")]
    NotFound { id: String, stores: String },
    #[error("'{id}' is the start of several experiment ids; give more of it: {}", matches.join(", "))]
    Ambiguous { id: String, matches: Vec<String> },
}

/// The experiment directory whose id is `id` or starts with it, in one of `stores`.
pub fn find_experiment(stores: &[PathBuf], id: &str) -> Result<PathBuf, FindError> {
    let mut matches = Vec::new();
    for store in stores {
        if !id.is_empty() && is_experiment(&store.join(id)) {
            return Ok(store.join(id));
        }
        for e in std::fs::read_dir(store).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(id) && is_experiment(&e.path()) {
                matches.push(e.path());
            }
        }
    }
    matches.sort();
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => Err(FindError::NotFound {
            id: id.to_string(),
            stores: stores
                .iter()
                .map(|s| s.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
        _ => Err(FindError::Ambiguous {
            id: id.to_string(),
            matches: matches.iter().map(|m| m.display().to_string()).collect(),
        }),
    }
}

/// The committed rows of one seed's run; a damaged state or rows file, or rows that do not
/// match the committed step, is an error, not a shorter run.
pub fn committed_rows(run: &RunDir) -> Result<(Option<RunState>, Vec<StepRow>), StoreError> {
    let state = run.read_state()?;
    let upto = state.as_ref().map_or(0, |s| s.completed_step);
    let rows = run.read_rows(upto)?;
    if state.is_some() && rows.len() != upto + 1 {
        return Err(io(
            &run.rows_path(),
            format!("has {} rows for committed step {upto}", rows.len()),
        ));
    }
    Ok((state, rows))
}

/// Rows of the finished (committed) steps and the recorded failures of the experiments
/// `ids` in `store`.
pub fn read_results(
    store: &Path,
    ids: &[String],
) -> Result<(Vec<StepRow>, Vec<FailedRun>), StoreError> {
    let (mut rows, mut failed) = (Vec::new(), Vec::new());
    for id in ids {
        let dir = store.join(id);
        std::fs::read_dir(&dir).map_err(|e| io(&dir, format!("missing experiment: {e}")))?;
        for run in seed_runs(&dir) {
            if let Some(f) = run.read_failure()? {
                failed.push(f);
            } else if let Some(state) = run.read_state()? {
                rows.extend(run.read_rows(state.completed_step)?);
            }
        }
    }
    Ok((rows, failed))
}
