//! A data set on disk: `manifest.csv` (path,palm,session,...) or simply one sub-folder per palm.

use std::path::{Path, PathBuf};

/// One image of a set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the set's folder, with `/` separators (as in the manifest).
    pub path: String,
    pub palm: String,
    pub session: Option<String>,
    pub modality: Option<String>,
    /// The capture's number within its palm (manifest `sample`), where given.
    pub sample: Option<String>,
    /// `l` or `r` (manifest `hand`), where given.
    pub hand: Option<String>,
    /// Who the palm belongs to (manifest `person`): links one person's two hands.
    pub person: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Dataset {
    pub root: PathBuf,
    /// The folder's name, or `name/modality` when filtered.
    pub name: String,
    pub entries: Vec<Entry>,
    /// Rows or files that could not be used, each with the reason.
    pub problems: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Row {
    path: String,
    palm: String,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    modality: Option<String>,
    #[serde(default)]
    sample: Option<String>,
    #[serde(default)]
    hand: Option<String>,
    #[serde(default)]
    person: Option<String>,
}

const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "tif"];

impl Dataset {
    /// Reads a set; `modality` keeps only rows of that modality (manifest sets only).
    pub fn open(root: &Path, modality: Option<&str>) -> std::io::Result<Dataset> {
        let base = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| root.display().to_string());
        let name = match modality {
            Some(m) => format!("{base}/{m}"),
            None => base,
        };
        let manifest = root.join("manifest.csv");
        let (entries, problems) = if manifest.is_file() {
            read_manifest(&manifest, modality)?
        } else {
            scan_folders(root)?
        };
        Ok(Dataset {
            root: root.to_path_buf(),
            name,
            entries,
            problems,
        })
    }

    /// Distinct modalities named in the manifest, in order of first appearance.
    pub fn modalities(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for m in self.entries.iter().filter_map(|e| e.modality.clone()) {
            if !seen.contains(&m) {
                seen.push(m);
            }
        }
        seen
    }

    pub fn path_of(&self, e: &Entry) -> PathBuf {
        self.root.join(&e.path)
    }

    /// Every pair's score split into genuine (same palm) and impostor (different palms) lists.
    pub fn split_pairs(&self, scores: &crate::PairScores) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
        let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
        for (i, j) in crate::PairScores::pairs(self.entries.len()) {
            let s = scores.get(i, j);
            if self.entries[i].palm == self.entries[j].palm {
                genuine.push(s)
            } else {
                impostor.push(s)
            }
        }
        (genuine, impostor)
    }

    /// Closed-set split: gallery = all session-1 images when the set has two or more sessions,
    /// else the first image of each palm in manifest order; probes = the rest.
    pub fn gallery_split(&self) -> (Vec<usize>, Vec<usize>) {
        let mut sessions: Vec<&str> = self
            .entries
            .iter()
            .filter_map(|e| e.session.as_deref())
            .collect();
        sessions.sort();
        sessions.dedup();
        if sessions.len() >= 2 {
            let first = sessions[0];
            let (g, p): (Vec<usize>, Vec<usize>) = (0..self.entries.len())
                .partition(|&i| self.entries[i].session.as_deref() == Some(first));
            return (g, p);
        }
        let mut seen = std::collections::HashSet::new();
        (0..self.entries.len()).partition(|&i| seen.insert(self.entries[i].palm.clone()))
    }
}

fn read_manifest(
    manifest: &Path,
    modality: Option<&str>,
) -> std::io::Result<(Vec<Entry>, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(manifest)
        .map_err(std::io::Error::other)?;
    let (mut entries, mut problems) = (Vec::new(), Vec::new());
    for (n, row) in reader.deserialize::<Row>().enumerate() {
        let line = n + 2;
        match row {
            Ok(r) if r.path.trim().is_empty() || r.palm.trim().is_empty() => {
                problems.push(format!("manifest line {line}: empty path or palm"))
            }
            Ok(r) if r.path.contains("..") || r.path.starts_with('/') => problems.push(format!(
                "manifest line {line}: path {:?} leaves the set's folder",
                r.path
            )),
            Ok(r) => {
                let blank = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
                let modality_of_row = blank(r.modality);
                if modality.is_some_and(|m| modality_of_row.as_deref() != Some(m)) {
                    continue;
                }
                entries.push(Entry {
                    path: r.path,
                    palm: r.palm,
                    session: blank(r.session),
                    modality: modality_of_row,
                    sample: blank(r.sample),
                    hand: blank(r.hand),
                    person: blank(r.person),
                });
            }
            Err(e) => problems.push(format!("manifest line {line}: {e}")),
        }
    }
    Ok((entries, problems))
}

fn scan_folders(root: &Path) -> std::io::Result<(Vec<Entry>, Vec<String>)> {
    let mut palms: Vec<PathBuf> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    palms.sort();
    let mut entries = Vec::new();
    for dir in palms {
        let palm = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            })
            .collect();
        files.sort();
        for f in files {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            entries.push(Entry {
                path: format!("{palm}/{name}"),
                palm: palm.clone(),
                session: None,
                modality: None,
                sample: None,
                hand: None,
                person: None,
            });
        }
    }
    Ok((entries, Vec::new()))
}

/// A test set of `palms` palms with `captures` captures each and no other columns.
#[cfg(test)]
pub(crate) fn plain_set(palms: usize, captures: usize) -> Dataset {
    let entries = (0..palms)
        .flat_map(|p| {
            (0..captures).map(move |c| Entry {
                path: format!("p{p}/{c}.png"),
                palm: format!("p{p}"),
                session: None,
                modality: None,
                sample: None,
                hand: None,
                person: None,
            })
        })
        .collect();
    Dataset {
        root: ".".into(),
        name: "t".into(),
        entries,
        problems: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_layout_and_manifest_agree() {
        let dir = std::env::temp_dir().join(format!("palm-eval-ds-{}", std::process::id()));
        for palm in ["p1", "p2"] {
            std::fs::create_dir_all(dir.join(palm)).unwrap();
            for f in ["a.png", "b.png", "notes.txt"] {
                std::fs::write(dir.join(palm).join(f), b"x").unwrap();
            }
        }
        let ds = Dataset::open(&dir, None).unwrap();
        assert_eq!(ds.entries.len(), 4);
        assert_eq!(ds.gallery_split(), (vec![0, 2], vec![1, 3]));
        std::fs::write(
            dir.join("manifest.csv"),
            "path,palm,session,sample,hand,modality,source\np1/a.png,p1,1,,,green,x\np1/b.png,p1,2,,,green,x\n\
             p2/a.png,p2,1,,,nir,x\n../etc/passwd,p3,1,,,green,x\nbad\n",
        )
        .unwrap();
        let ds = Dataset::open(&dir, Some("green")).unwrap();
        assert_eq!(ds.entries.len(), 2);
        assert_eq!(ds.gallery_split(), (vec![0], vec![1]));
        assert_eq!(ds.problems.len(), 2, "{:?}", ds.problems);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
