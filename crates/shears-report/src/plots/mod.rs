//! The report's figures, drawn with plotters into SVG and PNG.
//!
//! PNG text is rendered by plotters' pure-Rust `ab_glyph` path from the DejaVu Sans file
//! embedded below, so neither fontconfig nor FreeType is needed, and rendering is the same
//! on every machine (byte-identical PNGs for identical inputs).
//!
//! - `style`: one colour and marker per regime;
//! - `panel`: one chart (points, CI bars, reference line, legend);
//! - `figures`: the report's figures as panels (accuracy vs sparsity, the iterative − one-shot
//!   difference, accuracy vs epochs, the hybrid runs).

mod figures;
mod panel;
mod style;

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use shears_core::results::StepRow;

use crate::analysis::Summary;
use figures::{accuracy_vs_sparsity, difference, draw_epochs, epochs_layout, hybrid_trajectory};
use panel::draw_panel;

static FONT: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");
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

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plot: {e}")
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

    if let Some(p) = difference(summary) {
        out.extend(svg_and_png(
            dir,
            "fig-difference",
            FIG_SIZE,
            |r| draw_panel(r, &p),
            |r| draw_panel(r, &p),
        )?);
    }

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
