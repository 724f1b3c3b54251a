//! The free-space check before a seed: a run that could not store its checkpoints is refused
//! before any training (a full disk is still caught at the failing write; this saves the work
//! that would precede it).

use super::RunError;
use crate::config::ExperimentConfig;
use shears_nn::models::ModelSpec;
use std::path::Path;

/// Bytes one seed of `config` may hold on disk at once: its dense model and up to three step
/// checkpoints (the committed step, the previous one kept for recovery, the one being
/// written), each the model's f32 parameters plus metadata, and 1 MiB for masks and records;
/// 10% on top for what the layer table leaves out (batch-norm parameters).
pub(super) fn space_needed(config: &ExperimentConfig) -> u64 {
    let spec = ModelSpec {
        kind: config.model.kind,
        input: config.data.dataset.sample_shape(),
        classes: config.data.dataset.num_classes(),
    };
    let params: u64 = spec.layers().iter().map(|l| l.params()).sum();
    let checkpoint = params * 4 + (64 << 10);
    (4 * checkpoint + (1 << 20)) * 11 / 10
}

/// Refuses to start a seed that could not store its checkpoints.
pub(super) fn check_free_space(dir: &Path, needed: u64) -> Result<(), RunError> {
    match free_bytes(dir) {
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
    fn the_estimate_covers_four_checkpoints_of_the_model() {
        let config = ExperimentConfig::default();
        // LeNet-300-100 on Fashion-MNIST: 266,610 parameters, 1.07 MB per checkpoint.
        let need = space_needed(&config);
        assert!(need > 4 * 266_610 * 4 && need < 8 << 20, "{need}");
    }
}
