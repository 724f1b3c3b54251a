//! The model zoo: every architecture shears can prune, behind one [`Network`] type.

mod gpt;
mod layer;
mod lenet;
mod mlp;
mod probe;
mod resnet;
mod stages;
mod transformer;
mod vgg;
mod vit;

pub use gpt::{GPT_CONTEXT, GPT_TINY, Gpt};
pub use layer::{LayerInfo, LayerKind, conv_out};
pub use lenet::{LeNet, Pool};
pub use mlp::Mlp;
pub use probe::{LayerInput, Probe, see, see_shared};
pub use resnet::{BasicBlock, RESNET18, RESNET18_IMAGENET, RESNET20, ResNet, ResNetShape};
pub use stages::Activation;
pub use transformer::{Attention, Block, FeedForward, TransformerShape};
pub use vgg::{ConvBn, Vgg};
pub use vit::{PATCH, VIT_TINY, Vit};

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Architectures by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelKind {
    #[serde(rename = "lenet300")]
    LeNet300,
    #[serde(rename = "lenet5")]
    LeNet5,
    #[serde(rename = "lenet-cifar")]
    LeNetCifar,
    #[serde(rename = "vgg11")]
    Vgg11,
    #[serde(rename = "resnet20")]
    ResNet20,
    #[serde(rename = "resnet18")]
    ResNet18,
    #[serde(rename = "resnet18-imagenet")]
    ResNet18ImageNet,
    #[serde(rename = "vit-tiny")]
    VitTiny,
    #[serde(rename = "gpt-tiny")]
    GptTiny,
}

