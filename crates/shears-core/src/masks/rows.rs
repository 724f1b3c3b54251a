//! Selection within output rows, optionally under an N:M pattern (docs/design.md#rows-and-nm).
//!
//! Wanda's defining choice is to compare weights only within each output row; an N:M pattern
//! (at most N kept in every M consecutive input weights of a row) is what sparse tensor cores
//! run. Both need to know which flat index is (row, input column) — [`RowLayout`] — and both
//! are cumulative like every mask: a step removes exactly its planned count among the kept
//! entries, the rows share it as evenly as the entries already pruned allow, and an
//! iterative run toward a pattern stays inside the pattern's feasible set at every step (no
//! group ever has more than M − N pruned), so its last step, at density N/M, fills every group
//! exactly.

use super::shares::{apportion, balance};
use super::{Mask, SelectError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where entry (row, column) of a weight lives in its flat storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowLayout {
    /// `[rows, cols]` row-major: a convolution `[out, in, kh, kw]` has rows = out and
    /// cols = in·kh·kw (its im2col columns), a bias is one row.
    RowMajor { rows: usize, cols: usize },
    /// `[cols, rows]`: Burn's `Linear` weight `[in, out]`, whose output rows are columns.
    ColMajor { rows: usize, cols: usize },
}

impl RowLayout {
    /// The layout of a tensor of `shape` in Burn's conventions: rank 2 is a `Linear` weight
    /// `[in, out]`, rank ≥ 3 a convolution `[out, …]`, rank 1 (a bias) a single row.
    pub fn for_shape(shape: &[usize]) -> Self {
        match shape {
            [n] => RowLayout::RowMajor { rows: 1, cols: *n },
            [cols, rows] => RowLayout::ColMajor {
                rows: *rows,
                cols: *cols,
            },
            [rows, rest @ ..] => RowLayout::RowMajor {
                rows: *rows,
                cols: rest.iter().product(),
            },
            [] => RowLayout::RowMajor { rows: 1, cols: 1 },
        }
    }

    pub fn rows(self) -> usize {
        match self {
            RowLayout::RowMajor { rows, .. } | RowLayout::ColMajor { rows, .. } => rows,
        }
    }

    pub fn cols(self) -> usize {
        match self {
            RowLayout::RowMajor { cols, .. } | RowLayout::ColMajor { cols, .. } => cols,
        }
    }

    pub fn len(self) -> usize {
        self.rows() * self.cols()
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Flat index of (row `r`, input column `c`).
    pub fn index(self, r: usize, c: usize) -> usize {
        match self {
            RowLayout::RowMajor { cols, .. } => r * cols + c,
            RowLayout::ColMajor { rows, .. } => c * rows + r,
        }
    }
}

/// An N:M semi-structured pattern: at most `n` kept entries in every `m` consecutive input
/// columns of a row (the hardware convention; written `"2:4"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern {
    pub n: usize,
    pub m: usize,
}

impl Pattern {
    /// Fraction of entries the pattern prunes when every group is full: (m − n) / m.
    pub fn sparsity(self) -> f64 {
        (self.m - self.n) as f64 / self.m as f64
    }

    /// Pruned entries a group may hold.
    fn cap(self) -> usize {
        self.m - self.n
    }
}

/// How an iterative schedule approaches an N:M pattern (docs/design.md#rows-and-nm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatternPath {
    /// Every step stays inside the pattern's feasible set (no group over M − N pruned);
    /// masks only grow.
    #[default]
    Feasible,
    /// Steps before the last prune within rows without the pattern; the step that reaches
    /// the pattern's density chooses the pattern afresh over every entry (pruned ones score
    /// as what they are, zero weights), so it may restore a pruned weight — at zero — where
    /// a group holds more than M − N pruned.
    Project,
}

impl PatternPath {
    pub fn is_feasible(&self) -> bool {
        *self == PatternPath::Feasible
    }
}

impl FromStr for PatternPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "feasible" => Ok(PatternPath::Feasible),
            "project" => Ok(PatternPath::Project),
            _ => Err(format!("'{s}' is not a pattern path (feasible or project)")),
        }
    }
}

