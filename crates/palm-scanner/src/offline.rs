//! A gate that keeps deciding when the network is down.
//!
//! While online the gate syncs its event's allow-list (sealed to this device's key; it stays
//! sealed on disk and is opened only in memory), and asks whether the list was revoked. When a
//! scan cannot reach the server, [`OfflineGate::decide`] matches the palm against the list's
//! templates and applies the rules it can check alone; every decision is appended to a queue on
//! disk (ids and reasons only, no biometrics) and uploaded when the server answers again.
//!
//! What changes offline: a pass revoked during the outage still opens the gate; the venue's
//! capacity is not enforced (the gate cannot see the other gates' admissions); "already inside"
//! and re-entry know only this gate's offline decisions; anyone on the list may leave. Uploaded
//! decisions are recorded as they were made.

use crate::client::Client;
use crate::identity::DeviceKeys;
use crate::{Result, io};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use palm_api as api;
use palm_engine::Engine;
use palm_engine::protect::Transform;
use palm_index::{
    Calibration, Decision, Gallery, IndexConfig, PalmId, Policy, ProtectedPalm,
    SHIPPED_CALIBRATION, Search,
};
use palm_vault::device::{self, Sealed};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroize;

fn list_path(dir: &Path, event: &str) -> PathBuf {
    dir.join(format!("allow-list-{event}.json"))
}

fn queue_path(dir: &Path) -> PathBuf {
    dir.join("offline-queue.jsonl")
}

impl Client {
    /// Fetches the event's allow-list and keeps it, still sealed, in `dir`.
    pub async fn sync_allow_list(&self, dir: &Path, event: &str) -> Result<api::SealedAllowList> {
        let list: api::SealedAllowList = self
            .signed("GET", &format!("/v1/gate/allow_list?event={event}"), None)
            .await?
            .into_result()?;
        let json = serde_json::to_vec(&list).map_err(io)?;
        crate::write_atomically(&list_path(dir, event), &json)?;
        Ok(list)
    }

    /// Asks whether the kept list was revoked; a revoked list is deleted. True when it was.
    pub async fn check_allow_list(&self, dir: &Path, event: &str) -> Result<bool> {
        let path = list_path(dir, event);
        let kept: api::SealedAllowList =
            serde_json::from_slice(&std::fs::read(&path).map_err(io)?).map_err(io)?;
        let status: api::AllowListStatus = self
            .signed("GET", &format!("/v1/gate/allow_lists/{}", kept.id), None)
            .await?
            .into_result()?;
        if status.revoked {
            std::fs::remove_file(&path).map_err(io)?;
        }
        Ok(status.revoked)
    }

    /// Uploads the queued offline decisions; the queue is cleared only once the server has them.
    pub async fn upload_queue(&self, dir: &Path) -> Result<api::OfflineUpload> {
        let text = match std::fs::read_to_string(queue_path(dir)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        let entries: Vec<api::OfflineEntry> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| io(format!("offline queue: {e}")))?;
        if entries.is_empty() {
            return Ok(api::OfflineUpload {
                recorded: 0,
                duplicates: 0,
            });
        }
        // In batches the server takes; an entry sent twice (after a failed batch) is counted as
        // a duplicate, never recorded twice.
        let mut done = api::OfflineUpload {
            recorded: 0,
            duplicates: 0,
        };
        for batch in entries.chunks(api::MAX_OFFLINE_ENTRIES) {
            let body = serde_json::to_value(api::OfflineEntries {
                entries: batch.to_vec(),
            })
            .map_err(io)?;
            let part: api::OfflineUpload = self
                .signed("POST", "/v1/gate/entries", Some(&body))
                .await?
                .into_result()?;
            done.recorded += part.recorded;
            done.duplicates += part.duplicates;
        }
        std::fs::remove_file(queue_path(dir)).map_err(io)?;
        Ok(done)
    }
}

/// An opened allow-list, ready to decide.
pub struct OfflineGate {
    dir: PathBuf,
    list: api::AllowList,
    gallery: Gallery,
    /// Index into `list.entries` of each enrolled palm.
    owner: Vec<usize>,
    engine: Engine,
    policy: Policy,
    /// This gate's offline crossings per person: (in, out).
    crossings: HashMap<String, (u32, u32)>,
}

