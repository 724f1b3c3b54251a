//! [`ChannelPruner`]: the owner of structured pruning steps, by physical surgery. Every step
//! scores the channel groups of the current network (group L2 norm, residual-coupled channels
//! together), removes the lowest channels and returns the *smaller* network — so iterative
//! structured pruning gets cheaper per epoch as it goes, and the FLOPs recorded are real.
//!
//! What a step removes depends on the [`SizeMeasure`] (docs/design.md#structured-size-measures):
//! - `Channels`: step values are fractions of each group's ORIGINAL channels (the reference's
//!   `ln_structured`, docs/design.md#channel-counts): after steps v_1..v_i a group of C
//!   channels keeps C − Σ floor(C·v_j) channels, and always at least one (scope ignored).
//! - `Params` / `Flops`: step `t` aims at the remaining size `(1 − s_t)·S_dense`, `s_t` the
//!   plan's cumulative fraction; layer-wise, one fraction of every group's channels, globally,
//!   the lowest channels of all groups. The realised size is checked after every step.

use super::target::{global_keep, layer_wise_widths};
use super::{
    ChannelGroup, Importance, SizeMeasure, SizeModel, channel_groups, footprint, group_importance,
    shrink,
};
use crate::Device;
use crate::models::{ModelSpec, Network};
use burn::module::Module;
use shears_core::masks::{ScopeKind, removal_count, select_channels};
use shears_core::schedule::Plan;
use std::collections::BTreeMap;

/// Kept channels per group, by group name: what a shrunk architecture is.
pub type Widths = BTreeMap<String, usize>;

/// A size target: the model, the measure and the scope that turn `R_t` into widths.
#[derive(Debug, Clone)]
struct SizeTarget {
    model: SizeModel,
    spec: ModelSpec,
    measure: SizeMeasure,
    scope: ScopeKind,
    dense: u64,
}

/// Structured pruning of one of shears' networks along a planned schedule.
#[derive(Debug, Clone)]
pub struct ChannelPruner {
    /// `(name, original channels)` of every group of the dense network.
    original: Vec<(String, usize)>,
    plan: Plan,
    widths: Widths,
    completed: usize,
    /// `None`: the `Channels` measure.
    sized: Option<SizeTarget>,
}

impl ChannelPruner {
    /// A pruner for networks of `dense`'s architecture (any instance: only the channel groups
    /// are read) following the per-step fractions of `plan`, in channels.
    pub fn new(dense: &Network, plan: Plan) -> Self {
        let original: Vec<(String, usize)> = channel_groups(&dense.valid())
            .into_iter()
            .map(|g| (g.name, g.channels))
            .collect();
        let widths = original.iter().cloned().collect();
        Self {
            original,
            plan,
            widths,
            completed: 0,
            sized: None,
        }
    }

    /// A pruner whose plan counts `measure` (fractions of the dense network's total), selecting
    /// channels with `scope`. `Channels` is [`Self::new`].
    pub fn sized(
        dense: &Network,
        spec: &ModelSpec,
        plan: Plan,
        measure: SizeMeasure,
        scope: ScopeKind,
    ) -> Result<Self, String> {
        let mut out = Self::new(dense, plan);
        if measure != SizeMeasure::Channels {
            let model = SizeModel::new(&dense.valid(), spec).map_err(|e| e.to_string())?;
            let dense = model.size(measure, model.channels());
            out.sized = Some(SizeTarget {
                model,
                spec: *spec,
                measure,
                scope,
                dense,
            });
        }
        Ok(out)
    }

    /// Number of planned steps.
    pub fn steps(&self) -> usize {
        self.plan.len()
    }

    /// Steps taken so far.
    pub fn completed(&self) -> usize {
        self.completed
    }

    /// The per-step fractions (of each group's original channels, or of the dense size).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// What the plan's fractions count.
    pub fn measure(&self) -> SizeMeasure {
        self.sized
            .as_ref()
            .map_or(SizeMeasure::Channels, |s| s.measure)
    }

    /// Current kept channels per group.
    pub fn widths(&self) -> &Widths {
        &self.widths
    }

    /// Remaining size the plan aims at after `t` steps, in the measure (`None` for channels).
    pub fn target_size(&self, t: usize) -> Option<f64> {
        let s = self.sized.as_ref()?;
        let cumulative = match t.min(self.plan.len()) {
            0 => 0.0,
            t => self.plan.cumulative()[t - 1],
        };
        Some((1.0 - cumulative) * s.dense as f64)
    }

