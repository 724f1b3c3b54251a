//! `shears report`: regenerate the report of a compare/sweep directory from its stored results.

use crate::grid;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A directory written by `shears compare` or `shears sweep`.
    pub dir: PathBuf,
    /// Write the report even if runs its experiments declare are missing from the store
    /// (warned about on stderr, at the top of the report and in summary.json).
    #[arg(long)]
    pub allow_missing: bool,
}

pub fn run(a: ReportArgs) -> Result<()> {
    grid::report(&a.dir, a.allow_missing).map(|_| ())
}
