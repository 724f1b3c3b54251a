//! Realising a structured selection: zeroing masks in a same-shape model, or physical surgery
//! into new, smaller `Conv2d` / `BatchNorm` / `Linear` layers (`Tensor::select` of the kept
//! indices along each slice's axis, BN running statistics included).
//!
//! Both walk the network once and rebuild every layer, editing the parameters the groups
//! name; any attached reparameterization (e.g. an unstructured mask) is folded into the value.
//! Fresh `RunningState`s are created so the result never shares BN statistics with its source
//! (Burn's `RunningState` clones share storage).

use super::groups::{ChannelGroup, Role, channel_view, kept_indices};
use super::{StructuredError, host_params};
use crate::models::{Block, ConvBn, LayerInfo, ModelSpec, Network};
use burn::module::{Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;
use serde::Serialize;
use shears_core::masks::Mask;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Multiply producer slices by the channel keep-mask.
    Zero,
    /// Keep only the selected entries along every slice's axis.
    Select,
}

#[derive(Debug, Clone)]
struct Edit {
    dim: usize,
    block: usize,
    keep: Vec<bool>,
}

struct Ctx {
    mode: Mode,
    plan: HashMap<String, Vec<Edit>>,
    used: HashSet<String>,
}

type Res<T> = Result<T, StructuredError>;

impl Ctx {
    fn new(mode: Mode, net: &Network, groups: &[ChannelGroup], keep: &[Vec<bool>]) -> Res<Self> {
        if keep.len() != groups.len() {
            return Err(StructuredError::Count {
                what: "keep flags",
                expected: groups.len(),
                got: keep.len(),
            });
        }
        let shapes: HashMap<String, Vec<usize>> = crate::params::shapes(net).into_iter().collect();
        let mut plan: HashMap<String, Vec<Edit>> = HashMap::new();
        for (g, keep) in groups.iter().zip(keep) {
            if keep.len() != g.channels {
                return Err(StructuredError::KeepLength {
                    group: g.name.clone(),
                    channels: g.channels,
                    got: keep.len(),
                });
            }
            if mode == Mode::Select && !keep.iter().any(|&k| k) {
                return Err(StructuredError::EmptyGroup {
                    group: g.name.clone(),
                });
            }
            for s in &g.slices {
                let shape = shapes
                    .get(&s.param)
                    .ok_or_else(|| StructuredError::UnknownParam {
                        group: g.name.clone(),
                        param: s.param.clone(),
                    })?;
                if channel_view(shape, s.dim, s.block).is_none_or(|v| v[s.dim] != g.channels) {
                    return Err(StructuredError::BadSlice {
                        group: g.name.clone(),
                        param: s.param.clone(),
                        shape: shape.clone(),
                        dim: s.dim,
                        channels: g.channels,
                        block: s.block,
                    });
                }
                if mode == Mode::Zero && s.role != Role::Producer {
                    continue;
                }
                let edits = plan.entry(s.param.clone()).or_default();
                if edits.iter().any(|e| e.dim == s.dim) {
                    return Err(StructuredError::Overlap {
                        param: s.param.clone(),
                        dim: s.dim,
                    });
                }
                edits.push(Edit {
                    dim: s.dim,
                    block: s.block,
                    keep: keep.clone(),
                });
            }
        }
        Ok(Self {
            mode,
            plan,
            used: HashSet::new(),
        })
    }

    /// Applies this path's edits to `t`; `None` when the path has none.
    fn tensor<const D: usize>(&mut self, path: &str, t: Tensor<D>) -> Option<Tensor<D>> {
        let edits = self.plan.get(path)?;
        self.used.insert(path.to_string());
        let device = t.device();
        let mut t = t;
        for e in edits {
            t = match self.mode {
                Mode::Select => {
                    let idx = kept_indices(&e.keep, e.block);
                    t.select(e.dim, Tensor::<1, Int>::from_ints(idx.as_slice(), &device))
                }
                Mode::Zero => {
                    let dims = t.dims();
                    // Shapes were checked when the plan was built.
                    let view = channel_view(&dims, e.dim, e.block).expect("checked slice");
                    let mask = Mask::from_channels(&e.keep, &view, e.dim).expect("checked slice");
                    let m = Tensor::<1>::from_floats(mask.to_f32().as_slice(), &device)
                        .reshape(t.shape());
                    t * m
                }
            };
        }
        Some(t)
    }

