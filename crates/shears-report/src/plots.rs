//! The report's figures, drawn with plotters into SVG and PNG.
//!
//! PNG text is rendered by plotters' pure-Rust `ab_glyph` path from the DejaVu Sans file
//! embedded below, so neither fontconfig nor FreeType is needed, and rendering is the same
//! on every machine (byte-identical PNGs for identical inputs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use shears_core::results::StepRow;
use shears_core::stats;

use crate::analysis::Summary;

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Registers the embedded font as plotters' `sans-serif` family (idempotent).
pub(crate) fn register_font() {
    REGISTER.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            panic!("embedded DejaVu Sans is not a valid font");
        }
    });
}

/// Size of the single-panel figures.
pub const FIG_SIZE: (u32, u32) = (800, 500);

const FONT_TITLE: u32 = 21;
const FONT_AXIS: u32 = 17;
const FONT_TICK: u32 = 15;
const FONT_LEGEND: u32 = 15;

#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
}

/// Fixed colour and marker per regime, so every figure agrees.
fn regime_style(regime: &str, index: usize) -> (RGBColor, Marker) {
    match regime {
        "one-shot" => (RGBColor(31, 119, 180), Marker::Circle),
        "geometric" => (RGBColor(230, 110, 0), Marker::Triangle),
        "constant" => (RGBColor(44, 150, 44), Marker::Square),
        "hybrid" => (RGBColor(200, 30, 40), Marker::Diamond),
        _ => {
            const OTHER: [RGBColor; 5] = [
                RGBColor(148, 103, 189),
                RGBColor(140, 86, 75),
                RGBColor(227, 119, 194),
                RGBColor(100, 100, 100),
                RGBColor(23, 160, 180),
            ];
            let m = [
                Marker::Circle,
                Marker::Triangle,
                Marker::Square,
                Marker::Diamond,
            ];
            (OTHER[index % OTHER.len()], m[index % m.len()])
        }
    }
}

fn regime_styles(summary: &Summary) -> BTreeMap<String, (RGBColor, Marker)> {
    let mut names: Vec<String> = summary
        .targets
        .iter()
        .flat_map(|t| t.regimes.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    let mut k = 0;
    names
        .into_iter()
        .map(|n| {
            let s = regime_style(&n, k);
            if !matches!(n.as_str(), "one-shot" | "geometric" | "constant" | "hybrid") {
                k += 1;
            }
            (n, s)
        })
        .collect()
}

fn marker_element<DB: DrawingBackend>(
    c: (i32, i32),
    m: Marker,
    size: i32,
    style: ShapeStyle,
) -> DynElement<'static, DB, (i32, i32)> {
    // plotters' TriangleMarker and Polygon always fill; outlines are drawn as closed paths.
    let polygon = |pts: Vec<(i32, i32)>| {
        if style.filled {
            Polygon::new(pts, style).into_dyn()
        } else {
            let mut closed = pts.clone();
            closed.push(pts[0]);
            PathElement::new(closed, style).into_dyn()
        }
    };
    match m {
        Marker::Circle => Circle::new(c, size, style).into_dyn(),
        Marker::Triangle => {
            let s = size + 2;
            polygon(vec![
                (c.0, c.1 - s),
                (c.0 + s, c.1 + s * 3 / 4),
                (c.0 - s, c.1 + s * 3 / 4),
            ])
        }
        Marker::Square => {
            Rectangle::new([(c.0 - size, c.1 - size), (c.0 + size, c.1 + size)], style).into_dyn()
        }
        Marker::Diamond => {
            let s = size + 2;
            polygon(vec![
                (c.0, c.1 - s),
                (c.0 + s, c.1),
                (c.0, c.1 + s),
                (c.0 - s, c.1),
            ])
        }
    }
}

/// A point with a vertical 95% CI, in plot units.
#[derive(Clone, Copy)]
struct Pt {
    x: f64,
    y: f64,
    ci: Option<f64>,
}

struct Series {
    label: String,
    color: RGBColor,
    marker: Marker,
    filled: bool,
    line: bool,
    pts: Vec<Pt>,
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plot: {e}")
}

fn padded(lo: f64, hi: f64, frac: f64, min_span: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let span = (hi - lo).max(min_span);
    let mid = (lo + hi) / 2.0;
    (
        mid - span / 2.0 - span * frac,
        mid + span / 2.0 + span * frac,
    )
}

