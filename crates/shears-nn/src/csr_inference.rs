//! Sparse (CSR) inference for unstructured-pruned fully connected networks: LeNet-300-100's
//! Linear layers become a [`SparseChain`] of `shears_kernels::csr` CSR matrices, so at high
//! sparsity a forward pass costs in proportion to the surviving weights.
//!
//! The chain computes what Burn's dense forward of the same masked model computes (up to float
//! summation order): pruned weights are exactly zero there and absent here.

use crate::models::Network;
use crate::prune::MaskSet;
use burn::nn::Linear;
use burn::prelude::*;
use shears_kernels::csr::{Csr, SparseChain, SparseLayer};

/// LeNet-300-100 as a CSR chain (`fc1 → ReLU → fc2 → ReLU → fc3`).
#[derive(Debug, Clone)]
pub struct SparseMlp {
    chain: SparseChain,
}

fn host(t: Tensor<2>) -> Result<Vec<f32>, String> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| format!("{e:?}"))
}

/// One Burn `Linear` (weight `[in, out]`) as a CSR layer over its outputs. The structure is
/// `masks`' entry for `{path}.weight` when there is one, else the non-zero weights.
fn layer(
    path: &str,
    l: &Linear,
    masks: Option<&MaskSet>,
    relu: bool,
) -> Result<SparseLayer, String> {
    let [d_in, d_out] = l.weight.dims();
    let w = host(l.weight.val())?;
    let name = format!("{path}.weight");
    let mask = masks.and_then(|m| {
        m.params
            .iter()
            .position(|p| p.path == name)
            .map(|i| m.masks[i].as_slice())
    });
    let weight =
        Csr::from_dense_transposed(&w, d_in, d_out, mask).map_err(|e| format!("{name}: {e}"))?;
    let bias = match &l.bias {
        Some(b) => Some(host(b.val().unsqueeze::<2>())?),
        None => None,
    };
    Ok(SparseLayer { weight, bias, relu })
}

impl SparseMlp {
    /// Converts a (pruned) `Network::Mlp`. With `masks`, each weight keeps exactly its mask's
    /// entries; without, zero weights are dropped (a checkpoint with pruning folded in).
    pub fn from_network(net: &Network, masks: Option<&MaskSet>) -> Result<Self, String> {
        let Network::Mlp(m) = net else {
            return Err("sparse inference supports the fully connected LeNet-300-100 only".into());
        };
        let chain = SparseChain::new(vec![
            layer("fc1", &m.fc1, masks, true)?,
            layer("fc2", &m.fc2, masks, true)?,
            layer("fc3", &m.fc3, masks, false)?,
        ])
        .map_err(|e| e.to_string())?;
        Ok(Self { chain })
    }

    pub fn chain(&self) -> &SparseChain {
        &self.chain
    }

    /// Input features per sample (`c·h·w`, flattened as Burn's `flatten(1, 3)` does).
    pub fn inputs(&self) -> usize {
        self.chain.inputs()
    }

    /// Logits `[batch][classes]` of images `[batch][c·h·w]` (row-major, as `Tensor<4>` data).
    pub fn forward(&self, x: &[f32]) -> Result<Vec<f32>, String> {
        self.chain.forward(x).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ModelKind, ModelSpec};
    use crate::prune::{self, Criterion};
    use burn::tensor::Distribution;
    use shears_core::masks::{Scope, StepAmount};

    #[test]
    fn sparse_mlp_matches_dense_masked_forward_at_90_percent() {
        let device = Device::flex();
        device.seed(7);
        let spec = ModelSpec {
            kind: ModelKind::LeNet300,
            input: [1, 28, 28],
            classes: 10,
            shape: None,
        };
        let net = spec.init(&device);
        let mut masks = MaskSet::dense(prune::prunable(&spec, true));
        let net = prune::prune_step(
            net,
            &mut masks,
            Criterion::Magnitude,
            None,
            &StepAmount::Uniform(0.9),
            &Scope::global(),
            0,
            0,
        )
        .unwrap();
        let batch = 37;
        let x = Tensor::<4>::random([batch, 1, 28, 28], Distribution::Default, &device);
        let xs = x
            .clone()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        let dense = host(net.forward(x)).unwrap();

        let sparse = SparseMlp::from_network(&net, Some(&masks)).unwrap();
        let weights: usize = masks
            .params
            .iter()
            .zip(&masks.masks)
            .filter(|(p, _)| !p.is_bias)
            .map(|(_, m)| m.kept())
            .sum();
        assert_eq!(sparse.chain().nnz(), weights);
        assert!(sparse.chain().nnz() * 5 < 784 * 300 + 300 * 100 + 100 * 10);
        let got = sparse.forward(&xs).unwrap();
        assert_eq!(got.len(), batch * 10);
        let worst = got
            .iter()
            .zip(&dense)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "max |csr - dense| = {worst}");

        // Zeros dropped instead of the mask: the same logits.
        let folded = SparseMlp::from_network(&net, None).unwrap();
        assert!(folded.chain().nnz() <= sparse.chain().nnz());
        let again = folded.forward(&xs).unwrap();
        assert!(again.iter().zip(&got).all(|(a, b)| (a - b).abs() <= 1e-5));
    }

    #[test]
    fn sparse_mlp_rejects_conv_nets() {
        let device = Device::flex();
        let spec = ModelSpec {
            kind: ModelKind::LeNet5,
            input: [1, 28, 28],
            classes: 10,
            shape: None,
        };
        assert!(SparseMlp::from_network(&spec.init(&device), None).is_err());
    }
}
