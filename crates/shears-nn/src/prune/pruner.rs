//! [`Pruner`]: the owner of unstructured pruning steps on any Burn module.
//!
//! A pruner is built once per run from a [`RemovalPlan`] (integer counts per step, computed in
//! `shears-core`), a [`Criterion`] and the tensors it may prune. Each [`Pruner::step`] scores
//! the surviving entries, removes exactly the planned number, zeroes them in the model and
//! checks the realised masks against the plan. Between steps it is the mask hook of any
//! training loop ([`Pruner::apply`], or [`AfterStep`] for shears' own loop), and its
//! [`PrunerState`] is what a checkpoint needs to resume.
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use shears_core::masks::Scope;
//! use shears_core::schedule::{ScheduleKind, ScheduleSpec};
//! use shears_nn::Device;
//! use shears_nn::prune::{Criterion, Pruner};
//!
//! let mut layer: Linear = LinearConfig::new(20, 10).init(&Device::flex());
//! let schedule = ScheduleSpec::new(ScheduleKind::Geometric, 0.9).with_steps(3).plan().unwrap();
//! let mut pruner =
//!     Pruner::for_module(&layer, &schedule, &Scope::global(), Criterion::Magnitude).unwrap();
//! while !pruner.is_done() {
//!     layer = pruner.step(layer, None).unwrap();
//!     // ... fine-tune here, with `layer = pruner.apply(layer)` after every optimizer step
//! }
//! assert_eq!(pruner.report().pruned(), 180); // floor(200 · 0.9): the weight, not the bias
//! //! ```

use super::criterion::{Criterion, GradientStats};
use super::{
    Calibrate, Grouped, MaskSet, Prunable, remove_and_apply, remove_grouped, verify_applied,
};
use crate::train::AfterStep;
use burn::module::Module;
use serde::{Deserialize, Serialize};
use shears_core::masks::{
    Mask, Pattern, PatternPath, PlanError, Removal, RemovalPlan, Scope, SelectError, SparsityReport,
};
use shears_core::schedule::{Compat, Plan};

/// Why a pruning step or a restore was refused.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error("the plan has {plan} tensors but {given} prunable tensors were given")]
    PlanMismatch { plan: usize, given: usize },
    #[error("all {0} planned steps are done")]
    Finished(usize),
    #[error("step {step}: {detail}")]
    Step { step: usize, detail: String },
    #[error("step {step}: {}", describe(.source, .params))]
    Ledger {
        step: usize,
        source: SelectError,
        params: Vec<String>,
    },
    #[error("{0}")]
    Model(String),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Names the tensor a selection error points at by its path instead of its index.
fn describe(e: &SelectError, params: &[String]) -> String {
    let tensor = match e {
        SelectError::SparsityMismatch { tensor, .. } | SelectError::TooMany { tensor, .. } => {
            *tensor
        }
        SelectError::LengthMismatch { tensor, .. } | SelectError::NanScore { tensor, .. } => {
            Some(*tensor)
        }
        _ => None,
    };
    match tensor.and_then(|t| params.get(t)) {
        Some(path) => format!("{path}: {e}"),
        None => e.to_string(),
    }
}

/// What a checkpoint stores of a pruner: the steps taken and the cumulative masks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrunerState {
    pub completed: usize,
    pub masks: Vec<Mask>,
}

/// Unstructured pruning of a Burn module, one planned step at a time.
#[derive(Debug, Clone)]
pub struct Pruner {
    plan: RemovalPlan,
    criterion: Criterion,
    seed: u64,
    masks: MaskSet,
    completed: usize,
    /// N:M pattern the weights approach (reached at density N/M).
    pattern: Option<Pattern>,
    /// How the steps approach the pattern.
    path: PatternPath,
    /// Wanda compares within each output row (its defining choice, default); `false`: its
    /// scores compete under the plan's scope like any criterion's (within each tensor, or
    /// across all of them).
    wanda_rows: bool,
}

impl Pruner {
    /// A pruner over `params` (the tensors `plan` was counted for, in the same order);
    /// `seed` makes the random criterion reproducible.
    pub fn new(
        params: Vec<Prunable>,
        plan: RemovalPlan,
        criterion: Criterion,
        seed: u64,
    ) -> Result<Self, PruneError> {
        let sizes: Vec<usize> = params.iter().map(Prunable::len).collect();
        if sizes != plan.sizes() {
            return Err(PruneError::PlanMismatch {
                plan: plan.sizes().len(),
                given: params.len(),
            });
        }
        Ok(Self {
            plan,
            criterion,
            seed,
            masks: MaskSet::dense(params),
            completed: 0,
            pattern: None,
            path: PatternPath::Feasible,
            wanda_rows: true,
        })
    }

