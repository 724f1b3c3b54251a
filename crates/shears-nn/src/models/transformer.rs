//! The pre-LayerNorm transformer block shared by [`super::Vit`] and [`super::Gpt`]:
//! `x + attn(ln1(x))`, then `x + mlp(ln2(x))`, on `[n, tokens, width]`.
//!
//! Attention is written out (rather than Burn's `MultiHeadAttention`) so that its four
//! projections are plain `Linear` fields (`q`, `k`, `v`, `out`) and the head count a plain
//! field: structured pruning can then drop a head by removing its `d_head` output columns of
//! `q`/`k`/`v` and the matching input rows of `out` and decrementing `heads`. The head size is
//! read from the weights at every forward, so a model with heads removed runs unchanged.

use super::layer::LayerInfo;
use super::probe::{LayerInput, Probe, see_shared};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};
use serde::{Deserialize, Serialize};

/// Depth, width, heads and MLP expansion of a stack of blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransformerShape {
    /// Number of blocks.
    pub depth: usize,
    /// Token width (`d_model`).
    pub width: usize,
    /// Attention heads; `width / heads` is the head size.
    pub heads: usize,
    /// MLP hidden width as a multiple of `width`.
    pub mlp_ratio: usize,
}

impl TransformerShape {
    /// Rejects shapes that cannot be built: a zero anywhere, or heads not dividing the width.
    pub fn validate(&self) -> Result<(), String> {
        let Self {
            depth,
            width,
            heads,
            mlp_ratio,
        } = *self;
        if depth == 0 || width == 0 || heads == 0 || mlp_ratio == 0 {
            return Err(format!(
                "transformer shape depth {depth}, width {width}, heads {heads}, mlp_ratio \
                 {mlp_ratio} has a zero"
            ));
        }
        if !width.is_multiple_of(heads) {
            return Err(format!(
                "transformer width {width} is not divisible by {heads} heads"
            ));
        }
        Ok(())
    }

    pub fn head_dim(&self) -> usize {
        self.width / self.heads
    }

    pub fn hidden(&self) -> usize {
        self.width * self.mlp_ratio
    }

    /// The blocks, freshly initialised; `causal` masks attention to earlier tokens.
    pub fn init_blocks(&self, causal: bool, device: &Device) -> Vec<Block> {
        (0..self.depth)
            .map(|_| Block::new(*self, causal, device))
            .collect()
    }

    /// The six Linear layers of every block in forward order, each applied once per token.
    pub fn layers(&self, tokens: usize) -> Vec<LayerInfo> {
        let (w, h) = (self.width, self.hidden());
        let mut out = Vec::with_capacity(6 * self.depth);
        for i in 0..self.depth {
            for (name, d_in, d_out) in [
                ("attn.q", w, w),
                ("attn.k", w, w),
                ("attn.v", w, w),
                ("attn.out", w, w),
                ("mlp.fc1", w, h),
                ("mlp.fc2", h, w),
            ] {
                out.push(token_linear(
                    format!("blocks.{i}.{name}"),
                    d_in,
                    d_out,
                    tokens,
                ));
            }
        }
        out
    }

    /// Parameters of the blocks outside [`Self::layers`]: two LayerNorms (gamma, beta) each.
    pub fn norm_params(&self) -> u64 {
        (self.depth * 4 * self.width) as u64
    }
}

/// A biased Linear applied to each of `tokens` positions per sample (`out_hw = [1, tokens]`).
pub fn token_linear(path: String, d_in: usize, d_out: usize, tokens: usize) -> LayerInfo {
    LayerInfo {
        out_hw: [1, tokens],
        ..LayerInfo::linear(path, d_in, d_out, true)
    }
}

/// Shows `x` (`[n, tokens, features]`) to the probe as `[n * tokens, features]` rows, once per
/// name in `layers`; nothing is reshaped or formatted without a probe.
pub fn see_tokens(
    probe: &mut Option<&mut dyn Probe>,
    x: &Tensor<3>,
    layers: &[&str],
    path: impl Fn(&str) -> String,
) {
    if probe.is_none() {
        return;
    }
    let [n, t, d] = x.dims();
    let rows = x.clone().reshape([n * t, d]);
    see_shared(
        probe,
        || layers.iter().map(|l| path(l)).collect(),
        LayerInput::Linear(&rows),
    );
}

/// Multi-head self-attention with separate `q`, `k`, `v` and `out` projections.
#[derive(Module, Debug)]
pub struct Attention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub out: Linear,
    /// Heads currently present; `q`/`k`/`v` outputs are `heads` consecutive slices.
    pub heads: usize,
    /// Whether token `t` attends only to tokens `0..=t`.
    pub causal: bool,
}

impl Attention {
    pub fn new(width: usize, heads: usize, causal: bool, device: &Device) -> Self {
        let linear = || LinearConfig::new(width, width).init(device);
        Self {
            q: linear(),
            k: linear(),
            v: linear(),
            out: linear(),
            heads,
            causal,
        }
    }