impl FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not an N:M pattern such as 2:4 (0 < N < M ≤ 64)");
        let (n, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let (n, m): (usize, usize) = (
            n.trim().parse().map_err(|_| bad())?,
            m.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || n >= m || m > 64 {
            return Err(bad());
        }
        Ok(Pattern { n, m })
    }
}

impl TryFrom<String> for Pattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.to_string()
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.n, self.m)
    }
}

/// A group of a row that holds more pruned entries than its pattern allows, or a row whose
/// length the pattern does not divide.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatternError {
    #[error("rows of {cols} inputs cannot be split into groups of {m} for the pattern {pattern}")]
    Indivisible {
        cols: usize,
        m: usize,
        pattern: Pattern,
    },
    #[error("row {row}, inputs {}..{}: {kept} kept of {m}, the pattern {pattern} allows at most {n}", .group * .m, (.group + 1) * .m)]
    Violated {
        row: usize,
        group: usize,
        kept: usize,
        m: usize,
        n: usize,
        pattern: Pattern,
    },
    #[error(
        "{requested} more entries cannot be pruned under the pattern {pattern}: only {room} fit"
    )]
    Infeasible {
        requested: usize,
        room: usize,
        pattern: Pattern,
    },
}

/// The realised pattern: every group of every row has at most `n` kept entries — the check
/// after a run's last step toward the pattern.
pub fn check_pattern(mask: &Mask, layout: RowLayout, pattern: Pattern) -> Result<(), PatternError> {
    let groups = groups_of(layout, pattern)?;
    for r in 0..layout.rows() {
        for g in 0..groups {
            let kept = (g * pattern.m..(g + 1) * pattern.m)
                .filter(|&c| mask.is_kept(layout.index(r, c)))
                .count();
            if kept > pattern.n {
                return Err(PatternError::Violated {
                    row: r,
                    group: g,
                    kept,
                    m: pattern.m,
                    n: pattern.n,
                    pattern,
                });
            }
        }
    }
    Ok(())
}

fn groups_of(layout: RowLayout, pattern: Pattern) -> Result<usize, PatternError> {
    let cols = layout.cols();
    if !cols.is_multiple_of(pattern.m) {
        return Err(PatternError::Indivisible {
            cols,
            m: pattern.m,
            pattern,
        });
    }
    Ok(cols / pattern.m)
}

