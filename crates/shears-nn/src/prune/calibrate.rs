//! Calibration statistics of layer inputs, for the criteria that look at activations (Wanda)
//! or reconstruct layers (SparseGPT): per input feature the sum of squares over every
//! calibration row and, on request, the Gram matrix XᵀX. A Linear layer's rows are the
//! samples; a convolution's are every output position of every sample and its features the
//! im2col columns (input channel × kernel offset, the order of the weight's `[out, in, kh,
//! kw]` rows), so a convolution is handled exactly like the matrix product it is.

use super::super::models::{Input, LayerInput, Probe};
use crate::train::Split;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use std::collections::BTreeMap;

/// One layer's input statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct InputStats {
    /// Calibration rows seen (samples, or samples × output positions for a convolution).
    pub rows: u64,
    /// Σ x_j² per input feature j.
    pub sq: Vec<f64>,
    /// Σ x xᵀ (features × features, row-major), when asked for.
    pub gram: Option<Vec<f64>>,
}

impl InputStats {
    fn new(cols: usize, gram: bool) -> Self {
        Self {
            rows: 0,
            sq: vec![0.0; cols],
            gram: gram.then(|| vec![0.0; cols * cols]),
        }
    }

    /// SparseGPT's H = (2/n) Σ x xᵀ, or `None` without a Gram matrix or rows.
    pub fn hessian(&self) -> Option<Vec<f64>> {
        let g = self.gram.as_ref()?;
        (self.rows > 0).then(|| g.iter().map(|v| 2.0 * v / self.rows as f64).collect())
    }

    /// Adds the rows of `x` (`[rows, features]`, its values in `data`): the sums of squares in
    /// f64; the Gram matrix as one f32 matrix product per call, accumulated in f64 — as
    /// SparseGPT's reference accumulates in f32; f64 is kept for the inverse.
    fn add_rows(&mut self, x: &Tensor<2>, data: &[f32]) -> Result<(), String> {
        let [rows, cols] = x.dims();
        self.rows += rows as u64;
        for row in data.chunks_exact(cols) {
            for (s, &v) in self.sq.iter_mut().zip(row) {
                *s += v as f64 * v as f64;
            }
        }
        if let Some(g) = self.gram.as_mut() {
            let xtx = host(x.clone().transpose().matmul(x.clone()))?;
            for (gij, v) in g.iter_mut().zip(xtx) {
                *gij += v as f64;
            }
        }
        Ok(())
    }
}

/// A [`Probe`] that accumulates [`InputStats`] for the layers it is asked about.
#[derive(Debug, Default)]
pub struct Collector {
    /// Only this layer (`None`: every layer), and the layers that share its input.
    pub only: Option<String>,
    /// Also accumulate the Gram matrix.
    pub gram: bool,
    pub stats: BTreeMap<String, InputStats>,
    /// The first input that could not be read (a convolution the im2col does not cover).
    pub error: Option<String>,
}

impl Collector {
    pub fn new(only: Option<&str>, gram: bool) -> Self {
        Self {
            only: only.map(str::to_string),
            gram,
            ..Self::default()
        }
    }
}

impl Probe for Collector {
    fn input(&mut self, layer: &str, x: LayerInput<'_>) {
        self.shared_input(&[layer.to_string()], x);
    }

    /// Layers sharing an input get the same statistics, measured once.
    fn shared_input(&mut self, layers: &[String], x: LayerInput<'_>) {
        let wanted = |l: &String| self.only.as_ref().is_none_or(|o| o == l);
        if !layers.iter().any(wanted) || self.error.is_some() {
            return;
        }
        let first = &layers[0];
        let result = match x {
            LayerInput::Linear(x) => self.linear(first, x),
            LayerInput::Conv(x, conv) => self.conv(first, x, conv),
        };
        match result {
            Ok(()) => {
                let s = self.stats[first].clone();
                for l in &layers[1..] {
                    self.stats.insert(l.clone(), s.clone());
                }
            }
            Err(e) => self.error = Some(format!("{first}: {e}")),
        }
    }
}

impl Collector {
    fn entry(&mut self, layer: &str, cols: usize) -> Result<&mut InputStats, String> {
        let gram = self.gram;
        let s = self
            .stats
            .entry(layer.to_string())
            .or_insert_with(|| InputStats::new(cols, gram));
        if s.sq.len() != cols {
            return Err(format!("input width changed from {} to {cols}", s.sq.len()));
        }
        Ok(s)
    }

    fn linear(&mut self, layer: &str, x: &Tensor<2>) -> Result<(), String> {
        let cols = x.dims()[1];
        let data = host(x.clone())?;
        self.entry(layer, cols)?.add_rows(x, &data)
    }

