//! One module per subcommand; shared argument groups in [`common`].

pub mod bench;
pub mod common;
pub mod compare;
pub mod eval;
pub mod prune;
pub mod prune_once;
pub mod schedule;
pub mod train;
