//! Importance criteria on a Burn model: gradients are gathered here, the arithmetic is
//! `shears_core::score`. Scores are recomputed at every pruning step — the point of iterative
//! pruning is that importance changes as the network adapts.

use super::Prunable;
use crate::models::Network;
use crate::params::PathStack;
use crate::train::{Devices, Split, TrainError, cross_entropy};
use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use shears_core::masks::Pattern;
use shears_core::score::{self, FisherAccumulator, TaylorAccumulator};
use shears_data::BatchConfig;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// How entries are ranked (higher score = kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Criterion {
    /// |w| — the paper's criterion.
    Magnitude,
    /// Seeded uniform scores: the baseline any criterion must beat.
    Random,
    /// First-order Taylor |w · Σ_b g_b| over the scoring batches.
    Taylor,
    /// Diagonal second order (OBD with the empirical Fisher): ½ · w² · Σ_b g_b².
    Hessian,
    /// Wanda: |w| · ‖input feature‖₂ over calibration data, compared within output rows.
    Wanda,
    /// SparseGPT: per layer, OBS saliency from H = 2XᵀX/n and a reconstruction of the kept
    /// weights; within output rows. The only criterion that changes surviving weights.
    #[serde(rename = "sparsegpt")]
    SparseGpt,
}

impl Criterion {
    pub const ALL: [Criterion; 6] = [
        Criterion::Magnitude,
        Criterion::Random,
        Criterion::Taylor,
        Criterion::Hessian,
        Criterion::Wanda,
        Criterion::SparseGpt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Criterion::Magnitude => "magnitude",
            Criterion::Random => "random",
            Criterion::Taylor => "taylor",
            Criterion::Hessian => "hessian",
            Criterion::Wanda => "wanda",
            Criterion::SparseGpt => "sparsegpt",
        }
    }

    /// Scores from layer inputs over calibration data, layer by layer, within output rows.
    pub fn needs_calibration(self) -> bool {
        matches!(self, Criterion::Wanda | Criterion::SparseGpt)
    }

    /// Whether Wanda's comparison may leave output rows (`wanda_rows = false`): only Wanda's,
    /// and only without a pattern (SparseGPT reconstructs per row; a pattern is per row).
    pub fn may_leave_rows(self, pattern: Option<Pattern>) -> bool {
        self == Criterion::Wanda && pattern.is_none()
    }

    /// Whether a step chooses within output rows, which needs a count per tensor: a
    /// calibrated criterion (unless Wanda is told to leave its rows) or any under a pattern.
    pub fn in_rows(self, wanda_rows: bool, pattern: Option<Pattern>) -> bool {
        (self.needs_calibration() && wanda_rows) || pattern.is_some()
    }

    pub fn needs_gradients(self) -> bool {
        matches!(self, Criterion::Taylor | Criterion::Hessian)
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Criterion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let s = match s.as_str() {
            "l1" | "abs" => "magnitude",
            "obd" | "fisher" => "hessian",
            other => other,
        };
        Criterion::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown criterion '{s}' (expected magnitude, random, taylor, hessian, wanda or sparsegpt)"
                )
            })
    }
}

/// Per-tensor gradient sums over the scoring batches, in prunable order.
#[derive(Debug, Clone)]
pub struct GradientStats {
    pub taylor: Vec<TaylorAccumulator>,
    pub fisher: Vec<FisherAccumulator>,
    pub batches: usize,
}

/// Accumulates gradients of the training loss over the first `batches` batches of `data`
/// (in dataset order, no augmentation: scoring is deterministic). Each batch's gradient is
/// the mean-loss gradient, as a training step would see it.
pub fn gradient_stats(
    model: &Network,
    params: &[Prunable],
    data: &Split,
    config: &BatchConfig,
    batches: usize,
    devices: &Devices,
) -> Result<GradientStats, TrainError> {
    let mut it = data.batches(config, 0)?;
    gradient_stats_with(model, params, batches, |m: &Network| {
        let b = it.next_on(&devices.train)?;
        Some(cross_entropy(m.forward(b.input), b.targets))
    })
}

