//! The gallery file: one versioned, checksummed file, written atomically and read in a stream.
//!
//! Layout (little endian): `magic "PLMG" | version u16 | planes u16 | engine fingerprint u32 |
//! transform u32 | count u64`, then per palm `id u64 | owner u64 | bucket u16 | coarse code 7 x u64 |
//! protected cells 7 x 16 x u64`, then the CRC32 of everything before it. Like the database, the
//! file holds templates only in protected form; it loads only under the same transform. Loading checks every field and the checksum before the
//! gallery is handed out: a bad file never yields a partial gallery.

use crate::{Bucket, Gallery, IndexConfig, IndexError, Owner, PalmId, coarse};
use palm_engine::Params;
use palm_engine::protect::{ProtectedRows, Transform, WORDS};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 4] = b"PLMG";
const VERSION: u16 = 3;
const HEADER: usize = 24;
const ENTRY: usize = 8 + 8 + 2 + 8 * coarse::WORDS + std::mem::size_of::<ProtectedRows>();

fn file_err(e: impl std::fmt::Display) -> IndexError {
    IndexError::File(e.to_string())
}

impl Gallery {
    /// Writes the gallery to `path` through a temporary file and a rename, so a crash never
    /// leaves a half-written gallery where a good one was.
    pub fn save(&self, path: &Path) -> Result<(), IndexError> {
        let tmp = path.with_extension("tmp");
        let file = std::fs::File::create(&tmp)
            .map_err(|e| file_err(format!("cannot create {}: {e}", tmp.display())))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut crc = crc32fast::Hasher::new();
        let mut put = |bytes: &[u8]| -> Result<(), IndexError> {
            crc.update(bytes);
            out.write_all(bytes).map_err(file_err)
        };
        // Read locks are taken shard by shard: the file is a consistent snapshot of each shard.
        let shards: Vec<_> = self
            .shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()))
            .collect();
        let count: u64 = shards.iter().map(|s| s.ids.len() as u64).sum();
        put(MAGIC)?;
        put(&VERSION.to_le_bytes())?;
        put(&(coarse::TEMPLATE_PLANES as u16).to_le_bytes())?;
        put(&self.fingerprint.to_le_bytes())?;
        put(&self.transform.id().to_le_bytes())?;
        put(&count.to_le_bytes())?;
        let mut buf = Vec::with_capacity(ENTRY);
        for s in &shards {
            for i in 0..s.ids.len() {
                buf.clear();
                buf.extend_from_slice(&s.ids[i].0.to_le_bytes());
                buf.extend_from_slice(&s.owners[i].0.to_le_bytes());
                buf.extend_from_slice(&s.buckets[i].to_le_bytes());
                s.coarse[i]
                    .iter()
                    .for_each(|w| buf.extend_from_slice(&w.to_le_bytes()));
                s.rows[i]
                    .iter()
                    .flatten()
                    .for_each(|w| buf.extend_from_slice(&w.to_le_bytes()));
                put(&buf)?;
            }
        }
        drop(shards);
        let sum = crc.finalize();
        out.write_all(&sum.to_le_bytes()).map_err(file_err)?;
        let file = out.into_inner().map_err(file_err)?;
        file.sync_all().map_err(file_err)?;
        std::fs::rename(&tmp, path)
            .map_err(|e| file_err(format!("cannot replace {}: {e}", path.display())))
    }

    /// Reads a gallery saved by [`Gallery::save`] for an engine with `params`, under the
    /// transform it was saved with.
    pub fn load(
        path: &Path,
        params: &Params,
        config: IndexConfig,
        transform: Transform,
    ) -> Result<Gallery, IndexError> {
        let file = std::fs::File::open(path)
            .map_err(|e| file_err(format!("cannot open {}: {e}", path.display())))?;
        let size = file.metadata().map_err(file_err)?.len();
        let mut input = BufReader::with_capacity(1 << 20, file);
        let mut crc = crc32fast::Hasher::new();
        let mut header = [0u8; HEADER];
        input
            .read_exact(&mut header)
            .map_err(|_| file_err("truncated header"))?;
        crc.update(&header);
        if &header[..4] != MAGIC {
            return Err(file_err("not a palmline gallery file"));
        }
        let version = u16::from_le_bytes([header[4], header[5]]);
        if version != VERSION {
            return Err(file_err(format!(
                "format version {version}, this build reads {VERSION}"
            )));
        }
        let planes = u16::from_le_bytes([header[6], header[7]]) as usize;
        let fingerprint = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        let transform_id = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
        let count = u64::from_le_bytes(header[16..24].try_into().expect("8 bytes"));
        if planes != coarse::TEMPLATE_PLANES {
            return Err(file_err(format!(
                "{planes} planes per template; this build uses {}",
                coarse::TEMPLATE_PLANES
            )));
        }
        if fingerprint != params.fingerprint() {
            return Err(IndexError::WrongEngine {
                found: fingerprint,
                expected: params.fingerprint(),
            });
        }
        if transform_id != transform.id() {
            return Err(IndexError::OtherTransform {
                found: transform_id,
                expected: transform.id(),
            });
        }
        let expected = HEADER as u64 + count.saturating_mul(ENTRY as u64) + 4;
        if size != expected {
            return Err(file_err(format!(
                "{size} bytes where {count} palms take {expected}: truncated or padded"
            )));
        }
        let gallery = Gallery::new(params, config, transform);
        let mut entry = [0u8; ENTRY];
        for n in 0..count {
            input
                .read_exact(&mut entry)
                .map_err(|_| file_err(format!("truncated at palm {n}")))?;
            crc.update(&entry);
            let id = PalmId(u64::from_le_bytes(entry[..8].try_into().expect("8 bytes")));
            let owner = Owner(u64::from_le_bytes(
                entry[8..16].try_into().expect("8 bytes"),
            ));
            let bucket = Bucket::from_le_bytes([entry[16], entry[17]]);
            let mut code = [0u64; coarse::WORDS];
            for (k, w) in code.iter_mut().enumerate() {
                *w = u64::from_le_bytes(entry[18 + 8 * k..26 + 8 * k].try_into().expect("8 bytes"));
            }
            let base = 18 + 8 * coarse::WORDS;
            let mut words = entry[base..]
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")));
            let rows: ProtectedRows = std::array::from_fn(|_| {
                std::array::from_fn::<u64, WORDS, _>(|_| words.next().expect("entry length"))
            });
            let mut shard = gallery
                .shard_of(id)
                .write()
                .unwrap_or_else(|e| e.into_inner());
            if shard.slot.contains_key(&id) {
                return Err(file_err(format!("palm {} appears twice", id.0)));
            }
            shard.push(id, owner, bucket, code, rows);
        }
        let mut stored = [0u8; 4];
        input
            .read_exact(&mut stored)
            .map_err(|_| file_err("truncated checksum"))?;
        if crc.finalize() != u32::from_le_bytes(stored) {
            return Err(file_err("checksum mismatch: the file is corrupted"));
        }
        Ok(gallery)
    }
}
