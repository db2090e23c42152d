//! Keyed random streams for durable layouts: the protection transform's cell layout and pads, and
//! the index's coarse-code layout, are drawn from a deployment's key. Every template a deployment
//! stores was scattered by them, so they must come out the same from every build for ever.
//!
//! That is why the shuffle is written here and not taken from `rand`: `rand` documents that its
//! sampling algorithms may change between versions, and a changed shuffle would make every stored
//! palm unmatchable without any error. The ChaCha20 keystream itself is a standard (RFC 8439
//! block function, 64-bit counter, stream id as nonce) whose output does not change. This module
//! reproduces, step for step, the Fisher-Yates shuffle that `rand` 0.10 performed when the first
//! templates were stored (a forward Durstenfeld shuffle whose dice rolls are drawn several at a
//! time from one bounded 32-bit number, each bounded number by Canon's widening multiply), so the
//! layouts of existing deployments are kept. Known-answer tests pin the results
//! (`protect.rs`, `palm-index`'s gallery file test).

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

/// A ChaCha20 keystream: `key`, stream number `stream`, read from its start.
pub struct KeyStream(ChaCha20Rng);

impl KeyStream {
    pub(crate) fn new(key: [u8; 32], stream: u64) -> KeyStream {
        let mut rng = ChaCha20Rng::from_seed(key);
        rng.set_stream(stream);
        KeyStream(rng)
    }

    /// The next 32 bits of the stream.
    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// The next 64 bits: two 32-bit words, the first one low.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `0..range` (`range` > 0) by Canon's method: the high half of a 32 x 32-bit
    /// product, corrected by a second word when the low half says the first could be biased.
    fn below(&mut self, range: u32) -> u32 {
        debug_assert!(range > 0);
        let wide = |word: u32| u64::from(word) * u64::from(range);
        let first = wide(self.next_u32());
        let (mut result, low) = ((first >> 32) as u32, first as u32);
        if low > range.wrapping_neg() {
            let carry_in = (wide(self.next_u32()) >> 32) as u32;
            if low.checked_add(carry_in).is_none() {
                result += 1;
            }
        }
        result
    }

    /// Puts `items` in a uniformly random order drawn from the stream (pinned; see the module).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        assert!(
            items.len() < u32::MAX as usize,
            "layouts are small; longer slices would need another dice"
        );
        if items.len() <= 1 {
            return;
        }
        let mut dice = Dice {
            n: 0,
            chunk: 0,
            remaining: 1,
        };
        for i in 0..items.len() {
            let j = dice.roll(self);
            items.swap(i, j);
        }
    }
}

/// Rolls a die of `n + 1` faces, then of `n + 2`, and so on: one 32-bit number below
/// `(n+1)(n+2)...(n+k)` (the longest product that fits) gives the next `k` rolls as its digits in
/// that mixed radix, which saves keystream words for small dice.
struct Dice {
    /// Faces of the last die rolled.
    n: u32,
    chunk: u32,
    /// Rolls left in `chunk`.
    remaining: u8,
}

impl Dice {
    fn roll(&mut self, stream: &mut KeyStream) -> usize {
        let faces = self.n + 1;
        let left = match self.remaining.checked_sub(1) {
            Some(left) => left,
            None => {
                let (bound, count) = product_bound(faces);
                self.chunk = stream.below(bound);
                count - 1
            }
        };
        let face = if left == 0 {
            self.chunk
        } else {
            let digit = self.chunk % faces;
            self.chunk /= faces;
            digit
        };
        self.remaining = left;
        self.n = faces;
        face as usize
    }
}

/// `m (m+1) ... (m+k-1)` for the largest `k` whose product fits in 32 bits, and `k`.
fn product_bound(m: u32) -> (u32, u8) {
    let mut product = m;
    let mut next = m + 1;
    while let Some(p) = product.checked_mul(next) {
        product = p;
        next += 1;
    }
    (product, (next - m) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shuffle_is_a_permutation_and_depends_on_key_and_stream() {
        let order = |key: u8, stream: u64| {
            let mut v: Vec<u16> = (0..1000).collect();
            KeyStream::new([key; 32], stream).shuffle(&mut v);
            v
        };
        let a = order(1, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u16>>());
        assert_ne!(a, (0..1000).collect::<Vec<u16>>());
        assert_eq!(a, order(1, 0));
        assert_ne!(a, order(2, 0));
        assert_ne!(a, order(1, 1));
    }

    #[test]
    fn every_order_of_three_items_comes_up_about_equally_often() {
        let mut stream = KeyStream::new([9; 32], 4);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..60_000 {
            let mut v = [0u8, 1, 2];
            stream.shuffle(&mut v);
            *counts.entry(v).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 6);
        // 10,000 expected each; 5 standard deviations is about 450.
        assert!(
            counts.values().all(|&c| c.abs_diff(10_000) < 450),
            "{counts:?}"
        );
    }

    #[test]
    fn bounded_numbers_stay_below_their_bound() {
        let mut stream = KeyStream::new([3; 32], 0);
        for range in [1u32, 2, 3, 7, 1000, 479_001_600, u32::MAX] {
            for _ in 0..200 {
                assert!(stream.below(range) < range);
            }
        }
        assert_eq!(product_bound(2), (479_001_600, 11));
        assert_eq!(product_bound(1000), (1_003_002_000, 3));
    }

    /// The ChaCha20 keystream is the standard one: RFC 8439's block function on an all-zero key
    /// and nonce starts with these words (test vector of RFC 7539 section 2.3.2's zero-key case,
    /// as published with the original ChaCha).
    #[test]
    fn the_keystream_is_standard_chacha20() {
        let mut s = KeyStream::new([0; 32], 0);
        assert_eq!(s.next_u32(), 0xade0_b876);
        assert_eq!(s.next_u32(), 0x903d_f1a0);
    }
}
