//! Grids of experiments (a Hydra-style multirun): regimes × targets × grid axes, one
//! experiment per cell, each repeated over the seeds. Cells already in the results store are
//! returned from it, so a sweep can be extended or resumed by rerunning it.
//!
//! - [`SweepConfig`]: a grid, from a sweep file or from [`Comparison`] (the built-in one);
//!   [`SweepConfig::cells`] resolves and validates its experiments.
//! - [`Regime`] / [`RegimeRecipe`]: the built-in regimes as typed recipes.
//! - [`run_cells`]: runs the cells, in parallel jobs, reporting [`GridEvent`]s.
//! - [`Manifest`]: what a report directory was made from (`compare.json`).

mod comparison;
mod manifest;
mod pool;
mod regime;
mod seeds;

pub use comparison::{Comparison, DEFAULT_SEEDS, DEFAULT_TARGETS};
pub use manifest::{Manifest, ManifestError};
pub use pool::{GridError, GridEvent, GridOptions, Outcome, run_cells};
pub use regime::{Regime, RegimeRecipe, scaled_target};
pub use seeds::{AUTO_MAX, AUTO_MAX_LIMIT, AUTO_START, Seeds, TargetSeeds};

use crate::config::{ConfigError, ExperimentConfig, FinetuneMode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::path::Path;

/// A sweep file: a base experiment, how each regime modifies it, and the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConfig {
    /// Any experiment config keys (same layout as an experiment TOML).
    pub base: toml::Table,
    /// Regime name → how it modifies the base (see [`Recipe`]).
    pub regimes: BTreeMap<String, Recipe>,
    pub targets: Vec<f64>,
    /// A list, or `"auto"` (see [`Seeds`]).
    pub seeds: Seeds,
    /// Most seeds per target under `seeds = "auto"` (default [`AUTO_MAX`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_seeds: Option<usize>,
    /// Under `"auto"`: the targets given more than [`AUTO_START`] seeds so far (written by
    /// `--seeds auto` into `compare.json`, so the report names exactly the runs behind it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub seeds_by_target: Vec<TargetSeeds>,
    /// Extra axes: dotted key → alternative values, each written as a TOML value string
    /// (`"finetune.patience" = ["[5]", "[10]"]`). A key `"<regime>/<key>"` applies to that
    /// regime only (`"geometric/schedule.steps" = ["3", "6"]`).
    pub grid: BTreeMap<String, Vec<String>>,
}

/// How a regime modifies the base experiment. Written (and read back) as a list of
/// overrides either way.
#[derive(Debug, Clone, PartialEq)]
pub enum Recipe {
    /// Overrides as a user writes them (`key = value` as in `-s`), applied after `base`. The
    /// placeholder `{target}` in a value is replaced by the cell's target and `{target*F}` by
    /// the target times F, rounded by [`scaled_target`] (a hybrid's first jump:
    /// `schedule.start = "{target*0.7}"`).
    Overrides(Vec<String>),
    /// A built-in regime's recipe, set on the config's fields after `base` and the grid axes.
    Typed(RegimeRecipe),
}

impl Serialize for Recipe {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Recipe::Overrides(o) => o.serialize(s),
            Recipe::Typed(r) => r.overrides().serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Recipe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(Recipe::Overrides)
    }
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            base: toml::Table::new(),
            regimes: BTreeMap::new(),
            targets: vec![0.8],
            seeds: Seeds::List(vec![0]),
            max_seeds: None,
            seeds_by_target: Vec::new(),
            grid: BTreeMap::new(),
        }
    }
}

/// One cell of the grid.
#[derive(Debug, Clone)]
pub struct Cell {
    pub regime: String,
    pub target: f64,
    /// Values of the extra axes, for display.
    pub axes: Vec<(String, String)>,
    pub config: ExperimentConfig,
}

