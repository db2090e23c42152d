//! Key custody in the data directory: master keys `keys/master-<id>.key` (the highest id is
//! active; lower ids only unwrap until rotation has rewrapped everything), the fingerprint
//! key `keys/fingerprint.key`, and the template-protection transform keys
//! `keys/transform-<id>.key` (the highest id is current; lower ids only until the next start has
//! renewed every palm, then they are destroyed), and the capture keys `keys/capture-<id>.key`
//! that devices seal captures to (X25519; the highest id is current; an older key has a
//! `capture-<id>.retired` file with the Unix time it was replaced, and opens captures only for
//! the overlap period after it), and the palm grid's probe key `keys/grid-probe.key` (matchers
//! and gateways of a distributed gallery seal probes with it). Every key file is 32 random
//! bytes, mode 0600, in a 0700 folder.

use palm_engine::protect::Transform;
use palm_service::store::{PersonId, Store};
use palm_service::{CaptureKey, KeySource};
use palm_vault::device::SealKey;
use palm_vault::{
    Fingerprinter, KeyRing, MasterKey, VaultError, WrappedKey, load_or_create_key, write_key_file,
};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

pub struct DataDirKeys {
    dir: PathBuf,
    /// The key folder's modification time at the last load: a new key file changes it.
    seen: Mutex<Option<SystemTime>>,
}

fn master_ids(dir: &Path) -> Result<Vec<u32>, VaultError> {
    key_ids(dir, "master-")
}

fn transform_ids(dir: &Path) -> Result<Vec<u32>, VaultError> {
    key_ids(dir, "transform-")
}

fn capture_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("capture-{id}.key"))
}

fn capture_retired_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("capture-{id}.retired"))
}

fn transform_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("transform-{id}.key"))
}

/// The ids of `<prefix><id>.key` files, ascending.
fn key_ids(dir: &Path, prefix: &str) -> Result<Vec<u32>, VaultError> {
    let mut ids: Vec<u32> = std::fs::read_dir(dir)
        .map_err(|e| VaultError::KeyFile(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix(prefix)?
                .strip_suffix(".key")?
                .parse()
                .ok()
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

fn master_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("master-{id}.key"))
}

fn mtime(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir).and_then(|m| m.modified()).ok()
}

impl DataDirKeys {
    /// Opens the key folder, creating it and a first master key and fingerprint key if absent.
    pub fn open(data_dir: &Path) -> Result<(DataDirKeys, Fingerprinter), VaultError> {
        let dir = data_dir.join("keys");
        create_private_dir(&dir)?;
        if master_ids(&dir)?.is_empty() {
            load_or_create_key(&master_path(&dir, 1))?;
        }
        let fingerprint = load_or_create_key(&dir.join("fingerprint.key"))?;
        if transform_ids(&dir)?.is_empty() {
            load_or_create_key(&transform_path(&dir, 1))?;
        }
        if key_ids(&dir, "capture-")?.is_empty() {
            load_or_create_key(&capture_path(&dir, 1))?;
        }
        Ok((
            DataDirKeys {
                dir,
                seen: Mutex::new(None),
            },
            Fingerprinter::new(fingerprint),
        ))
    }
}

impl DataDirKeys {
    /// The key the palm grid seals probes with between gateway and matchers
    /// (`keys/grid-probe.key`, created on first use). Every process of a grid reads the same
    /// key folder (deployed to each host like the master keys).
    pub fn grid_probe_key(&self) -> Result<palm_vault::DataKey, VaultError> {
        let secret = load_or_create_key(&self.dir.join("grid-probe.key"))?;
        Ok(palm_vault::DataKey::from_secret(&secret))
    }

    /// The template-protection transforms, oldest first (the last is current).
    pub fn transforms(&self) -> Result<Vec<Transform>, VaultError> {
        transform_ids(&self.dir)?
            .into_iter()
            .map(|id| {
                Ok(Transform::new(
                    id,
                    load_or_create_key(&transform_path(&self.dir, id))?,
                ))
            })
            .collect()
    }

