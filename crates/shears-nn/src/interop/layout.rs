//! Other programs' names for shears' ResNets. A state dict from the paper's reference code
//! (`conv1`, `bn1`, `layer1.0.conv1`, `layer1.0.shortcut.0`, `linear`) or from a torchvision-style
//! definition of the same CIFAR network (`downsample.0`, `fc`) is renamed to shears' parameter
//! paths on the way in, and shears' paths to those names on the way out (docs/interop.md).

use crate::models::Network;
use std::fmt;
use std::str::FromStr;

/// Whose parameter names a state dict uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// shears' own paths (`stem.conv`, `blocks.3.conv1.bn`, `fc`); every model kind.
    #[default]
    Shears,
    /// The reference code's CIFAR ResNets (kuangliu's `models/resnet.py`): `conv1`, `bn1`,
    /// `layer{s}.{b}.conv1`, `.bn1`, `.conv2`, `.bn2`, `.shortcut.0` (conv), `.shortcut.1` (BN),
    /// `linear`.
    Reference,
    /// torchvision's ResNet names on the same CIFAR network: as `Reference`, but the projection
    /// shortcut is `downsample.0` / `downsample.1` and the classifier `fc`.
    Torchvision,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Shears => "shears",
            Layout::Reference => "reference",
            Layout::Torchvision => "torchvision",
        }
    }

    /// `(shears prefix, this layout's prefix)` pairs covering every parameter of `net`;
    /// empty for shears' own layout. Only the ResNets have another layout.
    pub fn prefixes(self, net: &Network) -> Result<Vec<(String, String)>, String> {
        if self == Layout::Shears {
            return Ok(Vec::new());
        }
        let Network::ResNet(m) = net else {
            return Err(format!(
                "the '{}' layout is for the ResNets (resnet20, resnet18); this model has only \
                 shears' names",
                self.name()
            ));
        };
        let (shortcut, head) = match self {
            Layout::Torchvision => ("downsample", "fc"),
            _ => ("shortcut", "linear"),
        };
        let mut out = vec![
            ("stem.conv.".to_string(), "conv1.".to_string()),
            ("stem.bn.".into(), "bn1.".into()),
            ("fc.".into(), format!("{head}.")),
        ];
        // A stage starts at each block with a projection shortcut, except the first stage,
        // whose blocks keep their width (true of every ResNet shears builds).
        let (mut stage, mut index) = (1, 0);
        for (i, block) in m.blocks.iter().enumerate() {
            if block.shortcut.is_some() && i > 0 {
                stage += 1;
                index = 0;
            }
            let (from, to) = (format!("blocks.{i}."), format!("layer{stage}.{index}."));
            for (a, b) in [
                ("conv1.conv.", "conv1."),
                ("conv1.bn.", "bn1."),
                ("conv2.conv.", "conv2."),
                ("conv2.bn.", "bn2."),
            ] {
                out.push((format!("{from}{a}"), format!("{to}{b}")));
            }
            out.push((
                format!("{from}shortcut.conv."),
                format!("{to}{shortcut}.0."),
            ));
            out.push((format!("{from}shortcut.bn."), format!("{to}{shortcut}.1.")));
            index += 1;
        }
        Ok(out)
    }
}

/// `key` renamed by the first pair whose left side prefixes it (`(from, to)` pairs), or as it
/// is.
pub fn rename(key: &str, pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .find_map(|(from, to)| {
            key.strip_prefix(from.as_str())
                .map(|rest| format!("{to}{rest}"))
        })
        .unwrap_or_else(|| key.to_string())
}

/// The same pairs read the other way.
pub fn inverse(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| (b.clone(), a.clone())).collect()
}

/// Regex patterns for burn-store's key remapper: each pair as an anchored, escaped prefix.
pub fn patterns(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(from, to)| (format!("^{}", from.replace('.', r"\.")), to.clone()))
        .collect()
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Layout::Shears, Layout::Reference, Layout::Torchvision]
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                format!("unknown layout '{s}' (expected shears, reference or torchvision)")
            })
    }
}