impl ModelKind {
    pub const ALL: [ModelKind; 9] = [
        ModelKind::LeNet300,
        ModelKind::LeNet5,
        ModelKind::LeNetCifar,
        ModelKind::Vgg11,
        ModelKind::ResNet20,
        ModelKind::ResNet18,
        ModelKind::ResNet18ImageNet,
        ModelKind::VitTiny,
        ModelKind::GptTiny,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::LeNet300 => "lenet300",
            ModelKind::LeNet5 => "lenet5",
            ModelKind::LeNetCifar => "lenet-cifar",
            ModelKind::Vgg11 => "vgg11",
            ModelKind::ResNet20 => "resnet20",
            ModelKind::ResNet18 => "resnet18",
            ModelKind::ResNet18ImageNet => "resnet18-imagenet",
            ModelKind::VitTiny => "vit-tiny",
            ModelKind::GptTiny => "gpt-tiny",
        }
    }

    /// A transformer (attention blocks, trained with AdamW), not a CNN or MLP.
    pub fn is_transformer(self) -> bool {
        matches!(self, ModelKind::VitTiny | ModelKind::GptTiny)
    }

    /// The transformer shape of `vit-tiny` / `gpt-tiny` (docs/design.md#transformers); the
    /// CNNs have none and return the ViT's, which nothing reads.
    pub fn default_shape(self) -> TransformerShape {
        match self {
            ModelKind::GptTiny => GPT_TINY,
            _ => VIT_TINY,
        }
    }

    /// Whether the model reads token ids ([`Input::Tokens`]) rather than images.
    pub fn is_language_model(self) -> bool {
        self == ModelKind::GptTiny
    }

    /// Tokens per sequence that text is cut into for this model: `gpt-tiny`'s context. Image
    /// models read no text, and callers ignore it for them.
    pub fn default_context(self) -> usize {
        GPT_CONTEXT
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        let alias = match wanted.as_str() {
            "lenet-300-100" | "mlp" => "lenet300",
            "lenet-5" => "lenet5",
            "vgg-11" => "vgg11",
            "resnet-20" => "resnet20",
            "resnet-18" => "resnet18",
            "vit" => "vit-tiny",
            "gpt" => "gpt-tiny",
            other => other,
        };
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == alias)
            .ok_or_else(|| {
                let names: Vec<_> = ModelKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown model '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// What a network is built for: architecture, input `[channels, height, width]`, classes.
/// Stored in checkpoints so a file can be checked against the model it is loaded into.
///
/// For the language model (`gpt-tiny`) the fields are reused: `input` is `[1, 1, context]`
/// (the longest sequence, in tokens) and `classes` is the vocabulary size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelSpec {
    pub kind: ModelKind,
    pub input: [usize; 3],
    pub classes: usize,
    /// A transformer's depth, width, heads and MLP ratio when not its kind's default
    /// ([`ModelKind::default_shape`]); ignored by the CNNs. Written only when set, so specs
    /// and checkpoints of default models read as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<TransformerShape>,
}

impl ModelSpec {
    /// The transformer shape this spec builds (`shape`, or the kind's default).
    pub fn transformer(&self) -> TransformerShape {
        self.shape.unwrap_or_else(|| self.kind.default_shape())
    }

    /// Rejects shapes an architecture cannot process, before any tensor is built.
    pub fn validate(&self) -> Result<(), String> {
        let [c, h, w] = self.input;
        if self.kind == ModelKind::GptTiny && (c != 1 || h != 1) {
            return Err(format!(
                "{}: input must be [1, 1, context], got [{c}, {h}, {w}]",
                self.kind
            ));
        }
        if c == 0 || h == 0 || w == 0 {
            return Err(format!(
                "{}: input shape {c}x{h}x{w} has a zero dimension",
                self.kind
            ));
        }
        if self.classes < 2 {
            return Err(format!(
                "{}: needs at least 2 classes, got {}",
                self.kind, self.classes
            ));
        }
        let min = match self.kind {
            ModelKind::LeNet5 | ModelKind::LeNetCifar => LeNet::MIN_SIDE,
            _ => 1,
        };
        if h < min || w < min {
            return Err(format!(
                "{}: input {h}x{w} is smaller than the minimum {min}x{min}",
                self.kind
            ));
        }
        let prefix = |e: String| format!("{}: {e}", self.kind);
        match self.kind {
            ModelKind::VitTiny => Vit::validate(self.transformer(), self.input).map_err(prefix),
            ModelKind::GptTiny => {
                Gpt::validate(self.transformer(), w, self.classes).map_err(prefix)
            }
            _ => Ok(()),
        }
    }

    /// Prunable Conv/Linear layers in forward order, with parameter and FLOP counts.
    ///
    /// Transformers list their patch projection, every attention and MLP Linear and the head;
    /// embeddings, positions, the class token and LayerNorms are not layers, so never pruned.
    pub fn layers(&self) -> Vec<LayerInfo> {
        let (i, c) = (self.input, self.classes);
        match self.kind {
            ModelKind::LeNet300 => Mlp::layers(i, c),
            ModelKind::LeNet5 | ModelKind::LeNetCifar => LeNet::layers(i, c),
            ModelKind::Vgg11 => Vgg::layers(i, c),
            ModelKind::ResNet20 => ResNet::layers(RESNET20, i, c),
            ModelKind::ResNet18 => ResNet::layers(RESNET18, i, c),
            ModelKind::ResNet18ImageNet => ResNet::layers(RESNET18_IMAGENET, i, c),
            ModelKind::VitTiny => Vit::layers(self.transformer(), i, c),
            ModelKind::GptTiny => Gpt::layers(self.transformer(), i[2], c),
        }
    }

    /// Forward FLOPs per sample of the dense model (Conv/Linear only; BN, pooling and
    /// activations are a few percent and are not counted, as in ShrinkBench). For the
    /// transformers, attention's score and mixing products are not counted either; a sample of
    /// the language model is one full-context sequence.
    pub fn flops(&self) -> u64 {
        self.layers().iter().map(LayerInfo::flops).sum()
    }

    pub fn init(&self, device: &Device) -> Network {
        let (i, c) = (self.input, self.classes);
        match self.kind {
            ModelKind::LeNet300 => Network::Mlp(Mlp::new(i, c, device)),
            ModelKind::LeNet5 => Network::LeNet(LeNet::new(i, c, false, device)),
            ModelKind::LeNetCifar => Network::LeNet(LeNet::new(i, c, true, device)),
            ModelKind::Vgg11 => Network::Vgg(Vgg::new(i, c, device)),
            ModelKind::ResNet20 => Network::ResNet(ResNet::new(RESNET20, i, c, device)),
            ModelKind::ResNet18 => Network::ResNet(ResNet::new(RESNET18, i, c, device)),
            ModelKind::ResNet18ImageNet => {
                Network::ResNet(ResNet::new(RESNET18_IMAGENET, i, c, device))
            }
            ModelKind::VitTiny => Network::Vit(Vit::new(self.transformer(), i, c, device)),
            ModelKind::GptTiny => Network::Gpt(Gpt::new(self.transformer(), i[2], c, device)),
        }
    }
}

/// What a [`Network`] reads: images for the classifiers, token ids for the language model.
#[derive(Debug, Clone)]
pub enum Input {
    /// `[n, channels, height, width]`.
    Images(Tensor<4>),
    /// `[n, T]` token ids.
    Tokens(Tensor<2, Int>),
}

impl Input {
    /// The images of an image model's input. Token ids here are a pairing error the data
    /// checks rule out before training ([`crate::train::Prepared::check_model`]): a panic.
    pub fn images(self) -> Tensor<4> {
        match self {
            Input::Images(x) => x,
            Input::Tokens(_) => panic!("an image model was given token ids"),
        }
    }
}

impl From<Tensor<4>> for Input {
    fn from(x: Tensor<4>) -> Self {
        Input::Images(x)
    }
}

impl From<Tensor<2, Int>> for Input {
    fn from(x: Tensor<2, Int>) -> Self {
        Input::Tokens(x)
    }
}

/// Any shears network: images `[n, c, h, w]` in, logits `[n, classes]` out; or, for the
/// language model, token ids `[n, T]` in, next-token logits `[n * T, vocab]` out.
// Variants differ in size (LeNet holds pooling modules inline); a network is built once per
// run and moved, never stored in bulk, so boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Network {
    Mlp(Mlp),
    LeNet(LeNet),
    Vgg(Vgg),
    ResNet(ResNet),
    Vit(Vit),
    Gpt(Gpt),
}