    /// Destroys the transform keys older than `current`: called once every palm is renewed, so
    /// templates left under them (in backups or old database pages) can no longer be matched or
    /// linked. The files are deleted, not renamed: unlike a retired master key, an old transform
    /// key has nothing left to open.
    pub fn destroy_transforms_before(&self, current: u32) -> Result<Vec<u32>, VaultError> {
        let old: Vec<u32> = transform_ids(&self.dir)?
            .into_iter()
            .filter(|&id| id < current)
            .collect();
        for &id in &old {
            let path = transform_path(&self.dir, id);
            std::fs::remove_file(&path)
                .map_err(|e| VaultError::KeyFile(format!("{}: {e}", path.display())))?;
        }
        Ok(old)
    }
}

/// Why an operator's key task (renew, rotate) stopped. Nothing secret is in it: paths, ids and
/// the underlying error's text only.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the random source failed")]
    Random,
    #[error(transparent)]
    Store(#[from] palm_service::StoreError),
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::File {
        path: path.to_path_buf(),
        source,
    }
}

/// `palmline keys renew-transform`: writes a new transform generation. Servers keep their
/// current transform until they restart; the next start renews every palm and destroys the old
/// transform key.
pub fn renew_transform(data_dir: &Path) -> Result<u32, KeyError> {
    Ok(add_key(data_dir, "transform-")?.new)
}

/// A key folder after [`add_key`] wrote the next generation of a kind of key.
struct NewKey {
    dir: PathBuf,
    /// The ids of that kind before it, ascending.
    old: Vec<u32>,
    new: u32,
}

/// Writes `<prefix><highest id + 1>.key` (32 random bytes, 0600) into the data directory's key
/// folder, creating the folder and first keys if absent.
fn add_key(data_dir: &Path, prefix: &str) -> Result<NewKey, KeyError> {
    DataDirKeys::open(data_dir)?;
    let dir = data_dir.join("keys");
    let old = key_ids(&dir, prefix)?;
    let new = old.last().map_or(1, |id| id + 1);
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|_| KeyError::Random)?;
    write_key_file(&dir.join(format!("{prefix}{new}.key")), &key)?;
    Ok(NewKey { dir, old, new })
}

pub fn create_private_dir(dir: &Path) -> Result<(), VaultError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| VaultError::KeyFile(format!("{}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| VaultError::KeyFile(format!("{}: {e}", dir.display())))?;
    }
    Ok(())
}

impl KeySource for DataDirKeys {
    fn load(&self) -> Result<KeyRing, VaultError> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = mtime(&self.dir);
        let ids = master_ids(&self.dir)?;
        let mut keys = Vec::with_capacity(ids.len());
        for id in ids {
            let bytes = load_or_create_key(&master_path(&self.dir, id))?;
            keys.push(MasterKey::new(id, bytes));
        }
        let active = keys
            .pop()
            .ok_or_else(|| VaultError::KeyFile("no master key in the key folder".into()))?;
        Ok(KeyRing::new(active, keys))
    }

    fn changed(&self) -> bool {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) != mtime(&self.dir)
    }

    fn capture_keys(&self) -> Result<Vec<CaptureKey>, VaultError> {
        key_ids(&self.dir, "capture-")?
            .into_iter()
            .map(|id| {
                let secret = load_or_create_key(&capture_path(&self.dir, id))?;
                let retired = capture_retired_path(&self.dir, id);
                let retired_at = match std::fs::read_to_string(&retired) {
                    Ok(text) => Some(text.trim().parse().map_err(|_| {
                        VaultError::KeyFile(format!("{}: not a Unix time", retired.display()))
                    })?),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => {
                        return Err(VaultError::KeyFile(format!("{}: {e}", retired.display())));
                    }
                };
                Ok(CaptureKey {
                    id,
                    key: SealKey::from_secret(&secret),
                    retired_at,
                })
            })
            .collect()
    }
}

