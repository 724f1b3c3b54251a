//! The transformer models: output shapes, layer tables against the real parameters, the
//! language model's causality, probe coverage, a head's layout (what head pruning will cut),
//! learning on a fixed batch, and their names and specs.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use shears_nn::models::{
    Attention, Gpt, Input, LayerInfo, LayerInput, ModelKind, ModelSpec, Probe, TransformerShape,
    Vit,
};
use shears_nn::optim::OptimizerConfig;
use shears_nn::train::cross_entropy;

/// Small enough that every test runs in well under a second of compute.
const SMALL: TransformerShape = TransformerShape {
    depth: 2,
    width: 16,
    heads: 2,
    mlp_ratio: 2,
};

fn tokens(ids: &[i64], n: usize, device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(ids.to_vec(), [n, ids.len() / n]), device)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec().unwrap()
}

fn images(shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::random(shape, Distribution::Default, device)
}

/// Records `(path, [rows, features])` of every Linear input shown to it.
#[derive(Default)]
struct Seen(Vec<(String, [usize; 2])>);

impl Probe for Seen {
    fn input(&mut self, layer: &str, x: LayerInput<'_>) {
        match x {
            LayerInput::Linear(t) => self.0.push((layer.to_string(), t.dims())),
            LayerInput::Conv(..) => panic!("{layer}: transformers have no convolution"),
        }
    }
}

fn spec(kind: ModelKind, input: [usize; 3], classes: usize) -> ModelSpec {
    ModelSpec {
        kind,
        input,
        classes,
        shape: None,
    }
}

/// The default models at the sizes they are used at.
fn default_specs() -> [ModelSpec; 3] {
    [
        spec(ModelKind::VitTiny, [1, 28, 28], 10),
        spec(ModelKind::VitTiny, [3, 32, 32], 100),
        spec(ModelKind::GptTiny, [1, 1, 128], 100),
    ]
}

#[test]
fn outputs_have_one_row_per_image_or_token() {
    let device = Device::flex();
    let vit = Vit::new(SMALL, [1, 28, 28], 10, &device);
    assert_eq!(
        vit.forward(images([3, 1, 28, 28], &device), None).dims(),
        [3, 10]
    );
    let vit = Vit::new(SMALL, [3, 32, 32], 100, &device);
    assert_eq!(
        vit.forward(images([2, 3, 32, 32], &device), None).dims(),
        [2, 100]
    );
    let gpt = Gpt::new(SMALL, 8, 30, &device);
    let ids: Vec<i64> = (0..14).map(|i| i % 30).collect();
    // T = 7 is shorter than the context of 8.
    assert_eq!(gpt.forward(tokens(&ids, 2, &device), None).dims(), [14, 30]);

    // Through `Network`, with the default shapes.
    let net = spec(ModelKind::VitTiny, [1, 28, 28], 10).init(&device);
    assert_eq!(net.forward(images([2, 1, 28, 28], &device)).dims(), [2, 10]);
    let net = spec(ModelKind::GptTiny, [1, 1, 128], 100).init(&device);
    let ids: Vec<i64> = (0..2 * 16).map(|i| (i * 7) % 100).collect();
    assert_eq!(net.forward(tokens(&ids, 2, &device)).dims(), [32, 100]);
}

#[test]
#[should_panic(expected = "exceeds the context")]
fn sequences_longer_than_the_context_are_refused() {
    let device = Device::flex();
    let gpt = Gpt::new(SMALL, 4, 10, &device);
    gpt.forward(tokens(&[1; 5], 1, &device), None);
}

#[test]
#[should_panic(expected = "token ids")]
fn the_language_model_refuses_images() {
    let device = Device::flex();
    let net = spec(ModelKind::GptTiny, [1, 1, 8], 10).init(&device);
    net.forward(images([1, 1, 1, 8], &device));
}