    /// `[n, t, width]` → `[n, t, width]`; `i` is the block index for probe paths.
    pub fn forward(&self, x: Tensor<3>, probe: &mut Option<&mut dyn Probe>, i: usize) -> Tensor<3> {
        see_tokens(probe, &x, &["q", "k", "v"], |l| {
            format!("blocks.{i}.attn.{l}")
        });
        let [n, t, _] = x.dims();
        let h = self.heads;
        if h == 0 {
            // Every head pruned away: the residual branch is the output bias alone.
            let d_out = self.out.weight.dims()[1];
            let zeros = Tensor::<3>::zeros([n, t, d_out], &x.device());
            return match &self.out.bias {
                Some(b) => zeros + b.val().reshape([1, 1, d_out]),
                None => zeros,
            };
        }
        let q = split_heads(self.q.forward(x.clone()), h);
        let k = split_heads(self.k.forward(x.clone()), h);
        let v = split_heads(self.v.forward(x), h);
        let d_head = q.dims()[3];
        let mut scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (d_head as f32).sqrt());
        if self.causal {
            // `tril_mask` is true strictly above the diagonal: the future tokens.
            let future = Tensor::<2, Bool>::tril_mask([t, t], 0, &scores.device())
                .unsqueeze::<4>()
                .expand([n, h, t, t]);
            scores = scores.mask_fill(future, -1.0e9);
        }
        let context = softmax(scores, 3).matmul(v);
        let d_v = context.dims()[3];
        let context = context.swap_dims(1, 2).reshape([n, t, h * d_v]);
        see_tokens(probe, &context, &["out"], |l| {
            format!("blocks.{i}.attn.{l}")
        });
        self.out.forward(context)
    }
}

/// `[n, t, heads * d]` → `[n, heads, t, d]`: head `j` is columns `j*d..(j+1)*d`.
fn split_heads(x: Tensor<3>, heads: usize) -> Tensor<4> {
    let [n, t, d] = x.dims();
    x.reshape([n, t, heads, d / heads]).swap_dims(1, 2)
}

/// The block's GELU MLP: `fc2(gelu(fc1(x)))`.
#[derive(Module, Debug)]
pub struct FeedForward {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl FeedForward {
    pub fn new(width: usize, hidden: usize, device: &Device) -> Self {
        Self {
            fc1: LinearConfig::new(width, hidden).init(device),
            fc2: LinearConfig::new(hidden, width).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<3>, probe: &mut Option<&mut dyn Probe>, i: usize) -> Tensor<3> {
        see_tokens(probe, &x, &["fc1"], |l| format!("blocks.{i}.mlp.{l}"));
        let x = gelu(self.fc1.forward(x));
        see_tokens(probe, &x, &["fc2"], |l| format!("blocks.{i}.mlp.{l}"));
        self.fc2.forward(x)
    }
}

/// One pre-LayerNorm block.
#[derive(Module, Debug)]
pub struct Block {
    pub ln1: LayerNorm,
    pub attn: Attention,
    pub ln2: LayerNorm,
    pub mlp: FeedForward,
}

impl Block {
    pub fn new(shape: TransformerShape, causal: bool, device: &Device) -> Self {
        Self {
            ln1: LayerNormConfig::new(shape.width).init(device),
            attn: Attention::new(shape.width, shape.heads, causal, device),
            ln2: LayerNormConfig::new(shape.width).init(device),
            mlp: FeedForward::new(shape.width, shape.hidden(), device),
        }
    }

    /// `i` is the block's index in its model's `blocks`, used in probe paths.
    pub fn forward(&self, x: Tensor<3>, probe: &mut Option<&mut dyn Probe>, i: usize) -> Tensor<3> {
        let x = self.attend(x, probe, i);
        self.feed(x, probe, i)
    }

    /// The attention half with its residual connection.
    pub fn attend(&self, x: Tensor<3>, probe: &mut Option<&mut dyn Probe>, i: usize) -> Tensor<3> {
        x.clone() + self.attn.forward(self.ln1.forward(x), probe, i)
    }

    /// The MLP half with its residual connection.
    pub fn feed(&self, x: Tensor<3>, probe: &mut Option<&mut dyn Probe>, i: usize) -> Tensor<3> {
        x.clone() + self.mlp.forward(self.ln2.forward(x), probe, i)
    }
}

/// Runs `x` through every block in order.
pub fn forward_blocks(
    blocks: &[Block],
    mut x: Tensor<3>,
    probe: &mut Option<&mut dyn Probe>,
) -> Tensor<3> {
    for (i, block) in blocks.iter().enumerate() {
        x = block.forward(x, probe, i);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_validated() {
        let ok = TransformerShape {
            depth: 2,
            width: 12,
            heads: 3,
            mlp_ratio: 2,
        };
        assert!(ok.validate().is_ok());
        assert_eq!((ok.head_dim(), ok.hidden()), (4, 24));
        let bad = TransformerShape { heads: 5, ..ok };
        assert!(bad.validate().unwrap_err().contains("divisible"));
        let zero = TransformerShape { depth: 0, ..ok };
        assert!(zero.validate().unwrap_err().contains("zero"));
    }

    #[test]
    fn block_layers_count_every_token() {
        let s = TransformerShape {
            depth: 1,
            width: 8,
            heads: 2,
            mlp_ratio: 2,
        };
        let layers = s.layers(5);
        let paths: Vec<_> = layers.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "blocks.0.attn.q",
                "blocks.0.attn.k",
                "blocks.0.attn.v",
                "blocks.0.attn.out",
                "blocks.0.mlp.fc1",
                "blocks.0.mlp.fc2"
            ]
        );
        // fc1: 8x16 weights and 16 biases, used at 5 positions.
        assert_eq!(layers[4].flops(), (2 * 8 * 16 + 16) * 5);
    }
}
