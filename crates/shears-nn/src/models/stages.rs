//! A network's forward as a chain of stages, so that calibration can keep the input of the
//! stage it is measuring instead of running the whole network again for every layer: the
//! transformers are embedding → each block's attention and MLP halves → head; the other
//! models are one stage.

use super::probe::Probe;
use super::transformer::Block;
use super::{Gpt, Input, Network, Vit};
use burn::prelude::*;

/// What flows between two stages.
#[derive(Debug, Clone)]
pub enum Activation {
    /// The network's own input (before stage 0).
    Input(Input),
    /// Token activations `[n, tokens, width]` between transformer stages.
    Tokens(Tensor<3>),
    /// The network's output (after the last stage).
    Logits(Tensor<2>),
}

impl Network {
    /// Stages of [`Network::forward_stage`]; running them in order is [`Network::forward`].
    pub fn stages(&self) -> usize {
        match self {
            Network::Vit(Vit { blocks, .. }) | Network::Gpt(Gpt { blocks, .. }) => {
                2 * blocks.len() + 2
            }
            _ => 1,
        }
    }

    /// Runs stage `i` on `x`, showing the layer inputs of that stage to `probe`. An error (not
    /// a panic) when `x` is not what stage `i` reads.
    pub fn forward_stage(
        &self,
        i: usize,
        x: Activation,
        mut probe: Option<&mut dyn Probe>,
    ) -> Result<Activation, String> {
        let stages = self.stages();
        let last = i + 1 == stages;
        Ok(match (self, x) {
            (_, x) if i >= stages => return Err(wrong(i, stages, &x)),
            (Network::Vit(m), Activation::Input(Input::Images(x))) if i == 0 => {
                Activation::Tokens(m.embed(x, &mut probe))
            }
            (Network::Gpt(m), Activation::Input(Input::Tokens(x))) if i == 0 => {
                Activation::Tokens(m.embed(x))
            }
            (Network::Vit(m), Activation::Tokens(x)) if last => {
                Activation::Logits(m.logits(x, &mut probe))
            }
            (Network::Gpt(m), Activation::Tokens(x)) if last => {
                Activation::Logits(m.logits(x, &mut probe))
            }
            (
                Network::Vit(Vit { blocks, .. }) | Network::Gpt(Gpt { blocks, .. }),
                Activation::Tokens(x),
            ) if i > 0 => Activation::Tokens(half(blocks, i, x, &mut probe)),
            (Network::Gpt(_) | Network::Vit(_), x) => return Err(wrong(i, stages, &x)),
            (net, Activation::Input(x)) if net.accepts(&x) => {
                Activation::Logits(net.forward_probed(x, probe))
            }
            (_, x) => return Err(wrong(i, stages, &x)),
        })
    }

    /// Whether the network reads this kind of input (the language model token ids, the rest
    /// images).
    pub fn accepts(&self, x: &Input) -> bool {
        matches!(self, Network::Gpt(_)) == matches!(x, Input::Tokens(_))
    }
}

/// Stage `i` (≥ 1) of a transformer: the attention (odd) or MLP (even) half of a block.
fn half(blocks: &[Block], i: usize, x: Tensor<3>, probe: &mut Option<&mut dyn Probe>) -> Tensor<3> {
    let b = (i - 1) / 2;
    if i % 2 == 1 {
        blocks[b].attend(x, probe, b)
    } else {
        blocks[b].feed(x, probe, b)
    }
}

fn wrong(i: usize, stages: usize, x: &Activation) -> String {
    format!("stage {i} of {stages} cannot read {}", x.kind())
}

impl Activation {
    fn kind(&self) -> &'static str {
        match self {
            Activation::Input(Input::Images(_)) => "images",
            Activation::Input(Input::Tokens(_)) => "token ids",
            Activation::Tokens(_) => "token activations",
            Activation::Logits(_) => "logits",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ModelKind, ModelSpec, TransformerShape};
    use burn::tensor::Distribution;

    fn small(kind: ModelKind) -> (Network, Input) {
        let device = Device::flex();
        let shape = TransformerShape {
            depth: 2,
            width: 16,
            heads: 2,
            mlp_ratio: 2,
        };
        let (input, classes) = match kind {
            ModelKind::GptTiny => ([1, 1, 8], 11),
            _ => ([1, 8, 8], 3),
        };
        let spec = ModelSpec {
            kind,
            input,
            classes,
            shape: Some(shape),
        };
        let x = match kind {
            ModelKind::GptTiny => {
                Input::Tokens(Tensor::from_ints([[1, 2, 3, 4, 5, 6, 7, 8]; 2], &device))
            }
            _ => Input::Images(Tensor::random(
                [2, 1, 8, 8],
                Distribution::Normal(0.0, 1.0),
                &device,
            )),
        };
        (spec.init(&device), x)
    }

    fn chained(net: &Network, x: Input) -> Tensor<2> {
        let mut a = Activation::Input(x);
        for i in 0..net.stages() {
            a = net.forward_stage(i, a, None).unwrap();
        }
        match a {
            Activation::Logits(l) => l,
            other => panic!("ended with {}", other.kind()),
        }
    }

    #[test]
    fn the_stages_in_order_are_the_forward() {
        for kind in [ModelKind::GptTiny, ModelKind::VitTiny, ModelKind::LeNet300] {
            let (net, x) = small(kind);
            let whole = net.forward(x.clone()).into_data();
            let staged = chained(&net, x).into_data();
            assert_eq!(whole, staged, "{kind:?}");
        }
    }

    #[test]
    fn a_stage_given_the_wrong_activation_is_an_error() {
        let (net, x) = small(ModelKind::GptTiny);
        let e = net
            .forward_stage(1, Activation::Input(x.clone()), None)
            .unwrap_err();
        assert!(e.contains("stage 1") && e.contains("token ids"), "{e}");
        let e = net
            .forward_stage(net.stages(), Activation::Input(x), None)
            .unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
    }
}
