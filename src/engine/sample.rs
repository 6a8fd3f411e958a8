//! Random variates drawn from a [`SimRng`], computed with the pure-Rust
//! `libm` so that a seed gives the same bits on every platform (the system
//! libm's `ln`/`exp` may differ in the last place between machines).

use super::rng::SimRng;
use super::time::SimDuration;
use rand::Rng;

/// z such that P(Z <= z) = 0.99 for a standard normal Z.
pub const Z_99: f64 = 2.326_347_874_040_840_8;

/// A uniform float in `[0, 1)` with 53 random bits.
#[inline]
pub fn unit(rng: &mut SimRng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform float in `(0, 1]`, safe to take the logarithm of.
#[inline]
pub fn unit_open0(rng: &mut SimRng) -> f64 {
    1.0 - unit(rng)
}

/// A uniform integer in `[0, n)` (`n > 0`), by Lemire's multiply-shift
/// (bias below 2^-32 for the sizes used here).
#[inline]
pub fn below(rng: &mut SimRng, n: u64) -> u64 {
    ((rng.next_u64() as u128 * n as u128) >> 64) as u64
}

/// An exponential variate with the given mean.
#[inline]
pub fn exponential(rng: &mut SimRng, mean: f64) -> f64 {
    -libm::log(unit_open0(rng)) * mean
}

/// The ziggurat of the standard normal (Marsaglia and Tsang, 2000): 256
/// layers of equal area [`ZIG_V`], the base one reaching [`ZIG_R`] plus
/// the tail. `x[i]` is layer `i`'s right edge (`x[0]` the base layer's
/// pseudo-width, `x[256] = 0`), `f[i]` the density there (unnormalised).
struct Ziggurat {
    x: [f64; 257],
    f: [f64; 257],
}

/// Where the base layer's rectangle ends and the tail begins.
const ZIG_R: f64 = 3.654_152_885_361_009;
/// The area of each layer (of the unnormalised density `exp(-x²/2)`).
const ZIG_V: f64 = 0.004_928_673_233_99;

/// The tables, computed once with `libm` (so the same on every platform).
fn ziggurat() -> &'static Ziggurat {
    static Z: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    Z.get_or_init(|| {
        let pdf = |x: f64| libm::exp(-0.5 * x * x);
        let mut x = [0.0; 257];
        x[0] = ZIG_V / pdf(ZIG_R);
        x[1] = ZIG_R;
        for i in 2..256 {
            x[i] = libm::sqrt(-2.0 * libm::log(ZIG_V / x[i - 1] + pdf(x[i - 1])));
        }
        let f = x.map(pdf);
        Ziggurat { x, f }
    })
}

/// A standard normal variate by the ziggurat method: one 64-bit draw and
/// a comparison almost always (low 8 bits pick the layer, the top 53 the
/// point), a density check or the tail (by Marsaglia's method) otherwise.
#[inline(always)]
pub fn standard_normal(rng: &mut SimRng) -> f64 {
    let z = ziggurat();
    let (i, x) = ziggurat_point(rng, z);
    if x.abs() < z.x[i + 1] {
        return x;
    }
    normal_edge(rng, z, i, x)
}

/// One draw of the ziggurat: its layer and point.
#[inline(always)]
fn ziggurat_point(rng: &mut SimRng, z: &Ziggurat) -> (usize, f64) {
    let bits = rng.next_u64();
    let i = (bits & 0xff) as usize;
    let u = (bits >> 11) as f64 * (2.0 / (1u64 << 53) as f64) - 1.0;
    (i, u * z.x[i])
}

/// [`standard_normal`] past its first draw's quick acceptance (about one
/// draw in a hundred): the tail, the density check, and further draws.
#[cold]
#[inline(never)]
fn normal_edge(rng: &mut SimRng, z: &Ziggurat, first: usize, first_x: f64) -> f64 {
    let (mut i, mut x) = (first, first_x);
    loop {
        if x.abs() < z.x[i + 1] {
            return x;
        }
        if i == 0 {
            // `x` has `u`'s sign: `x[0]` is positive and `|u| >= 2^-52`
            // when not zero, so the product never rounds to zero.
            return normal_tail(rng, x < 0.0);
        }
        if z.f[i + 1] + (z.f[i] - z.f[i + 1]) * unit(rng) < libm::exp(-0.5 * x * x) {
            return x;
        }
        (i, x) = ziggurat_point(rng, z);
    }
}