    /// The im2col rows, a bounded number at a time.
    fn conv(&mut self, layer: &str, x: &Tensor<4>, conv: &Conv2d) -> Result<(), String> {
        const CHUNK_ROWS: usize = 8192;
        let g = Geometry::of(conv, x.dims())?;
        let data = host(x.clone())?;
        let cols = g.cols();
        let s = self.entry(layer, cols)?;
        let positions =
            (0..g.n).flat_map(|b| (0..g.oh).flat_map(move |p| (0..g.ow).map(move |q| (b, p, q))));
        let mut chunk = Vec::with_capacity(CHUNK_ROWS.min(g.n * g.oh * g.ow) * cols);
        let flush = |chunk: &mut Vec<f32>, s: &mut InputStats| {
            let rows = chunk.len() / cols;
            let t = Tensor::<1>::from_floats(chunk.as_slice(), &x.device()).reshape([rows, cols]);
            let r = s.add_rows(&t, chunk);
            chunk.clear();
            r
        };
        for (b, p, q) in positions {
            let start = chunk.len();
            chunk.resize(start + cols, 0.0);
            g.patch(&data, b, p, q, &mut chunk[start..]);
            if chunk.len() == CHUNK_ROWS * cols {
                flush(&mut chunk, s)?;
            }
        }
        if chunk.is_empty() {
            Ok(())
        } else {
            flush(&mut chunk, s)
        }
    }
}

fn host<const D: usize>(x: Tensor<D>) -> Result<Vec<f32>, String> {
    let v = x
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| format!("reading a layer input: {e:?}"))?;
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!("non-finite input value {} at element {i}", v[i]));
    }
    Ok(v)
}

/// A convolution's im2col geometry on one input.
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    k: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    oh: usize,
    ow: usize,
}

impl Geometry {
    fn of(conv: &Conv2d, [n, c, h, w]: [usize; 4]) -> Result<Self, String> {
        let pad = match conv.padding {
            PaddingConfig2d::Valid => [0, 0],
            PaddingConfig2d::Explicit(t, l, b, r) if t == b && l == r => [t, l],
            _ => return Err("calibration needs symmetric explicit or no padding".into()),
        };
        if conv.groups != 1 || conv.dilation != [1, 1] || conv.stride.contains(&0) {
            return Err("calibration needs groups = 1, dilation 1 and a non-zero stride".into());
        }
        let (k, stride) = (conv.kernel_size, conv.stride);
        let out = |size: usize, i: usize| {
            (size + 2 * pad[i])
                .checked_sub(k[i])
                .map(|d| d / stride[i] + 1)
        };
        let (oh, ow) = out(h, 0)
            .zip(out(w, 1))
            .ok_or("kernel larger than the padded input")?;
        Ok(Self {
            n,
            c,
            h,
            w,
            k,
            stride,
            pad,
            oh,
            ow,
        })
    }

    fn cols(&self) -> usize {
        self.c * self.k[0] * self.k[1]
    }

    /// The im2col row of sample `b` at output position (`p`, `q`).
    fn patch(&self, x: &[f32], b: usize, p: usize, q: usize, row: &mut [f32]) {
        let mut j = 0;
        for ch in 0..self.c {
            let plane = &x[(b * self.c + ch) * self.h * self.w..][..self.h * self.w];
            for i in 0..self.k[0] {
                let y = (p * self.stride[0] + i).checked_sub(self.pad[0]);
                for l in 0..self.k[1] {
                    let xx = (q * self.stride[1] + l).checked_sub(self.pad[1]);
                    row[j] = match (y, xx) {
                        (Some(y), Some(xx)) if y < self.h && xx < self.w => plane[y * self.w + xx],
                        _ => 0.0,
                    };
                    j += 1;
                }
            }
        }
    }
}

/// The calibration set of a step: the first `samples` samples (images or token windows) of
/// `data` in the shuffled order of `seed` (no augmentation: calibration is a measurement),
/// as batches on `device`.
pub fn calibration_set(
    data: &Split,
    normalization: &shears_data::Normalization,
    samples: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<Input>, String> {
    let config = shears_data::BatchConfig {
        batch_size: samples.clamp(1, 256),
        shuffle: true,
        seed,
        augment: None,
        normalization: normalization.clone(),
    };
    let mut it = data.batches(&config, 0).map_err(|e| e.to_string())?;
    let (mut out, mut seen) = (Vec::new(), 0);
    while seen < samples
        && let Some(b) = it.next_on(device)
    {
        let take = (samples - seen).min(b.samples);
        seen += take;
        out.push(if take < b.samples {
            match b.input {
                Input::Images(x) => Input::Images(x.narrow(0, 0, take)),
                Input::Tokens(x) => Input::Tokens(x.narrow(0, 0, take)),
            }
        } else {
            b.input
        });
    }
    if seen == 0 {
        return Err("no training samples to calibrate on".into());
    }
    Ok(out)
}