/// Removes exactly `k` more kept entries of one tensor, lowest `scores` first within each row
/// (ties → lower column), each row taking its share of the cumulative count (see the module
/// docs) and, with a `pattern`, no group of a row exceeding M − N pruned. Rows that cannot take
/// their share (already over it, or their groups full) leave the rest to the other rows, lowest
/// scores first, so the count is always exact. Errors: length mismatch, NaN score on a kept
/// entry, `k` above the kept entries or the room the pattern leaves, a row length the pattern
/// does not divide.
pub fn remove_in_rows(
    scores: &[f32],
    mask: &Mask,
    k: usize,
    layout: RowLayout,
    pattern: Option<Pattern>,
) -> Result<Mask, PatternOrSelect> {
    if scores.len() != mask.len() || layout.len() != mask.len() {
        return Err(SelectError::LengthMismatch {
            tensor: 0,
            scores: scores.len(),
            mask: mask.len(),
        }
        .into());
    }
    if let Some(i) = (0..scores.len()).find(|&i| mask.is_kept(i) && scores[i].is_nan()) {
        return Err(SelectError::NanScore {
            tensor: 0,
            index: i,
        }
        .into());
    }
    if k > mask.kept() {
        return Err(SelectError::TooMany {
            tensor: None,
            requested: k,
            alive: mask.kept(),
        }
        .into());
    }
    let groups = pattern.map(|p| groups_of(layout, p)).transpose()?;
    let mut keep = mask.as_slice().to_vec();
    let mut room = Room::new(&keep, layout, pattern, groups);
    if let Some(p) = pattern
        && k > room.total()
    {
        return Err(PatternError::Infeasible {
            requested: k,
            room: room.total(),
            pattern: p,
        }
        .into());
    }
    let rows = layout.rows();
    let pruned_rows: Vec<usize> = (0..rows)
        .map(|r| {
            (0..layout.cols())
                .filter(|&c| !keep[layout.index(r, c)])
                .count()
        })
        .collect();
    let cols = layout.cols();
    let shares = apportion(mask.pruned() + k, &vec![cols; rows], rows * cols);
    let mut needs: Vec<usize> = shares
        .iter()
        .zip(&pruned_rows)
        .map(|(share, &p)| share.saturating_sub(p))
        .collect();
    // Rows already past their share make the needs overshoot k: balance trims from the last
    // rows (the needs never fall short of k: Σ max(0, share − pruned) ≥ Σ (share − pruned) = k).
    let kept_rows: Vec<usize> = pruned_rows.iter().map(|p| cols - p).collect();
    balance(&mut needs, &kept_rows, k);
    let mut removed = 0;
    for (r, &need) in needs.iter().enumerate() {
        let mut order: Vec<usize> = (0..layout.cols())
            .filter(|&c| keep[layout.index(r, c)])
            .collect();
        order.sort_by(|&a, &b| {
            let (sa, sb) = (scores[layout.index(r, a)], scores[layout.index(r, b)]);
            sa.total_cmp(&sb).then(a.cmp(&b))
        });
        removed += take(&mut keep, &mut room, layout, r, &order, need);
    }
    if removed < k {
        // The shortfall of rows that could not take their share, lowest scores overall.
        let mut all: Vec<(usize, usize)> = (0..rows)
            .flat_map(|r| (0..layout.cols()).map(move |c| (r, c)))
            .filter(|&(r, c)| keep[layout.index(r, c)])
            .collect();
        all.sort_by(|&(ra, ca), &(rb, cb)| {
            let (ia, ib) = (layout.index(ra, ca), layout.index(rb, cb));
            scores[ia].total_cmp(&scores[ib]).then(ia.cmp(&ib))
        });
        for (r, c) in all {
            if removed == k {
                break;
            }
            removed += take(&mut keep, &mut room, layout, r, &[c], 1);
        }
    }
    debug_assert_eq!(removed, k, "room was checked up front");
    Ok(Mask::from_keep(keep))
}

/// Prunes up to `need` of the candidate columns `order` of row `r` (in that order), skipping
/// those whose group is full; returns how many were pruned.
fn take(
    keep: &mut [bool],
    room: &mut Room,
    layout: RowLayout,
    r: usize,
    order: &[usize],
    need: usize,
) -> usize {
    let mut taken = 0;
    for &c in order {
        if taken == need {
            break;
        }
        let i = layout.index(r, c);
        if keep[i] && room.take(r, c) {
            keep[i] = false;
            taken += 1;
        }
    }
    taken
}

/// How many more entries each (row, group) may lose under the pattern (unbounded without one).
struct Room {
    left: Option<Vec<usize>>,
    groups: usize,
    m: usize,
    unbounded: usize,
}

impl Room {
    fn new(
        keep: &[bool],
        layout: RowLayout,
        pattern: Option<Pattern>,
        groups: Option<usize>,
    ) -> Self {
        let kept = keep.iter().filter(|&&k| k).count();
        let (Some(p), Some(groups)) = (pattern, groups) else {
            return Self {
                left: None,
                groups: 0,
                m: 1,
                unbounded: kept,
            };
        };
        let left = (0..layout.rows())
            .flat_map(|r| (0..groups).map(move |g| (r, g)))
            .map(|(r, g)| {
                let pruned = (g * p.m..(g + 1) * p.m)
                    .filter(|&c| !keep[layout.index(r, c)])
                    .count();
                p.cap().saturating_sub(pruned)
            })
            .collect();
        Self {
            left: Some(left),
            groups,
            m: p.m,
            unbounded: kept,
        }
    }

    fn total(&self) -> usize {
        self.left
            .as_ref()
            .map_or(self.unbounded, |l| l.iter().sum())
    }

    fn take(&mut self, r: usize, c: usize) -> bool {
        let Some(left) = self.left.as_mut() else {
            return true;
        };
        let g = r * self.groups + c / self.m;
        if left[g] == 0 {
            return false;
        }
        left[g] -= 1;
        true
    }
}

/// A selection error of either kind.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatternOrSelect {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Pattern(#[from] PatternError),
}
