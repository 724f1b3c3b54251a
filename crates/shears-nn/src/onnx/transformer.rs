//! The transformers as ONNX nodes, mirroring `vit-tiny` and `gpt-tiny`'s `forward`
//! (crate::models::vit, crate::models::gpt, crate::models::transformer).

use super::graph::{Graph, attr_int};
use crate::models::{Attention, Block, FeedForward, Gpt, PATCH, Vit};
use burn::prelude::*;

/// `[n, t, heads * d]` → `[n, heads, t, d]`, or with `keys` `[n, heads, d, t]` (transposed
/// for the score product).
fn split_heads(g: &mut Graph, x: &str, heads: usize, keys: bool) -> String {
    let x = g.reshape(x, &[0, 0, heads as i64, -1]);
    g.transpose(&x, if keys { &[0, 2, 3, 1] } else { &[0, 2, 1, 3] })
}

/// Attention of `x` (`[n, t, width]`); `mask` is the additive causal mask for `t` tokens.
fn attention(g: &mut Graph, path: &str, a: &Attention, x: &str, mask: Option<&str>) -> String {
    let h = a.heads;
    if h == 0 {
        // Every head pruned away: the branch is the output bias alone (as in the model).
        let [d_in, d_out] = [a.q.weight.dims()[0], a.out.weight.dims()[1]];
        let zeros = Tensor::<2>::zeros([d_in, d_out], &a.out.weight.device());
        let w = g.weight(&format!("{path}.out.zero"), zeros);
        let y = g.op("MatMul", &[x, &w], vec![]);
        return match &a.out.bias {
            Some(b) => {
                let b = g.param(&format!("{path}.out.bias"), b);
                g.op("Add", &[&y, &b], vec![])
            }
            None => y,
        };
    }
    let q = g.linear(&format!("{path}.q"), &a.q, x);
    let k = g.linear(&format!("{path}.k"), &a.k, x);
    let v = g.linear(&format!("{path}.v"), &a.v, x);
    let d_head = a.q.weight.dims()[1] / h;
    let (q, kt, v) = (
        split_heads(g, &q, h, false),
        split_heads(g, &k, h, true),
        split_heads(g, &v, h, false),
    );
    let scores = g.op("MatMul", &[&q, &kt], vec![]);
    let scale = g.scalar(1.0 / (d_head as f32).sqrt());
    let mut scores = g.op("Mul", &[&scores, &scale], vec![]);
    if let Some(mask) = mask {
        scores = g.op("Add", &[&scores, mask], vec![]);
    }
    let p = g.op("Softmax", &[&scores], vec![attr_int("axis", -1)]);
    let ctx = g.op("MatMul", &[&p, &v], vec![]);
    let ctx = g.transpose(&ctx, &[0, 2, 1, 3]);
    let ctx = g.reshape(&ctx, &[0, 0, -1]);
    g.linear(&format!("{path}.out"), &a.out, &ctx)
}

fn feed_forward(g: &mut Graph, path: &str, m: &FeedForward, x: &str) -> String {
    let y = g.linear(&format!("{path}.fc1"), &m.fc1, x);
    let y = g.gelu(&y);
    g.linear(&format!("{path}.fc2"), &m.fc2, &y)
}

fn blocks(g: &mut Graph, blocks: &[Block], mut x: String, mask: Option<&str>) -> String {
    for (i, b) in blocks.iter().enumerate() {
        let h = g.layer_norm(&format!("blocks.{i}.ln1"), &b.ln1, &x);
        let a = attention(g, &format!("blocks.{i}.attn"), &b.attn, &h, mask);
        x = g.op("Add", &[&x, &a], vec![]);
        let h = g.layer_norm(&format!("blocks.{i}.ln2"), &b.ln2, &x);
        let m = feed_forward(g, &format!("blocks.{i}.mlp"), &b.mlp, &h);
        x = g.op("Add", &[&x, &m], vec![]);
    }
    x
}