/// [`gradient_stats`] for any module: `next_loss` computes the (mean) loss of the next
/// scoring batch on the module it is given, or `None` when there are no more batches.
pub fn gradient_stats_with<M: Module>(
    model: &M,
    params: &[Prunable],
    batches: usize,
    mut next_loss: impl FnMut(&M) -> Option<Tensor<1>>,
) -> Result<GradientStats, TrainError> {
    let values = super::read(model, params).map_err(TrainError::Invalid)?;
    let model = model.clone().train();
    let mut taylor: Vec<_> = params
        .iter()
        .map(|p| TaylorAccumulator::new(p.len()))
        .collect();
    let mut fisher: Vec<_> = params
        .iter()
        .map(|p| FisherAccumulator::new(p.len()))
        .collect();
    let index: HashMap<&str, usize> = params
        .iter()
        .enumerate()
        .map(|(i, p)| (p.path.as_str(), i))
        .collect();
    let mut seen = 0;
    while seen < batches {
        let Some(loss) = next_loss(&model) else {
            break;
        };
        let grads = loss.backward();
        let mut v = GradVisitor {
            stack: PathStack::default(),
            grads: &grads,
            index: &index,
            out: vec![None; params.len()],
        };
        model.visit(&mut v);
        for (i, g) in v.out.into_iter().enumerate() {
            let g = g.ok_or_else(|| {
                TrainError::Invalid(format!("no gradient for '{}'", params[i].path))
            })?;
            let bad = |e: score::ScoreError| TrainError::Invalid(e.to_string());
            taylor[i].add_batch(&values[i], &g).map_err(bad)?;
            fisher[i].add_batch(&g).map_err(bad)?;
        }
        seen += 1;
    }
    if seen == 0 {
        return Err(TrainError::Invalid(
            "no batches to score gradients on".into(),
        ));
    }
    Ok(GradientStats {
        taylor,
        fisher,
        batches: seen,
    })
}

struct GradVisitor<'a> {
    stack: PathStack,
    grads: &'a burn::tensor::Gradients,
    index: &'a HashMap<&'a str, usize>,
    out: Vec<Option<Vec<f32>>>,
}

impl ModuleVisitor for GradVisitor<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.stack.exit(container_type);
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self.stack.path();
        if let Some(&i) = self.index.get(path.as_str())
            && let Some(g) = param.val().grad(self.grads)
        {
            self.out[i] = g.into_data().convert::<f32>().try_to_vec::<f32>().ok();
        }
    }
}

/// Scores for every prunable tensor. `seed`/`step` make random scores reproducible and
/// different at each step.
pub fn scores(
    criterion: Criterion,
    values: &[Vec<f32>],
    grads: Option<&GradientStats>,
    seed: u64,
    step: u64,
) -> Result<Vec<Vec<f32>>, String> {
    let need = || format!("criterion '{criterion}' needs gradient statistics");
    match criterion {
        Criterion::Magnitude => Ok(values.iter().map(|v| score::magnitude(v)).collect()),
        Criterion::Random => Ok(values
            .iter()
            .enumerate()
            .map(|(i, v)| score::random(v.len(), seed ^ step.wrapping_mul(0x9E37_79B9), i as u64))
            .collect()),
        Criterion::Taylor => Ok(grads
            .ok_or_else(need)?
            .taylor
            .iter()
            .map(|t| t.scores())
            .collect()),
        Criterion::Hessian => grads
            .ok_or_else(need)?
            .fisher
            .iter()
            .zip(values)
            .map(|(f, w)| f.scores(w).map_err(|e| e.to_string()))
            .collect(),
        Criterion::Wanda | Criterion::SparseGpt => Err(format!(
            "criterion '{criterion}' scores from calibration data, layer by layer (remove_grouped)"
        )),
    }
}