impl Cell {
    /// Estimated fine-tuning epochs over all seeds (patience: about patience + 2 per step).
    pub fn estimated_epochs(&self) -> usize {
        let steps = self.config.steps().unwrap_or(0);
        let f = &self.config.finetune;
        let per = |i: usize| match f.mode {
            FinetuneMode::Epochs => f.epochs,
            FinetuneMode::Budget => f.budget / steps.max(1),
            FinetuneMode::Patience => {
                (f.patience[i.min(f.patience.len() - 1)] + 2).min(f.max_epochs)
            }
        };
        (0..steps).map(per).sum::<usize>() * self.config.seeds.len()
    }
}

/// Targets this close are the same target.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// The default config's schedule as a TOML table.
fn default_schedule() -> toml::Value {
    toml::Value::try_from(ExperimentConfig::default().schedule).expect("schedule serialises")
}

fn substitute(value: &str, target: f64) -> Result<String, String> {
    let mut out = value.replace("{target}", &format!("{target}"));
    while let Some(start) = out.find("{target*") {
        let end = out[start..]
            .find('}')
            .map(|e| start + e)
            .ok_or_else(|| format!("unclosed placeholder in '{value}'"))?;
        let factor: f64 = out[start + 8..end]
            .parse()
            .map_err(|_| format!("bad factor in '{value}'"))?;
        let v = scaled_target(target, factor);
        out.replace_range(start..=end, &format!("{v}"));
    }
    Ok(out)
}

impl SweepConfig {
    pub fn from_toml(text: &str, name: &str) -> Result<Self, ConfigError> {
        let c: Self = toml::from_str(text).map_err(|e| ConfigError::Read {
            path: name.into(),
            detail: e.to_string(),
        })?;
        if c.targets.is_empty() {
            return Err(ConfigError::Invalid("targets: the list is empty".into()));
        }
        c.check_seeds()?;
        if c.regimes.is_empty() {
            return Err(ConfigError::Invalid("regimes: no regime given".into()));
        }
        Ok(c)
    }

    /// The seed settings are consistent: a non-empty list, or `"auto"` with a maximum in
    /// [`AUTO_START`]..=[`AUTO_MAX_LIMIT`] and per-target counts within it.
    pub fn check_seeds(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        match &self.seeds {
            Seeds::List(l) if l.is_empty() => return bad("seeds: the list is empty".into()),
            Seeds::List(_) if self.max_seeds.is_some() || !self.seeds_by_target.is_empty() => {
                return bad(
                    "max_seeds/seeds_by_target: only with seeds = \"auto\" (a list of seeds runs exactly those)"
                        .into(),
                );
            }
            Seeds::List(_) => return Ok(()),
            Seeds::Auto => {}
        }
        let max = self.auto_max().unwrap_or(AUTO_MAX);
        if !(AUTO_START..=AUTO_MAX_LIMIT).contains(&max) {
            return bad(format!(
                "max_seeds: {max} is outside {AUTO_START}..={AUTO_MAX_LIMIT} (\"auto\" starts with {AUTO_START} seeds per target)"
            ));
        }
        for t in &self.seeds_by_target {
            if !(AUTO_START..=max).contains(&t.seeds)
                || !self.targets.iter().any(|&x| same(x, t.target))
            {
                return bad(format!(
                    "seeds_by_target: {} seeds at target {} (need a target of the grid and {AUTO_START}..={max} seeds)",
                    t.seeds, t.target
                ));
            }
        }
        Ok(())
    }

    /// The maximum seeds per target when the seeds are `"auto"`.
    pub fn auto_max(&self) -> Option<usize> {
        self.seeds
            .is_auto()
            .then(|| self.max_seeds.unwrap_or(AUTO_MAX))
    }

    /// The seeds the cells at `target` run.
    pub fn seeds_for(&self, target: f64) -> Vec<u64> {
        match &self.seeds {
            Seeds::List(l) => l.clone(),
            Seeds::Auto => {
                let n = self
                    .seeds_by_target
                    .iter()
                    .find(|t| same(t.target, target))
                    .map_or(AUTO_START, |t| t.seeds);
                (0..n as u64).collect()
            }
        }
    }

