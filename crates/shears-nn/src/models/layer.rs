//! Shape bookkeeping shared by every model: what each prunable layer is, how many parameters
//! it holds and what it costs per sample, so pruning reports and compute budgets need no
//! framework introspection.

use serde::Serialize;

/// The kind of a prunable layer; it decides how its weight is laid out and what "a channel" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerKind {
    /// Burn `Linear`: weight `[in, out]` (transposed relative to PyTorch).
    Linear,
    /// Burn `Conv2d`: weight `[out, in, kh, kw]` as in PyTorch.
    Conv2d,
}

/// One prunable Conv/Linear layer, named by its Burn module path (e.g. `stage1.0.conv1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerInfo {
    pub path: String,
    pub kind: LayerKind,
    /// Weight shape in Burn layout.
    pub weight_shape: Vec<usize>,
    pub has_bias: bool,
    /// Output spatial size `[h, w]` (`[1, 1]` for Linear): how often each weight is used per sample.
    pub out_hw: [usize; 2],
}

impl LayerInfo {
    pub fn linear(path: impl Into<String>, d_in: usize, d_out: usize, bias: bool) -> Self {
        Self {
            path: path.into(),
            kind: LayerKind::Linear,
            weight_shape: vec![d_in, d_out],
            has_bias: bias,
            out_hw: [1, 1],
        }
    }

    pub fn conv(
        path: impl Into<String>,
        c_in: usize,
        c_out: usize,
        k: usize,
        out_hw: [usize; 2],
        bias: bool,
    ) -> Self {
        Self {
            path: path.into(),
            kind: LayerKind::Conv2d,
            weight_shape: vec![c_out, c_in, k, k],
            has_bias: bias,
            out_hw,
        }
    }

    pub fn weight_params(&self) -> u64 {
        self.weight_shape.iter().product::<usize>() as u64
    }

    /// Output channels (conv) or output neurons (linear): the structured pruning unit.
    pub fn out_channels(&self) -> usize {
        match self.kind {
            LayerKind::Linear => self.weight_shape[1],
            LayerKind::Conv2d => self.weight_shape[0],
        }
    }

    pub fn bias_params(&self) -> u64 {
        if self.has_bias {
            self.out_channels() as u64
        } else {
            0
        }
    }

    pub fn params(&self) -> u64 {
        self.weight_params() + self.bias_params()
    }

    fn positions(&self) -> u64 {
        (self.out_hw[0] * self.out_hw[1]) as u64
    }

    /// Forward FLOPs per sample, counting a multiply-add as 2 FLOPs (plus one add per bias use).
    pub fn flops(&self) -> u64 {
        self.flops_with_nonzero(self.weight_params())
    }

    /// Forward FLOPs per sample if only `nonzero_weights` weights remain (unstructured sparsity).
    pub fn flops_with_nonzero(&self, nonzero_weights: u64) -> u64 {
        2 * nonzero_weights * self.positions() + self.bias_params() * self.positions()
    }
}

/// Output size of a convolution or pooling window along one axis.
pub fn conv_out(size: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (size + 2 * padding).saturating_sub(kernel) / stride + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_flops_count_every_output_position() {
        // 3->8 channels, 3x3 kernel, 10x10 output: 8*3*9 = 216 weights used 100 times.
        let l = LayerInfo::conv("c", 3, 8, 3, [10, 10], true);
        assert_eq!(l.weight_params(), 216);
        assert_eq!(l.params(), 224);
        assert_eq!(l.flops(), 2 * 216 * 100 + 8 * 100);
        assert_eq!(l.flops_with_nonzero(16), 2 * 16 * 100 + 8 * 100);
    }

    #[test]
    fn linear_weight_is_in_by_out() {
        let l = LayerInfo::linear("fc", 784, 300, true);
        assert_eq!(l.out_channels(), 300);
        assert_eq!(l.params(), 784 * 300 + 300);
        assert_eq!(l.flops(), 2 * 784 * 300 + 300);
    }

    #[test]
    fn conv_output_sizes() {
        assert_eq!(conv_out(28, 5, 1, 2), 28);
        assert_eq!(conv_out(14, 5, 1, 0), 10);
        assert_eq!(conv_out(32, 3, 2, 1), 16);
        assert_eq!(conv_out(7, 2, 2, 0), 3);
    }
}
