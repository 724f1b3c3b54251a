//! Optimizers with PyTorch semantics, so recipes from papers transfer unchanged.
//!
//! Burn's defaults differ from PyTorch's in two places that silently change results:
//! momentum dampening (Burn 0.1, PyTorch 0) and Adam's epsilon (Burn 1e-5, PyTorch 1e-8).
//! Every field here is set explicitly.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

/// Optimizer choice and hyper-parameters (learning rate lives in the LR policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// `torch.optim.SGD`: weight decay added to the gradient, momentum without dampening.
    Sgd {
        #[serde(default = "default_momentum")]
        momentum: f64,
        #[serde(default)]
        nesterov: bool,
        #[serde(default = "default_sgd_wd")]
        weight_decay: f64,
    },
    /// `torch.optim.Adam`: L2 weight decay added to the gradient.
    Adam {
        #[serde(default = "default_beta1")]
        beta1: f64,
        #[serde(default = "default_beta2")]
        beta2: f64,
        #[serde(default = "default_eps")]
        eps: f64,
        #[serde(default)]
        weight_decay: f64,
    },
    /// `torch.optim.AdamW`: decoupled weight decay.
    AdamW {
        #[serde(default = "default_beta1")]
        beta1: f64,
        #[serde(default = "default_beta2")]
        beta2: f64,
        #[serde(default = "default_eps")]
        eps: f64,
        #[serde(default = "default_adamw_wd")]
        weight_decay: f64,
    },
}

fn default_momentum() -> f64 {
    0.9
}
fn default_sgd_wd() -> f64 {
    5e-4
}
fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}
fn default_adamw_wd() -> f64 {
    0.01
}

impl Default for OptimizerConfig {
    /// The paper's fine-tuning optimizer: SGD, momentum 0.9, weight decay 5e-4.
    fn default() -> Self {
        OptimizerConfig::Sgd {
            momentum: default_momentum(),
            nesterov: false,
            weight_decay: default_sgd_wd(),
        }
    }
}

impl OptimizerConfig {
    /// `torch.optim.AdamW` with PyTorch's betas and epsilon and this weight decay.
    pub fn adamw(weight_decay: f64) -> Self {
        OptimizerConfig::AdamW {
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_eps(),
            weight_decay,
        }
    }

    /// Range checks with messages naming the field.
    pub fn validate(&self) -> Result<(), String> {
        let check = |name: &str, v: f64, lo: f64, hi: f64| {
            if v.is_finite() && v >= lo && v < hi {
                Ok(())
            } else {
                Err(format!("optimizer.{name} = {v} is outside [{lo}, {hi})"))
            }
        };
        match *self {
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                nesterov,
            } => {
                check("momentum", momentum, 0.0, 1.0)?;
                check("weight_decay", weight_decay, 0.0, 1.0)?;
                if nesterov && momentum == 0.0 {
                    return Err("optimizer.nesterov needs momentum > 0".into());
                }
                Ok(())
            }
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
            }
            | OptimizerConfig::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                check("beta1", beta1, 0.0, 1.0)?;
                check("beta2", beta2, 0.0, 1.0)?;
                check("eps", eps, f64::MIN_POSITIVE, 1.0)?;
                check("weight_decay", weight_decay, 0.0, 1.0)
            }
        }
    }

    /// A fresh optimizer: state is never carried across pruning steps (the reference rebuilds
    /// it each step, and stale momentum would push pruned weights back).
    pub fn build(&self) -> ModuleOptimizer {
        match *self {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                let mut c = SgdConfig::new();
                if momentum > 0.0 {
                    c = c.with_momentum(Some(
                        MomentumConfig::new()
                            .with_momentum(momentum)
                            .with_dampening(0.0)
                            .with_nesterov(nesterov),
                    ));
                }
                if weight_decay > 0.0 {
                    c = c.with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)));
                }
                c.init()
            }
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                let mut c = AdamConfig::new()
                    .with_beta_1(beta1 as f32)
                    .with_beta_2(beta2 as f32)
                    .with_epsilon(eps as f32);
                if weight_decay > 0.0 {
                    c = c.with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)));
                }
                c.init()
            }
            OptimizerConfig::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => AdamWConfig::new()
                .with_beta_1(beta1 as f32)
                .with_beta_2(beta2 as f32)
                .with_epsilon(eps as f32)
                .with_weight_decay(weight_decay as f32)
                .init(),
        }
    }
}
