//! What eval's and bench's reports share: the report of one set, the verification figures
//! every report carries under the same JSON keys, the median and percentile definitions, and
//! the progress bar long work shows.

use indicatif::{ProgressBar, ProgressStyle};
use palm_eval::Verification;
use serde_json::{Value, json};

pub struct Report {
    pub name: String,
    pub images: usize,
    /// Absent for identification reports.
    pub verification: Option<Verification>,
    pub json: Value,
}

/// The report object `fields` with the verification figures every report carries, under the keys
/// `palmline eval --json` prints.
pub fn with_verification(v: &Verification, fields: Value) -> Value {
    let mut report = json!({
        "genuine_pairs": v.genuine_pairs,
        "impostor_pairs": v.impostor_pairs,
        "eer": v.eer,
        "fnmr_at_fmr_1e2": v.fnmr_at_fmr[0],
        "fnmr_at_fmr_1e3": v.fnmr_at_fmr[1],
        "fnmr_at_fmr_1e4": v.fnmr_at_fmr[2],
        "dprime": v.dprime,
        "eer_threshold": v.eer_threshold,
    });
    if let (Value::Object(report), Value::Object(fields)) = (&mut report, fields) {
        report.extend(fields);
    }
    report
}

pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_string());
    bar
}

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// The nearest-rank percentile (`q` in 0..=1) of sorted samples, the one definition every bench
/// reports; NaN when there are none.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        assert!(percentile(&[], 0.5).is_nan(), "no samples, no panic");
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 0.5), 50.0);
        assert_eq!(percentile(&hundred, 0.99), 99.0);
        assert_eq!(percentile(&hundred, 1.0), 100.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
    }
}
