//! Channel groups: the dependency description structured pruning works on.
//!
//! A [`ChannelGroup`] is a set of channels that must be removed together, with every parameter
//! slice one channel touches (Torch-Pruning's dependency-graph "group"). The types here are
//! framework-free: a slice names a parameter by its stable path (see [`crate::params`]) and says
//! which axis carries the group's channels. [`channel_groups`] builds the groups of a
//! [`Network`] from its actual module shapes, so it also works on a network that was already
//! shrunk.

use crate::models::{Attention, Block, ConvBn, Network};
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use serde::Serialize;

/// What a slice is to its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Produces the channel: conv output filter / Linear output column, its bias, BN gamma and
    /// beta. Scored, and zeroed by the mask realisation.
    Producer,
    /// BN running mean / variance: selected by surgery, neither scored nor zeroed.
    BnStat,
    /// Reads the channel: next conv's input channel, or the next Linear's input rows.
    /// Removed by surgery only (a masked channel already feeds zeros).
    Consumer,
}

/// The part of one parameter that a group's channels index: along `dim`, channel `c` covers
/// entries `c*block .. (c+1)*block` (`block > 1` where a flatten maps one conv channel to
/// `H·W` consecutive input features of a Linear).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Slice {
    /// Parameter path, e.g. `blocks.3.conv1.conv.weight`.
    pub param: String,
    pub dim: usize,
    pub block: usize,
    pub role: Role,
}

/// Channels removed together, and everything they touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelGroup {
    /// Key for per-group ratios: the producing layer (`features.2.conv`, `fc1`,
    /// `blocks.4.conv1.conv`) or `stage{s}` for a ResNet residual group.
    pub name: String,
    /// Current number of channels.
    pub channels: usize,
    /// ResNet stage the channels live in (both its residual group and the block-internal
    /// groups of its blocks); `None` for other architectures.
    pub stage: Option<usize>,
    /// Conv/Linear layers producing the channels (several for a residual group, and `q`, `k`,
    /// `v` for attention heads).
    pub layers: Vec<String>,
    pub slices: Vec<Slice>,
}

impl ChannelGroup {
    /// Channels tied by a residual addition (a ResNet stage's several producing layers).
    pub fn is_residual(&self) -> bool {
        self.stage.is_some() && self.layers.len() > 1
    }

    pub fn slices_with(&self, role: Role) -> impl Iterator<Item = &Slice> {
        self.slices.iter().filter(move |s| s.role == role)
    }
}

/// `shape` with axis `dim` split into `[shape[dim] / block, block]`, so the group's channels
/// are axis `dim` of the result (row-major layout is unchanged). `None` if it does not divide.
pub fn channel_view(shape: &[usize], dim: usize, block: usize) -> Option<Vec<usize>> {
    if dim >= shape.len() || block == 0 || !shape[dim].is_multiple_of(block) {
        return None;
    }
    let mut out = shape.to_vec();
    if block > 1 {
        out[dim] = shape[dim] / block;
        out.insert(dim + 1, block);
    }
    Some(out)
}

