//! `shears runs`: what a results store holds; by default every store under the working
//! directory.

use super::common::{row_header, row_line, target_pct};
use anyhow::{Result, bail};
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
        Err(err) => format!("unusable config: {err}"),
    };
    let mut line = format!(
        "{}  {what}  seeds finished {}/{}",
        e.id, e.finished, e.seeds
    );
    if !e.damaged.is_empty() {
        line += &format!(", {} DAMAGED: {}", e.damaged.len(), e.damaged.join("; "));
    }
    if e.unverified > 0 {
        line += &format!(
            " ({} from an older store, unverified: no checksums)",
            e.unverified
        );
    }
    line
}

fn show(dir: &Path) -> Result<()> {
    let stored = store::read_experiment(dir)?;
    println!("{}", stored.config_text);
    println!("{}", row_header());
    for seed in &stored.seeds {
        if !seed.state.verified() {
            eprintln!(
                "warning: {}: from an older store, unverified (no checksums recorded)",
                seed.run.dir.display()
            );
        }
        for r in &seed.rows {
            println!("{}", row_line(r));
        }
    }
    Ok(())
}
