//! The report's figures as panels: accuracy against sparsity (paper Fig. 2), against
//! fine-tuning epochs per target (Fig. 4), and the hybrid runs step by step (Fig. 6).

use std::collections::BTreeMap;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use shears_core::results::StepRow;
use shears_core::stats;

use super::panel::{Panel, Pt, Series, XScale, draw_panel};
use super::style::{Marker, marker_element, regime_styles};
use super::{FONT_LEGEND, FONT_TITLE, err};
use crate::Measure;
use crate::analysis::Summary;

fn dense_reference(summary: &Summary) -> Option<(f64, String)> {
    let m = summary.options.measure;
    summary.dense.as_ref().map(|d| {
        (
            m.plot(d.mean),
            format!("dense baseline ({})", m.fmt(d.mean)),
        )
    })
}

/// Fig. 2: mean test measure vs realised sparsity per regime, 95% CI bars, dense reference
/// line (top-1 in %, perplexity as is).
pub(super) fn accuracy_vs_sparsity(summary: &Summary) -> Panel<'static> {
    let m = summary.options.measure;
    let styles = regime_styles(summary);
    let series = styles
        .iter()
        .map(|(regime, &(color, marker))| {
            let pts = summary
                .targets
                .iter()
                .filter_map(|t| t.regimes.get(regime))
                .map(|c| Pt {
                    x: 100.0 * c.sparsity,
                    y: m.plot(c.mean),
                    ci: c.ci95.map(|h| m.plot(h)),
                })
                .collect();
            Series {
                label: regime.clone(),
                color,
                marker,
                filled: true,
                line: true,
                pts,
            }
        })
        .collect();
    Panel {
        title: format!("{} vs sparsity (mean ± 95% CI over seeds)", m.title()),
        x_desc: "realised sparsity (%; axis spaced by log of the remaining fraction)",
        y_desc: m.axis_label().into(),
        series,
        reference: dense_reference(summary),
        x_range: None,
        legend: true,
        x_scale: XScale::Remaining,
        dodge: true,
    }
}

/// The paired difference iterative − one-shot per target with its 95% CI, against zero: filled
/// where it is significantly non-zero after the report's Holm correction, hollow where not.
/// The difference is the measure's own (for perplexity, below zero = iterative better; the
/// axis says so).
pub(super) fn difference(summary: &Summary) -> Option<Panel<'static>> {
    let m = summary.options.measure;
    let c = &summary.crossover;
    if c.points.is_empty() {
        return None;
    }
    let alpha = summary.alpha;
    let color = RGBColor(31, 119, 180);
    let series = [true, false]
        .into_iter()
        .map(|significant| Series {
            label: if significant {
                format!(
                    "significant ({} p < {alpha})",
                    crate::analysis::adjusted(&summary.options)
                )
            } else {
                "not significant".into()
            },
            color,
            marker: Marker::Circle,
            filled: significant,
            line: false,
            pts: c
                .points
                .iter()
                .filter(|p| p.p_adjusted.is_some_and(|q| q < alpha) == significant)
                .map(|p| Pt {
                    x: 100.0 * p.target,
                    y: m.plot(p.difference),
                    ci: p.ci95.map(|h| m.plot(h)),
                })
                .collect(),
        })
        .filter(|s| !s.pts.is_empty())
        .collect();
    Some(Panel {
        title: format!(
            "{} − {}: paired difference (mean ± 95% CI)",
            c.iterative, c.one_shot
        ),
        x_desc: "target sparsity (%; axis spaced by log of the remaining fraction)",
        y_desc: match m {
            Measure::Top1 => "difference in test top-1 (pp)".into(),
            Measure::Perplexity => format!(
                "difference in test perplexity (< 0: {} better)",
                c.iterative
            ),
        },
        series,
        reference: Some((0.0, "no difference".into())),
        x_range: None,
        legend: true,
        x_scale: XScale::Remaining,
        dodge: false,
    })
}