    /// Widths after the first `t` steps of the plan; `None` where they depend on the scores
    /// (a global size target).
    pub fn planned_widths(&self, t: usize) -> Option<Widths> {
        let t = t.min(self.plan.len());
        match &self.sized {
            None => {
                let steps = &self.plan.steps[..t];
                Some(
                    self.original
                        .iter()
                        .map(|(name, c)| {
                            let removed: usize = steps.iter().map(|&v| removal_count(*c, v)).sum();
                            (name.clone(), c - removed.min(c - 1))
                        })
                        .collect(),
                )
            }
            Some(_) if t == 0 => Some(self.original.iter().cloned().collect()),
            Some(s) if s.scope == ScopeKind::LayerWise => {
                let remaining = self.target_size(t).expect("sized");
                Some(
                    s.model
                        .widths(&layer_wise_widths(&s.model, s.measure, remaining)),
                )
            }
            Some(_) => None,
        }
    }

    /// Takes the next planned step: shrinks `model` to the planned widths (or size), removing
    /// the lowest-scoring channels; the result is checked against the plan.
    pub fn step(&mut self, model: Network) -> Result<Network, String> {
        if self.completed == self.plan.len() {
            return Err(format!("all {} planned steps are done", self.plan.len()));
        }
        let step = self.completed + 1;
        let out = match (self.planned_widths(step), &self.sized) {
            (Some(target), _) => prune_to(&model, &target),
            (None, Some(s)) => {
                let remaining = self.target_size(step).expect("sized");
                prune_global(&model, s, remaining)
            }
            (None, None) => unreachable!("channel widths are always planned"),
        }
        .map_err(|e| format!("step {step}: {e}"))?;
        let widths = widths(&out);
        if let Some(s) = &self.sized {
            let realised = measured(&out, s)?;
            let predicted = s.model.size(s.measure, &s.model.vector(&widths)?);
            if realised != predicted {
                return Err(format!(
                    "step {step}: the network has {realised} {}, its widths predict {predicted}",
                    s.measure
                ));
            }
            self.check_size(step, &widths, "realised")?;
        }
        self.widths = widths;
        self.completed = step;
        Ok(out)
    }

    /// Size of `widths` against the plan after `step`: off by more than one channel's weight
    /// (layer-wise: one channel of every group, since one fraction moves them all) is an error.
    fn check_size(&self, step: usize, widths: &Widths, what: &str) -> Result<(), String> {
        let (Some(s), Some(target)) = (&self.sized, self.target_size(step)) else {
            return Ok(());
        };
        let w = s.model.vector(widths)?;
        let size = s.model.size(s.measure, &w);
        let tolerance = match s.scope {
            ScopeKind::Global => s.model.channel_weight(s.measure, &w),
            ScopeKind::LayerWise => {
                let up: Vec<usize> = w.iter().map(|x| x + 1).collect();
                s.model.size(s.measure, &up) - size
            }
        };
        if (size as f64 - target).abs() > tolerance as f64 {
            return Err(format!(
                "step {step}: {what} size {size} {} is off the planned {target:.0} by more than one channel's weight ({tolerance})",
                s.measure
            ));
        }
        Ok(())
    }

    /// Resumes after `completed` steps with the stored `widths`: the plan's widths where the
    /// plan fixes them, else (global size target) widths of the planned size.
    pub fn restore(&mut self, completed: usize, widths: Widths) -> Result<(), String> {
        if completed > self.plan.len() {
            return Err(format!(
                "step {completed} is beyond the plan's {} steps",
                self.plan.len()
            ));
        }
        match self.planned_widths(completed) {
            Some(planned) if widths != planned => {
                return Err(format!(
                    "stored channel widths after step {completed} are not the plan's ({widths:?}, planned {planned:?})"
                ));
            }
            Some(_) => {}
            None => {
                for (name, c) in &self.original {
                    match widths.get(name) {
                        Some(&w) if (1..=*c).contains(&w) => {}
                        w => {
                            return Err(format!(
                                "stored channel widths after step {completed}: group '{name}' has {w:?} of {c} channels"
                            ));
                        }
                    }
                }
                if widths.len() != self.original.len() {
                    return Err(format!(
                        "stored channel widths after step {completed} name groups the network does not have ({widths:?})"
                    ));
                }
                self.check_size(completed, &widths, "stored")?;
            }
        }
        self.widths = widths;
        self.completed = completed;
        Ok(())
    }
}

