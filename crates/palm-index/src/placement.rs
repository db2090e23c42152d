//! Where a palm lives in a gallery spread over several matcher processes.
//!
//! Every palm id falls in one of [`VIRTUAL_SHARDS`] virtual shards, a pure function of the id, so
//! the database, the replication stream and every matcher agree on it without asking each
//! other. A matcher holds a [`ShardSet`] (for example `0-127`), and a deployment grows by handing
//! virtual shards to new processes, never by re-hashing palms.
//!
//! The function is a durable format: it decides which stream subject and which matcher a stored
//! palm goes to, so changing it would strand every palm already placed. Known-answer tests pin it.

use std::fmt;

/// How many virtual shards a gallery is cut into.
pub const VIRTUAL_SHARDS: u16 = 256;

/// The virtual shard of a palm: the SplitMix64 finaliser of its id, modulo [`VIRTUAL_SHARDS`].
/// Mixing first keeps the placement even whatever scheme mints the ids (random today; a
/// sequence or a timestamp-prefixed id would otherwise crowd a few shards).
pub fn virtual_shard(palm_id: u64) -> u16 {
    let mut z = palm_id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % u64::from(VIRTUAL_SHARDS)) as u16
}

/// A set of virtual shards, as a matcher is given them: `0-127`, `3,9,200-255` or `all`.
#[derive(Clone, PartialEq, Eq)]
pub struct ShardSet {
    held: Vec<bool>,
}

/// Why a shard list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shard list {text:?}: {why} (write ranges like 0-127 or 3,9,200-255 within 0-255, or all)")]
pub struct ShardListError {
    text: String,
    why: &'static str,
}

impl ShardSet {
    /// Every virtual shard.
    pub fn all() -> ShardSet {
        ShardSet {
            held: vec![true; usize::from(VIRTUAL_SHARDS)],
        }
    }

    /// Parses a comma-separated list of shards and inclusive ranges.
    pub fn parse(text: &str) -> Result<ShardSet, ShardListError> {
        let refuse = |why| ShardListError {
            text: text.chars().take(64).collect(),
            why,
        };
        if text.trim() == "all" {
            return Ok(ShardSet::all());
        }
        let mut held = vec![false; usize::from(VIRTUAL_SHARDS)];
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(refuse("an empty entry"));
            }
            let (first, last) = match part.split_once('-') {
                Some((a, b)) => (a.trim(), b.trim()),
                None => (part, part),
            };
            let shard = |s: &str| {
                s.parse::<u16>()
                    .ok()
                    .filter(|n| *n < VIRTUAL_SHARDS)
                    .ok_or_else(|| refuse("a shard that is not a number from 0 to 255"))
            };
            let (first, last) = (shard(first)?, shard(last)?);
            if first > last {
                return Err(refuse("a range that runs backwards"));
            }
            for s in first..=last {
                held[usize::from(s)] = true;
            }
        }
        Ok(ShardSet { held })
    }

    pub fn contains(&self, shard: u16) -> bool {
        self.held.get(usize::from(shard)).copied().unwrap_or(false)
    }

    /// Whether the palm with this id belongs here.
    pub fn holds_palm(&self, palm_id: u64) -> bool {
        self.contains(virtual_shard(palm_id))
    }

    /// The shards held, in order.
    pub fn shards(&self) -> Vec<u16> {
        (0..VIRTUAL_SHARDS).filter(|s| self.contains(*s)).collect()
    }
}

/// Written back as ranges (`0-127,200`), the form `parse` reads.
impl fmt::Display for ShardSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shards = self.shards();
        if shards.len() == usize::from(VIRTUAL_SHARDS) {
            return f.write_str("all");
        }
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for s in shards {
            match ranges.last_mut() {
                Some((_, last)) if *last + 1 == s => *last = s,
                _ => ranges.push((s, s)),
            }
        }
        let text: Vec<String> = ranges
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        f.write_str(&text.join(","))
    }
}

impl fmt::Debug for ShardSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShardSet({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_is_pinned() {
        // Known answers: a change here would send stored palms to the wrong matchers.
        // (The values were computed apart from this code, with the SplitMix64 reference.)
        let known = [(0u64, 175u16), (1, 193), (123_456_789, 121), (u64::MAX, 32)];
        for (id, shard) in known {
            assert_eq!(virtual_shard(id), shard, "palm id {id}");
        }
    }

    #[test]
    fn placement_is_even_for_sequential_ids() {
        let mut counts = [0u32; VIRTUAL_SHARDS as usize];
        for id in 0..256_000u64 {
            counts[usize::from(virtual_shard(id))] += 1;
        }
        // 1,000 expected per shard; a plain modulo of a crowded id range would leave most empty.
        assert!(counts.iter().all(|c| (850..1150).contains(c)), "{counts:?}");
    }

    #[test]
    fn shard_lists_parse_and_print_back() {
        let set = ShardSet::parse("0-127, 200,201-203").unwrap();
        assert!(set.contains(0) && set.contains(127) && set.contains(202));
        assert!(!set.contains(128) && !set.contains(199) && !set.contains(204));
        assert_eq!(set.to_string(), "0-127,200-203");
        assert_eq!(ShardSet::parse(&set.to_string()).unwrap(), set);
        assert_eq!(ShardSet::parse("all").unwrap().shards().len(), 256);
        assert_eq!(ShardSet::all().to_string(), "all");
    }

    #[test]
    fn bad_shard_lists_are_refused_with_a_reason() {
        for (text, why) in [
            ("", "empty"),
            ("0-300", "0 to 255"),
            ("9-3", "backwards"),
            ("a", "0 to 255"),
            ("1,,2", "empty"),
        ] {
            let e = ShardSet::parse(text).unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }
}