impl OfflineGate {
    /// Opens the kept list for `event` with this device's key. A list that was tampered with, or
    /// made for another device, does not open.
    pub fn open(
        dir: &Path,
        keys: &DeviceKeys,
        device_id: &str,
        event: &str,
    ) -> Result<OfflineGate> {
        let kept: api::SealedAllowList = serde_json::from_slice(
            &std::fs::read(list_path(dir, event))
                .map_err(|e| io(format!("no allow-list for {event} on this gate: {e}")))?,
        )
        .map_err(io)?;
        let sealed = Sealed {
            enc: B64.decode(&kept.enc).map_err(io)?,
            ciphertext: B64.decode(&kept.ciphertext).map_err(io)?,
        };
        let mut json = keys
            .seal
            .open(&sealed, &device::allow_list_aad(device_id, event, &kept.id))
            .map_err(|_| io("the allow-list does not open: altered, or made for another device"))?;
        let list: std::result::Result<api::AllowList, _> = serde_json::from_slice(&json);
        json.zeroize();
        let mut list = list.map_err(io)?;
        let mut key: [u8; 32] = B64
            .decode(&list.transform_key)
            .map_err(io)?
            .try_into()
            .map_err(|_| io("allow-list transform key is not 32 bytes"))?;
        list.transform_key.zeroize();
        let engine = Engine::default();
        let gallery = Gallery::new(
            engine.params(),
            IndexConfig {
                shards: 1,
                shortlist: 300,
            },
            Transform::new(1, key),
        );
        key.zeroize();
        let mut owner = Vec::new();
        for (i, entry) in list.entries.iter_mut().enumerate() {
            for palm in entry.palms.drain(..) {
                let bytes = B64.decode(&palm).map_err(io)?;
                let protected = ProtectedPalm::from_bytes(&bytes).map_err(io)?;
                gallery
                    .insert(PalmId(owner.len() as u64), None, &protected)
                    .map_err(io)?;
                owner.push(i);
            }
        }
        let policy = Policy::new(Calibration::from_text(SHIPPED_CALIBRATION).map_err(io)?);
        Ok(OfflineGate {
            dir: dir.to_path_buf(),
            list,
            gallery,
            owner,
            engine,
            policy,
            crossings: HashMap::new(),
        })
    }

    /// People on the list.
    pub fn people(&self) -> usize {
        self.list.entries.len()
    }

    /// Decides for a palm at `now` without the server, and queues the decision.
    pub fn decide(&mut self, frame: &[u8], direction: &str, now: i64) -> Result<api::GateDecision> {
        let (person, reason) = self.judge(frame, direction, now);
        let allowed = matches!(reason, "welcome" | "goodbye");
        if allowed && let Some(p) = &person {
            let c = self.crossings.entry(p.clone()).or_default();
            match direction {
                "out" => c.1 += 1,
                _ if !self.list.age_restricted => c.0 += 1,
                _ => {}
            }
        }
        let entry = api::OfflineEntry {
            id: format!("ent_{}", crate::random_hex(12)?),
            event: self.list.event.clone(),
            person: person.clone(),
            direction: if self.list.age_restricted {
                "area".into()
            } else {
                direction.to_string()
            },
            allowed,
            reason: reason.to_string(),
            decided_at: now,
            allow_list: self.list.id.clone(),
        };
        // One line per decision, flushed to disk before the gate opens.
        let mut line = serde_json::to_vec(&entry).map_err(io)?;
        line.push(b'\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(queue_path(&self.dir))
            .map_err(io)?;
        file.write_all(&line).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(api::GateDecision {
            allowed,
            reason: reason.to_string(),
            person,
            trip: None,
        })
    }

    fn judge(&self, frame: &[u8], direction: &str, now: i64) -> (Option<String>, &'static str) {
        if now > self.list.expires {
            return (None, "allow_list_expired");
        }
        let Ok(template) = self.engine.template(frame) else {
            return (None, "palm_not_recognised");
        };
        let found = self
            .gallery
            .identify(&template, &Search::default(), &self.policy)
            .ok()
            .and_then(|r| match r.decision {
                Decision::Match(PalmId(i)) => self.owner.get(i as usize).copied(),
                _ => None,
            });
        let Some(i) = found else {
            return (None, "palm_not_recognised");
        };
        let entry = &self.list.entries[i];
        let person = Some(entry.person.clone());
        let (ins, outs) = self
            .crossings
            .get(&entry.person)
            .copied()
            .unwrap_or_default();
        let inside = ins > outs;
        if direction == "out" {
            // Whoever is on the list may leave: people admitted online before the outage are
            // inside without this gate having seen them.
            return (person, "goodbye");
        }
        if now < self.list.starts {
            return (person, "event_not_open");
        }
        if self.list.age_restricted {
            return (
                person,
                if entry.age_verified {
                    "welcome"
                } else {
                    "age_not_verified"
                },
            );
        }
        if inside {
            return (person, "already_inside");
        }
        if ins > 0 && !self.list.reentry {
            return (person, "no_reentry");
        }
        (person, "welcome")
    }
}
