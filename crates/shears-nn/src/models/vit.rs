//! A small Vision Transformer (Dosovitskiy et al. 2021) for 28x28 and 32x32 images: 4x4
//! patches, a class token and learned positions, pre-LayerNorm blocks, a final LayerNorm and a
//! Linear head on the class token.
//!
//! The patch embedding is a `Linear` (`patch`) on each flattened patch rather than a
//! `Conv2d` with kernel = stride = 4. The two compute the same function (a patch vector is
//! ordered channel, row, column, as a conv weight `[out, c, 4, 4]` is), but as a Linear every
//! prunable layer of the model is a Linear and the probe sees one row per patch.

use super::layer::LayerInfo;
use super::probe::{LayerInput, Probe, see};
use super::transformer::{Block, TransformerShape, forward_blocks, see_tokens, token_linear};
use burn::module::Param;
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;

/// Side of the square patches.
pub const PATCH: usize = 4;

/// `vit-tiny`: about 0.54 M parameters on 1x28x28 inputs with 10 classes (50 tokens).
pub const VIT_TINY: TransformerShape = TransformerShape {
    depth: 4,
    width: 128,
    heads: 4,
    mlp_ratio: 2,
};

#[derive(Module, Debug)]
pub struct Vit {
    /// Patch embedding: `[channels * PATCH * PATCH, width]`.
    pub patch: Linear,
    /// The class token `[1, 1, width]`, prepended to the patches.
    pub cls: Param<Tensor<3>>,
    /// Learned positions `[1, 1 + patches, width]` (the class token is position 0).
    pub pos: Param<Tensor<3>>,
    pub blocks: Vec<Block>,
    pub norm: LayerNorm,
    pub head: Linear,
}

impl Vit {
    /// Rejects images whose sides are not a positive multiple of [`PATCH`].
    pub fn validate(shape: TransformerShape, input: [usize; 3]) -> Result<(), String> {
        shape.validate()?;
        let [_, h, w] = input;
        if h == 0 || w == 0 || !h.is_multiple_of(PATCH) || !w.is_multiple_of(PATCH) {
            return Err(format!(
                "input {h}x{w} is not a whole number of {PATCH}x{PATCH} patches"
            ));
        }
        Ok(())
    }

    /// Tokens per image: one per patch plus the class token.
    pub fn tokens(input: [usize; 3]) -> usize {
        (input[1] / PATCH) * (input[2] / PATCH) + 1
    }

    pub fn new(
        shape: TransformerShape,
        input: [usize; 3],
        classes: usize,
        device: &Device,
    ) -> Self {
        let width = shape.width;
        let small = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        Self {
            patch: LinearConfig::new(input[0] * PATCH * PATCH, width).init(device),
            cls: small.init([1, 1, width], device),
            pos: small.init([1, Self::tokens(input), width], device),
            blocks: shape.init_blocks(false, device),
            norm: LayerNormConfig::new(width).init(device),
            head: LinearConfig::new(width, classes).init(device),
        }
    }

    /// Images `[n, c, h, w]` to logits `[n, classes]`.
    pub fn forward(&self, x: Tensor<4>, mut probe: Option<&mut dyn Probe>) -> Tensor<2> {
        let x = self.embed(x, &mut probe);
        let x = forward_blocks(&self.blocks, x, &mut probe);
        self.logits(x, &mut probe)
    }

    /// The first stage of [`Self::forward`]: images to the tokens (class token first) with
    /// positions, `[n, 1 + patches, width]`.
    pub fn embed(&self, x: Tensor<4>, probe: &mut Option<&mut dyn Probe>) -> Tensor<3> {
        let x = patches(x);
        see_tokens(probe, &x, &["patch"], str::to_string);
        let x = self.patch.forward(x);
        let [n, _, width] = x.dims();
        let cls = self.cls.val().expand([n, 1, width]);
        Tensor::cat(vec![cls, x], 1) + self.pos.val()
    }

    /// The last stage of [`Self::forward`]: the blocks' output to logits from the class token.
    pub fn logits(&self, x: Tensor<3>, probe: &mut Option<&mut dyn Probe>) -> Tensor<2> {
        let [n, _, width] = x.dims();
        // LayerNorm is per token, so normalising the class token alone is the same function.
        let cls = self.norm.forward(x.narrow(1, 0, 1)).reshape([n, width]);
        see(probe, || "head".into(), LayerInput::Linear(&cls));
        self.head.forward(cls)
    }

    /// Patch projection, every block's Linear layers, then the head (once per image).
    pub fn layers(shape: TransformerShape, input: [usize; 3], classes: usize) -> Vec<LayerInfo> {
        let tokens = Self::tokens(input);
        let d_patch = input[0] * PATCH * PATCH;
        let mut out = vec![token_linear(
            "patch".into(),
            d_patch,
            shape.width,
            tokens - 1,
        )];
        out.extend(shape.layers(tokens));
        out.push(LayerInfo::linear("head", shape.width, classes, true));
        out
    }

    /// Parameters outside [`Self::layers`]: class token, positions and every LayerNorm.
    pub fn other_params(shape: TransformerShape, input: [usize; 3]) -> u64 {
        let w = shape.width as u64;
        w + Self::tokens(input) as u64 * w + shape.norm_params() + 2 * w
    }
}

/// `[n, c, h, w]` → `[n, patches, c * PATCH * PATCH]`, patches in row-major order, each
/// flattened channel-major like a convolution kernel.
fn patches(x: Tensor<4>) -> Tensor<3> {
    let [n, c, h, w] = x.dims();
    let (gh, gw) = (h / PATCH, w / PATCH);
    x.reshape([n, c, gh, PATCH, gw, PATCH])
        .permute([0, 2, 4, 1, 3, 5])
        .reshape([n, gh * gw, c * PATCH * PATCH])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_are_flattened_channel_major() {
        let device = Device::flex();
        // One 2-channel 8x8 image whose value encodes (channel, row, column).
        let values: Vec<f32> = (0..2 * 8 * 8).map(|i| i as f32).collect();
        let x = Tensor::<1>::from_floats(values.as_slice(), &device).reshape([1, 2, 8, 8]);
        let p = patches(x);
        assert_eq!(p.dims(), [1, 4, 32]);
        let v: Vec<f32> = p.into_data().try_to_vec().unwrap();
        // Patch 1 is rows 0..4, columns 4..8; its element (c=1, r=2, col=3) is at 16+2*4+3.
        let expect = (64 + 2 * 8 + 4 + 3) as f32;
        assert_eq!(v[32 + 16 + 2 * 4 + 3], expect);
    }

    #[test]
    fn sides_must_be_whole_patches() {
        assert!(Vit::validate(VIT_TINY, [1, 28, 28]).is_ok());
        assert!(Vit::validate(VIT_TINY, [3, 32, 32]).is_ok());
        assert!(
            Vit::validate(VIT_TINY, [1, 30, 28])
                .unwrap_err()
                .contains("patches")
        );
    }
}
