//! Grids of experiments (a Hydra-style multirun): regimes × targets × grid axes, one
//! experiment per cell, each repeated over the seeds. Cells already in the results store are
//! returned from it, so a sweep can be extended or resumed by rerunning it.

use crate::config::{ConfigError, ExperimentConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A sweep file: a base experiment, how each regime modifies it, and the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConfig {
    /// Any experiment config keys (same layout as an experiment TOML).
    pub base: toml::Table,
    /// Regime name → overrides (`key = value` as in `-s`), applied after `base`. The
    /// placeholder `{target}` in a value is replaced by the cell's target and `{target*F}` by
    /// the target times F (e.g. a hybrid's first jump: `schedule.start = "{target*0.7}"`).
    pub regimes: BTreeMap<String, Vec<String>>,
    pub targets: Vec<f64>,
    pub seeds: Vec<u64>,
    /// Extra axes: dotted key → alternative values, each written as a TOML value string
    /// (`"finetune.patience" = ["[5]", "[10]"]`). A key `"<regime>/<key>"` applies to that
    /// regime only (`"geometric/schedule.steps" = ["3", "6"]`).
    pub grid: BTreeMap<String, Vec<String>>,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            base: toml::Table::new(),
            regimes: BTreeMap::new(),
            targets: vec![0.8],
            seeds: vec![0],
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
        // Rounded to 6 decimals so the placeholder gives a stable, readable config value.
        let v = (target * factor * 1e6).round() / 1e6;
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
        if c.seeds.is_empty() {
            return Err(ConfigError::Invalid("seeds: the list is empty".into()));
        }
        if c.regimes.is_empty() {
            return Err(ConfigError::Invalid("regimes: no regime given".into()));
        }
        Ok(c)
    }

    /// Every cell, validated; an invalid cell is an error naming it, before any work starts.
    pub fn cells(&self) -> Result<Vec<Cell>, ConfigError> {
        let base = toml::to_string(&self.base).expect("table serialises");
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
        // The grid combinations that apply to one regime.
        let combos_for = |regime: &str| -> Vec<Vec<(String, String)>> {
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
        };
        let mut cells = Vec::new();
        for (regime, overrides) in &self.regimes {
            let combos = combos_for(regime);
            for &target in &self.targets {
                for axes in &combos {
                    let mut all = vec![format!("schedule.target={target}")];
                    for o in overrides.iter().chain(
                        axes.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .iter(),
                    ) {
                        all.push(
                            substitute(o, target).map_err(|e| {
                                ConfigError::Invalid(format!("regimes.{regime}: {e}"))
                            })?,
                        );
                    }
                    all.push(format!(
                        "seeds=[{}]",
                        self.seeds
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    ));
                    let config =
                        ExperimentConfig::from_toml(&base, "sweep base", &all).map_err(|e| {
                            ConfigError::Invalid(format!("regime '{regime}', target {target}: {e}"))
                        })?;
                    cells.push(Cell {
                        regime: regime.clone(),
                        target,
                        axes: axes.clone(),
                        config,
                    });
                }
            }
        }
        Ok(cells)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_scale_the_target() {
        assert_eq!(
            substitute("schedule.start={target*0.7}", 0.9).unwrap(),
            "schedule.start=0.63"
        );
        assert_eq!(substitute("x={target}", 0.5).unwrap(), "x=0.5");
        assert!(substitute("x={target*abc}", 0.5).is_err());
    }

    #[test]
    fn grid_expands_regimes_targets_and_axes() {
        let s = SweepConfig::from_toml(
            r#"
            targets = [0.5, 0.9]
            seeds = [0, 1]
            [regimes]
            one-shot = ["schedule.kind=one-shot"]
            hybrid = ["schedule.kind=hybrid", "schedule.start={target*0.7}"]
            [grid]
            "finetune.patience" = ["[2]", "[4]"]
            "hybrid/schedule.steps" = ["2", "4", "6"]
            "#,
            "t",
        )
        .unwrap();
        let cells = s.cells().unwrap();
        // one-shot: 2 targets x 2 patiences; hybrid: 2 targets x 2 patiences x 3 step counts.
        assert_eq!(cells.len(), 2 * 2 + 2 * 2 * 3);
        let h = cells
            .iter()
            .find(|c| c.regime == "hybrid" && c.target == 0.9)
            .unwrap();
        assert_eq!(h.config.schedule.start, Some(0.63));
        assert_eq!(h.config.seeds, vec![0, 1]);
        let ids: std::collections::BTreeSet<_> = cells.iter().map(|c| c.config.id()).collect();
        assert_eq!(
            ids.len(),
            cells.len(),
            "every cell is a distinct experiment"
        );
    }

    #[test]
    fn an_invalid_cell_is_named_before_any_work() {
        let s = SweepConfig::from_toml(
            r#"
            targets = [0.5]
            [regimes]
            hybrid = ["schedule.kind=hybrid", "schedule.steps=3"]
            "#,
            "t",
        )
        .unwrap();
        let e = s.cells().unwrap_err().to_string();
        assert!(e.contains("hybrid") && e.contains("start"), "{e}");
    }
}
