//! Template comparison: the masked, normalised Hamming distance of the orientation bit planes,
//! minimised over small translations, turned into a similarity in `0..=1` (1 = identical).

use crate::error::{Error, ErrorKind};
use crate::params::Params;
pub use crate::search::Comparison;
use crate::search::{self, Prepared};
use crate::template::Template;
use crate::warp::Warps;

/// A similarity at or above this is a match by default. Measured with `palmline eval`: it lies
/// above the highest impostor score of tongji-roi (0.6724 of 100,459) and coep-hands (0.6750 of
/// 66,965), so it keeps the false match rate below 1e-5 per comparison there. (The index sets its
/// own, gallery-size-aware threshold for 1:N decisions.)
pub const DEFAULT_THRESHOLD: f32 = 0.68;

/// Compares templates made with one parameter set.
#[derive(Clone, Debug)]
pub struct Matcher {
    fingerprint: u32,
    max_shift: i32,
    min_overlap: u32,
    warps: Warps,
}

impl Matcher {
    pub fn new(p: &Params) -> Self {
        Matcher {
            fingerprint: p.fingerprint(),
            max_shift: p.max_shift,
            min_overlap: p.min_overlap_cells,
            warps: Warps::new(p),
        }
    }

    /// Similarity of two templates, or an error when either was made with other parameters.
    /// Uses the fast coarse-to-fine search; prepare templates once with [`Prepared::new`] and call
    /// [`Matcher::similarity_prepared`] when one template is compared many times.
    pub fn similarity(&self, a: &Template, b: &Template) -> Result<f32, Error> {
        self.similarity_prepared(&Prepared::new(a), &Prepared::new(b))
    }

    pub fn similarity_prepared(&self, a: &Prepared, b: &Prepared) -> Result<f32, Error> {
        if a.fingerprint != self.fingerprint {
            return Err(ErrorKind::IncompatibleTemplates {
                left: a.fingerprint,
                right: b.fingerprint,
            }
            .into());
        }
        let found = search::compare(a, b, self.max_shift, self.min_overlap)?;
        Ok(
            search::with_warps(a, b, found, self.warps, self.max_shift, self.min_overlap)
                .similarity,
        )
    }

    /// The reference comparison: every shift at full resolution. Slow; the fast path is measured
    /// against it.
    pub fn compare_exhaustive(&self, a: &Template, b: &Template) -> Result<Comparison, Error> {
        for t in [a, b] {
            if t.fingerprint != self.fingerprint || t.planes.len() != a.planes.len() {
                return Err(ErrorKind::IncompatibleTemplates {
                    left: a.fingerprint,
                    right: b.fingerprint,
                }
                .into());
            }
        }
        let (a, b) = (Prepared::new(a), Prepared::new(b));
        let found = search::compare_exhaustive(&a, &b, self.max_shift, self.min_overlap)?;
        Ok(search::with_warps(
            &a,
            &b,
            found,
            self.warps,
            self.max_shift,
            self.min_overlap,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::GRID;
    use crate::template::Hand;

    fn random_template(seed: u32, fingerprint: u32) -> Template {
        let mut s = seed.wrapping_mul(747_796_405).wrapping_add(1);
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        };
        Template {
            fingerprint,
            hand: Hand::Unknown,
            quality: 90,
            source: crate::template::Source::Roi,
            mask: [u32::MAX; GRID],
            planes: (0..6).map(|_| std::array::from_fn(|_| next())).collect(),
        }
    }

    #[test]
    fn identical_is_one_and_unrelated_is_near_half() {
        let p = Params::default();
        let m = Matcher::new(&p);
        let a = random_template(1, p.fingerprint());
        let b = random_template(2, p.fingerprint());
        assert_eq!(m.similarity(&a, &a).unwrap(), 1.0);
        let s = m.similarity(&a, &b).unwrap();
        assert!((0.5..0.56).contains(&s), "{s}");
    }

    #[test]
    fn a_shifted_copy_is_found_at_its_shift() {
        let p = Params::default();
        let m = Matcher::new(&p);
        let a = random_template(3, p.fingerprint());
        let mut b = a.clone();
        // b(c, r) = a(c - 2, r + 1): b's content sits 2 columns right of a's, one row up.
        for plane in b.planes.iter_mut().chain(std::iter::once(&mut b.mask)) {
            let orig = *plane;
            for r in 0..GRID {
                plane[r] = if r + 1 < GRID { orig[r + 1] << 2 } else { 0 };
            }
        }
        let c = m.compare_exhaustive(&a, &b).unwrap();
        // Random bits have no spatial smoothness, so the coarse pass cannot see odd shifts in
        // them; real palm codes are smooth (tests/it checks the fast path on synthetic palms).
        let mut even = a.clone();
        for plane in even
            .planes
            .iter_mut()
            .chain(std::iter::once(&mut even.mask))
        {
            let orig = *plane;
            for r in 0..GRID {
                plane[r] = if r + 2 < GRID { orig[r + 2] << 2 } else { 0 };
            }
        }
        assert_eq!(
            m.similarity(&a, &even).unwrap(),
            1.0,
            "the fast path finds an even shift"
        );
        assert_eq!(c.similarity, 1.0);
        assert_eq!(c.shift, (2, -1));
    }

    #[test]
    fn mixed_parameters_are_refused() {
        let p = Params::default();
        let m = Matcher::new(&p);
        let a = random_template(1, p.fingerprint());
        let b = random_template(2, p.fingerprint() ^ 1);
        assert!(matches!(
            m.similarity(&a, &b).unwrap_err().kind,
            ErrorKind::IncompatibleTemplates { .. }
        ));
    }
}
