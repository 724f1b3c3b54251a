//! Values of command-line options that need more than a type: checked before any work, with
//! an error that says what was probably meant.

use anyhow::Result;
use shears_experiment::sweep::{AUTO_MAX_LIMIT, AUTO_START, Seeds};

/// A sparsity fraction in (0, 1) from the command line; a percentage-looking value gets the
/// fraction it probably meant (`80` → "did you mean 0.8?").
pub fn fraction(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number; give a fraction such as 0.9"))?;
    if v > 0.0 && v < 1.0 {
        return Ok(v);
    }
    if v > 1.0 && v < 100.0 {
        return Err(format!(
            "{v} is not a fraction in (0, 1); did you mean {}?",
            v / 100.0
        ));
    }
    Err(format!("{v} is not a fraction in (0, 1)"))
}

/// `--recommend T[,BUDGET]`: a target sparsity and, optionally, the fine-tuning epochs the
/// recommended regime may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecommendFor {
    pub target: f64,
    pub epoch_budget: Option<f64>,
}

impl std::str::FromStr for RecommendFor {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (target, budget) = match s.split_once(',') {
            Some((t, b)) => (t, Some(b)),
            None => (s, None),
        };
        let epoch_budget = budget
            .map(|b| match b.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
                _ => Err(format!(
                    "epoch budget '{b}' must be a positive number of epochs (as in 0.9,20)"
                )),
            })
            .transpose()?;
        Ok(Self {
            target: fraction(target)?,
            epoch_budget,
        })
    }
}

/// An equivalence margin, a fraction (of accuracy: 0.005 = 0.5 pp; of perplexity: 0.01 = 1%);
/// a value that looks like percentage points gets the fraction it probably meant.
pub fn margin(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number; give a fraction such as 0.005 (0.5 pp)"))?;
    if v > 0.0 && v < 0.5 {
        return Ok(v);
    }
    if (0.5..50.0).contains(&v) {
        return Err(format!(
            "{v} is not a fraction below 0.5; did you mean {} ({v}%)?",
            v / 100.0
        ));
    }
    Err(format!("{v} is not a margin in (0, 0.5)"))
}

/// One value of `--seeds`: a seed, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeedArg {
    Seed(u64),
    Auto,
}

impl std::str::FromStr for SeedArg {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "auto" => Ok(SeedArg::Auto),
            t => t.parse().map(SeedArg::Seed).map_err(|_| {
                format!("'{s}' is neither a seed (a non-negative integer) nor 'auto'")
            }),
        }
    }
}

impl std::fmt::Display for SeedArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedArg::Seed(s) => write!(f, "{s}"),
            SeedArg::Auto => f.write_str("auto"),
        }
    }
}

/// `--seeds` and `--max-seeds` as the grid's [`Seeds`]: `auto` stands alone, and a maximum
/// only goes with it.
pub fn seeds(args: &[SeedArg], max_seeds: Option<usize>) -> Result<Seeds> {
    let auto = args.contains(&SeedArg::Auto);
    if auto && args.len() > 1 {
        anyhow::bail!("--seeds: 'auto' stands alone (it chooses the seeds itself)");
    }
    if !auto && max_seeds.is_some() {
        anyhow::bail!("--max-seeds: only with --seeds auto (a list of seeds runs exactly those)");
    }
    Ok(if auto {
        Seeds::Auto
    } else {
        Seeds::List(
            args.iter()
                .filter_map(|a| match a {
                    SeedArg::Seed(s) => Some(*s),
                    SeedArg::Auto => None,
                })
                .collect(),
        )
    })
}

/// `--max-seeds`: the most seeds per target under `--seeds auto`.
pub fn max_seeds(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (AUTO_START..=AUTO_MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{s}' is not a seed count in {AUTO_START}..={AUTO_MAX_LIMIT} (auto starts with {AUTO_START})"
        )),
    }
}
