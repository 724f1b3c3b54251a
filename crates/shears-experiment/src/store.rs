//! The results store: one directory per experiment (named by its config hash), one
//! sub-directory per seed holding the rows so far and the state to resume from.
//!
//! Every file is written atomically (temp file, fsync, rename) and `state.json` is written
//! last: it is the commit point of a step. A process killed at any moment leaves either the
//! previous committed state or the new one, never a half-written file that is read as valid.

use serde::{Deserialize, Serialize};
use shears_core::results::{SCHEMA_VERSION, StepRow};
use shears_nn::checkpoint::write_atomic;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error(
        "{path}: written by a newer shears (results schema {found}, this build reads up to {SCHEMA_VERSION}); use a newer shears or another --out"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error(
        "{path}: locked by running process {pid}; wait for it or stop it (a stale lock of a dead process is taken over automatically)"
    )]
    Locked { path: PathBuf, pid: u32 },
}

fn io(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

pub fn write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_atomic(path, bytes).map_err(|e| io(path, e))
}

/// What a seed's run has committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub schema_version: u32,
    /// Last step whose weights, masks and row are on disk (0 = dense baseline).
    pub completed_step: usize,
    pub total_steps: usize,
    pub finished: bool,
}

/// Paths of one seed's run.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub dir: PathBuf,
}

impl RunDir {
    pub fn new(experiment_dir: &Path, seed: u64) -> Self {
        Self {
            dir: experiment_dir.join(format!("seed-{seed}")),
        }
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn rows_path(&self) -> PathBuf {
        self.dir.join("steps.jsonl")
    }
    pub fn csv_path(&self) -> PathBuf {
        self.dir.join("steps.csv")
    }
    pub fn checkpoint(&self, step: usize) -> PathBuf {
        self.dir.join(format!("step-{step}.ckpt"))
    }
    pub fn masks(&self, step: usize) -> PathBuf {
        self.dir.join(format!("step-{step}.masks.json"))
    }

    pub fn read_state(&self) -> Result<Option<RunState>, StoreError> {
        let path = self.state_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path, e)),
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| io(&path, e))?;
        let version = value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0) as u32;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path,
                found: version,
            });
        }
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| io(&path, e))
    }

    pub fn write_state(&self, state: &RunState) -> Result<(), StoreError> {
        let json = serde_json::to_string_pretty(state).expect("state serialises");
        write(&self.state_path(), json.as_bytes())
    }

    /// Rows with `step <= upto` (rows past the committed state are from an interrupted step).
    pub fn read_rows(&self, upto: usize) -> Result<Vec<StepRow>, StoreError> {
        let path = self.rows_path();
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let row: StepRow = serde_json::from_str(line)
                .map_err(|e| io(&path, format!("line {}: {e}", i + 1)))?;
            if row.step <= upto {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    pub fn write_rows(&self, rows: &[StepRow]) -> Result<(), StoreError> {
        let mut jsonl = String::new();
        for r in rows {
            jsonl += &serde_json::to_string(r).expect("row serialises");
            jsonl.push('\n');
        }
        write(&self.rows_path(), jsonl.as_bytes())?;
        write(&self.csv_path(), StepRow::to_csv(rows).as_bytes())
    }

    /// Removes the files of steps before `keep_from` (one previous step is kept for recovery).
    pub fn prune_old(&self, keep_from: usize) {
        for step in 0..keep_from {
            let _ = std::fs::remove_file(self.checkpoint(step));
            let _ = std::fs::remove_file(self.masks(step));
        }
    }
}

/// An exclusive lock on a directory, held while the value lives.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl Lock {
    /// Takes `dir/.lock`; a lock left by a dead process is taken over.
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let path = dir.join(".lock");
        for _ in 0..3 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    use std::io::Write;
                    write!(f, "{}", std::process::id()).map_err(|e| io(&path, e))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    match pid {
                        Some(pid) if pid != std::process::id() && pid_alive(pid) => {
                            return Err(StoreError::Locked { path, pid });
                        }
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(io(&path, e)),
            }
        }
        Err(io(&path, "could not take the lock"))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