/// Mean over seeds, step by step, of one experiment's rows: `(x(row), test measure)` with the
/// measure's 95% CI (in plot units). `from_step` 0 includes the dense baseline. Steps whose
/// measure is not finite (a diverged run, dropped from the analysis) are left out.
fn mean_trajectory(
    rows: &[StepRow],
    m: Measure,
    experiment: &str,
    from_step: usize,
    x: fn(&StepRow) -> f64,
) -> Vec<Pt> {
    // (step, seed) keys make the sums independent of the input row order.
    let mut by_step_seed: BTreeMap<(usize, u64), &StepRow> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.experiment == experiment && r.step >= from_step && m.test(r).is_finite())
    {
        by_step_seed.insert((r.step, r.seed), r);
    }
    let mut by_step: BTreeMap<usize, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for ((step, _), r) in by_step_seed {
        let e = by_step.entry(step).or_default();
        e.0.push(x(r));
        e.1.push(m.test(r));
    }
    by_step
        .values()
        .filter_map(|(xs, a)| {
            Some(Pt {
                x: stats::mean(xs)?,
                y: m.plot(stats::mean(a)?),
                ci: stats::ci95_half_width(a).map(|h| m.plot(h)),
            })
        })
        .collect()
}

/// Fig. 4 panels: per target, each regime's test top-1 after every pruning step against the
/// cumulative fine-tuning epochs spent (mean over seeds of the selected configuration); the
/// filled marker is the final result with its 95% CI.
fn accuracy_vs_epochs(rows: &[StepRow], summary: &Summary) -> Vec<Panel<'static>> {
    let m = summary.options.measure;
    let styles = regime_styles(summary);
    summary
        .targets
        .iter()
        .map(|t| {
            let mut series = Vec::new();
            let mut max_epochs: f64 = 0.0;
            for (regime, cell) in &t.regimes {
                let (color, marker) = styles[regime];
                // The selected configuration's path: accuracy after every step against the
                // fine-tuning epochs spent so far (intermediate points are at intermediate
                // sparsity; the last one is the final result).
                let pts = mean_trajectory(rows, m, &cell.experiment, 0, |r| r.cum_epochs as f64);
                max_epochs = pts.iter().map(|p| p.x).fold(max_epochs, f64::max);
                let last: Vec<Pt> = pts
                    .last()
                    .map(|p| Pt {
                        x: p.x,
                        y: p.y,
                        ci: p.ci,
                    })
                    .into_iter()
                    .collect();
                let path: Vec<Pt> = pts.into_iter().map(|p| Pt { ci: None, ..p }).collect();
                series.push(Series {
                    label: regime.clone(),
                    color,
                    marker,
                    filled: false,
                    line: true,
                    pts: path,
                });
                series.push(Series {
                    label: String::new(),
                    color,
                    marker,
                    filled: true,
                    line: false,
                    pts: last,
                });
            }
            Panel {
                title: format!("target sparsity {:.1}%", 100.0 * t.target),
                x_desc: "cumulative fine-tuning epochs",
                y_desc: match m {
                    Measure::Top1 => "test top-1 (%)".into(),
                    Measure::Perplexity => m.axis_label().into(),
                },
                series,
                reference: dense_reference(summary),
                x_range: Some((0.0, (max_epochs * 1.08).max(1.0))),
                legend: false,
                x_scale: XScale::Linear,
                dodge: false,
            }
        })
        .collect()
}

/// Draws the shared legend strip of the multi-panel figure.
fn legend_strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    summary: &Summary,
) -> Result<()> {
    let styles = regime_styles(summary);
    let text = ("sans-serif", FONT_LEGEND)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let mut x = 20;
    let y = 22;
    area.draw_text(
        &format!(
            "{} after each pruning step vs cumulative fine-tuning epochs (mean over seeds; filled = final, ± 95% CI)",
            summary.options.measure.title()
        ),
        &("sans-serif", FONT_TITLE).into_font().color(&BLACK),
        (x, 12),
    )
    .map_err(err)?;
    let y = y + 24;
    for (regime, &(color, marker)) in &styles {
        let line = ShapeStyle::from(&color).stroke_width(2);
        area.draw(&PathElement::new(vec![(x, y), (x + 26, y)], line))
            .map_err(err)?;
        area.draw(
            &(EmptyElement::at((x + 13, y))
                + marker_element::<DB>((0, 0), marker, 5, ShapeStyle::from(&color).filled())),
        )
        .map_err(err)?;
        area.draw_text(regime, &text, (x + 34, y)).map_err(err)?;
        x += 34 + 9 * regime.chars().count() as i32 + 30;
    }
    if summary.dense.is_some() {
        let style = ShapeStyle::from(&RGBColor(90, 90, 90)).stroke_width(2);
        area.draw(&PathElement::new(vec![(x, y), (x + 10, y)], style))
            .map_err(err)?;
        area.draw(&PathElement::new(vec![(x + 16, y), (x + 26, y)], style))
            .map_err(err)?;
        area.draw_text("dense baseline", &text, (x + 34, y))
            .map_err(err)?;
    }
    Ok(())
}

