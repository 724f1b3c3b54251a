//! A small decoder-only causal language model (GPT-2 layout): token embedding, learned
//! positions, pre-LayerNorm causal blocks, a final LayerNorm and a Linear head to the
//! vocabulary (untied from the embedding).
//!
//! Logits come out flattened, `[n * T, vocab]`, row `i * T + t` predicting the token after
//! position `t` of sequence `i`, so the classifiers' cross-entropy and per-sample metrics apply
//! per token unchanged.

use super::layer::LayerInfo;
use super::probe::Probe;
use super::transformer::{Block, TransformerShape, forward_blocks, see_tokens, token_linear};
use burn::module::Param;
use burn::nn::{
    Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::prelude::*;

/// `gpt-tiny`: about 0.83 M parameters with a 100-symbol vocabulary and context 128.
pub const GPT_TINY: TransformerShape = TransformerShape {
    depth: 4,
    width: 128,
    heads: 4,
    mlp_ratio: 4,
};

/// Default context length of `gpt-tiny`.
pub const GPT_CONTEXT: usize = 128;

#[derive(Module, Debug)]
pub struct Gpt {
    /// Token embedding `[vocab, width]`.
    pub tok: Embedding,
    /// Learned positions `[context, width]`; its rows bound the sequence length.
    pub pos: Param<Tensor<2>>,
    pub blocks: Vec<Block>,
    pub norm: LayerNorm,
    /// Next-token logits: `[width, vocab]`.
    pub head: Linear,
}

impl Gpt {
    pub fn validate(shape: TransformerShape, context: usize, vocab: usize) -> Result<(), String> {
        shape.validate()?;
        if context == 0 {
            return Err("context length must be at least 1".into());
        }
        if vocab < 2 {
            return Err(format!("vocabulary of {vocab} symbols (need at least 2)"));
        }
        Ok(())
    }

    pub fn new(shape: TransformerShape, context: usize, vocab: usize, device: &Device) -> Self {
        // GPT-2's 0.02: N(0, 1) embeddings would dwarf the blocks' residual updates.
        let small = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        Self {
            tok: EmbeddingConfig::new(vocab, shape.width)
                .with_initializer(small.clone())
                .init(device),
            pos: small.init([context, shape.width], device),
            blocks: shape.init_blocks(true, device),
            norm: LayerNormConfig::new(shape.width).init(device),
            head: LinearConfig::new(shape.width, vocab).init(device),
        }
    }

    pub fn context(&self) -> usize {
        self.pos.dims()[0]
    }

    /// Token ids `[n, T]` (`T <= context`) to logits `[n * T, vocab]`.
    ///
    /// # Panics
    /// If `T` exceeds the context length.
    pub fn forward(&self, tokens: Tensor<2, Int>, mut probe: Option<&mut dyn Probe>) -> Tensor<2> {
        let x = self.embed(tokens);
        let x = forward_blocks(&self.blocks, x, &mut probe);
        self.logits(x, &mut probe)
    }

    /// The first stage of [`Self::forward`]: token ids `[n, T]` to embeddings with positions.
    ///
    /// # Panics
    /// If `T` exceeds the context length.
    pub fn embed(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let t = tokens.dims()[1];
        let context = self.context();
        assert!(
            t <= context,
            "gpt: sequence of {t} tokens exceeds the context of {context}"
        );
        let pos = self.pos.val().narrow(0, 0, t).unsqueeze::<3>();
        self.tok.forward(tokens) + pos
    }

    /// The last stage of [`Self::forward`]: the blocks' output `[n, T, width]` to logits.
    pub fn logits(&self, x: Tensor<3>, probe: &mut Option<&mut dyn Probe>) -> Tensor<2> {
        let [n, t, _] = x.dims();
        let x = self.norm.forward(x);
        see_tokens(probe, &x, &["head"], str::to_string);
        let logits = self.head.forward(x);
        let vocab = logits.dims()[2];
        logits.reshape([n * t, vocab])
    }

    /// Every block's Linear layers, then the head; each applied at all `context` positions.
    pub fn layers(shape: TransformerShape, context: usize, vocab: usize) -> Vec<LayerInfo> {
        let mut out = shape.layers(context);
        out.push(token_linear("head".into(), shape.width, vocab, context));
        out
    }

    /// Parameters outside [`Self::layers`]: token embedding, positions and every LayerNorm.
    pub fn other_params(shape: TransformerShape, context: usize, vocab: usize) -> u64 {
        let w = shape.width as u64;
        (vocab as u64 + context as u64) * w + shape.norm_params() + 2 * w
    }
}