/// Size of `net` in the measure, from its actual shapes.
fn measured(net: &Network, s: &SizeTarget) -> Result<u64, String> {
    let f = footprint(&net.valid(), &s.spec).map_err(|e| e.to_string())?;
    Ok(match s.measure {
        SizeMeasure::Flops => f.flops,
        _ => f.trainable_params,
    })
}

/// A group's scores divided by their mean, so channels of different groups compare by how
/// they rank within their group (norms grow with fan-in, which a raw global ranking would turn
/// into emptying the smallest layers first; Torch-Pruning's `normalizer="mean"` does the same).
fn normalised(scores: &[f32]) -> Vec<f32> {
    let mean = scores.iter().map(|&x| f64::from(x)).sum::<f64>() / scores.len().max(1) as f64;
    if mean > 0.0 && mean.is_finite() {
        scores
            .iter()
            .map(|&x| (f64::from(x) / mean) as f32)
            .collect()
    } else {
        scores.to_vec()
    }
}

/// One global size-targeted step: every channel of `net` ranked by its group's score.
fn prune_global(net: &Network, s: &SizeTarget, remaining: f64) -> Result<Network, String> {
    let plain = net.valid();
    let groups = channel_groups(&plain);
    let scores =
        group_importance(&plain, &groups, Importance::default()).map_err(|e| e.to_string())?;
    let index: BTreeMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.name.as_str(), i))
        .collect();
    let order = s
        .model
        .names()
        .iter()
        .map(|n| {
            index
                .get(n.as_str())
                .copied()
                .ok_or_else(|| format!("the network has no channel group '{n}'"))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    if order.len() != groups.len() {
        return Err("the network's channel groups are not the dense network's".into());
    }
    let now: Vec<usize> = order.iter().map(|&i| groups[i].channels).collect();
    let ordered: Vec<Vec<f32>> = order.iter().map(|&i| normalised(&scores[i])).collect();
    let chosen = global_keep(&s.model, s.measure, &now, &ordered, remaining);
    let mut keep = vec![Vec::new(); groups.len()];
    for (k, &i) in chosen.into_iter().zip(&order) {
        keep[i] = k;
    }
    shrink(&plain, &groups, &keep)
        .map(Module::train)
        .map_err(|e| e.to_string())
}

fn widths_of(groups: &[ChannelGroup]) -> Widths {
    groups
        .iter()
        .map(|g| (g.name.clone(), g.channels))
        .collect()
}

/// Shrinks `net` to `target` widths, removing the lowest-scoring channels of each group.
/// The result's widths are checked against the plan; a mismatch names the group.
pub fn prune_to(net: &Network, target: &Widths) -> Result<Network, String> {
    let plain = net.valid();
    let groups = channel_groups(&plain);
    let scores =
        group_importance(&plain, &groups, Importance::default()).map_err(|e| e.to_string())?;
    let mut keep = Vec::with_capacity(groups.len());
    for (g, s) in groups.iter().zip(&scores) {
        let want = *target
            .get(&g.name)
            .ok_or_else(|| format!("no planned width for channel group '{}'", g.name))?;
        let k = g.channels.checked_sub(want).ok_or_else(|| {
            format!(
                "group '{}' has {} channels, fewer than planned {want}",
                g.name, g.channels
            )
        })?;
        keep.push(select_channels(s, &vec![true; g.channels], k).map_err(|e| e.to_string())?);
    }
    let out = shrink(&plain, &groups, &keep).map_err(|e| e.to_string())?;
    let got = widths_of(&channel_groups(&out));
    for (name, want) in target {
        let have = got.get(name).copied().unwrap_or(0);
        if have != *want {
            return Err(format!(
                "group '{name}': {have} channels after surgery, planned {want}"
            ));
        }
    }
    Ok(out.train())
}

/// A network of `spec` with the given widths (first channels kept): the skeleton a shrunk
/// checkpoint is loaded into.
pub fn skeleton(spec: &ModelSpec, widths: &Widths, device: &Device) -> Result<Network, String> {
    let fresh = spec.init(device).valid();
    let groups = channel_groups(&fresh);
    let keep: Vec<Vec<bool>> = groups
        .iter()
        .map(|g| {
            let n = widths.get(&g.name).copied().unwrap_or(g.channels);
            (0..g.channels).map(|i| i < n).collect()
        })
        .collect();
    shrink(&fresh, &groups, &keep)
        .map(Module::train)
        .map_err(|e| e.to_string())
}

/// Current widths of a network.
pub fn widths(net: &Network) -> Widths {
    widths_of(&channel_groups(net))
}
