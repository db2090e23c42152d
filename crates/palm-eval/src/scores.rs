//! Score files from any matcher: CSV with columns `a,b,distance` or `a,b,similarity`, paths
//! relative to the set, so other systems are measured by the same metric code.

use crate::{Dataset, PairScores};
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ScoreFileError {
    #[error("cannot read score file: {0}")]
    Io(#[from] std::io::Error),
    #[error("score file header must be a,b,distance or a,b,similarity (found {0})")]
    Header(String),
    #[error("score file line {line}: {why}")]
    Row { line: usize, why: String },
    #[error("score file lacks {missing} of the set's {total} pairs (first missing: {first})")]
    Missing {
        missing: usize,
        total: usize,
        first: String,
    },
}

/// Reads a score file against a set. Distances are negated so that higher always means more alike.
pub fn read_score_file(file: &Path, set: &Dataset) -> Result<PairScores, ScoreFileError> {
    let mut reader =
        csv::Reader::from_path(file).map_err(|e| std::io::Error::other(e.to_string()))?;
    let header = reader
        .headers()
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .clone();
    let columns: Vec<&str> = header.iter().map(str::trim).collect();
    let sign = match columns.as_slice() {
        ["a", "b", "distance"] => -1.0,
        ["a", "b", "similarity"] => 1.0,
        _ => return Err(ScoreFileError::Header(columns.join(","))),
    };
    let index: HashMap<&str, usize> = set
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.path.as_str(), i))
        .collect();
    let n = set.entries.len();
    let mut scores = PairScores::new(n);
    let mut seen = vec![false; n * n.saturating_sub(1) / 2];
    for (k, row) in reader.records().enumerate() {
        let line = k + 2;
        let row = row.map_err(|e| ScoreFileError::Row {
            line,
            why: e.to_string(),
        })?;
        let field = |c: usize| row.get(c).map(str::trim).unwrap_or("");
        let lookup = |p: &str| {
            index.get(p).copied().ok_or_else(|| ScoreFileError::Row {
                line,
                why: format!("{p:?} is not in the set"),
            })
        };
        let (a, b) = (lookup(field(0))?, lookup(field(1))?);
        if a == b {
            return Err(ScoreFileError::Row {
                line,
                why: "an image paired with itself".into(),
            });
        }
        let value: f64 = field(2).parse().map_err(|_| ScoreFileError::Row {
            line,
            why: format!("{:?} is not a number", field(2)),
        })?;
        if !value.is_finite() {
            return Err(ScoreFileError::Row {
                line,
                why: "score is not finite".into(),
            });
        }
        let (i, j) = (a.min(b), a.max(b));
        seen[i * (2 * n - i - 1) / 2 + (j - i - 1)] = true;
        scores.set(i, j, Some(sign * value));
    }
    let missing: Vec<(usize, usize)> = PairScores::pairs(n)
        .zip(&seen)
        .filter(|(_, s)| !**s)
        .map(|(p, _)| p)
        .collect();
    if let Some(&(i, j)) = missing.first() {
        return Err(ScoreFileError::Missing {
            missing: missing.len(),
            total: seen.len(),
            first: format!("{},{}", set.entries[i].path, set.entries[j].path),
        });
    }
    Ok(scores)
}
