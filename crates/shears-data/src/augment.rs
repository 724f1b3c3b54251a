//! Training-time augmentation: random crop from a padded image, then random horizontal flip.

use serde::{Deserialize, Serialize};

use crate::DataError;

/// How pixels outside the image are filled before cropping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PadMode {
    /// Pixel value 0 (black) before normalization, like torchvision's `RandomCrop(padding=4)`.
    Zero,
    /// Mirror without repeating the edge (`d c b | a b c d | c b a`), like
    /// `padding_mode="reflect"`; what the reference implementation used, hence the default.
    #[default]
    Reflect,
}

/// Random crop (same size as the input, taken from the image padded by `crop_padding` on each
/// side) followed by a horizontal flip with probability 0.5 when `hflip` is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augment {
    pub crop_padding: usize,
    pub pad_mode: PadMode,
    pub hflip: bool,
}

/// Marks an output pixel that falls in zero padding.
pub(crate) const PAD: usize = usize::MAX;

/// Largest accepted padding; keeps offset arithmetic far from overflow.
const MAX_PADDING: usize = 1 << 16;

impl Default for Augment {
    fn default() -> Self {
        Self::cifar()
    }
}

impl Augment {
    /// The standard CIFAR recipe: 4-pixel reflect padding, random crop, random flip.
    pub fn cifar() -> Self {
        Augment {
            crop_padding: 4,
            pad_mode: PadMode::Reflect,
            hflip: true,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), DataError> {
        if self.crop_padding > MAX_PADDING {
            return Err(DataError::InvalidArgument(format!(
                "crop padding {} exceeds {MAX_PADDING}",
                self.crop_padding
            )));
        }
        Ok(())
    }

    /// For an output line of length `n` and crop offset `offset` (in `0..=2 × padding`), writes
    /// the source index of every output position into `map` ([`PAD`] for zero padding),
    /// mirroring the line when `flip` is set.
    pub(crate) fn line_map(&self, n: usize, offset: usize, flip: bool, map: &mut Vec<usize>) {
        map.clear();
        let p = self.crop_padding as isize;
        for x in 0..n {
            let xx = if flip { n - 1 - x } else { x };
            let src = xx as isize + offset as isize - p;
            map.push(self.source_index(src, n));
        }
    }

    fn source_index(&self, i: isize, n: usize) -> usize {
        if (0..n as isize).contains(&i) {
            return i as usize;
        }
        match self.pad_mode {
            PadMode::Zero => PAD,
            PadMode::Reflect => reflect(i, n),
        }
    }

    /// Applies one crop/flip with explicit parameters to a `C × H × W` byte image; padding
    /// pixels become 0. `dy`, `dx` are the top-left corner of the crop in the padded image
    /// (`0..=2 × crop_padding`; larger values are clamped). Exposed so the transform can be
    /// checked by hand; [`crate::Batches`] draws the parameters and fuses this with
    /// normalization.
    pub fn apply(
        &self,
        image: &[u8],
        [c, h, w]: [usize; 3],
        dy: usize,
        dx: usize,
        flip: bool,
    ) -> Result<Vec<u8>, DataError> {
        self.validate()?;
        if c.checked_mul(h).and_then(|v| v.checked_mul(w)) != Some(image.len()) {
            return Err(DataError::InvalidArgument(format!(
                "{} bytes are not a {c}x{h}x{w} image",
                image.len()
            )));
        }
        let max = 2 * self.crop_padding;
        let (mut rows, mut cols) = (Vec::new(), Vec::new());
        self.line_map(h, dy.min(max), false, &mut rows);
        self.line_map(w, dx.min(max), flip, &mut cols);
        let mut out = Vec::with_capacity(image.len());
        for plane in image.chunks_exact(h * w) {
            for &r in &rows {
                for &col in &cols {
                    out.push(if r == PAD || col == PAD {
                        0
                    } else {
                        plane[r * w + col]
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Reflect index `i` into `0..n`, repeating the mirror for paddings wider than the image.
fn reflect(i: isize, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = i.rem_euclid(period);
    (if m >= n as isize { period - m } else { m }) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_matches_numpy() {
        // numpy.pad(np.arange(4), 5, mode="reflect") -> [1 2 3 2 1 | 0 1 2 3 | 2 1 0 1 2]
        let got: Vec<usize> = (-5..9).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, [1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2]);
        assert_eq!(reflect(-3, 1), 0);
    }
}