pub(super) fn epochs_layout(n: usize) -> ((usize, usize), (u32, u32)) {
    match n {
        0 | 1 => ((1, 1), (800, 560)),
        2 => ((1, 2), (1100, 520)),
        3 => ((1, 3), (1400, 520)),
        4 => ((2, 2), (1100, 900)),
        _ => {
            let rows = n.div_ceil(3);
            ((rows, 3), (1400, 70 + 430 * rows as u32))
        }
    }
}

pub(super) fn draw_epochs<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    step_rows: &[StepRow],
    summary: &Summary,
) -> Result<()> {
    let panels = accuracy_vs_epochs(step_rows, summary);
    let ((rows, cols), _) = epochs_layout(panels.len());
    let (top, body) = root.split_vertically(72);
    legend_strip(&top, summary)?;
    for (area, panel) in body.split_evenly((rows, cols)).iter().zip(&panels) {
        draw_panel(area, panel)?;
    }
    Ok(())
}

/// Fig. 6: hybrid runs after every pruning step (mean over seeds of the selected configuration),
/// one line per target, with the final one-shot and iterative results for reference.
pub(super) fn hybrid_trajectory(rows: &[StepRow], summary: &Summary) -> Option<Panel<'static>> {
    let m = summary.options.measure;
    let hybrid = "hybrid";
    let palette = [
        RGBColor(200, 30, 40),
        RGBColor(120, 40, 160),
        RGBColor(0, 120, 120),
        RGBColor(150, 90, 0),
        RGBColor(200, 0, 140),
        RGBColor(80, 80, 80),
        RGBColor(120, 130, 0),
    ];
    let mut series = Vec::new();
    for (k, t) in summary
        .targets
        .iter()
        .filter(|t| t.regimes.contains_key(hybrid))
        .enumerate()
    {
        let cell = &t.regimes[hybrid];
        let pts = mean_trajectory(rows, m, &cell.experiment, 1, |r| 100.0 * r.sparsity);
        series.push(Series {
            label: format!("hybrid → {:.1}%", 100.0 * t.target),
            color: palette[k % palette.len()],
            marker: Marker::Diamond,
            filled: true,
            line: true,
            pts,
        });
    }
    if series.is_empty() {
        return None;
    }
    let styles = regime_styles(summary);
    for regime in [&summary.crossover.one_shot, &summary.crossover.iterative] {
        let Some(&(color, marker)) = styles.get(regime.as_str()) else {
            continue;
        };
        let pts: Vec<Pt> = summary
            .targets
            .iter()
            .filter_map(|t| t.regimes.get(regime.as_str()))
            .map(|c| Pt {
                x: 100.0 * c.sparsity,
                y: m.plot(c.mean),
                ci: None,
            })
            .collect();
        series.push(Series {
            label: format!("{regime} (final)"),
            color,
            marker,
            filled: false,
            line: false,
            pts,
        });
    }
    Some(Panel {
        title: format!(
            "Hybrid runs: {} after every pruning step (mean ± 95% CI)",
            m.name()
        ),
        x_desc: "realised sparsity (%)",
        y_desc: m.axis_label().into(),
        series,
        reference: dense_reference(summary),
        x_range: None,
        legend: true,
        x_scale: XScale::Linear,
        dodge: false,
    })
}
