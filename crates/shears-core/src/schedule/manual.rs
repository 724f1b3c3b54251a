//! Manual per-layer schedules (reference `ManualStepScheduler`,
//! `docs/design.md#manual-per-layer-schedules`), used for
//! structured pruning where each layer or stage gets its own ratio.

use serde::{Deserialize, Serialize};

use super::ScheduleError;

/// Explicit per-step fractions of each layer's ORIGINAL size.
///
/// `steps[i]` is step `i`: either one value broadcast to every prunable layer, or exactly one
/// value per prunable layer (in model order). Values are taken as given, as the reference does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualSchedule {
    pub steps: Vec<Vec<f64>>,
}

impl ManualSchedule {
    /// Wraps the step lists.
    pub fn new(steps: Vec<Vec<f64>>) -> Self {
        ManualSchedule { steps }
    }

    /// Number of pruning steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True when there are no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Checks the schedule against a model with `n_layers` prunable layers: at least one step,
    /// each list of length 1 or `n_layers`, each value in [0, 1), and each layer's total below 1
    /// (so no layer loses every channel — the "pruning collapse" the paper avoids).
    pub fn validate(&self, n_layers: usize) -> Result<(), ScheduleError> {
        if n_layers == 0 {
            return Err(ScheduleError::ManualNoLayers);
        }
        if self.steps.is_empty() {
            return Err(ScheduleError::ManualEmpty);
        }
        for (step, values) in self.steps.iter().enumerate() {
            if values.len() != 1 && values.len() != n_layers {
                return Err(ScheduleError::ManualLength {
                    step,
                    len: values.len(),
                    n_layers,
                });
            }
            for (layer, &value) in values.iter().enumerate() {
                if !(0.0..1.0).contains(&value) {
                    return Err(ScheduleError::ManualValue { step, layer, value });
                }
            }
        }
        for layer in 0..n_layers {
            let total = (0..self.steps.len())
                .map(|s| self.value(s, layer))
                .fold(0.0, |acc, v| acc + v);
            if total >= 1.0 {
                return Err(ScheduleError::ManualLayerTotal { layer, total });
            }
        }
        Ok(())
    }

    /// The fractions of step `step` for each of `n_layers` layers (broadcasting a single value).
    ///
    /// # Panics
    /// If `step >= self.len()` or the list length is neither 1 nor `n_layers`; call
    /// [`ManualSchedule::validate`] first.
    pub fn per_layer(&self, step: usize, n_layers: usize) -> Vec<f64> {
        let values = &self.steps[step];
        match values.len() {
            1 => vec![values[0]; n_layers],
            len if len == n_layers => values.clone(),
            len => panic!("manual step {step} has {len} values for {n_layers} layers"),
        }
    }

    /// Cumulative fraction of each layer removed after `t` steps (0 = dense).
    ///
    /// # Panics
    /// As [`ManualSchedule::per_layer`].
    pub fn cumulative_at(&self, t: usize, n_layers: usize) -> Vec<f64> {
        let mut acc = vec![0.0; n_layers];
        for step in 0..t.min(self.steps.len()) {
            for (a, v) in acc.iter_mut().zip(self.per_layer(step, n_layers)) {
                *a += v;
            }
        }
        acc
    }

    fn value(&self, step: usize, layer: usize) -> f64 {
        let values = &self.steps[step];
        if values.len() == 1 {
            values[0]
        } else {
            values[layer]
        }
    }
}
