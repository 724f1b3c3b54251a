//! Committing a step to the store (weights, pruning state, rows, then the state that makes
//! them current) and resuming from the newest readable committed step.

use super::RunError;
use super::pruning::Pruning;
use super::seed::Seed;
use crate::store::{RunDir, RunState, StoreError, committed_rows};
use shears_core::results::{SCHEMA_VERSION, StepRow};
use shears_nn::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use shears_nn::metrics::Metrics;
use shears_nn::models::{ModelSpec, Network};
use shears_nn::structured::{skeleton, widths};
use shears_nn::train::Devices;

/// Writes step `step`'s weights, pruning state and rows, then the state that makes them
/// current.
pub(super) fn commit(
    s: &Seed,
    step: usize,
    model: &Network,
    pruning: &Pruning,
    rows: &[StepRow],
    spec: &ModelSpec,
) -> Result<(), RunError> {
    let (run, config) = (s.run, s.config);
    let last = rows.last().expect("rows");
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        model: *spec,
        dataset: config.data.dataset.to_string(),
        seed: last.seed,
        epoch: last.cum_epochs,
        test: Some(Metrics {
            top1: last.test_top1,
            top5: last.test_top5,
            loss: last.test_loss,
            n: 0,
        }),
        sparsity: last.sparsity,
        vocab: s.data.vocab.clone(),
        widths: matches!(pruning, Pruning::Channels { .. }).then(|| widths(model)),
    };
    // Checksums of the previous step's files (kept for recovery) and of this step's.
    let mut checksums = match run.read_state() {
        Ok(Some(old)) if step > 0 => old.checksums,
        _ => Default::default(),
    };
    let previous = [
        run.checkpoint(step.wrapping_sub(1)),
        run.masks(step.wrapping_sub(1)),
    ];
    checksums.retain(|name, _| previous.iter().any(|p| p.ends_with(name)));
    let path = run.checkpoint(step);
    let bytes = checkpoint::to_bytes(model, &meta).map_err(|detail| {
        checkpoint::CheckpointError::Format {
            path: path.clone(),
            detail,
        }
    })?;
    run.write_checked(&path, &bytes, &mut checksums)?;
    run.write_checked(
        &run.masks(step),
        pruning.state_json().as_bytes(),
        &mut checksums,
    )?;
    run.write_rows(rows, &mut checksums)?;
    run.write_state(&RunState {
        schema_version: SCHEMA_VERSION,
        completed_step: step,
        total_steps: pruning.steps(),
        finished: step == pruning.steps(),
        checksums,
        digest: String::new(),
    })?;
    // Keep the previous step so a corrupted newest checkpoint can be recovered from.
    run.prune_old(step.saturating_sub(1));
    Ok(())
}

/// Loads the newest committed step into `pruning` and returns its model, rows and step; if
/// its files are unreadable, falls back to the one before (whose files are kept for exactly
/// this), never to garbage.
pub(super) fn resume(
    run: &RunDir,
    spec: &ModelSpec,
    pruning: &mut Pruning,
    devices: &Devices,
) -> Result<Option<(Network, Vec<StepRow>, usize)>, RunError> {
    let Some(state) = run.read_state()? else {
        return Ok(None);
    };
    // Verified against the state's checksums; a fallback step takes the first of them.
    let committed = committed_rows(run, &state)?;
    let mut first_error = None;
    for step in [state.completed_step, state.completed_step.wrapping_sub(1)] {
        if step > state.completed_step {
            break;
        }
        match load_step(run, &state, spec, pruning, devices, step) {
            Ok(model) => {
                let rows = committed[..=step].to_vec();
                if step != state.completed_step {
                    eprintln!(
                        "warning: {}: step {} is unreadable ({}); resuming from step {step}",
                        run.dir.display(),
                        state.completed_step,
                        first_error
                            .as_ref()
                            .map(|e: &RunError| e.to_string())
                            .unwrap_or_default()
                    );
                }
                return Ok(Some((model, rows, step)));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.expect("at least one attempt"))
}

/// One committed step: its files verified against their checksums, the pruning state
/// restored (and checked against the plan), the weights loaded and checked against it.
fn load_step(
    run: &RunDir,
    state: &RunState,
    spec: &ModelSpec,
    pruning: &mut Pruning,
    devices: &Devices,
    step: usize,
) -> Result<Network, RunError> {
    let (ckpt, path) = (run.checkpoint(step), run.masks(step));
    run.verify(state, &ckpt)?;
    run.verify(state, &path)?;
    let text = std::fs::read_to_string(&path).map_err(|e| StoreError::Io {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    let stored = |detail: String| StoreError::Io {
        path: path.clone(),
        detail,
    };
    let model = match pruning {
        Pruning::Channels { .. } => {
            let widths = Pruning::parse_widths(&text)
                .map_err(|e| stored(format!("corrupted pruning state: {e}")))?;
            let skeleton = skeleton(spec, &widths, &devices.train).map_err(RunError::Invalid)?;
            checkpoint::load_with(&ckpt, Some(spec), |_| Ok(skeleton))?.0
        }
        Pruning::Weights(_) => checkpoint::load(&ckpt, Some(spec), &devices.train)?.0,
    };
    pruning.restore(step, &text).map_err(stored)?;
    pruning
        .verify(&model)
        .map_err(|e| RunError::Invalid(format!("{}: {e}", ckpt.display())))?;
    Ok(model)
}
