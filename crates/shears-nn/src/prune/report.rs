//! Per-layer sparsity, parameter and FLOP table for `prune-once` and `inspect`.

use super::MaskSet;
use crate::models::ModelSpec;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct LayerRow {
    pub layer: String,
    pub params: u64,
    pub kept: u64,
    pub sparsity: f64,
    pub flops_dense: u64,
    pub flops_effective: u64,
}

/// Sparsity is of the prunable tensors; `model_sparsity` divides the same zeros by every
/// parameter of the model (BatchNorm included), the reference's `model_pruned%`.
#[derive(Debug, Clone, Serialize)]
pub struct SparsityTable {
    pub layers: Vec<LayerRow>,
    pub prunable: u64,
    pub kept: u64,
    pub sparsity: f64,
    pub model_params: u64,
    pub model_sparsity: f64,
    pub flops_dense: u64,
    pub flops_effective: u64,
}

impl SparsityTable {
    /// Effective FLOPs count only the non-zero weights of each layer (unstructured sparsity
    /// saves these only with a sparse kernel; they are the ShrinkBench "theoretical" FLOPs).
    pub fn new(spec: &ModelSpec, masks: &MaskSet, model_params: u64) -> Self {
        let mut layers = Vec::new();
        for info in spec.layers() {
            let (mut params, mut kept, mut kept_weights) = (0u64, 0u64, info.weight_params());
            for (p, m) in masks.params.iter().zip(&masks.masks) {
                if p.layer == info.path {
                    params += m.len() as u64;
                    kept += m.kept() as u64;
                    if !p.is_bias {
                        kept_weights = m.kept() as u64;
                    }
                }
            }
            if params == 0 {
                continue;
            }
            layers.push(LayerRow {
                layer: info.path.clone(),
                params,
                kept,
                sparsity: 1.0 - kept as f64 / params as f64,
                flops_dense: info.flops(),
                flops_effective: info.flops_with_nonzero(kept_weights),
            });
        }
        let prunable: u64 = layers.iter().map(|l| l.params).sum();
        let kept: u64 = layers.iter().map(|l| l.kept).sum();
        let zeros = prunable - kept;
        Self {
            flops_dense: layers.iter().map(|l| l.flops_dense).sum(),
            flops_effective: layers.iter().map(|l| l.flops_effective).sum(),
            layers,
            prunable,
            kept,
            sparsity: zeros as f64 / prunable.max(1) as f64,
            model_params,
            model_sparsity: zeros as f64 / model_params.max(1) as f64,
        }
    }

    /// Fixed-width text table.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{:<28} {:>10} {:>10} {:>9} {:>13} {:>13}\n",
            "layer", "params", "kept", "sparsity", "FLOPs dense", "FLOPs eff."
        );
        for l in &self.layers {
            s += &format!(
                "{:<28} {:>10} {:>10} {:>8.2}% {:>13} {:>13}\n",
                l.layer,
                l.params,
                l.kept,
                100.0 * l.sparsity,
                l.flops_dense,
                l.flops_effective
            );
        }
        s += &format!(
            "{:<28} {:>10} {:>10} {:>8.2}% {:>13} {:>13}\n",
            "total (prunable)",
            self.prunable,
            self.kept,
            100.0 * self.sparsity,
            self.flops_dense,
            self.flops_effective
        );
        s += &format!(
            "whole model: {} parameters, {:.2}% zero\n",
            self.model_params,
            100.0 * self.model_sparsity
        );
        s
    }
}
