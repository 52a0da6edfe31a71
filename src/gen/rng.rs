//! A small, fast, seeded random number generator with a fixed algorithm.
//!
//! `rand::rngs::StdRng` may change its algorithm between `rand` releases, and
//! `rand_distr`'s samplers may change theirs: a workload that tests and
//! benchmarks pin by seed must not. This is xoshiro256++ seeded through
//! SplitMix64 (both public-domain algorithms by Blackman and Vigna), plus the
//! handful of samplers the generator needs, all written out here so the
//! stream for a seed never changes unless this file does.

/// xoshiro256++ with the samplers the generator uses.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Base62 digits, for random-looking ids.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl Rng {
    /// A generator for `seed` and a `stream` number: different streams of one
    /// seed are independent (the catalog and the sessions each get their own,
    /// so one can change without shifting the other).
    pub(crate) fn new(seed: u64, stream: u64) -> Rng {
        let mut sm = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`, 53 bits.
    #[inline]
    pub(crate) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias for the small
    /// `n` used here is below 2^-40). `n == 0` gives 0.
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform index into a slice of length `n` (0 when `n == 0`).
    #[inline]
    pub(crate) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    #[inline]
    pub(crate) fn range_u32(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(u64::from(hi - lo) + 1) as u32
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    #[inline]
    pub(crate) fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Log-uniform in `[lo, hi]`: as many values per decade. Used for gaps
    /// and delays, which are spread over orders of magnitude.
    #[inline]
    pub(crate) fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        // `exp(u·ln(hi/lo))` rather than `powf`: with constant bounds the
        // logarithm folds away at compile time.
        (lo * (self.f64() * (hi / lo).ln()).exp()).clamp(lo, hi)
    }

    /// An approximately standard-normal value (Irwin–Hall of four uniforms,
    /// rescaled): within ±3.46, cheap and without transcendental functions.
    pub(crate) fn normal(&mut self) -> f64 {
        let sum = self.f64() + self.f64() + self.f64() + self.f64();
        (sum - 2.0) * 1.732_050_807_568_877_2
    }

    /// `exp(mu + sigma * N)`: a log-normal-ish value with median `exp(mu)`.
    pub(crate) fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// An index drawn with the given cumulative weights (ascending, last one
    /// the total). Empty weights give 0.
    pub(crate) fn pick_cumulative(&mut self, cumulative: &[f64]) -> usize {
        let Some(&total) = cumulative.last() else {
            return 0;
        };
        let r = self.f64() * total;
        let i = cumulative.partition_point(|&c| c <= r);
        i.min(cumulative.len() - 1)
    }

    /// An index drawn with small integer weights.
    pub(crate) fn pick_weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut r = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            let w = u64::from(w);
            if r < w {
                return i;
            }
            r -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// A random base62 string of `len` characters, appended to `out`.
    pub(crate) fn base62_into(&mut self, out: &mut String, len: usize) {
        let mut bits = 0u64;
        let mut left = 0;
        for _ in 0..len {
            if left == 0 {
                bits = self.next_u64();
                left = 10; // 10 digits of 6 bits each from 60 bits
            }
            // 6 bits → 0..64; map to 0..62 by multiply-shift (tiny bias).
            let d = (((bits & 63) * 62) >> 6) as usize;
            bits >>= 6;
            left -= 1;
            out.push(char::from(BASE62[d]));
        }
    }

    /// A random base62 id whose length is uniform in `lo..=hi`.
    pub(crate) fn base62_id(&mut self, lo: u32, hi: u32) -> String {
        let len = self.range_u32(lo, hi) as usize;
        let mut s = String::with_capacity(len);
        self.base62_into(&mut s, len);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_pinned() {
        // The generator's output for a seed must never change silently.
        let mut r = Rng::new(1, 0);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        let mut again = Rng::new(1, 0);
        assert_eq!(first, (0..3).map(|_| again.next_u64()).collect::<Vec<_>>());
        assert_ne!(Rng::new(1, 1).next_u64(), first[0]);
        assert_ne!(Rng::new(2, 0).next_u64(), first[0]);
    }

    #[test]
    fn samplers_stay_in_range() {
        let mut r = Rng::new(7, 0);
        for _ in 0..10_000 {
            assert!(r.f64() < 1.0);
            let v = r.range_u32(3, 9);
            assert!((3..=9).contains(&v));
            assert!(r.below(5) < 5);
            let n = r.normal();
            assert!(n.abs() <= 3.5);
            let l = r.log_uniform(50.0, 5000.0);
            assert!((50.0..=5000.0).contains(&l));
            let id = r.base62_id(16, 22);
            assert!((16..=22).contains(&id.len()));
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert_eq!(r.pick_cumulative(&[]), 0);
        assert_eq!(r.pick_weighted(&[0, 5, 0]), 1);
    }
}
