//! What each prunable layer sees: a forward pass can show every Conv/Linear layer's input to
//! a [`Probe`] — the calibration statistics of Wanda and SparseGPT are taken this way. A
//! forward without a probe does nothing extra (no path is even formatted).
//!
//! Your own Burn model takes part by calling [`see`] before each layer it wants calibrated,
//! with the layer's parameter path (`fc1`, `blocks.0.conv1.conv`), or [`see_shared`] once for
//! layers that read the same tensor.

use burn::nn::conv::Conv2d;
use burn::prelude::*;

/// The input of one prunable layer.
#[derive(Debug, Clone, Copy)]
pub enum LayerInput<'a> {
    /// `[batch, in_features]`.
    Linear(&'a Tensor<2>),
    /// `[batch, channels, h, w]` and the convolution (for its kernel, stride and padding).
    Conv(&'a Tensor<4>, &'a Conv2d),
}

/// Receives layer inputs during a forward pass.
pub trait Probe {
    /// Called with the layer's path before the layer runs.
    fn input(&mut self, layer: &str, x: LayerInput<'_>);

    /// Called once for several layers that all read `x` (attention's q, k and v): pruning
    /// one of them cannot change what the others see. By default one [`Probe::input`] each.
    fn shared_input(&mut self, layers: &[String], x: LayerInput<'_>) {
        for layer in layers {
            self.input(layer, x);
        }
    }
}

/// Shows `x`, the input of every layer in `paths`, to the probe, if any ([`Probe::shared_input`]).
pub fn see_shared(
    probe: &mut Option<&mut dyn Probe>,
    paths: impl FnOnce() -> Vec<String>,
    x: LayerInput<'_>,
) {
    if let Some(p) = probe.as_deref_mut() {
        p.shared_input(&paths(), x);
    }
}

/// Shows `x` to the probe, if any; `path` is only built when there is one.
pub fn see(probe: &mut Option<&mut dyn Probe>, path: impl FnOnce() -> String, x: LayerInput<'_>) {
    if let Some(p) = probe.as_deref_mut() {
        p.input(&path(), x);
    }
}