/// Entry indices along a slice's axis covered by the kept channels, ascending.
pub fn kept_indices(keep: &[bool], block: usize) -> Vec<usize> {
    keep.iter()
        .enumerate()
        .filter(|(_, k)| **k)
        .flat_map(|(c, _)| c * block..(c + 1) * block)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Builders from module shapes

fn slice(param: String, dim: usize, block: usize, role: Role) -> Slice {
    Slice {
        param,
        dim,
        block,
        role,
    }
}

fn conv_out(path: &str, conv: &Conv2d) -> Vec<Slice> {
    let mut out = vec![slice(format!("{path}.weight"), 0, 1, Role::Producer)];
    if conv.bias.is_some() {
        out.push(slice(format!("{path}.bias"), 0, 1, Role::Producer));
    }
    out
}

fn conv_in(path: &str) -> Slice {
    slice(format!("{path}.weight"), 1, 1, Role::Consumer)
}

fn bn(path: &str) -> Vec<Slice> {
    vec![
        slice(format!("{path}.gamma"), 0, 1, Role::Producer),
        slice(format!("{path}.beta"), 0, 1, Role::Producer),
        slice(format!("{path}.running_mean"), 0, 1, Role::BnStat),
        slice(format!("{path}.running_var"), 0, 1, Role::BnStat),
    ]
}

fn convbn_out(path: &str, m: &ConvBn) -> Vec<Slice> {
    let mut out = conv_out(&format!("{path}.conv"), &m.conv);
    out.extend(bn(&format!("{path}.bn")));
    out
}

/// Burn Linear weight is `[in, out]`: output neurons are columns (dim 1).
fn linear_out(path: &str, l: &Linear) -> Vec<Slice> {
    let mut out = vec![slice(format!("{path}.weight"), 1, 1, Role::Producer)];
    if l.bias.is_some() {
        out.push(slice(format!("{path}.bias"), 0, 1, Role::Producer));
    }
    out
}

/// Input features are rows (dim 0); `block` rows per channel after a flatten.
fn linear_in(path: &str, block: usize) -> Slice {
    slice(format!("{path}.weight"), 0, block, Role::Consumer)
}

fn conv_channels(c: &Conv2d) -> usize {
    c.weight.dims()[0]
}

fn linear_dims(l: &Linear) -> [usize; 2] {
    l.weight.dims()
}

fn group(name: &str, channels: usize, layers: Vec<String>, slices: Vec<Slice>) -> ChannelGroup {
    ChannelGroup {
        name: name.to_string(),
        channels,
        stage: None,
        layers,
        slices,
    }
}

/// Hidden-neuron group of Linear `path` feeding Linear `next`.
fn neuron_group(path: &str, l: &Linear, next: &str) -> ChannelGroup {
    let mut slices = linear_out(path, l);
    slices.push(linear_in(next, 1));
    group(path, linear_dims(l)[1], vec![path.to_string()], slices)
}

/// Head group of the attention at `path`: head `j` is its `d_head` output columns of `q`, `k`
/// and `v` (and their biases) and the same input rows of `out`. Zeroing a head's producers
/// zeroes its values, so its softmax-weighted output is exactly 0 whatever its scores: the
/// masked model computes what the shrunk one does.
fn head_group(path: &str, a: &Attention) -> ChannelGroup {
    let d_head = linear_dims(&a.q)[1] / a.heads.max(1);
    let mut slices = Vec::new();
    let mut layers = Vec::new();
    for l in ["q", "k", "v"] {
        let lp = format!("{path}.{l}");
        let lin = match l {
            "q" => &a.q,
            "k" => &a.k,
            _ => &a.v,
        };
        slices.push(slice(format!("{lp}.weight"), 1, d_head, Role::Producer));
        if lin.bias.is_some() {
            slices.push(slice(format!("{lp}.bias"), 0, d_head, Role::Producer));
        }
        layers.push(lp);
    }
    slices.push(linear_in(&format!("{path}.out"), d_head));
    group(path, a.heads, layers, slices)
}

/// Per block: its attention heads, then its MLP's hidden neurons (GELU(0) = 0, so a zeroed
/// neuron feeds nothing). The residual stream's width is not a group: it runs through every
/// block, LayerNorm and embedding.
fn transformer_groups(blocks: &[Block]) -> Vec<ChannelGroup> {
    let mut out = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        let p = format!("blocks.{i}");
        out.push(head_group(&format!("{p}.attn"), &b.attn));
        out.push(neuron_group(
            &format!("{p}.mlp.fc1"),
            &b.mlp.fc1,
            &format!("{p}.mlp.fc2"),
        ));
    }
    out
}

