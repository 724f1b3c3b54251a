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

/// Start time (clock ticks since boot) of a live, non-zombie process; `None` if it is gone.
/// Recorded in the lock next to the pid, so a reused pid does not look like the old owner.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state is the first, starttime the 20th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

fn owner_alive(content: &str) -> Option<u32> {
    let mut it = content.split_whitespace();
    let pid: u32 = it.next()?.parse().ok()?;
    let start: Option<u64> = it.next().and_then(|s| s.parse().ok());
    let now = process_start(pid)?;
    match start {
        Some(s) if s != now => None,
        _ => Some(pid),
    }
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
                    let me = std::process::id();
                    let start = process_start(me).map_or(String::new(), |s| s.to_string());
                    write!(f, "{me} {start}").map_err(|e| io(&path, e))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let content = std::fs::read_to_string(&path).unwrap_or_default();
                    // Our own pid counts as locked too: another thread of this process holds it.
                    match owner_alive(&content) {
                        Some(pid) => return Err(StoreError::Locked { path, pid }),
                        None => {
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