struct Panel<'a> {
    title: String,
    x_desc: &'a str,
    y_desc: &'a str,
    series: Vec<Series>,
    /// Horizontal reference line (value, label).
    reference: Option<(f64, String)>,
    x_range: Option<(f64, f64)>,
    legend: bool,
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel) -> Result<()> {
    let (mut xlo, mut xhi, mut ylo, mut yhi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for s in &p.series {
        for q in &s.pts {
            xlo = xlo.min(q.x);
            xhi = xhi.max(q.x);
            let h = q.ci.unwrap_or(0.0);
            ylo = ylo.min(q.y - h);
            yhi = yhi.max(q.y + h);
        }
    }
    if let Some((v, _)) = &p.reference {
        ylo = ylo.min(*v);
        yhi = yhi.max(*v);
    }
    let (xlo, xhi) = p.x_range.unwrap_or_else(|| padded(xlo, xhi, 0.06, 1.0));
    let (ylo, yhi) = padded(ylo, yhi, 0.08, 0.5);

    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", FONT_TITLE))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(xlo..xhi, ylo..yhi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(p.x_desc)
        .y_desc(p.y_desc)
        .axis_desc_style(("sans-serif", FONT_AXIS))
        .label_style(("sans-serif", FONT_TICK))
        .light_line_style(RGBColor(244, 244, 244))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(err)?;

    if let Some((v, label)) = &p.reference {
        let style = ShapeStyle::from(&RGBColor(90, 90, 90)).stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(xlo, *v), (xhi, *v)],
                8,
                5,
                style,
            ))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], style));
    }

    for s in &p.series {
        let color = s.color;
        let line_style = ShapeStyle::from(&color).stroke_width(2);
        let bar_style = ShapeStyle::from(&color.mix(0.85)).stroke_width(2);
        // Error bars: a vertical segment with 10-pixel caps (plotters' ErrorBar adds a circle).
        for q in &s.pts {
            let Some(h) = q.ci else { continue };
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(q.x, q.y - h), (q.x, q.y + h)],
                    bar_style,
                )))
                .map_err(err)?;
            chart
                .draw_series([q.y - h, q.y + h].map(|y| {
                    EmptyElement::at((q.x, y)) + PathElement::new(vec![(-5, 0), (5, 0)], bar_style)
                }))
                .map_err(err)?;
        }
        if s.line && s.pts.len() > 1 {
            chart
                .draw_series(LineSeries::new(
                    s.pts.iter().map(|q| (q.x, q.y)),
                    line_style,
                ))
                .map_err(err)?;
        }
        let marker = s.marker;
        let fill = if s.filled {
            ShapeStyle::from(&color).filled()
        } else {
            ShapeStyle::from(&WHITE).filled()
        };
        let outline = ShapeStyle::from(&color).stroke_width(2);
        let anno = chart
            .draw_series(s.pts.iter().map(|q| {
                EmptyElement::at((q.x, q.y))
                    + marker_element::<DB>((0, 0), marker, 5, fill)
                    + marker_element::<DB>((0, 0), marker, 5, outline)
            }))
            .map_err(err)?;
        if !s.label.is_empty() {
            let line = s.line;
            anno.label(s.label.clone()).legend(move |(x, y)| {
                let path = if line {
                    line_style
                } else {
                    ShapeStyle::from(&TRANSPARENT)
                };
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(-8, 0), (18, 0)], path)
                    + marker_element::<DB>((5, 0), marker, 5, fill)
                    + marker_element::<DB>((5, 0), marker, 5, outline)
            });
        }
    }
    if p.legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .label_font(("sans-serif", FONT_LEGEND))
            .margin(10)
            .legend_area_size(34)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png` by running `draw` on both backends.
fn svg_and_png(
    dir: &Path,
    stem: &str,
    size: (u32, u32),
    draw_svg: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
    draw_png: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<Vec<PathBuf>> {
    register_font();
    let svg_path = dir.join(format!("{stem}.svg"));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw_svg(&root)?;
        root.present().map_err(err)?;
    }
    std::fs::write(&svg_path, svg).with_context(|| format!("writing {}", svg_path.display()))?;
    let png_path = dir.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png_path, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw_png(&root)?;
        root.present()
            .map_err(err)
            .with_context(|| format!("writing {}", png_path.display()))?;
    }
    Ok(vec![svg_path, png_path])
}

fn dense_reference(summary: &Summary) -> Option<(f64, String)> {
    summary.dense.as_ref().map(|d| {
        (
            100.0 * d.mean,
            format!("dense baseline ({:.2}%)", 100.0 * d.mean),
        )
    })
}

/// Fig. 2: mean test top-1 vs realised sparsity per regime, 95% CI bars, dense reference line.
fn accuracy_vs_sparsity(summary: &Summary) -> Panel<'static> {
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
                    y: 100.0 * c.mean,
                    ci: c.ci95.map(|h| 100.0 * h),
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
        title: "Test top-1 vs sparsity (mean ± 95% CI over seeds)".into(),
        x_desc: "realised sparsity (% of prunable weights removed)",
        y_desc: "test top-1 accuracy (%)",
        series,
        reference: dense_reference(summary),
        x_range: None,
        legend: true,
    }
}

/// Mean over seeds, step by step, of one experiment's rows: `(x(row), test top-1)` with the
/// accuracy's 95% CI. `from_step` 0 includes the dense baseline.
fn mean_trajectory(
    rows: &[StepRow],
    experiment: &str,
    from_step: usize,
    x: fn(&StepRow) -> f64,
) -> Vec<Pt> {
    // (step, seed) keys make the sums independent of the input row order.
    let mut by_step_seed: BTreeMap<(usize, u64), &StepRow> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.experiment == experiment && r.step >= from_step)
    {
        by_step_seed.insert((r.step, r.seed), r);
    }
    let mut by_step: BTreeMap<usize, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for ((step, _), r) in by_step_seed {
        let e = by_step.entry(step).or_default();
        e.0.push(x(r));
        e.1.push(r.test_top1);
    }
    by_step
        .values()
        .filter_map(|(xs, a)| {
            Some(Pt {
                x: stats::mean(xs)?,
                y: 100.0 * stats::mean(a)?,
                ci: stats::ci95_half_width(a).map(|h| 100.0 * h),
            })
        })
        .collect()
}

/// Fig. 4 panels: per target, each regime's test top-1 after every pruning step against the
/// cumulative fine-tuning epochs spent (mean over seeds of the selected configuration); the
/// filled marker is the final result with its 95% CI.
fn accuracy_vs_epochs(rows: &[StepRow], summary: &Summary) -> Vec<Panel<'static>> {
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
                let pts = mean_trajectory(rows, &cell.experiment, 0, |r| r.cum_epochs as f64);
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
                y_desc: "test top-1 (%)",
                series,
                reference: dense_reference(summary),
                x_range: Some((0.0, (max_epochs * 1.08).max(1.0))),
                legend: false,
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
        "Test top-1 after each pruning step vs cumulative fine-tuning epochs (mean over seeds; filled = final, ± 95% CI)",
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

fn epochs_layout(n: usize) -> ((usize, usize), (u32, u32)) {
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

fn draw_epochs<DB: DrawingBackend>(
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
fn hybrid_trajectory(rows: &[StepRow], summary: &Summary) -> Option<Panel<'static>> {
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
        let pts = mean_trajectory(rows, &cell.experiment, 1, |r| 100.0 * r.sparsity);
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
                y: 100.0 * c.mean,
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
        title: "Hybrid runs: test top-1 after every pruning step (mean ± 95% CI)".into(),
        x_desc: "realised sparsity (%)",
        y_desc: "test top-1 accuracy (%)",
        series,
        reference: dense_reference(summary),
        x_range: None,
        legend: true,
    })
}

/// Writes every figure into `dir`; returns the paths written.
pub(crate) fn write_figures(
    dir: &Path,
    rows: &[StepRow],
    summary: &Summary,
) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if summary.targets.is_empty() {
        return Ok(out);
    }
    let p = accuracy_vs_sparsity(summary);
    out.extend(svg_and_png(
        dir,
        "fig-accuracy-vs-sparsity",
        FIG_SIZE,
        |r| draw_panel(r, &p),
        |r| draw_panel(r, &p),
    )?);

    let (_, size) = epochs_layout(summary.targets.len());
    out.extend(svg_and_png(
        dir,
        "fig-accuracy-vs-epochs",
        size,
        |r| draw_epochs(r, rows, summary),
        |r| draw_epochs(r, rows, summary),
    )?);

    if let Some(p) = hybrid_trajectory(rows, summary) {
        out.extend(svg_and_png(
            dir,
            "fig-hybrid-trajectory",
            FIG_SIZE,
            |r| draw_panel(r, &p),
            |r| draw_panel(r, &p),
        )?);
    }
    Ok(out)
}
