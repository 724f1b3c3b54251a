//! What a structured target counts ([`SizeMeasure`]) and an exact model of a network's size as
//! a function of its channel widths ([`SizeModel`]).
//!
//! Channel fractions do not say how big a pruned model is: a channel of LeNet-5's `conv2`
//! carries ~2,000 parameters (its filter and 16·5·5·… inputs of `fc1`), one of `fc2` ~130. So
//! regimes reaching the same channel fraction along different paths end at different sizes
//! (docs/design.md#structured-size-measures). The size model lets a step pick channels until
//! a parameter or FLOP target is met, without rebuilding the network for every candidate.

use super::{ChannelGroup, StructuredError, Widths, channel_groups, layer_infos};
use crate::models::{ModelSpec, Network};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What the fractions of a structured schedule count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SizeMeasure {
    /// Channels of each group (the reference's `ln_structured`; regimes may end at different
    /// model sizes).
    Channels,
    /// Trainable parameters of the whole model (BatchNorm γ/β included, running statistics
    /// not), the `remaining_params` of a result row.
    Params,
    /// Forward FLOPs per sample of the Conv/Linear layers ([`crate::models::LayerInfo::flops`]).
    Flops,
}

impl SizeMeasure {
    pub fn name(self) -> &'static str {
        match self {
            SizeMeasure::Channels => "channels",
            SizeMeasure::Params => "params",
            SizeMeasure::Flops => "flops",
        }
    }
}

impl std::fmt::Display for SizeMeasure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One parameter's contribution: `weight · fixed · Π (width[g] · block)` over the axes the
/// groups index.
#[derive(Debug, Clone)]
struct Term {
    weight: u64,
    fixed: u64,
    dims: Vec<(usize, usize)>,
}

impl Term {
    fn eval(&self, widths: &[usize]) -> u64 {
        self.dims
            .iter()
            .fold(self.weight * self.fixed, |acc, &(g, b)| {
                acc * (widths[g] * b) as u64
            })
    }
}

/// Exact parameter and FLOP counts of a network of one architecture at any channel widths.
#[derive(Debug, Clone)]
pub struct SizeModel {
    names: Vec<String>,
    channels: Vec<usize>,
    params: Vec<Term>,
    flops: Vec<Term>,
}

impl SizeModel {
    /// The model of `net` (built for `spec`): its parameter shapes, with every axis a channel
    /// group indexes scaled by that group's width. Running statistics are not parameters;
    /// a Conv/Linear weight costs `2 · positions` FLOPs per entry and a bias `positions`.
    pub fn new(net: &Network, spec: &ModelSpec) -> Result<Self, StructuredError> {
        let groups = channel_groups(net);
        let shapes: HashMap<String, Vec<usize>> = crate::params::shapes(net).into_iter().collect();
        let mut axes: HashMap<(&str, usize), (usize, usize)> = HashMap::new();
        for (gi, g) in groups.iter().enumerate() {
            for s in &g.slices {
                let shape = shapes
                    .get(&s.param)
                    .ok_or_else(|| StructuredError::UnknownParam {
                        group: g.name.clone(),
                        param: s.param.clone(),
                    })?;
                if shape.get(s.dim) != Some(&(g.channels * s.block)) {
                    return Err(bad_slice(g, s, shape));
                }
                if axes
                    .insert((s.param.as_str(), s.dim), (gi, s.block))
                    .is_some()
                {
                    return Err(StructuredError::Overlap {
                        param: s.param.clone(),
                        dim: s.dim,
                    });
                }
            }
        }
        let term = |param: &str, weight: u64| -> Option<Term> {
            let shape = shapes.get(param)?;
            let mut t = Term {
                weight,
                fixed: 1,
                dims: Vec::new(),
            };
            for (d, &n) in shape.iter().enumerate() {
                match axes.get(&(param, d)) {
                    Some(&gb) => t.dims.push(gb),
                    None => t.fixed *= n as u64,
                }
            }
            Some(t)
        };
        let mut names: Vec<&String> = shapes.keys().collect();
        names.sort();
        let params = names
            .into_iter()
            .filter(|p| !p.ends_with(".running_mean") && !p.ends_with(".running_var"))
            .filter_map(|p| term(p, 1))
            .collect();
        let mut flops = Vec::new();
        for l in layer_infos(net, spec)? {
            let positions = (l.out_hw[0] * l.out_hw[1]) as u64;
            flops.extend(term(&format!("{}.weight", l.path), 2 * positions));
            flops.extend(term(&format!("{}.bias", l.path), positions));
        }
        Ok(Self {
            names: groups.iter().map(|g| g.name.clone()).collect(),
            channels: groups.iter().map(|g| g.channels).collect(),
            params,
            flops,
        })
    }

    /// Group names, in the order of width vectors.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Channels of every group of the network the model was built from.
    pub fn channels(&self) -> &[usize] {
        &self.channels
    }

    /// Size at `widths` (one per group, in [`Self::names`] order); `Channels` counts channels.
    pub fn size(&self, measure: SizeMeasure, widths: &[usize]) -> u64 {
        let terms = match measure {
            SizeMeasure::Channels => return widths.iter().map(|&w| w as u64).sum(),
            SizeMeasure::Params => &self.params,
            SizeMeasure::Flops => &self.flops,
        };
        terms.iter().map(|t| t.eval(widths)).sum()
    }

    /// Widths by name as a vector in [`Self::names`] order; every group must be there.
    pub fn vector(&self, widths: &Widths) -> Result<Vec<usize>, String> {
        self.names
            .iter()
            .map(|n| {
                widths
                    .get(n)
                    .copied()
                    .ok_or_else(|| format!("no width for channel group '{n}'"))
            })
            .collect()
    }

    /// A width vector as [`Widths`].
    pub fn widths(&self, v: &[usize]) -> Widths {
        self.names.iter().cloned().zip(v.iter().copied()).collect()
    }

    /// The most one channel of any group weighs at `widths`: what adding it back would cost.
    pub fn channel_weight(&self, measure: SizeMeasure, widths: &[usize]) -> u64 {
        let base = self.size(measure, widths);
        (0..widths.len())
            .map(|g| {
                let mut w = widths.to_vec();
                w[g] += 1;
                self.size(measure, &w) - base
            })
            .max()
            .unwrap_or(0)
    }
}

fn bad_slice(g: &ChannelGroup, s: &super::Slice, shape: &[usize]) -> StructuredError {
    StructuredError::BadSlice {
        group: g.name.clone(),
        param: s.param.clone(),
        shape: shape.to_vec(),
        dim: s.dim,
        channels: g.channels,
        block: s.block,
    }
}