/// `palmline keys rotate-capture`: a new capture key becomes current; the keys before it are
/// marked retired at `now`, so captures sealed to them (by devices that have not fetched the new
/// key yet) are still opened for the overlap period, then refused. Servers pick the new key up
/// while running.
pub fn rotate_capture(data_dir: &Path, now: i64) -> Result<u32, KeyError> {
    let NewKey { dir, old, new: id } = add_key(data_dir, "capture-")?;
    for old_id in old {
        let retired = capture_retired_path(&dir, old_id);
        if !retired.exists() {
            std::fs::write(&retired, now.to_string()).map_err(file_error(&retired))?;
        }
    }
    Ok(id)
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub new_master: u32,
    pub people_rewrapped: usize,
    pub endpoints_rewrapped: usize,
    /// Stored answers of idempotent requests (their data keys).
    pub answers_rewrapped: usize,
    pub retired: Vec<u32>,
}

/// `palmline keys rotate`: a new master key becomes active, every data key is rewrapped under it
/// (row by row, each a compare-and-set, while the server keeps running: it reads the new key file
/// when it next wraps or meets a key it does not know), then the old master keys are retired
/// (renamed `*.retired`, no longer loaded). Data is never re-encrypted: only 32-byte keys are.
pub async fn rotate(data_dir: &Path, store: &dyn Store) -> Result<RotationReport, KeyError> {
    let NewKey {
        dir,
        old,
        new: new_id,
    } = add_key(data_dir, "master-")?;
    let source = DataDirKeys {
        dir: dir.clone(),
        seen: Mutex::new(None),
    };
    let mut report = RotationReport {
        new_master: new_id,
        ..Default::default()
    };
    // Two passes: the second catches rows a running server wrapped under the old key just
    // before it noticed the new one.
    for _ in 0..2 {
        let ring = source.load()?;
        let mut after = String::new();
        loop {
            let page = store.wrapped_keys_page(&after, 500).await?;
            let Some((last, _)) = page.last() else { break };
            after = last.clone();
            report.people_rewrapped += rewrap_rows(&ring, page, async |id, old, new| {
                store
                    .replace_wrapped_key(&PersonId::new(id), old, new)
                    .await
            })
            .await?;
        }
        let endpoints = store.endpoint_keys().await?;
        report.endpoints_rewrapped += rewrap_rows(&ring, endpoints, async |id, old, new| {
            store.replace_endpoint_key(id, old, new).await
        })
        .await?;
        for (scope, key, stored) in store.sealed_answers().await? {
            let Some(new) = palm_service::answers::rewrap_answer(&ring, &stored)? else {
                continue;
            };
            if store.replace_answer(&scope, &key, &stored, &new).await? {
                report.answers_rewrapped += 1;
            }
        }
    }
    for id in old {
        let from = master_path(&dir, id);
        let to = dir.join(format!("master-{id}.key.retired"));
        std::fs::rename(&from, &to).map_err(file_error(&from))?;
        report.retired.push(id);
    }
    Ok(report)
}

/// Rewraps each `(id, wrapped key)` under the ring's active key and stores it if the row still
/// holds the old one; returns how many rows changed.
async fn rewrap_rows(
    ring: &KeyRing,
    rows: Vec<(String, Vec<u8>)>,
    replace: impl AsyncFn(&str, &[u8], &[u8]) -> Result<bool, palm_service::StoreError>,
) -> Result<usize, KeyError> {
    let mut changed = 0;
    for (id, wrapped) in rows {
        let new = ring.rewrap(&WrappedKey(wrapped.clone()))?;
        if new.0 != wrapped && replace(&id, &wrapped, &new.0).await? {
            changed += 1;
        }
    }
    Ok(changed)
}
