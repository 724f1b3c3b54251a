//! The measure a report judges regimes by: test top-1 accuracy (higher is better) or test
//! perplexity (lower is better). Everything that depends on it — how a row is read, which
//! side is better, the margin's unit, the words, the number formats, the plots' scale — asks
//! this type, so no comparison can forget the direction.

use serde::{Deserialize, Serialize};
use shears_core::results::StepRow;

use crate::analysis::{SeedValue, pct, pp};

/// What a report compares (`AnalysisOptions::measure`; written to `summary.json` only when
/// it is not the default, so top-1 summaries are unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Test top-1 accuracy (`test_top1`, a fraction), higher is better. Margin: absolute, a
    /// fraction of accuracy (0.005 = 0.5 pp).
    #[default]
    Top1,
    /// Test perplexity, `exp(test_loss)` (loss in nats per token), lower is better. Margin:
    /// relative, a fraction of the best mean perplexity at the target (0.01 = 1%).
    Perplexity,
}

impl Measure {
    /// For `skip_serializing_if`: the default is not written.
    pub fn is_top1(&self) -> bool {
        *self == Measure::Top1
    }

    /// The measure of a row on the test set.
    pub fn test(self, r: &StepRow) -> f64 {
        match self {
            Measure::Top1 => r.test_top1,
            Measure::Perplexity => r.test_loss.exp(),
        }
    }

    /// The measure of a row on the validation set (what configurations are selected on).
    pub fn val(self, r: &StepRow) -> f64 {
        match self {
            Measure::Top1 => r.val_top1,
            Measure::Perplexity => r.val_loss.exp(),
        }
    }

    /// The measure of a row's model right after pruning, before fine-tuning (absent in rows
    /// that do not record it).
    pub fn pruned_test(self, r: &StepRow) -> Option<f64> {
        match self {
            Measure::Top1 => r.pruned_test_top1,
            Measure::Perplexity => r.pruned_test_loss.map(f64::exp),
        }
    }

    /// The measure of one seed's final result on the test set (NaN when a perplexity summary
    /// lacks it, which only a hand-edited file can).
    pub fn seed_test(self, s: &SeedValue) -> f64 {
        match self {
            Measure::Top1 => s.test_top1,
            Measure::Perplexity => s.test_ppl.unwrap_or(f64::NAN),
        }
    }

    /// The measure of one seed's final result on the validation set.
    pub fn seed_val(self, s: &SeedValue) -> f64 {
        match self {
            Measure::Top1 => s.val_top1,
            Measure::Perplexity => s.val_ppl.unwrap_or(f64::NAN),
        }
    }

    pub fn higher_is_better(self) -> bool {
        self == Measure::Top1
    }

    /// +1 when higher is better, −1 when lower is: `sign · x` is larger for the better value,
    /// so every ranking and test works on `sign · x` and reads "positive = better".
    pub fn sign(self) -> f64 {
        if self.higher_is_better() { 1.0 } else { -1.0 }
    }

    /// Default equivalence margin: 0.5 pp of accuracy, or 1% of the best mean perplexity.
    pub fn default_margin(self) -> f64 {
        match self {
            Measure::Top1 => crate::DEFAULT_MARGIN,
            Measure::Perplexity => DEFAULT_PERPLEXITY_MARGIN,
        }
    }

    /// What the margin is a fraction of at a target whose best mean is `best_mean`: 1 for
    /// top-1 (absolute margin), the best mean for perplexity (relative margin; 1 when that is
    /// not a positive number, which a finite perplexity ≥ 1 never is).
    pub fn margin_reference(self, best_mean: f64) -> f64 {
        match self {
            Measure::Top1 => 1.0,
            Measure::Perplexity if best_mean.is_finite() && best_mean > 0.0 => best_mean,
            Measure::Perplexity => 1.0,
        }
    }

    /// The value the tests judge: oriented (positive = better) and divided by the margin's
    /// reference, so one margin serves every target of the family. Paired t-tests and
    /// seeds-needed are unchanged by the scale; the TOST at m on `x / r` is the TOST at m·r
    /// on `x`.
    pub fn judged(self, x: f64, reference: f64) -> f64 {
        self.sign() * x / reference
    }

