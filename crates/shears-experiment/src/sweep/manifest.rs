//! `compare.json`: what a report directory was made from (the grid, its experiments in the
//! results store, and the analysis options), so its report can be regenerated from the store.

use super::{Cell, Outcome, SweepConfig};
use crate::store::{self, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The manifest of a report directory; `O` holds the analysis options (defined by the report
/// layer, which this crate does not know).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest<O> {
    pub sweep: SweepConfig,
    /// Distinct experiment ids of the grid's cells, in cell order.
    pub experiments: Vec<String>,
    pub options: O,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: not a compare/sweep output directory: {detail}", path.display())]
    Missing { path: PathBuf, detail: String },
    #[error("{}: unreadable manifest: {detail}", path.display())]
    Unreadable { path: PathBuf, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}: its sweep no longer expands to a grid: {detail}", path.display())]
    Grid { path: PathBuf, detail: String },
}

impl<O: Serialize + DeserializeOwned> Manifest<O> {
    /// The file name in a report directory.
    pub const FILE: &'static str = "compare.json";

    pub fn new(sweep: SweepConfig, cells: &[Cell], options: O) -> Self {
        let mut seen = HashSet::new();
        let experiments = cells
            .iter()
            .map(|c| c.config.id())
            .filter(|id| seen.insert(id.clone()))
            .collect();
        Self {
            sweep,
            experiments,
            options,
        }
    }

    /// Writes `dir/compare.json` (pretty-printed JSON, replaced atomically).
    pub fn write(&self, dir: &Path) -> Result<(), ManifestError> {
        let path = dir.join(Self::FILE);
        let text = serde_json::to_string_pretty(self).expect("a manifest serialises");
        store::write(&path, text.as_bytes())?;
        Ok(())
    }

    pub fn read(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(Self::FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| ManifestError::Missing {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| ManifestError::Unreadable {
            path,
            detail: e.to_string(),
        })
    }

    /// The stored rows and failures of the manifest's experiments in `store`, each run
    /// verified, and the runs its grid declares that the store does not hold finished.
    /// `dir` is the report directory (named in errors).
    pub fn results(&self, dir: &Path, store: &Path) -> Result<Outcome, ManifestError> {
        let cells = self.sweep.cells().map_err(|e| ManifestError::Grid {
            path: dir.join(Self::FILE),
            detail: e.to_string(),
        })?;
        let experiments = self
            .experiments
            .iter()
            .map(|id| {
                let cell = cells.iter().find(|c| c.config.id() == *id);
                let seeds =
                    cell.map(|c| c.config.seeds.clone())
                        .ok_or_else(|| ManifestError::Grid {
                            path: dir.join(Self::FILE),
                            detail: format!("experiment {id} is not one of its cells"),
                        })?;
                Ok((id.clone(), seeds))
            })
            .collect::<Result<Vec<_>, ManifestError>>()?;
        let r = store::read_results(store, &experiments)?;
        Ok(Outcome {
            rows: r.rows,
            failed: r.failed,
            missing: r.missing,
            unverified: r.unverified,
        })
    }
}