    /// Under `"auto"`, gives `target` one more seed; false (and nothing changes) at the
    /// maximum or with a list of seeds.
    pub fn add_seed(&mut self, target: f64) -> bool {
        let Some(max) = self.auto_max() else {
            return false;
        };
        let n = self.seeds_for(target).len();
        if n >= max {
            return false;
        }
        match self
            .seeds_by_target
            .iter_mut()
            .find(|t| same(t.target, target))
        {
            Some(t) => t.seeds = n + 1,
            None => self.seeds_by_target.push(TargetSeeds {
                target,
                seeds: n + 1,
            }),
        }
        true
    }

    /// Reads a sweep file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Every cell, validated; an invalid cell is an error naming it, before any work starts.
    pub fn cells(&self) -> Result<Vec<Cell>, ConfigError> {
        for (key, values) in &self.grid {
            if values.is_empty() {
                return Err(ConfigError::Invalid(format!("grid.{key}: no values")));
            }
            if let Some((regime, _)) = key.split_once('/')
                && !self.regimes.contains_key(regime)
            {
                return Err(ConfigError::Invalid(format!(
                    "grid.\"{key}\": no regime named '{regime}'"
                )));
            }
        }
        let mut cells = Vec::new();
        for (regime, recipe) in &self.regimes {
            let combos = self.combos_for(regime);
            for &target in &self.targets {
                for axes in &combos {
                    cells.push(Cell {
                        regime: regime.clone(),
                        target,
                        axes: axes.clone(),
                        config: self.cell_config(regime, recipe, target, axes)?,
                    });
                }
            }
        }
        Ok(cells)
    }

    /// The grid combinations that apply to one regime.
    fn combos_for(&self, regime: &str) -> Vec<Vec<(String, String)>> {
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for (key, values) in &self.grid {
            let key = match key.split_once('/') {
                Some((r, k)) if r == regime => k,
                Some(_) => continue,
                None => key.as_str(),
            };
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push((key.to_string(), v.clone()));
                        c
                    })
                })
                .collect();
        }
        combos
    }

    /// One cell's experiment: the base with the target, the regime's overrides and the
    /// axes; a typed recipe then sets its fields; the seeds; validated.
    fn cell_config(
        &self,
        regime: &str,
        recipe: &Recipe,
        target: f64,
        axes: &[(String, String)],
    ) -> Result<ExperimentConfig, ConfigError> {
        let named = |e: ConfigError| {
            ConfigError::Invalid(format!("regime '{regime}', target {target}: {e}"))
        };
        let typed: &[String] = &[];
        let user = match recipe {
            Recipe::Overrides(o) => o.as_slice(),
            Recipe::Typed(_) => typed,
        };
        let mut overrides = Vec::new();
        for o in user
            .iter()
            .cloned()
            .chain(axes.iter().map(|(k, v)| format!("{k}={v}")))
        {
            overrides.push(
                substitute(&o, target)
                    .map_err(|e| ConfigError::Invalid(format!("regimes.{regime}: {e}")))?,
            );
        }
        // The target goes in as a value, not as text, into the base's schedule (the default
        // one if the base has none); the overrides may still change the schedule around it.
        let mut base = self.base.clone();
        base.entry("schedule")
            .or_insert_with(default_schedule)
            .as_table_mut()
            .ok_or_else(|| named(ConfigError::Invalid("base.schedule is not a table".into())))?
            .insert("target".into(), toml::Value::Float(target));
        let base = toml::to_string(&base).expect("table serialises");
        let mut config =
            ExperimentConfig::resolve(&base, "sweep base", &overrides).map_err(named)?;
        if let Recipe::Typed(r) = recipe {
            r.apply(&mut config, target);
        }
        config.seeds = self.seeds_for(target);
        config.validate().map_err(named)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests;