#[test]
fn layer_tables_and_other_parameters_add_up_to_the_model() {
    let device = Device::flex();
    for spec in default_specs() {
        let actual = shears_nn::params::shapes(&spec.init(&device));
        let find = |p: &str| actual.iter().find(|(a, _)| a == p).map(|(_, s)| s.clone());
        let layers = spec.layers();
        for l in &layers {
            let w = format!("{}.weight", l.path);
            assert_eq!(find(&w), Some(l.weight_shape.clone()), "{:?} {w}", spec);
            let b = find(&format!("{}.bias", l.path));
            assert_eq!(b.is_some(), l.has_bias, "{:?} {} bias", spec, l.path);
        }
        let total: usize = actual
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        let in_layers: u64 = layers.iter().map(LayerInfo::params).sum();
        let other = match spec.kind {
            ModelKind::VitTiny => Vit::other_params(shears_nn::models::VIT_TINY, spec.input),
            _ => Gpt::other_params(shears_nn::models::GPT_TINY, spec.input[2], spec.classes),
        };
        assert_eq!(in_layers + other, total as u64, "{:?}", spec);
        // What `layers()` leaves out, besides LayerNorms: embeddings, positions, class token.
        let mut outside: Vec<&str> = actual
            .iter()
            .filter(|(p, s)| s.len() >= 2 && !layers.iter().any(|l| p.starts_with(&l.path)))
            .map(|(p, _)| p.as_str())
            .collect();
        outside.sort();
        let expected: &[&str] = match spec.kind {
            ModelKind::VitTiny => &["cls", "pos"],
            _ => &["pos", "tok.weight"],
        };
        assert_eq!(outside, expected, "{:?}", spec);
    }
}

#[test]
fn default_sizes_are_pinned() {
    let count = |s: &ModelSpec| s.layers().iter().map(LayerInfo::params).sum::<u64>();
    let [vit_mnist, vit_cifar, gpt] = default_specs();
    // Per block 4*(128*128+128) + (128*256+256) + (256*128+128) = 131,968; patch 16*128+128,
    // head 128*10+10.
    assert_eq!(count(&vit_mnist), 4 * 131_968 + 2_176 + 1_290);
    assert_eq!(count(&vit_cifar), 4 * 131_968 + 6_272 + 12_900);
    // Per block 66,048 + (128*512+512) + (512*128+128) = 197,760; head 128*100+100.
    assert_eq!(count(&gpt), 4 * 197_760 + 12_900);
    // Each block Linear runs once per token: 50 tokens on 28x28, 128 in a full sequence.
    let per_token_block = 2 * 131_072 + 896;
    let vit_flops = (2 * 2_048 + 128) * 49 + 4 * per_token_block * 50 + 2 * 1_280 + 10;
    assert_eq!(vit_mnist.flops(), vit_flops);
    let gpt_block = 2 * 196_608 + 1_152;
    assert_eq!(gpt.flops(), (4 * gpt_block + 2 * 12_800 + 100) * 128);
}

#[test]
fn the_language_model_is_causal() {
    let device = Device::flex();
    device.seed(3);
    let (t, vocab, cut) = (10, 20, 4);
    let gpt = Gpt::new(SMALL, t, vocab, &device);
    let a: Vec<i64> = (0..t as i64).map(|i| (i * 3) % 20).collect();
    let mut b = a.clone();
    for (i, id) in b.iter_mut().enumerate().skip(cut + 1) {
        *id = (*id + 1 + i as i64) % 20;
    }
    let la = host(gpt.forward(tokens(&a, 1, &device), None));
    let lb = host(gpt.forward(tokens(&b, 1, &device), None));
    let row = |l: &[f32], p: usize| l[p * vocab..(p + 1) * vocab].to_vec();
    for p in 0..=cut {
        for (x, y) in row(&la, p).iter().zip(row(&lb, p)) {
            assert!(
                (x - y).abs() <= 1e-5,
                "position {p} saw the future: {x} vs {y}"
            );
        }
    }
    // The changed tokens do matter where they are visible.
    let diff: f32 = (cut + 1..t)
        .flat_map(|p| row(&la, p).into_iter().zip(row(&lb, p)))
        .map(|(x, y)| (x - y).abs())
        .sum();
    assert!(diff > 1e-3, "later positions ignored their inputs ({diff})");
}