impl Network {
    /// The classifier (the last Linear layer, producing the logits): what `--reset-head`
    /// re-initialises.
    pub fn head_path(&self) -> &'static str {
        match self {
            Network::Mlp(_) | Network::LeNet(_) => "fc3",
            Network::Vgg(_) => "classifier",
            Network::ResNet(_) => "fc",
            Network::Vit(_) | Network::Gpt(_) => "head",
        }
    }

    /// Logits of a batch; see [`Network::forward_probed`] for what each model accepts.
    pub fn forward(&self, x: impl Into<Input>) -> Tensor<2> {
        self.forward_probed(x, None)
    }

    /// [`Network::forward`], showing every prunable layer's input to `probe`.
    ///
    /// # Panics
    /// If the input does not suit the model: tokens given to an image classifier, or images
    /// given to the language model. Callers pair data with the model beforehand
    /// ([`ModelKind::is_language_model`]), so a mismatch here is a programming error.
    pub fn forward_probed(&self, x: impl Into<Input>, probe: Option<&mut dyn Probe>) -> Tensor<2> {
        match (self, x.into()) {
            (Network::Mlp(m), Input::Images(x)) => m.forward(x, probe),
            (Network::LeNet(m), Input::Images(x)) => m.forward(x, probe),
            (Network::Vgg(m), Input::Images(x)) => m.forward(x, probe),
            (Network::ResNet(m), Input::Images(x)) => m.forward(x, probe),
            (Network::Vit(m), Input::Images(x)) => m.forward(x, probe),
            (Network::Gpt(m), Input::Tokens(t)) => m.forward(t, probe),
            (Network::Gpt(_), Input::Images(_)) => {
                panic!("gpt-tiny reads token ids [n, T], not images")
            }
            (_, Input::Tokens(_)) => panic!("an image classifier cannot read token ids"),
        }
    }
}
