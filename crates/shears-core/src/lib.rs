//! Pruning mathematics for shears, free of any deep-learning framework so it tests in seconds.
//!
//! Everything here works on plain numbers and `f32` slices; `shears-nn` moves the tensors of a
//! Burn model in and out of them. The definitions and arithmetic behind each module (why
//! fractions are of the original count, how each schedule is laid out, what patience means)
//! are written down in `docs/design.md`.
//!
//! # The pieces
//! - [`schedule`]: how much to remove at each pruning step. A
//!   [`ScheduleSpec`](schedule::ScheduleSpec) (one-shot, constant, geometric, hybrid,
//!   logarithmic, polynomial) plans into a [`Plan`](schedule::Plan): per-step fractions of the
//!   original prunable count, with exact arithmetic or the reference code's.
//! - [`score`]: importance criteria on flat slices (magnitude, Taylor, OBD/Fisher, random, and
//!   channel norms for structured pruning); a higher score means more important.
//! - [`masks`]: scores and the current keep-masks → the next, cumulative masks under a scope
//!   (one global threshold or per layer); a run's [`RemovalPlan`](masks::RemovalPlan) converts
//!   its schedule into integer removal counts once and checks every realised mask set against
//!   them.
//! - [`stopping`]: when one step's fine-tuning stops (patience, per-step patience lists, an
//!   epoch cap) and which epoch is the best.
//! - [`budget`]: an epoch budget split over the steps; epochs ↔ iterations.
//! - [`lr`]: learning-rate schedules as pure functions of the training position.
//! - [`stats`]: small-sample statistics for comparing regimes over seeds (Student t intervals,
//!   paired t-test, minimal detectable difference, where a difference curve crosses zero) and
//!   the decisions built on them (Holm correction, equivalence tests, three-way verdicts, seeds
//!   needed, the group-sequential design for `--seeds auto`, crossover resolution).
//! - [`results`]: the row recorded after every pruning step (the on-disk results schema).
//! - [`files`]: what kind of file a path is, checked before a reader opens it.
//!
//! # How they compose
//! A run plans its schedule once; at every step it scores the weights, removes the planned
//! number of lowest-scored entries still kept, fine-tunes until the stopper says stop, and
//! records a row. The final rows of several seeds are then compared regime against regime,
//! paired by seed:
//!
//! ```
//! use shears_core::schedule::{ScheduleKind, ScheduleSpec};
//! use shears_core::score;
//! use shears_core::masks::{Mask, remove_lowest};
//! use shears_core::stats;
//! use shears_core::stopping::{EarlyStopper, Monitor, PatienceSchedule};
//!
//! // 90% of a 100-weight tensor in three geometric steps.
//! let plan = ScheduleSpec::new(ScheduleKind::Geometric, 0.9)
//!     .with_steps(3)
//!     .plan()?;
//! let counts = plan.cumulative_counts(100); // entries removed at each step
//! assert_eq!(counts.iter().sum::<u64>(), 90);
//!
//! // |w| = 1, 2, ..., 100.
//! let weights: Vec<f32> = (1..=100)
//!     .map(|i| if i % 2 == 0 { i as f32 } else { -(i as f32) })
//!     .collect();
//! let patience = PatienceSchedule::new(vec![3, 1])?; // long for step 1, short after
//! let mut masks = vec![Mask::dense(weights.len())];
//! for (step, &count) in counts.iter().enumerate() {
//!     let scores = score::magnitude(&weights);
//!     masks = remove_lowest(&[scores], &masks, count as usize)?;
//!
//!     // Fine-tuning: one observed validation accuracy per epoch until patience runs out.
//!     let mut stopper = EarlyStopper::new(patience.for_step(step), 0.0, Monitor::Accuracy)?;
//!     let mut epochs = 0;
//!     for accuracy in [0.80, 0.82, 0.81, 0.81, 0.81, 0.81] {
//!         epochs += 1;
//!         if stopper.observe(accuracy).is_stop() {
//!             break;
//!         }
//!     }
//!     assert_eq!(epochs, if step == 0 { 5 } else { 3 });
//! }
//! assert_eq!(masks[0].pruned(), 90);
//! assert!(masks[0].is_kept(99) && !masks[0].is_kept(0)); // the largest |w| survive
//!
//! // Final test accuracies of two regimes over the same three seeds.
//! let one_shot = [0.861, 0.857, 0.859];
//! let geometric = [0.855, 0.850, 0.853];
//! let test = stats::paired_t_test(&one_shot, &geometric)?;
//! assert!((test.mean_diff - 0.00633).abs() < 1e-5);
//! assert!(test.significant(stats::ALPHA));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod budget;
pub mod files;
pub mod lr;
pub mod masks;
pub mod results;
pub mod schedule;
pub mod score;
pub mod sparsegpt;
pub mod stats;
pub mod stopping;