    fn param<const D: usize>(&mut self, path: &str, p: &Param<Tensor<D>>) -> Param<Tensor<D>> {
        let v = p.val();
        let dims = v.dims();
        match self.tensor(path, v) {
            None => p.clone(),
            Some(t) if t.dims() == dims => p.clone().map(|_| t),
            // A resized parameter gets a new id: optimizer state must be rebuilt after surgery.
            Some(t) => Param::from_tensor(t),
        }
    }

    fn running(&mut self, path: &str, s: &RunningState<Tensor<1>>) -> RunningState<Tensor<1>> {
        let v = s.value();
        RunningState::new(self.tensor(path, v.clone()).unwrap_or(v))
    }

    fn conv(&mut self, path: &str, c: &Conv2d) -> Conv2d {
        Conv2d {
            weight: self.param(&format!("{path}.weight"), &c.weight),
            bias: c
                .bias
                .as_ref()
                .map(|b| self.param(&format!("{path}.bias"), b)),
            stride: c.stride,
            kernel_size: c.kernel_size,
            dilation: c.dilation,
            groups: c.groups,
            padding: c.padding.clone(),
        }
    }

    fn bn(&mut self, path: &str, b: &BatchNorm) -> BatchNorm {
        BatchNorm {
            gamma: self.param(&format!("{path}.gamma"), &b.gamma),
            beta: self.param(&format!("{path}.beta"), &b.beta),
            training: b.training.clone(),
            running_mean: self.running(&format!("{path}.running_mean"), &b.running_mean),
            running_var: self.running(&format!("{path}.running_var"), &b.running_var),
            momentum: b.momentum,
            epsilon: b.epsilon,
        }
    }

    fn convbn(&mut self, path: &str, m: &ConvBn) -> ConvBn {
        ConvBn {
            conv: self.conv(&format!("{path}.conv"), &m.conv),
            bn: self.bn(&format!("{path}.bn"), &m.bn),
        }
    }

    fn linear(&mut self, path: &str, l: &Linear) -> Linear {
        Linear {
            weight: self.param(&format!("{path}.weight"), &l.weight),
            bias: l
                .bias
                .as_ref()
                .map(|b| self.param(&format!("{path}.bias"), b)),
        }
    }

