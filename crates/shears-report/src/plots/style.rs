//! One colour and marker per regime, shared by every figure, and the marker shapes.

use std::collections::BTreeMap;

use plotters::prelude::*;

use crate::analysis::Summary;

#[derive(Clone, Copy)]
pub(super) enum Marker {
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

pub(super) fn regime_styles(summary: &Summary) -> BTreeMap<String, (RGBColor, Marker)> {
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

pub(super) fn marker_element<DB: DrawingBackend>(
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
