//! Pruning on Burn: the [`prune::Pruner`] that owns a run's unstructured steps on any Burn
//! module, structured channel pruning by physical surgery ([`structured`]), and the models,
//! training loops, metrics and checkpoints shears' experiments use.
//!
//! What lives where:
//! - [`prune`] — prunable tensors of a module, criteria (magnitude, random, Taylor, Hessian),
//!   cumulative masks, the [`prune::Pruner`] and per-layer sparsity tables. Scoring and
//!   selection arithmetic is `shears_core`'s; this crate moves tensors to and from Burn.
//! - [`structured`] — channel groups (a dependency graph over shears' models), group scores,
//!   surgery into a smaller network, and the [`structured::ChannelPruner`].
//! - [`train`] — an epoch loop with an after-step hook (where masks are re-applied), exact
//!   evaluation of any [`train::Classifier`], dense training recipes and prepared data.
//! - [`models`], [`checkpoint`], [`optim`] (PyTorch-faithful optimizers), [`metrics`].
//! - [`accel`] — which layers run on `shears-kernels`' CPU kernels, and the Burn backend
//!   extension ([`accel::extension`]) that plugs them in.
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use shears_core::masks::Scope;
//! use shears_core::schedule::{ScheduleKind, ScheduleSpec};
//! use shears_nn::prune::{Criterion, Pruner};
//!
//! // One-shot 50% global magnitude pruning of a layer's weight.
//! let layer: Linear = LinearConfig::new(8, 4).init(&shears_nn::Device::flex());
//! let one_shot = ScheduleSpec::new(ScheduleKind::OneShot, 0.5).plan().unwrap();
//! let mut pruner =
//!     Pruner::for_module(&layer, &one_shot, &Scope::global(), Criterion::Magnitude).unwrap();
//! let layer = pruner.step(layer, None).unwrap();
//! assert_eq!(pruner.verify(&layer).unwrap().pruned(), 16);
//! ```

pub mod accel;
pub mod checkpoint;
pub mod csr_inference;
pub mod interop;
pub mod interrupt;
pub mod metrics;
pub mod models;
pub mod onnx;
pub mod optim;
pub mod params;
pub mod prune;
pub mod structured;
pub mod train;

pub use burn::tensor::Device;