    /// Transformer blocks with their heads and MLP neurons edited; a block's head count
    /// follows its `q` width at the unchanged head size.
    fn blocks(&mut self, blocks: &[Block]) -> Vec<Block> {
        blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let p = format!("blocks.{i}");
                let mut b = b.clone();
                let d_head = b.attn.q.weight.dims()[1] / b.attn.heads.max(1);
                for (l, lin) in [
                    ("q", &mut b.attn.q),
                    ("k", &mut b.attn.k),
                    ("v", &mut b.attn.v),
                    ("out", &mut b.attn.out),
                ] {
                    *lin = self.linear(&format!("{p}.attn.{l}"), lin);
                }
                b.attn.heads = b.attn.q.weight.dims()[1] / d_head.max(1);
                b.mlp.fc1 = self.linear(&format!("{p}.mlp.fc1"), &b.mlp.fc1);
                b.mlp.fc2 = self.linear(&format!("{p}.mlp.fc2"), &b.mlp.fc2);
                b
            })
            .collect()
    }

    fn network(&mut self, net: &Network) -> Network {
        match net {
            Network::Mlp(m) => {
                let mut m = m.clone();
                m.fc1 = self.linear("fc1", &m.fc1);
                m.fc2 = self.linear("fc2", &m.fc2);
                m.fc3 = self.linear("fc3", &m.fc3);
                Network::Mlp(m)
            }
            Network::LeNet(m) => {
                let mut m = m.clone();
                m.conv1 = self.conv("conv1", &m.conv1);
                m.conv2 = self.conv("conv2", &m.conv2);
                m.fc1 = self.linear("fc1", &m.fc1);
                m.fc2 = self.linear("fc2", &m.fc2);
                m.fc3 = self.linear("fc3", &m.fc3);
                Network::LeNet(m)
            }
            Network::Vgg(m) => {
                let mut m = m.clone();
                m.features = m
                    .features
                    .iter()
                    .enumerate()
                    .map(|(i, f)| self.convbn(&format!("features.{i}"), f))
                    .collect();
                m.classifier = self.linear("classifier", &m.classifier);
                Network::Vgg(m)
            }
            Network::ResNet(m) => {
                let mut m = m.clone();
                m.stem = self.convbn("stem", &m.stem);
                for (i, b) in m.blocks.iter_mut().enumerate() {
                    let p = format!("blocks.{i}");
                    b.conv1 = self.convbn(&format!("{p}.conv1"), &b.conv1);
                    b.conv2 = self.convbn(&format!("{p}.conv2"), &b.conv2);
                    b.shortcut = b
                        .shortcut
                        .as_ref()
                        .map(|s| self.convbn(&format!("{p}.shortcut"), s));
                }
                m.fc = self.linear("fc", &m.fc);
                Network::ResNet(m)
            }
            Network::Vit(m) => {
                let mut m = m.clone();
                m.blocks = self.blocks(&m.blocks);
                Network::Vit(m)
            }
            Network::Gpt(m) => {
                let mut m = m.clone();
                m.blocks = self.blocks(&m.blocks);
                Network::Gpt(m)
            }
        }
    }

    fn run(mut self, net: &Network) -> Res<Network> {
        let out = self.network(net);
        let mut missed: Vec<&String> = self
            .plan
            .keys()
            .filter(|k| !self.used.contains(*k))
            .collect();
        missed.sort();
        if let Some(first) = missed.first() {
            return Err(StructuredError::Inconsistent(format!(
                "parameter {first} is in a group but was not rebuilt"
            )));
        }
        Ok(out)
    }
}

/// The mask realisation (the reference's behaviour): a same-shape copy of `net` whose removed
/// channels have their producer entries zeroed — conv filters / Linear columns, biases and BN
/// gamma and beta — so each removed channel outputs exactly 0 after BN and ReLU, in every
/// tensor of a residual sum. Consumer inputs and BN running statistics are left as they are.
/// Parameter ids are kept.
pub fn apply_channel_masks(
    net: &Network,
    groups: &[ChannelGroup],
    keep: &[Vec<bool>],
) -> Result<Network, StructuredError> {
    Ctx::new(Mode::Zero, net, groups, keep)?.run(net)
}