/// Runs `net` on `x` with a probe and checks it saw exactly `layers()`, in order, each with
/// its input width and one row per use (`n` samples times `out_hw`).
fn check_probe(spec: &ModelSpec, x: Input, n: usize) {
    let device = Device::flex();
    let net = spec.init(&device);
    let mut seen = Seen::default();
    net.forward_probed(x, Some(&mut seen));
    let expected: Vec<(String, [usize; 2])> = spec
        .layers()
        .into_iter()
        .map(|l| {
            let rows = n * l.out_hw[0] * l.out_hw[1];
            (l.path, [rows, l.weight_shape[0]])
        })
        .collect();
    assert_eq!(seen.0, expected, "{:?}", spec.kind);
}

#[test]
fn probes_see_every_layer_with_its_width() {
    let device = Device::flex();
    let vit = spec(ModelKind::VitTiny, [3, 32, 32], 10);
    check_probe(&vit, images([2, 3, 32, 32], &device).into(), 2);
    // A full-context sequence, so every Linear is used `context` times per sample.
    let gpt = spec(ModelKind::GptTiny, [1, 1, 12], 30);
    let ids: Vec<i64> = (0..24).map(|i| i % 30).collect();
    check_probe(&gpt, tokens(&ids, 2, &device).into(), 2);
}

/// `t` without `len` entries from `start` along `axis` (a middle slice: both sides non-empty).
fn cut<const D: usize>(t: Tensor<D>, axis: usize, start: usize, len: usize) -> Tensor<D> {
    let rest = t.dims()[axis] - start - len;
    let (head, tail) = (
        t.clone().narrow(axis, 0, start),
        t.narrow(axis, start + len, rest),
    );
    Tensor::cat(vec![head, tail], axis)
}

/// `l` without head `h` of size `d`: its output columns (`q`, `k`, `v`: weight and bias) or,
/// with `input`, its input rows (`out`: the bias is per output, so kept).
fn without_head(l: &Linear, h: usize, d: usize, input: bool) -> Linear {
    let mut l = l.clone();
    l.weight = Param::from_tensor(cut(l.weight.val(), usize::from(!input), h * d, d));
    if !input {
        l.bias = l
            .bias
            .map(|b| Param::from_tensor(cut(b.val(), 0, h * d, d)));
    }
    l
}

#[test]
fn a_head_is_its_slices_of_q_k_v_and_out() {
    let device = Device::flex();
    device.seed(5);
    let (width, d_head) = (12, 4);
    let attn = Attention::new(width, 3, true, &device);
    let x: Tensor<3> = Tensor::random([2, 6, width], Distribution::Default, &device);
    // Head 1 silenced by zeroing its rows of `out` ...
    let mut silenced = attn.clone();
    let keep: Vec<f32> = (0..width).map(|r| f32::from(r / d_head != 1)).collect();
    let keep = Tensor::<1>::from_floats(keep.as_slice(), &device).reshape([width, 1]);
    silenced.out.weight = Param::from_tensor(silenced.out.weight.val() * keep);
    // ... is head 1 cut out of every projection.
    let pruned = Attention {
        q: without_head(&attn.q, 1, d_head, false),
        k: without_head(&attn.k, 1, d_head, false),
        v: without_head(&attn.v, 1, d_head, false),
        out: without_head(&attn.out, 1, d_head, true),
        heads: 2,
        causal: true,
    };
    assert_eq!(pruned.q.weight.dims(), [width, 2 * d_head]);
    let want = host(silenced.forward(x.clone(), &mut None, 0));
    let got = host(pruned.forward(x, &mut None, 0));
    for (a, b) in want.iter().zip(&got) {
        assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
    }
}

