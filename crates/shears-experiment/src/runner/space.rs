//! The free-space check before a seed: a run that could not store its checkpoints is refused
//! before any training (a full disk is still caught at the failing write; this saves the work
//! that would precede it). The estimate counts what the run will still write beyond what is
//! already on disk, so a run resumed on a nearly full disk is not refused for files it holds.

use super::RunError;
use crate::config::ExperimentConfig;
use crate::store::RunDir;
use std::path::Path;

/// Step checkpoints a seed holds at once: the committed step, the previous one (kept for
/// recovery) and the one being written.
const STEP_FILES_AT_ONCE: u64 = 3;
/// Rows, state and report records.
const RECORDS: u64 = 256 << 10;

/// Bytes of one checkpoint: the stored dense model's size where there is one (the exact
/// figure), otherwise the f32 weights plus a 64 KiB header and 1% for what the layer table
/// leaves out (batch-norm statistics).
fn checkpoint_bytes(config: &ExperimentConfig, dense: Option<&Path>) -> u64 {
    if let Some(len) = dense
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
    {
        return len;
    }
    let params = params(config);
    params * 4 * 101 / 100 + (64 << 10)
}

fn params(config: &ExperimentConfig) -> u64 {
    let spec = config.model.planning_spec(config.data.dataset);
    spec.layers().iter().map(|l| l.params()).sum()
}

/// Bytes of a step's mask file: one 64-bit word per 64 weights, at most 21 characters of JSON.
fn mask_bytes(config: &ExperimentConfig) -> u64 {
    params(config).div_ceil(64) * 21 + 4096
}

/// Bytes a seed of `config` will still write: the dense model unless `dense` (its stored
/// path, `None` for a user-given checkpoint) is already there, and as many step files as it
/// holds at once beyond the checkpoints `run` already has.
pub(super) fn space_needed(config: &ExperimentConfig, run: &RunDir, dense: Option<&Path>) -> u64 {
    let checkpoint = checkpoint_bytes(config, dense);
    let step = checkpoint + mask_bytes(config);
    let held = std::fs::read_dir(&run.dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".ckpt"))
                .count() as u64
        })
        .unwrap_or(0);
    let dense = dense.is_some_and(|p| !p.exists()) as u64;
    dense * checkpoint + STEP_FILES_AT_ONCE.saturating_sub(held) * step + RECORDS
}

/// Refuses to start a seed that could not store its checkpoints; `dir` need not exist yet
/// (its nearest existing ancestor's filesystem is asked).
pub(super) fn check_free_space(dir: &Path, needed: u64) -> Result<(), RunError> {
    let existing = dir.ancestors().find(|a| a.exists()).unwrap_or(dir);
    match free_bytes(existing) {
        Some(available) if available < needed => Err(RunError::NoSpace {
            dir: dir.to_path_buf(),
            needed_mb: needed.div_ceil(1 << 20),
            available_mb: available >> 20,
        }),
        _ => Ok(()),
    }
}

/// Bytes available to this (unprivileged) user on the filesystem holding `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid NUL-terminated string and `st` a writable statvfs.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_read_and_a_shortfall_names_the_directory_and_sizes() {
        let dir = std::env::temp_dir();
        let free = free_bytes(&dir).expect("statvfs works on the temp dir");
        assert!(free > 0);
        assert!(check_free_space(&dir, 1).is_ok());
        let err = check_free_space(&dir, free + (10 << 30)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("not enough free disk space")
                && msg.contains(&dir.display().to_string())
                && msg.contains(&format!("{} MB are free", free >> 20)),
            "{msg}"
        );
        assert!(!err.is_run_failure() && !err.is_interrupted());
    }

    #[test]
    fn a_directory_not_created_yet_is_checked_on_its_parents_filesystem() {
        let dir = std::env::temp_dir().join("shears-space-check/not/created/yet");
        let free = free_bytes(&std::env::temp_dir()).expect("statvfs works on the temp dir");
        assert!(check_free_space(&dir, free + (10 << 30)).is_err());
        assert!(check_free_space(&dir, 1).is_ok());
    }

    #[test]
    fn the_estimate_counts_only_what_is_still_to_be_written() {
        let config = ExperimentConfig::default();
        let base = std::env::temp_dir().join(format!("shears-space-{}", std::process::id()));
        let run = RunDir::new(&base, 0);
        let dense = base.join("model.ckpt");
        // LeNet-300-100 on Fashion-MNIST: 266,610 parameters, 1.07 MB per checkpoint; the
        // whole fresh run (dense model and three steps) fits in a 5 MiB filesystem.
        let (ckpt, masks) = (checkpoint_bytes(&config, None), mask_bytes(&config));
        assert!(ckpt > 266_610 * 4 && ckpt < 1_200_000, "{ckpt}");
        assert!(masks > 266_610 / 64 * 20 && masks < 100_000, "{masks}");
        let fresh = space_needed(&config, &run, Some(&dense));
        assert_eq!(fresh, ckpt + 3 * (ckpt + masks) + RECORDS);
        assert!(fresh < 5 << 20, "{fresh}");
        assert_eq!(
            space_needed(&config, &run, None),
            3 * (ckpt + masks) + RECORDS
        );
        // A killed run holding its dense model and two step checkpoints needs one more step,
        // sized by the stored model.
        std::fs::create_dir_all(&run.dir).unwrap();
        std::fs::write(&dense, vec![0u8; 1000]).unwrap();
        for name in ["step-3.ckpt", "step-4.ckpt", "step-4.masks.json"] {
            std::fs::write(run.dir.join(name), b"x").unwrap();
        }
        assert_eq!(
            space_needed(&config, &run, Some(&dense)),
            1000 + masks + RECORDS
        );
        std::fs::remove_dir_all(&base).unwrap();
    }
}