/// A normal variate beyond `ZIG_R` (or below `-ZIG_R`).
#[cold]
fn normal_tail(rng: &mut SimRng, negative: bool) -> f64 {
    loop {
        let x = libm::log(unit_open0(rng)) / ZIG_R;
        let y = libm::log(unit_open0(rng));
        if -2.0 * y >= x * x {
            return if negative { x - ZIG_R } else { ZIG_R - x };
        }
    }
}

/// `x.round() as u64` for `0 <= x < 2^64` (half away from zero), without
/// the library call: below 2^63 the truncation is one signed conversion
/// and exact, and so is the fraction `x - t` (below 2^53 the integer part
/// is exact in an `f64`; above it `x` is an integer). Bit-identical to
/// `f64::round`, checked by a test.
#[inline(always)]
fn round_positive(x: f64) -> u64 {
    if x < 9_223_372_036_854_775_808.0 {
        let t = x as i64;
        (if x - t as f64 >= 0.5 { t + 1 } else { t }) as u64
    } else {
        x.round() as u64
    }
}

/// `e^x` in whole microseconds, exactly as `round_positive(libm::exp(x))`
/// (saturating at `u64::MAX`) rounds it, with no division and no call on
/// the common path: a lognormal delay is a whole number of µs, so only
/// the rounding must agree, not every bit. A short polynomial gives `e^x`
/// within [`EXP_FAST_ERROR`]; `libm::exp` is within one ulp. The two round
/// alike unless a half-microsecond lies between them, so the fast value
/// is used only if it is further than 1e-12 of itself from one (a margin
/// a hundred times both errors), and `libm::exp` decides the rest: a
/// share of 2e-12 times the value in µs, one draw in four million at
/// 120 ms. A test checks agreement on 3.6 million arguments,
/// half-microsecond neighbours included.
#[inline(always)]
fn exp_micros(x: f64) -> u64 {
    // Below 2^52 µs the fraction of `f` is exact.
    if x > -1.0 && x < 36.0 {
        let f = exp_fast(x);
        let t = f as u64;
        let frac = f - t as f64;
        if (frac - 0.5).abs() > f * 1e-12 {
            return t + (frac > 0.5) as u64;
        }
    }
    let e = libm::exp(x);
    if e >= u64::MAX as f64 {
        u64::MAX
    } else {
        round_positive(e)
    }
}

/// Relative error bound of [`exp_fast`] on `-1 < x < 36`: the Taylor
/// remainder `r^12/12!` at `|r| <= ln2/2` is 6.2e-15, 8.8e-15 of
/// `e^r >= 0.707`, plus a few roundings of 1.1e-16 (the test measures
/// 8.9e-15 at worst). [`exp_micros`] leaves a margin of 1e-12, a
/// hundredfold.
pub const EXP_FAST_ERROR: f64 = 1e-14;

