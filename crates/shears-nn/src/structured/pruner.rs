//! [`ChannelPruner`]: the owner of structured pruning steps, by physical surgery. Every step
//! scores the channel groups of the current network (group L2 norm, residual-coupled channels
//! together), removes the lowest channels and returns the *smaller* network — so iterative
//! structured pruning gets cheaper per epoch as it goes, and the FLOPs recorded are real.
//!
//! Step values are fractions of each group's ORIGINAL channels (the reference's
//! `ln_structured` semantics, docs/design.md#channel-counts): after steps v_1..v_i a group
//! of C channels keeps C − Σ floor(C·v_j) channels, and always at least one.

use super::{ChannelGroup, Importance, channel_groups, group_importance, shrink};
use crate::Device;
use crate::models::{ModelSpec, Network};
use burn::module::Module;
use shears_core::masks::{removal_count, select_channels};
use shears_core::schedule::Plan;
use std::collections::BTreeMap;

/// Kept channels per group, by group name: what a shrunk architecture is.
pub type Widths = BTreeMap<String, usize>;

/// Structured pruning of one of shears' networks along a planned schedule.
#[derive(Debug, Clone)]
pub struct ChannelPruner {
    /// `(name, original channels)` of every group of the dense network.
    original: Vec<(String, usize)>,
    plan: Plan,
    widths: Widths,
    completed: usize,
}

impl ChannelPruner {
    /// A pruner for networks of `dense`'s architecture (any instance: only the channel groups
    /// are read) following the per-step fractions of `plan`.
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
        }
    }

    /// Number of planned steps.
    pub fn steps(&self) -> usize {
        self.plan.len()
    }

    /// Steps taken so far.
    pub fn completed(&self) -> usize {
        self.completed
    }

    /// The per-step fractions of each group's original channels.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Current kept channels per group.
    pub fn widths(&self) -> &Widths {
        &self.widths
    }

    /// Widths after the first `t` steps of the plan.
    pub fn planned_widths(&self, t: usize) -> Widths {
        let steps = &self.plan.steps[..t.min(self.plan.len())];
        self.original
            .iter()
            .map(|(name, c)| {
                let removed: usize = steps.iter().map(|&v| removal_count(*c, v)).sum();
                (name.clone(), c - removed.min(c - 1))
            })
            .collect()
    }

    /// Takes the next planned step: shrinks `model` to the planned widths, removing the
    /// lowest-scoring channels of each group; the result's widths are checked against the plan.
    pub fn step(&mut self, model: Network) -> Result<Network, String> {
        if self.completed == self.plan.len() {
            return Err(format!("all {} planned steps are done", self.plan.len()));
        }
        let step = self.completed + 1;
        let target = self.planned_widths(step);
        let model = prune_to(&model, &target).map_err(|e| format!("step {step}: {e}"))?;
        self.widths = target;
        self.completed = step;
        Ok(model)
    }

    /// Resumes after `completed` steps with the stored `widths`, which must be the plan's.
    pub fn restore(&mut self, completed: usize, widths: Widths) -> Result<(), String> {
        if completed > self.plan.len() {
            return Err(format!(
                "step {completed} is beyond the plan's {} steps",
                self.plan.len()
            ));
        }
        let planned = self.planned_widths(completed);
        if widths != planned {
            return Err(format!(
                "stored channel widths after step {completed} are not the plan's ({widths:?}, planned {planned:?})"
            ));
        }
        self.widths = widths;
        self.completed = completed;
        Ok(())
    }
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