/// Images `[n, c, h, w]` (`input` = `[c, h, w]`) to logits from the class token.
pub fn vit(g: &mut Graph, m: &Vit, input: [usize; 3], x: &str) -> String {
    let [c, h, w] = input;
    let (gh, gw, p) = ((h / PATCH) as i64, (w / PATCH) as i64, PATCH as i64);
    let x = g.reshape(x, &[-1, c as i64, gh, p, gw, p]);
    let x = g.transpose(&x, &[0, 2, 4, 1, 3, 5]);
    let x = g.reshape(&x, &[-1, gh * gw, c as i64 * p * p]);
    let x = g.linear("patch", &m.patch, &x);
    // The class token, expanded to the batch: [n, 1, width].
    let width = m.cls.dims()[2];
    let shape = g.op("Shape", &[&x], vec![]);
    let zero = g.ints("index_0", &[1], &[0]);
    let n = g.op("Gather", &[&shape, &zero], vec![attr_int("axis", 0)]);
    let rest = g.ints("cls_shape_rest", &[2], &[1, width as i64]);
    let cls_shape = g.op("Concat", &[&n, &rest], vec![attr_int("axis", 0)]);
    let cls = g.param("cls", &m.cls);
    let cls = g.op("Expand", &[&cls, &cls_shape], vec![]);
    let x = g.op("Concat", &[&cls, &x], vec![attr_int("axis", 1)]);
    let pos = g.param("pos", &m.pos);
    let x = g.op("Add", &[&x, &pos], vec![]);
    let x = blocks(g, &m.blocks, x, None);
    let first = g.ints("index_scalar_0", &[], &[0]);
    let cls = g.op("Gather", &[&x, &first], vec![attr_int("axis", 1)]);
    let cls = g.layer_norm("norm", &m.norm, &cls);
    g.linear("head", &m.head, &cls)
}

/// Token ids `[n, t]` (`t` up to the context) to logits `[n * t, vocab]`.
pub fn gpt(g: &mut Graph, m: &Gpt, tokens: &str) -> String {
    let context = m.context();
    // t, as a one-element tensor, for slicing the positions and the mask.
    let shape = g.op("Shape", &[tokens], vec![]);
    let one = g.ints("index_1", &[1], &[1]);
    let t = g.op("Gather", &[&shape, &one], vec![attr_int("axis", 0)]);
    let zero = g.ints("zero_1", &[1], &[0]);
    let pos = g.param("pos", &m.pos);
    let pos = g.op("Slice", &[&pos, &zero, &t, &zero], vec![]);
    let emb = g.param("tok.weight", &m.tok.weight);
    let x = g.op("Gather", &[&emb, tokens], vec![attr_int("axis", 0)]);
    let x = g.op("Add", &[&x, &pos], vec![]);
    // -1e9 strictly above the diagonal, 0 elsewhere: the model's masked fill, as an addition
    // (softmax gives both exactly 0 weight).
    let future: Vec<f32> = (0..context * context)
        .map(|i| {
            if i % context > i / context {
                -1.0e9
            } else {
                0.0
            }
        })
        .collect();
    let device = m.pos.device();
    let mask = Tensor::<1>::from_floats(future.as_slice(), &device).reshape([context, context]);
    let mask = g.weight("causal_mask", mask);
    let zeros2 = g.ints("zero_2", &[2], &[0, 0]);
    let axes = g.ints("axes_01", &[2], &[0, 1]);
    let tt = g.op("Concat", &[&t, &t], vec![attr_int("axis", 0)]);
    let mask = g.op("Slice", &[&mask, &zeros2, &tt, &axes], vec![]);
    let x = blocks(g, &m.blocks, x, Some(&mask));
    let x = g.layer_norm("norm", &m.norm, &x);
    let logits = g.linear("head", &m.head, &x);
    let vocab = m.head.weight.dims()[1] as i64;
    g.reshape(&logits, &[-1, vocab])
}