/// Every prunable channel group of `net`, in forward order. The classifier's outputs are
/// never a group.
///
/// - MLP: the hidden neurons of `fc1` and `fc2`.
/// - LeNet: `conv1` and `conv2` channels (`conv2`'s consumer is `fc1`'s input rows, `H·W` per
///   channel through the flatten), `fc1` and `fc2` neurons.
/// - VGG: each conv + BN, consumed by the next conv or the classifier.
/// - ResNet: one residual group per stage (`stage{s}`: the stem, or the first block's
///   projection shortcut, plus every block's `conv2`/BN2 output in that stage, consumed by the
///   next blocks' `conv1`, the next stage's projection and finally `fc`), and one free group
///   per block for its `conv1` channels.
/// - ViT and GPT: per block, its attention heads (`blocks.{i}.attn`) and its MLP's hidden
///   neurons (`blocks.{i}.mlp.fc1`).
pub fn channel_groups(net: &Network) -> Vec<ChannelGroup> {
    match net {
        Network::Mlp(m) => vec![
            neuron_group("fc1", &m.fc1, "fc2"),
            neuron_group("fc2", &m.fc2, "fc3"),
        ],
        Network::LeNet(m) => {
            let c2 = conv_channels(&m.conv2);
            let flat = linear_dims(&m.fc1)[0];
            let mut g1 = conv_out("conv1", &m.conv1);
            g1.push(conv_in("conv2"));
            let mut g2 = conv_out("conv2", &m.conv2);
            g2.push(linear_in("fc1", flat / c2.max(1)));
            vec![
                group("conv1", conv_channels(&m.conv1), vec!["conv1".into()], g1),
                group("conv2", c2, vec!["conv2".into()], g2),
                neuron_group("fc1", &m.fc1, "fc2"),
                neuron_group("fc2", &m.fc2, "fc3"),
            ]
        }
        Network::Vgg(m) => m
            .features
            .iter()
            .enumerate()
            .map(|(i, layer)| {
                let path = format!("features.{i}");
                let mut slices = convbn_out(&path, layer);
                slices.push(if i + 1 < m.features.len() {
                    conv_in(&format!("features.{}.conv", i + 1))
                } else {
                    linear_in("classifier", 1)
                });
                group(
                    &format!("{path}.conv"),
                    conv_channels(&layer.conv),
                    vec![format!("{path}.conv")],
                    slices,
                )
            })
            .collect(),
        Network::ResNet(m) => {
            let mut groups = Vec::new();
            // The open residual group: its index in `groups` (filled in when it closes).
            let mut stage = 0;
            let mut res = group(
                "stage0",
                conv_channels(&m.stem.conv),
                vec!["stem.conv".into()],
                convbn_out("stem", &m.stem),
            );
            res.stage = Some(0);
            let mut res_at = groups.len();
            groups.push(res.clone());
            for (i, b) in m.blocks.iter().enumerate() {
                let path = format!("blocks.{i}");
                res.slices.push(conv_in(&format!("{path}.conv1.conv")));
                if let Some(sc) = &b.shortcut {
                    res.slices.push(conv_in(&format!("{path}.shortcut.conv")));
                    groups[res_at] = res;
                    stage += 1;
                    res = group(
                        &format!("stage{stage}"),
                        conv_channels(&sc.conv),
                        vec![format!("{path}.shortcut.conv")],
                        convbn_out(&format!("{path}.shortcut"), sc),
                    );
                    res.stage = Some(stage);
                    res_at = groups.len();
                    groups.push(res.clone());
                }
                let mut inner = convbn_out(&format!("{path}.conv1"), &b.conv1);
                inner.push(conv_in(&format!("{path}.conv2.conv")));
                let mut g = group(
                    &format!("{path}.conv1.conv"),
                    conv_channels(&b.conv1.conv),
                    vec![format!("{path}.conv1.conv")],
                    inner,
                );
                g.stage = Some(stage);
                groups.push(g);
                res.layers.push(format!("{path}.conv2.conv"));
                res.slices
                    .extend(convbn_out(&format!("{path}.conv2"), &b.conv2));
            }
            res.slices.push(linear_in("fc", 1));
            groups[res_at] = res;
            groups
        }
        // Attention heads and MLP neurons are not channel groups yet.
        Network::Vit(m) => transformer_groups(&m.blocks),
        Network::Gpt(m) => transformer_groups(&m.blocks),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_view_splits_the_axis() {
        assert_eq!(channel_view(&[400, 120], 0, 25), Some(vec![16, 25, 120]));
        assert_eq!(channel_view(&[8, 3, 3, 3], 1, 1), Some(vec![8, 3, 3, 3]));
        assert_eq!(channel_view(&[10, 3], 0, 3), None);
        assert_eq!(channel_view(&[10, 3], 2, 1), None);
    }

    #[test]
    fn kept_indices_expand_blocks() {
        assert_eq!(kept_indices(&[true, false, true], 1), vec![0, 2]);
        assert_eq!(kept_indices(&[false, true, true], 2), vec![2, 3, 4, 5]);
    }
}