/// Loss before and after `steps` Adam steps on one fixed batch.
fn fit<M, F>(model: M, steps: usize, loss: F) -> (f32, f32)
where
    M: burn::module::Module,
    F: Fn(&M) -> Tensor<1>,
{
    let adam = OptimizerConfig::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    let mut optim = adam.build();
    let before = loss(&model).into_scalar::<f32>();
    let mut model = model;
    for _ in 0..steps {
        let l = loss(&model);
        let grads = burn::optim::GradientsParams::from_grads(l.backward(), &model);
        model = optim.step(1e-3, model, grads);
    }
    (before, loss(&model).into_scalar::<f32>())
}

#[test]
fn a_few_steps_lower_the_loss() {
    let device = Device::flex().autodiff();
    device.seed(7);
    let vit = Vit::new(SMALL, [1, 28, 28], 4, &device);
    let x = images([4, 1, 28, 28], &device);
    let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3], &device);
    let (before, after) = fit(vit, 20, |m: &Vit| {
        cross_entropy(m.forward(x.clone(), None), y.clone())
    });
    assert!(after < before - 0.05, "vit: {before} -> {after}");

    let gpt = Gpt::new(SMALL, 8, 12, &device);
    let seq: Vec<i64> = (0..18).map(|i| (i * 5) % 12).collect();
    let (xs, ys): (Vec<i64>, Vec<i64>) = seq
        .chunks(9)
        .flat_map(|c| c[..8].iter().copied().zip(c[1..].iter().copied()))
        .unzip();
    let x = tokens(&xs, 2, &device);
    let y = Tensor::<1, Int>::from_data(TensorData::new(ys, [16]), &device);
    let (before, after) = fit(gpt, 20, |m: &Gpt| {
        cross_entropy(m.forward(x.clone(), None), y.clone())
    });
    assert!(after < before - 0.05, "gpt: {before} -> {after}");
}

#[test]
fn names_round_trip_and_specs_are_checked() {
    for (name, kind) in [
        ("vit-tiny", ModelKind::VitTiny),
        ("vit", ModelKind::VitTiny),
        ("GPT-Tiny", ModelKind::GptTiny),
        ("gpt", ModelKind::GptTiny),
    ] {
        assert_eq!(name.parse::<ModelKind>(), Ok(kind));
        assert_eq!(kind.to_string().parse::<ModelKind>(), Ok(kind));
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{kind}\""));
        assert_eq!(serde_json::from_str::<ModelKind>(&json).unwrap(), kind);
    }
    assert!(ModelKind::ALL.contains(&ModelKind::VitTiny));
    assert!(ModelKind::GptTiny.is_language_model() && !ModelKind::VitTiny.is_language_model());
    let gpt = ModelKind::GptTiny;
    let gpt_spec = spec(gpt, [1, 1, gpt.default_context()], 100);
    assert_eq!(
        gpt_spec,
        default_specs()[2],
        "the default context is the one pinned here"
    );
    for good in default_specs() {
        assert_eq!(good.validate(), Ok(()), "{good:?}");
    }
    let bad = [
        (spec(ModelKind::VitTiny, [1, 30, 28], 10), "patches"),
        (spec(ModelKind::VitTiny, [1, 2, 2], 10), "patches"),
        (spec(ModelKind::GptTiny, [1, 1, 0], 100), "zero"),
        (
            spec(ModelKind::GptTiny, [1, 28, 28], 100),
            "[1, 1, context]",
        ),
        (spec(ModelKind::GptTiny, [1, 1, 128], 1), "at least 2"),
    ];
    for (s, why) in bad {
        let err = s.validate().unwrap_err();
        assert!(err.contains(why), "{s:?}: {err}");
    }
}
