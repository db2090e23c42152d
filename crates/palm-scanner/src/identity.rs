//! The device's keys and pairing, in its data directory: `signing.key` (Ed25519) and `seal.key`
//! (X25519), 32 random bytes each, mode 0600; `device.json`, written once paired.

use crate::{Result, ScannerError, io};
use palm_vault::device::{DeviceKey, SealKey};
use palm_vault::load_or_create_key;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The device's two key pairs.
pub struct DeviceKeys {
    pub signing: DeviceKey,
    pub seal: SealKey,
}

/// What pairing bound this device to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Paired {
    pub server: String,
    pub device: palm_api::Device,
}

impl DeviceKeys {
    /// Loads the keys from `dir`, creating the folder (0700) and the keys on first use.
    pub fn open(dir: &Path) -> Result<DeviceKeys> {
        std::fs::create_dir_all(dir).map_err(|e| io(format!("{}: {e}", dir.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| io(format!("{}: {e}", dir.display())))?;
        }
        let signing = load_or_create_key(&dir.join("signing.key")).map_err(io)?;
        let seal = load_or_create_key(&dir.join("seal.key")).map_err(io)?;
        Ok(DeviceKeys {
            signing: DeviceKey::from_secret(&signing),
            seal: SealKey::from_secret(&seal),
        })
    }
}

fn paired_path(dir: &Path) -> PathBuf {
    dir.join("device.json")
}

impl Paired {
    pub fn load(dir: &Path) -> Result<Paired> {
        let bytes = match std::fs::read(paired_path(dir)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ScannerError::NotPaired);
            }
            Err(e) => return Err(io(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| io(format!("device.json: {e}")))
    }

    /// Written whole or not at all, readable by its owner only (it holds the signing key).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(io)?;
        crate::write_atomically(&paired_path(dir), &json)
    }
}
