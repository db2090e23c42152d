//! Key custody on disk: keys come from configuration, or are generated on first run into the data
//! directory as files readable by their owner only (0600), written atomically.

use crate::envelope::VaultError;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Reads a 32-byte key (64 hex digits) from `path`, creating it with a random key when missing.
/// Refuses a key file that others can read.
pub fn load_or_create_key(path: &Path) -> Result<[u8; 32], VaultError> {
    let err = |what: &str| VaultError::KeyFile(format!("{}: {what}", path.display()));
    match std::fs::metadata(path) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(err("readable by group or others; chmod 600 it"));
            }
            let text = std::fs::read_to_string(path).map_err(|e| err(&e.to_string()))?;
            parse_hex_key(text.trim()).ok_or_else(|| err("not 64 hexadecimal digits"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|_| VaultError::Random)?;
            write_key_file(path, &key)?;
            Ok(key)
        }
        Err(e) => Err(err(&e.to_string())),
    }
}

/// Writes a key file with mode 0600, whole or not at all (see [`write_private`]).
pub fn write_key_file(path: &Path, key: &[u8; 32]) -> Result<(), VaultError> {
    write_private(path, hex::encode(key).as_bytes())
        .map_err(|e| VaultError::KeyFile(format!("{}: {e}", path.display())))
}

/// Writes `bytes` to `path` whole or not at all, readable by its owner only: a temporary file
/// (created 0600 with a unique name beside the target, removed if anything fails) is synced and
/// renamed over the target. Key files, a device's identity and the demo's credentials all go
/// through here, so a crash never leaves half a secret and none is ever readable by others.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn parse_hex_key(s: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(s, &mut key).ok()?;
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_tight_permissions_then_reloaded() {
        let dir = std::env::temp_dir().join(format!("palm-vault-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("master.key");
        let first = load_or_create_key(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_or_create_key(&path).unwrap(), first);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create_key(&path).unwrap_err().to_string();
        assert!(
            e.contains("chmod 600") && !e.contains(&format!("{:02x}{:02x}", first[0], first[1])),
            "{e}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not hex").unwrap();
        assert!(
            load_or_create_key(&path)
                .unwrap_err()
                .to_string()
                .contains("64 hexadecimal")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
