//! A run's pruner, built once from its config: a [`Pruner`] over the prunable tensors
//! (unstructured) or a [`ChannelPruner`] (structured surgery). The seed loop talks to this one
//! type; what it stores per step is [`Pruning::state_json`].

use super::RunError;
use crate::config::ExperimentConfig;
use burn::module::Module;

use shears_core::masks::{Mask, RemovalPlan};
use shears_core::schedule::Plan;
use shears_nn::models::{Input, ModelSpec, Network};
use shears_nn::prune::{self, GradientStats, Prunable, Pruner, PrunerState, SparsityTable};
use shears_nn::structured::{ChannelPruner, Footprint, Widths, footprint};
use shears_nn::train::{AfterStep, Devices};

/// What a step's result row records of the network's size and cost.
pub(super) struct Accounting {
    pub sparsity: f64,
    pub model_sparsity: f64,
    pub remaining_params: u64,
    pub flops_dense: u64,
    pub flops_effective: u64,
}

pub(super) enum Pruning {
    Weights(Pruner),
    Channels {
        pruner: ChannelPruner,
        /// Footprint of the dense network, the denominator of structured sparsity.
        dense: Footprint,
        /// Fine-tuning a shrunk network needs no after-step hook.
        no_hook: (),
    },
}

/// The tensors `config` prunes in a model of `spec`.
pub(super) fn prunable(
    config: &ExperimentConfig,
    spec: &ModelSpec,
) -> Result<Vec<Prunable>, RunError> {
    prune::prunable_filtered(
        spec,
        config.prune.include_bias,
        &config.prune.include,
        &config.prune.exclude,
    )
    .map_err(|e| RunError::Invalid(format!("prune: {e}")))
}

impl Pruning {
    /// Plans the run once: the schedule's fractions, then (unstructured) the integer
    /// removal count of every step.
    pub fn new(
        config: &ExperimentConfig,
        spec: &ModelSpec,
        seed: u64,
        devices: &Devices,
    ) -> Result<Self, RunError> {
        let schedule = |e: &dyn std::fmt::Display| RunError::Invalid(format!("schedule: {e}"));
        if config.prune.structured {
            let plan = config.schedule.plan().map_err(|e| schedule(&e))?;
            let skeleton = spec.init(&devices.base);
            let dense = footprint(&skeleton, spec).map_err(|e| RunError::Invalid(e.to_string()))?;
            let measure = config.target_measure().expect("structured");
            let pruner = ChannelPruner::sized(&skeleton, spec, plan, measure, config.prune.scope)
                .map_err(RunError::Invalid)?;
            return Ok(Pruning::Channels {
                pruner,
                dense,
                no_hook: (),
            });
        }
        let params = prunable(config, spec)?;
        let sizes = params.iter().map(Prunable::len).collect();
        let counts = match config.manual() {
            Some(m) => RemovalPlan::manual(&m, sizes)
                .map_err(|e| RunError::Invalid(format!("prune.per_layer: {e}")))?,
            None => {
                let plan = config.schedule.plan().map_err(|e| schedule(&e))?;
                let scope = config.prune.scope.with_floor(config.prune.min_density);
                RemovalPlan::new(&plan, sizes, &scope, config.compat()).map_err(|e| schedule(&e))?
            }
        };
        let pruner = Pruner::new(params, counts, config.prune.criterion, seed)
            .and_then(|p| p.with_pattern(config.prune.pattern))
            .and_then(|p| p.with_wanda_rows(config.prune.wanda_rows))
            .map(|p| p.with_pattern_path(config.prune.pattern_path))
            .map_err(|e| RunError::Invalid(e.to_string()))?;
        Ok(Pruning::Weights(pruner))
    }

    /// Per-step fractions of the original prunable entries (structured: of the target measure,
    /// channels per group or the dense parameters/FLOPs).
    pub fn fractions(&self) -> &Plan {
        match self {
            Pruning::Weights(p) => p.plan().fractions(),
            Pruning::Channels { pruner, .. } => pruner.plan(),
        }
    }

    pub fn steps(&self) -> usize {
        self.fractions().len()
    }