    /// Prunes toward an N:M pattern: every step stays inside the pattern's feasible set and a
    /// weight whose count reaches density N/M holds it exactly (checked). Needs per-tensor
    /// counts (the layer-wise scope). Errors name a weight whose rows the pattern does not
    /// divide (leave it out of the prunable set).
    pub fn with_pattern(mut self, pattern: Option<Pattern>) -> Result<Self, PruneError> {
        if let Some(p) = pattern {
            super::pattern_fits(&self.masks.params, p).map_err(PruneError::Model)?;
        }
        self.pattern = pattern;
        Ok(self)
    }

    /// How an iterative schedule approaches the pattern: inside its feasible set at every step
    /// (default), or unstructured within rows and projected at the step that reaches it.
    pub fn with_pattern_path(mut self, path: PatternPath) -> Self {
        self.path = path;
        self
    }

    /// Wanda's comparison group: within each output row (`true`, the default and the paper's
    /// choice) or under the plan's scope (`false`: per tensor when layer-wise, one threshold
    /// across tensors when global). Every layer is then calibrated in one pass over the
    /// model as the step finds it, since all scores must exist before one selection. Only
    /// Wanda without a pattern can drop its rows.
    pub fn with_wanda_rows(mut self, rows: bool) -> Result<Self, PruneError> {
        if !rows && !self.criterion.may_leave_rows(self.pattern) {
            return Err(PruneError::Model(format!(
                "comparing scores beyond output rows is an option of Wanda without a pattern, not of criterion '{}'{}",
                self.criterion,
                self.pattern
                    .map(|p| format!(" with pattern {p}"))
                    .unwrap_or_default()
            )));
        }
        self.wanda_rows = rows;
        Ok(self)
    }

    /// Whether steps choose within output rows (a calibrated criterion or a pattern).
    pub fn grouped(&self) -> bool {
        self.criterion.in_rows(self.wanda_rows, self.pattern)
    }

    /// A pruner over every weight of rank ≥ 2 of `model` ([`super::prunable_params`]; biases
    /// and norm layers stay dense), with the schedule `plan` converted exactly to counts.
    pub fn for_module<M: Module>(
        model: &M,
        plan: &Plan,
        scope: &Scope,
        criterion: Criterion,
    ) -> Result<Self, PruneError> {
        let params = super::prunable_params(model, false);
        let sizes = params.iter().map(Prunable::len).collect();
        let counts = RemovalPlan::new(plan, sizes, scope, Compat::Exact)?;
        Self::new(params, counts, criterion, 0)
    }

    /// Number of planned steps.
    pub fn steps(&self) -> usize {
        self.plan.len()
    }

    /// Steps taken so far.
    pub fn completed(&self) -> usize {
        self.completed
    }

    /// True once every planned step is taken.
    pub fn is_done(&self) -> bool {
        self.completed == self.plan.len()
    }

    pub fn plan(&self) -> &RemovalPlan {
        &self.plan
    }

    pub fn criterion(&self) -> Criterion {
        self.criterion
    }

    /// The prunable tensors and their cumulative masks.
    pub fn masks(&self) -> &MaskSet {
        &self.masks
    }

    /// Realised sparsity of the prunable tensors.
    pub fn report(&self) -> SparsityReport {
        self.masks.report()
    }

    /// Takes the next planned step on `model`: scores the surviving entries (`grads` for the
    /// gradient criteria), removes exactly the planned count, zeroes them and checks the
    /// masks against the plan and the model against the masks.
    pub fn step<M: Module>(
        &mut self,
        model: M,
        grads: Option<&GradientStats>,
    ) -> Result<M, PruneError> {
        if self.is_done() {
            return Err(PruneError::Finished(self.plan.len()));
        }
        let step = self.completed + 1;
        let model = if self.grouped() {
            self.grouped_step(model, grads, None)?
        } else {
            let how = (self.criterion, grads, self.seed, step as u64);
            remove_and_apply(
                model,
                &mut self.masks,
                how,
                self.plan.removal(step),
                self.plan.min_density(),
            )
            .map_err(|detail| PruneError::Step { step, detail })?
        };
        self.completed = step;
        self.plan
            .verify(step, &self.masks.masks)
            .map_err(|e| self.ledger_error(step, e))?;
        Ok(model)
    }

