//! Structured (channel) pruning: channel groups, group scores, layer-wise selection, and two
//! realisations — zeroing masks in a same-shape model, or physical surgery into a smaller one.
//!
//! Pipeline (Torch-Pruning `MetaPruner` with `GroupNormImportance`,
//! `docs/design.md#channel-groups-and-surgery`):
//! 1. [`channel_groups`] — the dependency graph: each group lists every parameter slice its
//!    channels touch (producer weights/bias, BN, consumer inputs); ResNet channels joined by a
//!    residual addition form one group per stage.
//! 2. [`group_importance`] — the Ln norm over all coupled producer entries of each channel.
//! 3. [`select_groups`] — per group, `floor(C_orig·v)` more channels removed (layer-wise ratio,
//!    optionally per group or per ResNet stage), always keeping at least one.
//! 4. [`apply_channel_masks`] (zero producers, incl. BN gamma/beta, so removed channels output
//!    exactly 0) or [`shrink`] (new, smaller layers built with `Tensor::select`).
//!
//! Both realisations compute the same function in eval mode; [`footprint`] reports parameters
//! and FLOPs from the actual module shapes, and [`SizeModel`] predicts them from the widths
//! alone, so [`ChannelPruner`] can aim a step at a parameter or FLOP target ([`SizeMeasure`]).

mod groups;
mod pruner;
mod size;
mod surgery;
mod target;

pub use groups::{ChannelGroup, Role, Slice, channel_groups, channel_view, kept_indices};
pub use pruner::{ChannelPruner, Widths, prune_to, skeleton, widths};
pub use size::{SizeMeasure, SizeModel};
pub use surgery::{
    Footprint, apply_channel_masks, check_consistency, footprint, layer_infos, shrink,
};

use crate::models::Network;
use crate::params::visit_floats;
use serde::{Deserialize, Serialize};
use shears_core::masks::{SelectError, removal_count, select_channels};
use shears_core::score::{GroupPart, ScoreError, group_ln_norm};
use std::collections::{BTreeMap, HashMap};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum StructuredError {
    #[error("group {group}: no parameter named {param}")]
    UnknownParam { group: String, param: String },
    #[error(
        "group {group}: {param} has shape {shape:?}, which does not hold {channels} channels x {block} along dim {dim}"
    )]
    BadSlice {
        group: String,
        param: String,
        shape: Vec<usize>,
        dim: usize,
        channels: usize,
        block: usize,
    },
    #[error("{what}: {got} entries for {expected} groups")]
    Count {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("group {group}: {got} keep flags for {channels} channels")]
    KeepLength {
        group: String,
        channels: usize,
        got: usize,
    },
    #[error("group {group}: keeps no channel")]
    EmptyGroup { group: String },
    #[error("{param}: axis {dim} is sliced by two groups")]
    Overlap { param: String, dim: usize },
    #[error("group {group}: {source}")]
    Score {
        group: String,
        #[source]
        source: ScoreError,
    },
    #[error("group {group}: {source}")]
    Select {
        group: String,
        #[source]
        source: SelectError,
    },
    #[error("group {group}: ratio {value} is not in [0, 1]")]
    BadRatio { group: String, value: f64 },
    #[error("inconsistent network: {0}")]
    Inconsistent(String),
}

/// Importance options: `GroupNormImportance`-style Ln norm of all coupled entries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// Norm order `p > 0` (or `f64::INFINITY`); Torch-Pruning's default is 2.
    pub p: f64,
    /// Also count the consumers' input-channel weights (Torch-Pruning counts both sides);
    /// off by default: producers (weights, bias, BN gamma/beta) only.
    pub include_consumers: bool,
}

impl Default for Importance {
    fn default() -> Self {
        Self {
            p: 2.0,
            include_consumers: false,
        }
    }
}

/// Host copies of every float parameter of `net`: path → (values, shape).
pub(crate) fn host_params(net: &Network) -> HashMap<String, (Vec<f32>, Vec<usize>)> {
    let mut out = HashMap::new();
    visit_floats(net, |path, t| {
        out.insert(path.to_string(), (t.to_vec(), t.dims()));
    });
    out
}

/// Checks that `slice` exists in `params` with `channels·block` entries along its axis and
/// returns `(values, channel view shape)`.
fn lookup<'a>(
    params: &'a HashMap<String, (Vec<f32>, Vec<usize>)>,
    g: &ChannelGroup,
    s: &Slice,
) -> Result<(&'a [f32], Vec<usize>), StructuredError> {
    let (w, shape) = params
        .get(&s.param)
        .ok_or_else(|| StructuredError::UnknownParam {
            group: g.name.clone(),
            param: s.param.clone(),
        })?;
    let view = channel_view(shape, s.dim, s.block)
        .filter(|v| v[s.dim] == g.channels)
        .ok_or_else(|| StructuredError::BadSlice {
            group: g.name.clone(),
            param: s.param.clone(),
            shape: shape.clone(),
            dim: s.dim,
            channels: g.channels,
            block: s.block,
        })?;
    Ok((w, view))
}

