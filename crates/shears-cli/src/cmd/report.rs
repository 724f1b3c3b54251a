//! `shears report`: regenerate the report of a compare/sweep directory from its stored results.

use crate::grid;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A directory written by `shears compare` or `shears sweep`.
    pub dir: PathBuf,
}

pub fn run(a: ReportArgs) -> Result<()> {
    grid::report(&a.dir)
}