    /// The prunable tensors when the criterion needs gradients to score them.
    pub fn gradient_params(&self) -> Option<&[Prunable]> {
        match self {
            Pruning::Weights(p) if p.criterion().needs_gradients() => Some(&p.masks().params),
            _ => None,
        }
    }

    /// Whether the criterion measures layer inputs on calibration data.
    pub fn needs_calibration(&self) -> bool {
        matches!(self, Pruning::Weights(p) if p.criterion().needs_calibration())
    }

    /// Takes the next planned step; `calibration` is the step's calibration set when
    /// [`Pruning::needs_calibration`].
    pub fn step(
        &mut self,
        model: Network,
        grads: Option<&GradientStats>,
        calibration: Option<&[Input]>,
    ) -> Result<Network, RunError> {
        match self {
            Pruning::Weights(p) => match calibration {
                Some(set) => p
                    .step_calibrated(model, grads, &mut prune::run_network(set))
                    .map_err(invalid),
                None => p.step(model, grads).map_err(invalid),
            },
            Pruning::Channels { pruner, .. } => pruner.step(model).map_err(RunError::Invalid),
        }
    }

    /// What keeps pruned weights at zero after every optimizer step.
    pub fn hook(&mut self) -> &mut dyn AfterStep<Network> {
        match self {
            Pruning::Weights(p) => p,
            Pruning::Channels { no_hook, .. } => no_hook,
        }
    }

    /// Checks the model against the plan (unstructured: zeros and counts; a shrunk network is
    /// checked by its surgery).
    pub fn verify(&self, model: &Network) -> Result<(), RunError> {
        match self {
            Pruning::Weights(p) => p.verify(model).map(|_| ()).map_err(invalid),
            Pruning::Channels { .. } => Ok(()),
        }
    }

    /// The state stored with a step: the masks, or the channel widths.
    pub fn state_json(&self) -> String {
        match self {
            Pruning::Weights(p) => serde_json::to_string(&p.masks().masks),
            Pruning::Channels { pruner, .. } => serde_json::to_string(pruner.widths()),
        }
        .expect("pruning state serialises")
    }

    /// Widths of a stored structured step, needed before its checkpoint can be loaded.
    pub fn parse_widths(text: &str) -> Result<Widths, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Resumes after `completed` steps from a stored state, checked against the plan.
    pub fn restore(&mut self, completed: usize, text: &str) -> Result<(), String> {
        match self {
            Pruning::Weights(p) => {
                let masks: Vec<Mask> = serde_json::from_str(text)
                    .map_err(|e| format!("corrupted pruning state: {e}"))?;
                p.restore(PrunerState { completed, masks })
                    .map_err(|e| format!("masks do not match the plan: {e}"))
            }
            Pruning::Channels { pruner, .. } => {
                let widths = Self::parse_widths(text)
                    .map_err(|e| format!("corrupted pruning state: {e}"))?;
                pruner.restore(completed, widths)
            }
        }
    }

    /// Size and cost of the current network.
    pub fn account(&self, model: &Network, spec: &ModelSpec) -> Result<Accounting, RunError> {
        match self {
            Pruning::Weights(p) => {
                let t = SparsityTable::new(spec, p.masks(), prune::total_params(model));
                Ok(Accounting {
                    sparsity: t.sparsity,
                    model_sparsity: t.model_sparsity,
                    remaining_params: t.model_params - (t.prunable - t.kept),
                    flops_dense: t.flops_dense,
                    flops_effective: t.flops_effective,
                })
            }
            Pruning::Channels { dense, .. } => {
                let now = footprint(&model.valid(), spec)
                    .map_err(|e| RunError::Invalid(e.to_string()))?;
                Ok(Accounting {
                    sparsity: 1.0 - now.layer_params as f64 / dense.layer_params as f64,
                    model_sparsity: 1.0
                        - now.trainable_params as f64 / dense.trainable_params as f64,
                    remaining_params: now.trainable_params,
                    flops_dense: dense.flops,
                    flops_effective: now.flops,
                })
            }
        }
    }
}

fn invalid(e: prune::PruneError) -> RunError {
    RunError::Invalid(e.to_string())
}
