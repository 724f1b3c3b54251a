//! The model zoo: every architecture shears can prune, behind one [`Network`] type.

mod layer;
mod lenet;
mod mlp;
mod probe;
mod resnet;
mod vgg;

pub use layer::{LayerInfo, LayerKind, conv_out};
pub use lenet::LeNet;
pub use mlp::Mlp;
pub use probe::{LayerInput, Probe, see};
pub use resnet::{BasicBlock, RESNET18, RESNET20, ResNet, ResNetShape};
pub use vgg::{ConvBn, Vgg};

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
}

impl ModelKind {
    pub const ALL: [ModelKind; 6] = [
        ModelKind::LeNet300,
        ModelKind::LeNet5,
        ModelKind::LeNetCifar,
        ModelKind::Vgg11,
        ModelKind::ResNet20,
        ModelKind::ResNet18,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::LeNet300 => "lenet300",
            ModelKind::LeNet5 => "lenet5",
            ModelKind::LeNetCifar => "lenet-cifar",
            ModelKind::Vgg11 => "vgg11",
            ModelKind::ResNet20 => "resnet20",
            ModelKind::ResNet18 => "resnet18",
        }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelSpec {
    pub kind: ModelKind,
    pub input: [usize; 3],
    pub classes: usize,
}

impl ModelSpec {
    /// Rejects shapes an architecture cannot process, before any tensor is built.
    pub fn validate(&self) -> Result<(), String> {
        let [c, h, w] = self.input;
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
        Ok(())
    }

    /// Prunable Conv/Linear layers in forward order, with parameter and FLOP counts.
    pub fn layers(&self) -> Vec<LayerInfo> {
        let (i, c) = (self.input, self.classes);
        match self.kind {
            ModelKind::LeNet300 => Mlp::layers(i, c),
            ModelKind::LeNet5 | ModelKind::LeNetCifar => LeNet::layers(i, c),
            ModelKind::Vgg11 => Vgg::layers(i, c),
            ModelKind::ResNet20 => ResNet::layers(RESNET20, i, c),
            ModelKind::ResNet18 => ResNet::layers(RESNET18, i, c),
        }
    }

    /// Forward FLOPs per sample of the dense model (Conv/Linear only; BN, pooling and
    /// activations are a few percent and are not counted, as in ShrinkBench).
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
        }
    }
}

/// Any shears network; images `[n, c, h, w]` in, logits `[n, classes]` out.
// Variants differ in size (LeNet holds pooling modules inline); a network is built once per
// run and moved, never stored in bulk, so boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Network {
    Mlp(Mlp),
    LeNet(LeNet),
    Vgg(Vgg),
    ResNet(ResNet),
}

impl Network {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_probed(x, None)
    }

    /// [`Network::forward`], showing every prunable layer's input to `probe`.
    pub fn forward_probed(&self, x: Tensor<4>, probe: Option<&mut dyn Probe>) -> Tensor<2> {
        match self {
            Network::Mlp(m) => m.forward(x, probe),
            Network::LeNet(m) => m.forward(x, probe),
            Network::Vgg(m) => m.forward(x, probe),
            Network::ResNet(m) => m.forward(x, probe),
        }
    }
}
