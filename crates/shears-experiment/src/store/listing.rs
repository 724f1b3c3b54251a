//! Reading a results store as a whole: its experiments and their seeds, the stores under a
//! directory, an experiment by id or unique id prefix, and the rows of finished runs.

use super::verify::{seed_record, verified_config};
use super::{RunDir, SeedRecord, StoreError, damaged, io};
use crate::config::ExperimentConfig;
use shears_core::results::{FailedRun, StepRow};
use std::path::{Path, PathBuf};

/// One stored experiment, as `shears runs list` shows it.
#[derive(Debug, Clone)]
pub struct ExperimentSummary {
    /// The experiment id (its directory's name).
    pub id: String,
    pub dir: PathBuf,
    /// Its stored config (verified), or why it cannot be used.
    pub config: Result<ExperimentConfig, String>,
    /// Seed runs started.
    pub seeds: usize,
    /// Seed runs finished, their files verified.
    pub finished: usize,
    /// Seed runs whose files are damaged, with the error naming the file.
    pub damaged: Vec<String>,
    /// Finished seed runs of an older store, read without checksums to verify them by.
    pub unverified: usize,
}

/// An experiment directory: one holding a `config.toml`.
fn is_experiment(dir: &Path) -> bool {
    dir.join("config.toml").is_file()
}

/// The experiments of a store, by id, every seed run verified.
pub fn list_experiments(store: &Path) -> Result<Vec<ExperimentSummary>, StoreError> {
    let entries = std::fs::read_dir(store)
        .map_err(|e| io(store, format!("cannot read results store: {e}")))?;
    let mut dirs: Vec<_> = entries
        .flatten()
        .filter(|e| is_experiment(&e.path()))
        .collect();
    dirs.sort_by_key(|e| e.file_name());
    Ok(dirs.into_iter().map(|e| summarise(e.path())).collect())
}

fn summarise(dir: PathBuf) -> ExperimentSummary {
    let config = verified_config(&dir)
        .map(|(c, _)| c)
        .map_err(|e| e.to_string());
    let seeds = seed_runs(&dir);
    let (mut finished, mut unverified, mut damaged) = (0, 0, Vec::new());
    for run in &seeds {
        match seed_record(run) {
            Ok(Some(r)) if r.state.finished => {
                finished += 1;
                unverified += usize::from(!r.state.verified());
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                if let Err(e) = check_not_orphaned(run) {
                    damaged.push(e.to_string());
                }
            }
            Err(e) => damaged.push(e.to_string()),
        }
    }
    ExperimentSummary {
        id: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        config,
        seeds: seeds.len(),
        finished,
        damaged,
        unverified,
        dir,
    }
}

/// One experiment as `shears runs show` shows it, verified.
#[derive(Debug, Clone)]
pub struct StoredExperiment {
    /// Its `config.toml` (without the checksum line).
    pub config_text: String,
    /// Its seed runs with committed steps, by directory name.
    pub seeds: Vec<SeedRecord>,
}

/// The config and committed rows of the experiment directory `dir`; any damaged file (the
/// config, a state, rows, a finished run's checkpoints) is an error naming it.
pub fn read_experiment(dir: &Path) -> Result<StoredExperiment, StoreError> {
    let (_, config_text) = verified_config(dir)?;
    let mut seeds = Vec::new();
    for run in seed_runs(dir) {
        match seed_record(&run)? {
            Some(r) => seeds.push(r),
            None => check_not_orphaned(&run)?,
        }
    }
    Ok(StoredExperiment { config_text, seeds })
}

/// A run without `state.json` has committed nothing, unless its rows or checkpoints are
/// there: then the state was lost (or the run was killed within its very first commit),
/// and what is there cannot be trusted, so it is reported rather than skipped.
fn check_not_orphaned(run: &RunDir) -> Result<(), StoreError> {
    let has_results = std::fs::read_dir(&run.dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("step"));
    if has_results {
        return Err(damaged(
            &run.state_path(),
            "missing, while the run's rows or checkpoints are there (deleted, or the run was \
             killed within its first commit)",
        ));
    }
    Ok(())
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

/// What a report reads from a store: the final rows of the finished runs and the recorded
/// failures, and the runs the experiments declare that the store does not hold finished.
#[derive(Debug, Clone, Default)]
pub struct Results {
    pub rows: Vec<StepRow>,
    pub failed: Vec<FailedRun>,
    /// Declared runs without a finished result (deleted, or never completed), described.
    pub missing: Vec<String>,
    /// Finished runs of an older store, read without checksums to verify them by.
    pub unverified: Vec<String>,
}

/// The verified rows of the finished runs and the recorded failures of `experiments` (id
/// and declared seeds) in `store`. A declared run that is absent or unfinished is listed in
/// [`Results::missing`], not silently left out; a damaged one is an error naming the file.
pub fn read_results(
    store: &Path,
    experiments: &[(String, Vec<u64>)],
) -> Result<Results, StoreError> {
    let mut out = Results::default();
    for (id, seeds) in experiments {
        let dir = store.join(id);
        std::fs::read_dir(&dir).map_err(|e| io(&dir, format!("missing experiment: {e}")))?;
        verified_config(&dir)?;
        for &seed in seeds {
            let run = RunDir::new(&dir, seed);
            if let Some(f) = run.read_failure()? {
                out.failed.push(f);
                continue;
            }
            match seed_record(&run)? {
                Some(r) if r.state.finished => {
                    if !r.state.verified() {
                        out.unverified.push(run.dir.display().to_string());
                    }
                    out.rows.extend(r.rows);
                }
                Some(r) => out.missing.push(format!(
                    "{}: unfinished (step {} of {})",
                    run.dir.display(),
                    r.state.completed_step,
                    r.state.total_steps
                )),
                None => out.missing.push(format!(
                    "{}: no committed result ({} is missing)",
                    run.dir.display(),
                    run.state_path().display()
                )),
            }
        }
    }
    Ok(out)
}