/// One score per channel of each group: `(Σ_slices Σ_entries |w|^p)^(1/p)` over the group's
/// producer slices (and consumer slices if `imp.include_consumers`).
pub fn group_importance(
    net: &Network,
    groups: &[ChannelGroup],
    imp: Importance,
) -> Result<Vec<Vec<f32>>, StructuredError> {
    let params = host_params(net);
    groups
        .iter()
        .map(|g| {
            let used: Vec<&Slice> = g
                .slices
                .iter()
                .filter(|s| {
                    s.role == Role::Producer || (imp.include_consumers && s.role == Role::Consumer)
                })
                .collect();
            let views = used
                .iter()
                .map(|s| lookup(&params, g, s))
                .collect::<Result<Vec<_>, _>>()?;
            let parts: Vec<GroupPart<'_>> = views
                .iter()
                .zip(&used)
                .map(|((w, shape), s)| GroupPart {
                    w,
                    shape,
                    dim: s.dim,
                })
                .collect();
            group_ln_norm(&parts, imp.p).map_err(|source| StructuredError::Score {
                group: g.name.clone(),
                source,
            })
        })
        .collect()
}

/// Layer-wise structured ratios: each group removes `floor(C·v)` more channels, `v` looked up
/// by group name, then by `stage{s}` for ResNet groups (so `stage2` sets a whole stage, like
/// Torch-Pruning's `pruning_ratio_dict` per `layer{n}`), then `default`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GroupRatios {
    pub default: f64,
    #[serde(default)]
    pub per_group: BTreeMap<String, f64>,
}

impl GroupRatios {
    pub fn uniform(v: f64) -> Self {
        Self {
            default: v,
            per_group: BTreeMap::new(),
        }
    }

    pub fn with(mut self, name: impl Into<String>, v: f64) -> Self {
        self.per_group.insert(name.into(), v);
        self
    }

    pub fn ratio(&self, g: &ChannelGroup) -> f64 {
        self.per_group
            .get(&g.name)
            .or_else(|| {
                g.stage
                    .and_then(|s| self.per_group.get(&format!("stage{s}")))
            })
            .copied()
            .unwrap_or(self.default)
    }
}

/// Keep-flags per group after one layer-wise step.
///
/// `alive` gives each group's current flags (`None`: all channels alive); its length is the
/// original channel count `C_orig`, so with cumulative masks a step of `v` removes
/// `floor(C_orig·v)` more channels, as the reference's `ln_structured`. The count is capped so
/// at least one channel of every group survives. Ties go to the lower channel index.
pub fn select_groups(
    groups: &[ChannelGroup],
    scores: &[Vec<f32>],
    alive: Option<&[Vec<bool>]>,
    ratios: &GroupRatios,
) -> Result<Vec<Vec<bool>>, StructuredError> {
    if scores.len() != groups.len() {
        return Err(StructuredError::Count {
            what: "scores",
            expected: groups.len(),
            got: scores.len(),
        });
    }
    if let Some(a) = alive
        && a.len() != groups.len()
    {
        return Err(StructuredError::Count {
            what: "alive flags",
            expected: groups.len(),
            got: a.len(),
        });
    }
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let v = ratios.ratio(g);
            if !(0.0..=1.0).contains(&v) {
                return Err(StructuredError::BadRatio {
                    group: g.name.clone(),
                    value: v,
                });
            }
            let all = vec![true; g.channels];
            let alive = alive.map_or(&all[..], |a| &a[i][..]);
            if alive.len() != g.channels {
                return Err(StructuredError::KeepLength {
                    group: g.name.clone(),
                    channels: g.channels,
                    got: alive.len(),
                });
            }
            let live = alive.iter().filter(|&&k| k).count();
            let k = removal_count(alive.len(), v).min(live.saturating_sub(1));
            select_channels(&scores[i], alive, k).map_err(|source| StructuredError::Select {
                group: g.name.clone(),
                source,
            })
        })
        .collect()
}

/// Groups, scores and keep-flags of a one-shot structured step on `net`.
#[derive(Debug, Clone)]
pub struct StructuredPlan {
    pub groups: Vec<ChannelGroup>,
    pub scores: Vec<Vec<f32>>,
    pub keep: Vec<Vec<bool>>,
}

impl StructuredPlan {
    /// Builds the groups of `net`, scores them and selects with `ratios`.
    pub fn new(
        net: &Network,
        imp: Importance,
        ratios: &GroupRatios,
    ) -> Result<Self, StructuredError> {
        let groups = channel_groups(net);
        let scores = group_importance(net, &groups, imp)?;
        let keep = select_groups(&groups, &scores, None, ratios)?;
        Ok(Self {
            groups,
            scores,
            keep,
        })
    }

    /// Kept channels per group.
    pub fn kept(&self) -> Vec<usize> {
        self.keep
            .iter()
            .map(|k| k.iter().filter(|&&x| x).count())
            .collect()
    }
}
