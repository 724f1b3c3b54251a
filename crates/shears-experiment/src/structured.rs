//! Structured (channel) pruning inside an experiment, by physical surgery: every step scores
//! the channel groups of the current network (group L2 norm, residual-coupled channels
//! together), removes the lowest channels and fine-tunes the *smaller* network — so iterative
//! structured pruning gets cheaper per epoch as it goes, and the FLOPs recorded are real.
//!
//! Step values are fractions of each group's ORIGINAL channels (the reference's
//! `ln_structured` semantics): after steps v_1..v_i a group of C channels keeps
//! C − Σ floor(C·v_j) channels, and always at least one.

use burn::module::Module;
use shears_core::select::{removal_count, select_channels};
use shears_nn::Device;
use shears_nn::models::{ModelSpec, Network};
use shears_nn::structured::{ChannelGroup, Importance, channel_groups, group_importance, shrink};
use std::collections::BTreeMap;

/// Kept channels per group, by group name: what a shrunk architecture is.
pub type Widths = BTreeMap<String, usize>;

/// `(name, original channels)` of every group of the dense network.
pub fn original_groups(dense: &Network) -> Vec<(String, usize)> {
    channel_groups(dense)
        .into_iter()
        .map(|g| (g.name, g.channels))
        .collect()
}

/// Planned widths after the first `steps` schedule values.
pub fn planned_widths(original: &[(String, usize)], steps: &[f64]) -> Widths {
    original
        .iter()
        .map(|(name, c)| {
            let removed: usize = steps.iter().map(|&v| removal_count(*c, v)).sum();
            (name.clone(), c - removed.min(c - 1))
        })
        .collect()
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