    /// Its name in prose: "test top-1" / "test perplexity".
    pub fn name(self) -> &'static str {
        match self {
            Measure::Top1 => "test top-1",
            Measure::Perplexity => "test perplexity",
        }
    }

    /// Its name on the validation set.
    pub fn val_name(self) -> &'static str {
        match self {
            Measure::Top1 => "validation top-1",
            Measure::Perplexity => "validation perplexity",
        }
    }

    /// The quality measured, in "equivalent accuracy" / "equivalent perplexity".
    pub fn quality(self) -> &'static str {
        match self {
            Measure::Top1 => "accuracy",
            Measure::Perplexity => "perplexity",
        }
    }

    /// The plural of [`Measure::quality`].
    pub fn qualities(self) -> &'static str {
        match self {
            Measure::Top1 => "accuracies",
            Measure::Perplexity => "perplexities",
        }
    }

    /// A figure's y axis: "test top-1 accuracy (%)" / "test perplexity".
    pub fn axis_label(self) -> &'static str {
        match self {
            Measure::Top1 => "test top-1 accuracy (%)",
            Measure::Perplexity => "test perplexity",
        }
    }

    /// Capitalised name for figure titles: "Test top-1" / "Test perplexity".
    pub fn title(self) -> &'static str {
        match self {
            Measure::Top1 => "Test top-1",
            Measure::Perplexity => "Test perplexity",
        }
    }

    /// `results.csv`'s column stem: `test_top1_mean` / `test_ppl_mean`, and `val_…`.
    pub fn column(self) -> &'static str {
        match self {
            Measure::Top1 => "top1",
            Measure::Perplexity => "ppl",
        }
    }

    /// A value: "85.12%" / "23.456".
    pub fn fmt(self, x: f64) -> String {
        match self {
            Measure::Top1 => pct(x),
            Measure::Perplexity => format!("{x:.3}"),
        }
    }

    /// A difference: "+0.50 pp" / "−0.412 ppl" (signed; negative is better for perplexity).
    pub fn fmt_diff(self, d: f64) -> String {
        match self {
            Measure::Top1 => pp(d),
            Measure::Perplexity => format!("{d:+.3} ppl"),
        }
    }

    /// The margin, unsigned: "0.50 pp" / "1.00% of the best mean".
    pub fn fmt_margin(self, m: f64) -> String {
        match self {
            Measure::Top1 => pp(m).trim_start_matches('+').to_string(),
            Measure::Perplexity => format!("{} of the best mean", pct(m)),
        }
    }

    /// The word between a winner's lead and the regime it beats: "+0.50 pp over X",
    /// "−0.412 ppl vs X" (a negative lead "over" reads wrong).
    pub fn over(self) -> &'static str {
        match self {
            Measure::Top1 => "over",
            Measure::Perplexity => "vs",
        }
    }

    /// A value on a figure's y axis: percent for top-1, perplexity as is.
    pub fn plot(self, x: f64) -> f64 {
        match self {
            Measure::Top1 => 100.0 * x,
            Measure::Perplexity => x,
        }
    }

    /// The `summary.json` schema version a summary of this measure is written with: 2 for
    /// top-1 (unchanged), 3 otherwise, so a version-2 reader that checks the version refuses
    /// perplexities instead of reading them as accuracies.
    pub fn schema_version(self) -> u32 {
        match self {
            Measure::Top1 => 2,
            Measure::Perplexity => 3,
        }
    }
}

/// `top1` / `perplexity`, as `summary.json` spells them (so a CLI can take `--measure`).
impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Measure::Top1 => "top1",
            Measure::Perplexity => "perplexity",
        })
    }
}

/// Parses `top1` (or `top-1`) and `perplexity` (or `ppl`).
impl std::str::FromStr for Measure {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "top1" | "top-1" => Ok(Measure::Top1),
            "perplexity" | "ppl" => Ok(Measure::Perplexity),
            other => Err(format!(
                "unknown measure '{other}': give top1 (test top-1 accuracy, higher is better) or perplexity (exp(test loss), lower is better)"
            )),
        }
    }
}

/// Default equivalence margin for perplexity: 1% of the best mean perplexity at the target
/// (≈ 0.01 nats of loss), docs/statistics.md#lower-is-better-measures-perplexity.
pub const DEFAULT_PERPLEXITY_MARGIN: f64 = 0.01;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perplexity_is_lower_better_and_read_from_the_loss() {
        let m = Measure::Perplexity;
        assert!(!m.higher_is_better());
        assert!(m.judged(20.0, 20.0) > m.judged(21.0, 20.0));
        assert!(Measure::Top1.judged(0.9, 1.0) > Measure::Top1.judged(0.8, 1.0));
        assert_eq!(m.fmt(23.4561), "23.456");
        assert_eq!(m.fmt_diff(-0.4123), "-0.412 ppl");
        assert_eq!(m.fmt_margin(0.01), "1.00% of the best mean");
        assert_eq!(Measure::Top1.fmt_margin(0.005), "0.50 pp");
        assert_eq!(m.margin_reference(25.0), 25.0);
        assert_eq!(Measure::Top1.margin_reference(25.0), 1.0);
    }

    #[test]
    fn the_default_is_top1_and_serialises_in_snake_case() {
        assert_eq!(Measure::default(), Measure::Top1);
        assert_eq!(
            serde_json::to_string(&Measure::Perplexity).unwrap(),
            "\"perplexity\""
        );
        assert_eq!(
            serde_json::from_str::<Measure>("\"top1\"").unwrap(),
            Measure::Top1
        );
        for m in [Measure::Top1, Measure::Perplexity] {
            assert_eq!(m.to_string().parse::<Measure>(), Ok(m));
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{m}\""));
        }
        assert_eq!("ppl".parse::<Measure>(), Ok(Measure::Perplexity));
        assert!("loss".parse::<Measure>().is_err());
    }
}