    /// [`Pruner::step`] for the calibrated criteria (Wanda, SparseGPT): `calibrate` runs the
    /// calibration batches through the model it is given, showing layer inputs to the probe
    /// (for shears' networks: [`crate::models::Network::forward_probed`]).
    pub fn step_calibrated<M: Module>(
        &mut self,
        model: M,
        grads: Option<&GradientStats>,
        calibrate: &mut Calibrate<'_, M>,
    ) -> Result<M, PruneError> {
        if self.is_done() {
            return Err(PruneError::Finished(self.plan.len()));
        }
        let step = self.completed + 1;
        let model = if self.grouped() {
            self.grouped_step(model, grads, Some(calibrate))?
        } else {
            let scores = super::wanda_scores(&model, &self.masks, calibrate)
                .map_err(|detail| PruneError::Step { step, detail })?;
            super::remove_scored(
                model,
                &mut self.masks,
                scores,
                self.plan.removal(step),
                self.plan.min_density(),
            )
            .map_err(|detail| PruneError::Step { step, detail })?
        };
        self.completed = step;
        self.plan
            .verify(step, &self.masks.masks)
            .map_err(|e| self.ledger_error(step, e))?;
        Ok(model)
    }

    fn grouped_step<M: Module>(
        &mut self,
        model: M,
        grads: Option<&GradientStats>,
        calibrate: Option<&mut Calibrate<'_, M>>,
    ) -> Result<M, PruneError> {
        let step = self.completed + 1;
        let err = |detail: String| PruneError::Step { step, detail };
        let Removal::PerTensor(counts) = self.plan.removal(step) else {
            return Err(err(format!(
                "{} chooses within output rows, which needs a count per tensor: use the \
                 layer-wise scope",
                match self.pattern {
                    Some(p) => format!("the {p} pattern"),
                    None => format!("criterion '{}'", self.criterion),
                }
            )));
        };
        let how = Grouped {
            criterion: self.criterion,
            grads,
            seed: self.seed,
            step: step as u64,
            pattern: self.pattern,
            path: self.path,
            calibrate,
        };
        remove_grouped(model, &mut self.masks, &counts.clone(), how).map_err(err)
    }

    /// Zeroes every pruned entry of `model` (call after each optimizer step; parameter ids,
    /// and so optimizer state, are kept).
    pub fn apply<M: Module>(&mut self, model: M) -> M {
        self.masks.apply(model)
    }

    /// Checks that every pruned entry of `model` is exactly zero and the masks match the plan.
    pub fn verify<M: Module>(&self, model: &M) -> Result<SparsityReport, PruneError> {
        let report = self
            .plan
            .verify(self.completed, &self.masks.masks)
            .map_err(|e| self.ledger_error(self.completed, e))?;
        verify_applied(model, &self.masks).map_err(PruneError::Model)?;
        Ok(report)
    }

    /// The state a checkpoint needs to resume this pruner.
    pub fn state(&self) -> PrunerState {
        PrunerState {
            completed: self.completed,
            masks: self.masks.masks.clone(),
        }
    }

    /// Resumes from a stored state, which must be what this plan produces after that many
    /// steps (tensor count and sizes, pruned counts).
    pub fn restore(&mut self, state: PrunerState) -> Result<(), PruneError> {
        if state.completed > self.plan.len() {
            return Err(PruneError::Step {
                step: state.completed,
                detail: format!("beyond the plan's {} steps", self.plan.len()),
            });
        }
        self.plan
            .verify(state.completed, &state.masks)
            .map_err(|e| self.ledger_error(state.completed, e))?;
        self.masks.set_masks(state.masks);
        self.completed = state.completed;
        Ok(())
    }

    fn ledger_error(&self, step: usize, source: SelectError) -> PruneError {
        PruneError::Ledger {
            step,
            source,
            params: self.masks.params.iter().map(|p| p.path.clone()).collect(),
        }
    }
}

impl<M: Module> AfterStep<M> for Pruner {
    fn after_step(&mut self, model: M) -> M {
        self.apply(model)
    }
}
