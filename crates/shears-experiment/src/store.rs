//! The results store: one directory per experiment (named by its config hash), one
//! sub-directory per seed holding the rows so far and the state to resume from.
//!
//! Every file is written atomically (temp file, fsync, rename) and `state.json` is written
//! last: it is the commit point of a step. A process killed at any moment leaves either the
//! previous committed state or the new one, never a half-written file that is read as valid.

use serde::{Deserialize, Serialize};
use shears_core::results::{FailedRun, SCHEMA_VERSION, StepRow};
use shears_nn::checkpoint::write_atomic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod listing;
mod verify;
pub use listing::{
    ExperimentSummary, FindError, Results, StoredExperiment, find_experiment, find_stores,
    list_experiments, read_experiment, read_results, seed_runs,
};
pub use verify::{
    CONFIG_CHECKSUM_PREFIX, SeedRecord, committed_rows, config_text, move_aside, seed_record,
    verified_config,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {detail}")]
    Io { path: PathBuf, detail: String },
    #[error(
        "{path}: written by a newer shears (results schema {found}, this build reads up to {SCHEMA_VERSION}); use a newer shears or another --out"
    )]
    TooNew { path: PathBuf, found: u32 },
    /// A file that is not what was committed (edited, truncated, deleted, bit-flipped).
    #[error("{path}: damaged: {detail}; {remedy}")]
    Damaged {
        path: PathBuf,
        detail: String,
        remedy: &'static str,
    },
    #[error(
        "{path}: locked by running process {pid}; wait for it or stop it (a stale lock of a dead process is taken over automatically)"
    )]
    Locked { path: PathBuf, pid: u32 },
}

impl StoreError {
    /// A committed file that no longer matches what was committed: what `--recompute-damaged`
    /// repairs.
    pub fn is_damaged(&self) -> bool {
        matches!(self, StoreError::Damaged { .. })
    }
}

/// How to repair a damaged seed run (see [`StoreError::Damaged`]).
pub const RECOMPUTE_SEED: &str = "runs are deterministic: rerun the command that made it \
     (shears prune, sweep or compare) with --recompute-damaged to move the seed's run aside \
     and compute it again";

fn damaged(path: &Path, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Damaged {
        path: path.to_path_buf(),
        detail: detail.to_string(),
        remedy: RECOMPUTE_SEED,
    }
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
    /// SHA-256 (hex) of the committed step's and the previous step's checkpoint and pruning
    /// state, and of the committed rows (`steps.jsonl`, `steps.csv`: their first
    /// `completed_step + 1` rows, as the commit wrote them), by file name. Checked before a
    /// step is loaded and whenever results are read: a file damaged after its commit (a
    /// flipped weight byte parses fine, an edited accuracy too) is never used. Schema 1
    /// states have only the checkpoint and masks entries.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
    /// SHA-256 of this state's canonical JSON (compact, this field empty), so an edit of the
    /// state itself (`finished`, a step number, a checksum) is detected too. Required from
    /// schema 2 on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

impl RunState {
    /// The digest of the state's content (see [`RunState::digest`]).
    pub fn content_digest(&self) -> String {
        let canonical = RunState {
            digest: String::new(),
            ..self.clone()
        };
        sha256_hex(
            serde_json::to_string(&canonical)
                .expect("state serialises")
                .as_bytes(),
        )
    }

    /// Written by a build that records every committed file's checksum (schema 2 or later);
    /// an older state's rows are read unverified.
    pub fn verified(&self) -> bool {
        self.schema_version >= 2
    }
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
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

    pub fn failure_path(&self) -> PathBuf {
        self.dir.join("failed.json")
    }

    /// The recorded failure of this run, if any.
    pub fn read_failure(&self) -> Result<Option<FailedRun>, StoreError> {
        let path = self.failure_path();
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| io(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    pub fn write_failure(&self, failure: &FailedRun) -> Result<(), StoreError> {
        let json = serde_json::to_string_pretty(failure).expect("failure serialises");
        write(&self.failure_path(), json.as_bytes())
    }

    /// Forgets a recorded failure so the next run retries from the last committed step.
    pub fn clear_failure(&self) -> Result<(), StoreError> {
        let path = self.failure_path();
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path, e)),
            _ => Ok(()),
        }
    }

    pub fn read_state(&self) -> Result<Option<RunState>, StoreError> {
        let path = self.state_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(damaged(&path, e));
            }
            Err(e) => return Err(io(&path, e)),
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| damaged(&path, e))?;
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
        let state: RunState = serde_json::from_value(value).map_err(|e| damaged(&path, e))?;
        if (state.verified() || !state.digest.is_empty()) && state.digest != state.content_digest()
        {
            return Err(damaged(
                &path,
                "its content does not match its recorded digest (edited or corrupted)",
            ));
        }
        Ok(Some(state))
    }

    /// Writes `state` (schema and digest filled in) atomically: the commit point of a step.
    pub fn write_state(&self, state: &RunState) -> Result<(), StoreError> {
        let mut state = state.clone();
        state.schema_version = SCHEMA_VERSION;
        state.digest = state.content_digest();
        let json = serde_json::to_string_pretty(&state).expect("state serialises");
        write(&self.state_path(), json.as_bytes())
    }

    /// Writes `rows` as `steps.jsonl` and `steps.csv` and records their checksums in
    /// `checksums` (committed with the next state).
    pub fn write_rows(
        &self,
        rows: &[StepRow],
        checksums: &mut BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let mut jsonl = String::new();
        for r in rows {
            jsonl += &serde_json::to_string(r).expect("row serialises");
            jsonl.push('\n');
        }
        self.write_checked(&self.rows_path(), jsonl.as_bytes(), checksums)?;
        self.write_checked(
            &self.csv_path(),
            StepRow::to_csv(rows).as_bytes(),
            checksums,
        )
    }

    /// Writes `bytes` to `path` and records their checksum in `checksums` (committed with
    /// the next state).
    pub fn write_checked(
        &self,
        path: &Path,
        bytes: &[u8],
        checksums: &mut BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        write(path, bytes)?;
        checksums.insert(file_name(path), sha256_hex(bytes));
        Ok(())
    }

    /// Checks `path` against the checksum `state` committed for it (if any).
    pub fn verify(&self, state: &RunState, path: &Path) -> Result<(), StoreError> {
        let Some(expected) = state.checksums.get(&file_name(path)) else {
            return Ok(());
        };
        let bytes = std::fs::read(path).map_err(|e| damaged(path, e))?;
        if sha256_hex(&bytes) != *expected {
            return Err(damaged(
                path,
                format!(
                    "corrupted: its SHA-256 differs from the one committed in {}",
                    self.state_path().display()
                ),
            ));
        }
        Ok(())
    }

    /// Removes the files of steps before `keep_from` (one previous step is kept for recovery).
    pub fn prune_old(&self, keep_from: usize) {
        for step in 0..keep_from {
            let _ = std::fs::remove_file(self.checkpoint(step));
            let _ = std::fs::remove_file(self.masks(step));
        }
    }
}

