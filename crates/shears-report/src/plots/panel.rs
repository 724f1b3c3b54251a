//! A single chart: points with 95% CI bars per series, an optional dashed reference line and
//! a legend, drawn on any plotters backend.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::style::{Marker, marker_element};
use super::{FONT_AXIS, FONT_LEGEND, FONT_TICK, FONT_TITLE, err};

/// A point with a vertical 95% CI, in plot units.
#[derive(Clone, Copy)]
pub(super) struct Pt {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) ci: Option<f64>,
}

/// One regime's (or one target's) points, drawn with a marker and optionally a line.
pub(super) struct Series {
    /// Legend entry; empty = none.
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) marker: Marker,
    pub(super) filled: bool,
    pub(super) line: bool,
    pub(super) pts: Vec<Pt>,
}

/// Everything one chart shows.
pub(super) struct Panel<'a> {
    pub(super) title: String,
    pub(super) x_desc: &'a str,
    pub(super) y_desc: String,
    pub(super) series: Vec<Series>,
    /// Horizontal reference line (value, label).
    pub(super) reference: Option<(f64, String)>,
    pub(super) x_range: Option<(f64, f64)>,
    pub(super) legend: bool,
    /// How `x` (a sparsity in % for [`XScale::Remaining`]) is laid out.
    pub(super) x_scale: XScale,
    /// Offsets the series slightly left and right of each x.
    pub(super) dodge: bool,
}

/// The x axis of a panel.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum XScale {
    Linear,
    /// A sparsity s (%) drawn at −log10(1 − s/100): each tenfold cut of the remaining weights
    /// gets the same width, so 90–98% (where regimes differ) is not squeezed into the edge.
    /// Ticks are labelled with the sparsity.
    Remaining,
}

impl XScale {
    /// Plot coordinate of `x`.
    pub(super) fn to_plot(self, x: f64) -> f64 {
        match self {
            XScale::Linear => x,
            XScale::Remaining => -(1.0 - x / 100.0).max(1e-6).log10(),
        }
    }

    /// Tick label of the plot coordinate `u`.
    fn label(self, u: f64) -> String {
        match self {
            XScale::Linear => format!("{u:.0}"),
            XScale::Remaining => {
                let s = 100.0 * (1.0 - 10f64.powf(-u));
                if (s - s.round()).abs() < 0.05 {
                    format!("{s:.0}")
                } else {
                    format!("{s:.1}")
                }
            }
        }
    }
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws `p` into `area`: axes and grid, the reference line, every series, the legend.
pub(super) fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
) -> Result<()> {
    let ((xlo, xhi), (ylo, yhi)) = ranges(p);
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
        .y_desc(&p.y_desc)
        .axis_desc_style(("sans-serif", FONT_AXIS))
        .label_style(("sans-serif", FONT_TICK))
        .light_line_style(RGBColor(244, 244, 244))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| p.x_scale.label(*v))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(err)?;
    if let Some((v, label)) = &p.reference {
        draw_reference(&mut chart, (xlo, xhi), *v, label)?;
    }
    let k = p.series.len() as f64;
    for (i, s) in p.series.iter().enumerate() {
        // Series side by side around each x, so their error bars do not hide each other.
        let shift = if p.dodge {
            (i as f64 - (k - 1.0) / 2.0) * 0.012 * (xhi - xlo)
        } else {
            0.0
        };
        let placed = Series {
            pts: s
                .pts
                .iter()
                .map(|q| Pt {
                    x: p.x_scale.to_plot(q.x) + shift,
                    ..*q
                })
                .collect(),
            label: s.label.clone(),
            ..*s
        };
        draw_error_bars(&mut chart, &placed)?;
        draw_series(&mut chart, &placed)?;
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

/// Axis ranges: every point with its CI and the reference line, padded (unless the panel
/// fixes the x range).
fn ranges(p: &Panel) -> ((f64, f64), (f64, f64)) {
    let (mut xlo, mut xhi, mut ylo, mut yhi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for s in &p.series {
        for q in &s.pts {
            let x = p.x_scale.to_plot(q.x);
            xlo = xlo.min(x);
            xhi = xhi.max(x);
            let h = q.ci.unwrap_or(0.0);
            ylo = ylo.min(q.y - h);
            yhi = yhi.max(q.y + h);
        }
    }
    if let Some((v, _)) = &p.reference {
        ylo = ylo.min(*v);
        yhi = yhi.max(*v);
    }
    let min_span = match p.x_scale {
        XScale::Linear => 1.0,
        XScale::Remaining => 0.1,
    };
    let x = p
        .x_range
        .unwrap_or_else(|| padded(xlo, xhi, 0.06, min_span));
    (x, padded(ylo, yhi, 0.08, 0.5))
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

/// The dashed horizontal reference line across the whole x range, with its legend entry.
fn draw_reference<DB: DrawingBackend>(
    chart: &mut Chart<DB>,
    (xlo, xhi): (f64, f64),
    v: f64,
    label: &str,
) -> Result<()> {
    let style = ShapeStyle::from(&RGBColor(90, 90, 90)).stroke_width(2);
    chart
        .draw_series(DashedLineSeries::new(vec![(xlo, v), (xhi, v)], 8, 5, style))
        .map_err(err)?
        .label(label.to_string())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], style));
    Ok(())
}

/// Error bars: a vertical segment with 10-pixel caps (plotters' ErrorBar adds a circle).
fn draw_error_bars<DB: DrawingBackend>(chart: &mut Chart<DB>, s: &Series) -> Result<()> {
    let bar_style = ShapeStyle::from(&s.color.mix(0.85)).stroke_width(2);
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
    Ok(())
}

/// The series' line (if any) and markers (filled, or white with a coloured outline), and its
/// legend entry.
fn draw_series<'a, DB: DrawingBackend + 'a>(chart: &mut Chart<'a, DB>, s: &Series) -> Result<()> {
    let color = s.color;
    let line_style = ShapeStyle::from(&color).stroke_width(2);
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
    Ok(())
}