/// Physical surgery: a new, smaller network keeping only the selected channels of each group
/// along every slice (producer outputs, biases, BN parameters and running statistics,
/// consumer inputs — `H·W` rows per channel through LeNet's flatten). In eval mode it computes
/// what [`apply_channel_masks`] computes. Resized parameters get new ids, so optimizer state
/// must be rebuilt. The result is checked with [`check_consistency`].
pub fn shrink(
    net: &Network,
    groups: &[ChannelGroup],
    keep: &[Vec<bool>],
) -> Result<Network, StructuredError> {
    let out = Ctx::new(Mode::Select, net, groups, keep)?.run(net)?;
    check_consistency(&out)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Shape checks and accounting

fn conv_io(c: &Conv2d) -> (usize, usize) {
    let [o, i, _, _] = c.weight.dims();
    (i, o)
}

fn linear_io(l: &Linear) -> (usize, usize) {
    let [i, o] = l.weight.dims();
    (i, o)
}

struct Checker(Vec<String>);

impl Checker {
    fn same(&mut self, what: impl FnOnce() -> String, a: usize, b: usize) {
        if a != b {
            self.0.push(format!("{}: {a} != {b}", what()));
        }
    }

    fn conv(&mut self, path: &str, c: &Conv2d, c_in: usize) -> usize {
        let (i, o) = conv_io(c);
        self.same(|| format!("{path} input channels"), i * c.groups, c_in);
        if let Some(b) = &c.bias {
            self.same(|| format!("{path}.bias"), b.dims()[0], o);
        }
        o
    }

    fn bn(&mut self, path: &str, b: &BatchNorm, c: usize) {
        self.same(|| format!("{path}.gamma"), b.gamma.dims()[0], c);
        self.same(|| format!("{path}.beta"), b.beta.dims()[0], c);
        self.same(
            || format!("{path}.running_mean"),
            b.running_mean.value().dims()[0],
            c,
        );
        self.same(
            || format!("{path}.running_var"),
            b.running_var.value().dims()[0],
            c,
        );
    }

    fn convbn(&mut self, path: &str, m: &ConvBn, c_in: usize) -> usize {
        let o = self.conv(&format!("{path}.conv"), &m.conv, c_in);
        self.bn(&format!("{path}.bn"), &m.bn, o);
        o
    }

    /// Every block reads and writes the residual width `width`; `q`, `k`, `v` agree, their
    /// width is whole heads, and `out` reads it.
    fn blocks(&mut self, blocks: &[Block], width: usize) {
        for (i, b) in blocks.iter().enumerate() {
            let p = format!("blocks.{i}.attn");
            let a = &b.attn;
            let inner = self.linear(&format!("{p}.q"), &a.q, width);
            for (l, lin) in [("k", &a.k), ("v", &a.v)] {
                let o = self.linear(&format!("{p}.{l}"), lin, width);
                self.same(|| format!("{p}.{l} output features"), o, inner);
            }
            if a.heads > 0 && !inner.is_multiple_of(a.heads) {
                self.0.push(format!(
                    "{p}: {inner} features are not {} whole heads",
                    a.heads
                ));
            }
            let o = self.linear(&format!("{p}.out"), &a.out, inner);
            self.same(|| format!("{p}.out output features"), o, width);
            let m = format!("blocks.{i}.mlp");
            let hidden = self.linear(&format!("{m}.fc1"), &b.mlp.fc1, width);
            let o = self.linear(&format!("{m}.fc2"), &b.mlp.fc2, hidden);
            self.same(|| format!("{m}.fc2 output features"), o, width);
        }
    }

    fn linear(&mut self, path: &str, l: &Linear, d_in: usize) -> usize {
        let (i, o) = linear_io(l);
        self.same(|| format!("{path} input features"), i, d_in);
        if let Some(b) = &l.bias {
            self.same(|| format!("{path}.bias"), b.dims()[0], o);
        }
        o
    }
}

/// Checks that adjacent layers agree on channel counts: conv/BN/bias lengths, every conv's input
/// against its producer, residual operands against each other, LeNet's flatten (fc1's inputs a
/// multiple of conv2's channels) and classifier inputs.
pub fn check_consistency(net: &Network) -> Result<(), StructuredError> {
    let mut ck = Checker(Vec::new());
    match net {
        Network::Mlp(m) => {
            let (_, h1) = linear_io(&m.fc1);
            let h2 = ck.linear("fc2", &m.fc2, h1);
            ck.linear("fc3", &m.fc3, h2);
        }
        Network::LeNet(m) => {
            let (c_in, _) = conv_io(&m.conv1);
            let c1 = ck.conv("conv1", &m.conv1, c_in);
            let c2 = ck.conv("conv2", &m.conv2, c1);
            let (flat, _) = linear_io(&m.fc1);
            if c2 == 0 || !flat.is_multiple_of(c2) {
                ck.0.push(format!(
                    "fc1 input features {flat} not a multiple of conv2 channels {c2}"
                ));
            }
            let h1 = ck.linear("fc1", &m.fc1, flat);
            let h2 = ck.linear("fc2", &m.fc2, h1);
            ck.linear("fc3", &m.fc3, h2);
        }
        Network::Vgg(m) => {
            let mut c = m.features.first().map_or(0, |f| conv_io(&f.conv).0);
            for (i, f) in m.features.iter().enumerate() {
                c = ck.convbn(&format!("features.{i}"), f, c);
            }
            ck.linear("classifier", &m.classifier, c);
        }
        Network::ResNet(m) => {
            let mut c = ck.convbn("stem", &m.stem, conv_io(&m.stem.conv).0);
            for (i, b) in m.blocks.iter().enumerate() {
                let p = format!("blocks.{i}");
                let mid = ck.convbn(&format!("{p}.conv1"), &b.conv1, c);
                let out = ck.convbn(&format!("{p}.conv2"), &b.conv2, mid);
                let skip = match &b.shortcut {
                    Some(s) => ck.convbn(&format!("{p}.shortcut"), s, c),
                    None => c,
                };
                ck.same(|| format!("{p} residual operands"), out, skip);
                c = out;
            }
            ck.linear("fc", &m.fc, c);
        }
        Network::Vit(m) => ck.blocks(&m.blocks, m.head.weight.dims()[0]),
        Network::Gpt(m) => ck.blocks(&m.blocks, m.head.weight.dims()[0]),
    }
    if ck.0.is_empty() {
        Ok(())
    } else {
        Err(StructuredError::Inconsistent(ck.0.join("; ")))
    }
}

/// The Conv/Linear layer table of `net` as it is now: `spec.layers()` (paths and output sizes,
/// which channel pruning does not change) with weight shapes and biases read from the modules.
pub fn layer_infos(net: &Network, spec: &ModelSpec) -> Result<Vec<LayerInfo>, StructuredError> {
    let shapes: HashMap<String, Vec<usize>> = crate::params::shapes(net).into_iter().collect();
    spec.layers()
        .into_iter()
        .map(|mut l| {
            let w = format!("{}.weight", l.path);
            l.weight_shape = shapes.get(&w).cloned().ok_or_else(|| {
                StructuredError::Inconsistent(format!("no parameter {w} for layer {}", l.path))
            })?;
            l.has_bias = shapes.contains_key(&format!("{}.bias", l.path));
            Ok(l)
        })
        .collect()
}

/// Size and cost of a network from its actual shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// Conv/Linear weights and biases (what [`LayerInfo::params`] counts).
    pub layer_params: u64,
    /// Every trainable parameter, BN gamma/beta included (running statistics excluded).
    pub trainable_params: u64,
    /// Forward FLOPs per sample of the Conv/Linear layers ([`LayerInfo::flops`]).
    pub flops: u64,
    /// Non-zero entries among the Conv/Linear weights and biases (a masked model keeps its
    /// shape; this is what it would shrink to).
    pub nonzero_layer_params: u64,
}

/// [`Footprint`] of `net` built for `spec`.
pub fn footprint(net: &Network, spec: &ModelSpec) -> Result<Footprint, StructuredError> {
    let layers = layer_infos(net, spec)?;
    let params = host_params(net);
    let nonzero = |p: &str| {
        params
            .get(p)
            .map_or(0, |(w, _)| w.iter().filter(|x| **x != 0.0).count() as u64)
    };
    let trainable_params = params
        .iter()
        .filter(|(p, _)| !p.ends_with(".running_mean") && !p.ends_with(".running_var"))
        .map(|(_, (w, _))| w.len() as u64)
        .sum();
    Ok(Footprint {
        layer_params: layers.iter().map(LayerInfo::params).sum(),
        trainable_params,
        flops: layers.iter().map(LayerInfo::flops).sum(),
        nonzero_layer_params: layers
            .iter()
            .map(|l| nonzero(&format!("{}.weight", l.path)) + nonzero(&format!("{}.bias", l.path)))
            .sum(),
    })
}