/// Removes the temp files (`.<name>.<n>.<host>.<pid>.tmp`, see [`write_atomic`]) that a
/// process killed mid-write left in `dir`. Only files of this machine's processes that are gone
/// are removed, so it is safe next to a live writer, here or on another node sharing the store
/// (Linux; elsewhere nothing is removed). Names without a host tag are an older build's, made
/// here.
pub fn remove_stale_temps(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let here = shears_core::files::host_tag();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((rest, pid)) = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.rsplit_once('.'))
        else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let host = rest.rsplit_once('.').map_or("", |(_, h)| h);
        let ours = !host.starts_with('h') || host == here;
        if ours && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// An exclusive lock on a directory, held while the value lives.
///
/// The lock is the kernel's (`flock` on `dir/.lock`), not the file's existence: it is
/// released when its holder exits or is killed, whatever state the file is left in, so
/// there is no stale lock to detect and take over, no window in which a half-written lock
/// file looks free, and a second holder in the same process (another thread) is refused
/// like any other. The file names the holder's pid for the error message.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    file: std::fs::File,
}

#[cfg(unix)]
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::File, path: &Path) -> bool {
    path.exists()
}

impl Lock {
    /// Takes `dir/.lock`, or fails at once with [`StoreError::Locked`] while another holder
    /// (process or thread) has it.
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        use std::io::Write;
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let path = dir.join(".lock");
        for _ in 0..100 {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| io(&path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    let pid = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.split_whitespace().next()?.parse().ok())
                        .unwrap_or(0);
                    return Err(StoreError::Locked { path, pid });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(&path, e)),
            }
            // A holder that released the lock unlinks the file first: if we locked an unlinked
            // file, the lock is someone else's to take at the new path; try again.
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0).map_err(|e| io(&path, e))?;
            write!(file, "{}", std::process::id()).map_err(|e| io(&path, e))?;
            return Ok(Self { path, file });
        }
        Err(io(&path, "could not take the lock"))
    }
}

impl Lock {
    /// Whether a live holder has `dir/.lock` now (a run in progress, here or on a node sharing
    /// the store). Probing takes and drops a free lock, which removes its file.
    pub fn is_held(dir: &Path) -> bool {
        dir.join(".lock").exists() && matches!(Self::acquire(dir), Err(StoreError::Locked { .. }))
    }

    /// Removes a `dir/.lock` that no live holder has: the one a process killed after its last
    /// write leaves behind, which nothing else would take over when the work it guarded is
    /// already finished and only read from now on. A lock held by a live process is left alone.
    pub fn clear_stale(dir: &Path) {
        if dir.join(".lock").exists() {
            // Taking and dropping the lock unlinks its file.
            let _ = Self::acquire(dir);
        }
    }

    /// Like [`Lock::acquire`], but while another holder has the lock, polls until it is
    /// released or `keep_waiting` (called with the holder's pid) says stop; then returns
    /// [`StoreError::Locked`]. For shared work another job may be doing right now (a dense
    /// model two sweep jobs both need): the waiter then reuses its result.
    pub fn acquire_waiting(
        dir: &Path,
        mut keep_waiting: impl FnMut(u32) -> bool,
    ) -> Result<Self, StoreError> {
        loop {
            match Self::acquire(dir) {
                Err(StoreError::Locked { path, pid }) => {
                    if !keep_waiting(pid) {
                        return Err(StoreError::Locked { path, pid });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Unlink while still holding the lock; closing the file then releases it.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}
