//! Pruning mathematics for shears, free of any deep-learning framework so it tests in seconds.
//!
//! The pieces compose as in JaxPruner: a [`schedule`] says how much to remove at each step,
//! a [`score`] criterion ranks entries, [`select`] turns scores into cumulative masks under a
//! scope, and [`stopping`] / [`budget`] / [`lr`] decide how long and how fast to fine-tune.

pub mod budget;
pub mod lr;
pub mod results;
pub mod schedule;
pub mod score;
pub mod select;
pub mod stats;
pub mod stopping;