/// `e^x` for `-1 < x < 36` within [`EXP_FAST_ERROR`]: `x = k ln2 + r`
/// (Cody and Waite's two-part `ln2`, so `k * LN2_HI` is exact), `e^r` by
/// its Taylor polynomial of degree 11 in Estrin's scheme (short
/// dependency chains), times `2^k` built from its bits.
#[inline(always)]
fn exp_fast(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln2 in two parts (fdlibm's): the high part's low 21 bits are zero.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // Adding and taking away 1.5 * 2^52 rounds to an integer (|v| < 2^51)
    // without a library call.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    const C: [f64; 12] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
    ];
    let k = (x * LOG2E + ROUND) - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let p01 = C[0] + C[1] * r;
    let p23 = C[2] + C[3] * r;
    let p45 = C[4] + C[5] * r;
    let p67 = C[6] + C[7] * r;
    let p89 = C[8] + C[9] * r;
    let pab = C[10] + C[11] * r;
    let p03 = p01 + p23 * r2;
    let p47 = p45 + p67 * r2;
    let p8b = p89 + pab * r2;
    let p = (p03 + p47 * r4) + p8b * r8;
    // 2^k for |k| < 1023 from its exponent bits (exact).
    p * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// A delay distribution for latencies and handler times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Delay {
    /// Always the same.
    Fixed(SimDuration),
    /// Uniform between `min` and `max` inclusive.
    Uniform {
        /// Shortest.
        min: SimDuration,
        /// Longest.
        max: SimDuration,
    },
    /// Log-normal: `exp(mu + sigma·Z)` microseconds.
    LogNormal {
        /// Mean of the logarithm (microseconds).
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
}

impl Delay {
    /// A log-normal with the given median and 99th percentile.
    pub fn lognormal(median: SimDuration, p99: SimDuration) -> Delay {
        let mu = libm::log(median.as_micros().max(1) as f64);
        let sigma = (libm::log(p99.as_micros().max(1) as f64) - mu) / Z_99;
        Delay::LogNormal { mu, sigma }
    }

    /// Draws one delay. `Fixed` draws nothing from `rng`.
    #[inline(always)]
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Uniform { min, max } => SimDuration(min.0 + below(rng, max.0 - min.0 + 1)),
            Delay::LogNormal { mu, sigma } => {
                SimDuration(exp_micros(mu + sigma * standard_normal(rng)))
            }
        }
    }

    /// Draws one delay exactly as [`Delay::sample`] does (the same use of
    /// `rng`), but says what it is only when it may be `below.bound` or
    /// longer: `None` means it is surely shorter, and a log-normal then
    /// skips its `exp`. A caller that only needs to know "shorter than
    /// the bound" (a quiet poll's answer, before its next slot) pays the
    /// normal draw alone.
    #[inline(always)]
    pub fn sample_reaching(&self, rng: &mut SimRng, below: &Below) -> Option<SimDuration> {
        match *self {
            Delay::LogNormal { mu, sigma } => {
                let x = mu + sigma * standard_normal(rng);
                (x >= below.x).then(|| SimDuration(exp_micros(x)))
            }
            _ => Some(self.sample(rng)),
        }
    }

    /// The distribution's mean, in microseconds.
    pub fn mean_micros(&self) -> f64 {
        match *self {
            Delay::Fixed(d) => d.0 as f64,
            Delay::Uniform { min, max } => (min.0 as f64 + max.0 as f64) / 2.0,
            Delay::LogNormal { mu, sigma } => libm::exp(mu + sigma * sigma / 2.0),
        }
    }
}

/// A bound for [`Delay::sample_reaching`]: a delay of at least `bound`
/// microseconds, and the exponent under which a log-normal's `round(e^x)`
/// is surely shorter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Below {
    /// The bound, in microseconds.
    pub bound: u64,
    /// `x < self.x` implies `round(e^x) < bound`: `ln(bound - 1)` less a
    /// relative 1e-9, so neither `libm::log`'s nor [`exp_micros`]'s error
    /// (both under 1e-14 relative) can cross it; `-inf` for a bound of 0
    /// or 1 (then every delay is drawn whole).
    x: f64,
}

impl Below {
    /// The bound `bound`.
    pub fn new(bound: SimDuration) -> Below {
        let x = if bound.0 < 2 {
            f64::NEG_INFINITY
        } else {
            let l = libm::log((bound.0 - 1) as f64);
            l - l.abs() * 1e-9 - 1e-9
        };
        Below { bound: bound.0, x }
    }
}

/// A delay distribution with its own stream.
#[derive(Clone, Debug)]
pub struct Sampler {
    delay: Delay,
    rng: SimRng,
}

impl Sampler {
    /// Draws `delay` from `rng`.
    pub fn new(delay: Delay, rng: SimRng) -> Self {
        Sampler { delay, rng }
    }

