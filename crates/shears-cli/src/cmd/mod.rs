//! One module per subcommand; shared argument groups and output helpers in [`common`], option
//! values checked before any work in [`values`].

pub mod bench;
pub mod cluster;
pub mod common;
pub mod compare;
pub mod eval;
pub mod inspect;
pub mod interop;
pub mod prune;
pub mod prune_once;
pub mod report;
pub mod runs;
pub mod schedule;
pub mod sweep;
pub mod sweep_task;
pub mod train;
pub mod values;
