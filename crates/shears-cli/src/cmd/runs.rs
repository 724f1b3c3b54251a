//! `shears runs`: what a results store holds; by default every store under the working
//! directory.

use super::common::{row_header, row_line, target_pct};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use shears_experiment::store::{self, ExperimentSummary};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum RunsCommand {
    /// List stored experiments (of every results store under the working directory unless
    /// --store is given).
    List {
        /// Results store (`shears prune --store`, or `<compare --out>/runs`).
        #[arg(long, alias = "out", value_name = "DIR")]
        store: Option<PathBuf>,
    },
    /// Show an experiment's config and rows.
    Show {
        /// Experiment id, or a unique start of one.
        id: String,
        /// Results store (default: every store under the working directory).
        #[arg(long, alias = "out", value_name = "DIR")]
        store: Option<PathBuf>,
    },
}

const WHERE_TO_LOOK: &str = "`shears compare` keeps its runs in <--out>/runs (default \
     results/compare/runs), `shears sweep` in results/sweep/runs, `shears prune` in runs/; \
     run this where they are, or pass --store DIR";

pub fn run(cmd: RunsCommand) -> Result<()> {
    match cmd {
        RunsCommand::List { store: Some(s) } => list(&s),
        RunsCommand::List { store: None } => {
            let stores = store::find_stores(Path::new("."));
            if stores.is_empty() {
                eprintln!("no results store under the working directory: {WHERE_TO_LOOK}");
            }
            for (i, s) in stores.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                println!("{}:", s.display());
                list(s)?;
            }
            Ok(())
        }
        RunsCommand::Show { id, store } => {
            let stores = match store {
                Some(s) => vec![s],
                None => store::find_stores(Path::new(".")),
            };
            if stores.is_empty() {
                bail!("no results store under the working directory: {WHERE_TO_LOOK}");
            }
            show(&store::find_experiment(&stores, &id)?)
        }
    }
}

fn list(store: &Path) -> Result<()> {
    for e in store::list_experiments(store)? {
        println!("{}", summary_line(&e));
    }
    Ok(())
}

fn summary_line(e: &ExperimentSummary) -> String {
    let what = match &e.config {
        Ok(c) => format!(
            "{} {} -> {} sparsity ({})",
            c.model.kind,
            c.regime(),
            target_pct(c.schedule.target),
            c.prune.criterion
        ),
        Err(err) => format!("unreadable config: {err}"),
    };
    format!(
        "{}  {what}  seeds finished {}/{}",
        e.id, e.finished, e.seeds
    )
}

fn show(dir: &Path) -> Result<()> {
    let cfg = std::fs::read_to_string(dir.join("config.toml"))
        .with_context(|| format!("{}: no such experiment", dir.display()))?;
    println!("{cfg}");
    println!("{}", row_header());
    for run in store::seed_runs(dir) {
        let (_, rows) = store::committed_rows(&run)?;
        for r in rows {
            println!("{}", row_line(&r));
        }
    }
    Ok(())
}