    /// Draws one delay.
    #[inline]
    pub fn sample(&mut self) -> SimDuration {
        self.delay.sample(&mut self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ziggurat's layers close: the last edge is small and positive,
    /// and a million draws have the normal's moments and tails (standard
    /// errors: mean 0.001, variance 0.0014, P(|Z|>3) 0.00005).
    #[test]
    fn ziggurat_draws_a_standard_normal() {
        let z = ziggurat();
        assert!(z.x[255] > 0.2 && z.x[255] < 0.3, "{}", z.x[255]);
        assert!((0..256).all(|i| z.x[i] > z.x[i + 1]));
        let mut rng = Streams::new(11).stream(Purpose::ApiLatency, 0);
        let n = 1_000_000;
        let (mut sum, mut sq, mut beyond3, mut beyond_r) = (0.0, 0.0, 0u32, 0u32);
        for _ in 0..n {
            let x = standard_normal(&mut rng);
            sum += x;
            sq += x * x;
            beyond3 += (x.abs() > 3.0) as u32;
            beyond_r += (x.abs() > ZIG_R) as u32;
        }
        let mean = sum / n as f64;
        let var = sq / n as f64 - mean * mean;
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((var - 1.0).abs() < 0.007, "variance {var}");
        let p3 = beyond3 as f64 / n as f64;
        assert!((p3 - 0.0026998).abs() < 0.0003, "P(|Z|>3) {p3}");
        // P(|Z| > 3.654) = 0.000258: the tail path is taken, and right.
        let pr = beyond_r as f64 / n as f64;
        assert!((pr - 0.000258).abs() < 0.00008, "P(|Z|>R) {pr}");
    }

    /// `sample_reaching` uses the stream as `sample` does, and leaves out
    /// a delay only when it is shorter than the bound: 200,000 log-normal
    /// draws (median 120 ms, p99 900 ms) against bounds from 0 to 2 s,
    /// the median's neighbours and 5 minutes included; each bound both
    /// skips and gives delays (so the check can fail both ways).
    #[test]
    fn sample_reaching_draws_as_sample_does() {
        let d = Delay::lognormal(SimDuration::from_millis(120), SimDuration::from_millis(900));
        let bounds = [
            0,
            1,
            2,
            119_999,
            120_000,
            120_001,
            900_000,
            2_000_000,
            300_000_000,
        ];
        let mut a = Streams::new(5).stream(Purpose::ApiLatency, 1);
        let mut b = a.clone();
        let (mut skipped, mut given) = ([0u32; 9], [0u32; 9]);
        for i in 0..200_000 {
            let k = i % bounds.len();
            let below = Below::new(SimDuration(bounds[k]));
            let whole = d.sample(&mut a);
            match d.sample_reaching(&mut b, &below) {
                Some(x) => {
                    assert_eq!(x, whole);
                    given[k] += 1;
                }
                None => {
                    assert!(
                        whole.0 < bounds[k],
                        "{whole:?} left out under {}",
                        bounds[k]
                    );
                    skipped[k] += 1;
                }
            }
        }
        assert_eq!(a.next_u64(), b.next_u64(), "the streams stay together");
        assert_eq!(skipped[0] + skipped[1], 0, "bounds 0 and 1 skip nothing");
        assert!(
            skipped[4] > 10_000 && given[4] > 10_000,
            "{skipped:?} {given:?}"
        );
        assert!(given[8] == 0 && skipped[8] > 0, "nothing reaches 5 minutes");
    }

    /// `exp_micros` rounds as `libm::exp` does: on 3 million arguments
    /// spread over its fast range and past it, on 200,000 points
    /// `ln(n + 1/2)` and their neighbouring doubles (where a
    /// half-microsecond is closest), and at the ends. Also checks
    /// `exp_fast`'s error against `libm::exp` (within `EXP_FAST_ERROR`
    /// plus libm's ulp) and that the fallback is rare.
    #[test]
    fn exp_micros_rounds_as_libm_does() {
        let reference = |x: f64| {
            let e = libm::exp(x);
            if e >= u64::MAX as f64 {
                u64::MAX
            } else {
                round_positive(e)
            }
        };
        let mut rng = Streams::new(17).stream(Purpose::ApiLatency, 0);
        let mut args = vec![
            -1.0, -0.999, 0.0, 1e-300, 35.999, 36.0, 44.4, 45.0, 700.0, -50.0,
        ];
        for _ in 0..3_000_000 {
            args.push(unit(&mut rng) * 38.0 - 1.5);
        }
        for _ in 0..200_000 {
            // Half-microsecond points and their neighbouring doubles.
            let n = (libm::exp(unit(&mut rng) * 30.0)).floor();
            let h = libm::log(n + 0.5);
            args.extend([
                h,
                f64::from_bits(h.to_bits() + 1),
                f64::from_bits(h.to_bits() - 1),
            ]);
        }
        let (mut worst, mut slow, mut typical) = (0.0f64, 0u32, 0u32);
        for (i, &x) in args.iter().enumerate() {
            assert_eq!(exp_micros(x), reference(x), "x = {x:e}");
            if x > -1.0 && x < 36.0 {
                let (f, e) = (exp_fast(x), libm::exp(x));
                worst = worst.max(((f - e) / e).abs());
                // Uniform draws up to e^20 µs (8 minutes): delays, not
                // half-microsecond neighbours.
                if i < 3_000_010 && x < 20.0 {
                    let frac = f - (f as u64) as f64;
                    typical += 1;
                    slow += ((frac - 0.5).abs() <= f * 1e-12) as u32;
                }
            }
        }
        assert!(
            worst < EXP_FAST_ERROR + 2.3e-16,
            "worst relative error {worst:e}"
        );
        // The fallback's share is 2e-12 e^x: under 1e-3 at e^20, on
        // average over the range 1e-3 / 20 / 1.15 or so.
        assert!(
            typical > 1_500_000 && slow * 10_000 < typical,
            "{slow} slow of {typical}"
        );
    }

    #[test]
    fn round_positive_is_f64_round() {
        let mut cases = vec![
            0.0,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            1e15 + 0.5,
            9007199254740993.0,
        ];
        let mut rng = Streams::new(5).stream(Purpose::ApiLatency, 0);
        for _ in 0..200_000 {
            cases.push(libm::exp(unit(&mut rng) * 40.0));
        }
        for x in cases {
            assert_eq!(round_positive(x), x.round() as u64, "{x}");
        }
    }
    use crate::engine::rng::{Purpose, Streams};

    #[test]
    fn exponential_mean_within_two_percent() {
        let mut rng = Streams::new(7).stream(Purpose::Arrivals, 0);
        let n = 200_000;
        let mean: f64 = (0..n).map(|_| exponential(&mut rng, 3.0)).sum::<f64>() / n as f64;
        // Standard error is 3/sqrt(n) = 0.0067, 2% is 0.06: nine sigmas.
        assert!((mean - 3.0).abs() < 0.06, "{mean}");
    }

    #[test]
    fn lognormal_median_and_p99_match_parameters() {
        let d = Delay::lognormal(SimDuration::from_millis(120), SimDuration::from_millis(900));
        let mut rng = Streams::new(7).stream(Purpose::ApiLatency, 0);
        let mut xs: Vec<u64> = (0..100_000).map(|_| d.sample(&mut rng).0).collect();
        xs.sort_unstable();
        let median = xs[50_000] as f64;
        let p99 = xs[99_000] as f64;
        assert!((median / 120_000.0 - 1.0).abs() < 0.02, "median {median}");
        assert!((p99 / 900_000.0 - 1.0).abs() < 0.05, "p99 {p99}");
        let mean = xs.iter().sum::<u64>() as f64 / xs.len() as f64;
        assert!((mean / d.mean_micros() - 1.0).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn sampler_matches_the_distribution() {
        let d = Delay::lognormal(SimDuration::from_millis(120), SimDuration::from_millis(900));
        let mut s = Sampler::new(d, Streams::new(9).stream(Purpose::ApiLatency, 0));
        let mut xs: Vec<u64> = (0..100_000).map(|_| s.sample().0).collect();
        let mean = xs.iter().sum::<u64>() as f64 / xs.len() as f64;
        xs.sort_unstable();
        assert!((xs[50_000] as f64 / 120_000.0 - 1.0).abs() < 0.02);
        assert!((xs[99_000] as f64 / 900_000.0 - 1.0).abs() < 0.05);
        assert!((mean / d.mean_micros() - 1.0).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn uniform_stays_in_bounds() {
        let d = Delay::Uniform {
            min: SimDuration(10),
            max: SimDuration(20),
        };
        let mut rng = Streams::new(1).stream(Purpose::ApiLatency, 1);
        let xs: Vec<u64> = (0..10_000).map(|_| d.sample(&mut rng).0).collect();
        assert_eq!(*xs.iter().min().unwrap(), 10);
        assert_eq!(*xs.iter().max().unwrap(), 20);
    }
}
