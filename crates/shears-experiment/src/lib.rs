//! The prune → fine-tune procedure of shears (`docs/design.md#fine-tuning`): experiment configs,
//! per-step fine-tuning policies, a resumable results store named by config hash, repeats.

pub mod bench;
pub mod cluster;
pub mod config;
pub mod eval;
pub mod finetune;
pub mod interop;
pub mod prune_once;
pub mod runner;
pub mod store;
pub mod sweep;

pub use config::ExperimentConfig;
pub use runner::{
    Event, ExperimentResult, RunError, RunOptions, clear_failures, run_experiment,
    run_experiment_with,
};
