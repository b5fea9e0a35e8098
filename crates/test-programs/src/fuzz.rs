//! A small stable-Rust fuzzing harness: a corpus from the repository plus
//! seeded random mutations of it, run for a bounded time.
//!
//! cargo-fuzz needs a nightly compiler, which the build machines do not
//! have. The targets here are whole parsers (and, for HTTP, a running
//! supervisor), where coverage feedback matters less than volume and
//! hostile shapes, so a seeded `fastrand` generator drives byte-level and
//! structure-aware mutations. `fastrand` rather than `proptest`: no shrinking
//! or strategy machinery is needed for a time-boxed loop, the seed alone
//! reproduces a run, and it is already in the dependency tree (`tempfile`).
//!
//! Environment:
//! - `WARDEN_FUZZ_SECS`: seconds per target (default: each target's own,
//!   a few seconds, so the normal test run stays short).
//! - `WARDEN_FUZZ_SEED`: the seed (default fixed, so runs are repeatable);
//!   every failure message names the seed and the iteration.

use std::path::Path;
use std::time::{Duration, Instant};

/// How long a target runs: `WARDEN_FUZZ_SECS` seconds, or `default`.
#[must_use]
pub fn budget(default: Duration) -> Duration {
    std::env::var("WARDEN_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(default, Duration::from_secs_f64)
}

/// The seed: `WARDEN_FUZZ_SEED`, or a fixed default.
#[must_use]
pub fn seed() -> u64 {
    std::env::var("WARDEN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0020)
}

/// Every file of the corpus directory `dir` but hidden ones
/// (`.gitattributes`), sorted by name.
///
/// # Panics
///
/// If the directory cannot be read or is empty (the corpus is part of the
/// repository).
#[must_use]
pub fn corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    names.sort();
    let out: Vec<Vec<u8>> = names
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    assert!(!out.is_empty(), "corpus {} is empty", dir.display());
    out
}

/// Seeded mutations of corpus entries.
pub struct Mutator {
    rng: fastrand::Rng,
    /// Fragments worth inserting for this target (tags, keywords, escapes).
    dict: Vec<Vec<u8>>,
    /// Mutated inputs never grow beyond this many bytes.
    max_len: usize,
}

impl Mutator {
    /// A mutator with `seed`, inserting fragments from `dict`.
    #[must_use]
    pub fn new(seed: u64, dict: &[&[u8]], max_len: usize) -> Mutator {
        Mutator {
            rng: fastrand::Rng::with_seed(seed),
            dict: dict.iter().map(|d| d.to_vec()).collect(),
            max_len,
        }
    }

    /// The generator, for targets that add mutations of their own.
    pub fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.rng
    }

    /// A corpus entry with one to eight random mutations applied.
    pub fn mutate(&mut self, corpus: &[Vec<u8>]) -> Vec<u8> {
        let mut data = corpus[self.rng.usize(..corpus.len())].clone();
        let rounds = self.rng.usize(1..=8);
        for _ in 0..rounds {
            self.once(&mut data, corpus);
        }
        data.truncate(self.max_len);
        data
    }

    fn once(&mut self, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
        let rng = &mut self.rng;
        match rng.u8(..12) {
            // Flip a bit.
            0 if !data.is_empty() => {
                let i = rng.usize(..data.len());
                data[i] ^= 1 << rng.u8(..8);
            }
            // Replace a byte with an interesting one.
            1 if !data.is_empty() => {
                let i = rng.usize(..data.len());
                data[i] = *rng
                    .choice(&[
                        0u8, 0x7f, 0x80, 0xc3, 0xff, b'<', b'>', b'&', b'%', b'\n', b'[',
                    ])
                    .unwrap_or(&0);
            }
            // Truncate.
            2 => {
                let n = rng.usize(..=data.len());
                data.truncate(n);
            }
            // Delete a range.
            3 if !data.is_empty() => {
                let a = rng.usize(..data.len());
                let b = rng.usize(a..=data.len().min(a + 64));
                data.drain(a..b);
            }
            // Duplicate a range.
            4 if !data.is_empty() => {
                let a = rng.usize(..data.len());
                let b = rng.usize(a..=data.len().min(a + 256));
                let piece = data[a..b].to_vec();
                let at = rng.usize(..=data.len());
                data.splice(at..at, piece);
            }
            // Splice in part of another corpus entry.
            5 => {
                let other = &corpus[rng.usize(..corpus.len())];
                if !other.is_empty() {
                    let a = rng.usize(..other.len());
                    let b = rng.usize(a..=other.len());
                    let at = rng.usize(..=data.len());
                    data.splice(at..at, other[a..b].iter().copied());
                }
            }
            // Insert a dictionary fragment, sometimes many times over.
            6 | 7 if !self.dict.is_empty() => {
                let frag = self.dict[rng.usize(..self.dict.len())].clone();
                let times = if rng.u8(..8) == 0 {
                    rng.usize(1..2000)
                } else {
                    1
                };
                let at = rng.usize(..=data.len());
                data.splice(at..at, frag.repeat(times));
            }
            // Insert a huge or odd number.
            8 => {
                let n: &[u8] = rng
                    .choice(&[
                        &b"99999999999999999999999999999999"[..],
                        b"-2147483649",
                        b"2147483648",
                        b"-0",
                        b"1e999",
                        b"nan",
                        b"0x10",
                        b"1_000",
                        b"18446744073709551616",
                        b"0999999999",
                    ])
                    .copied()
                    .unwrap_or(b"0");
                let at = rng.usize(..=data.len());
                data.splice(at..at, n.iter().copied());
            }
            // Insert random bytes.
            9 => {
                let n = rng.usize(1..16);
                let at = rng.usize(..=data.len());
                let bytes: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
                data.splice(at..at, bytes);
            }
            // Swap two bytes.
            10 if data.len() > 1 => {
                let a = rng.usize(..data.len());
                let b = rng.usize(..data.len());
                data.swap(a, b);
            }
            // Insert a long run of one byte.
            _ => {
                let at = rng.usize(..=data.len());
                let b = rng.u8(..);
                let n = rng.usize(1..5000);
                data.splice(at..at, std::iter::repeat_n(b, n));
            }
        }
    }
}

/// Runs `f` on each corpus entry, then on mutations until `budget` has
/// passed (at least `min_iters` mutations). `f` gets the input and the
/// iteration (corpus entries are iterations `0..corpus.len()`). Returns the
/// number of inputs tried.
pub fn run(
    corpus: &[Vec<u8>],
    mutator: &mut Mutator,
    budget: Duration,
    min_iters: usize,
    mut f: impl FnMut(&[u8], usize),
) -> usize {
    for (i, c) in corpus.iter().enumerate() {
        f(c, i);
    }
    let start = Instant::now();
    let mut i = corpus.len();
    let mut mutated = 0;
    while mutated < min_iters || start.elapsed() < budget {
        let input = mutator.mutate(corpus);
        f(&input, i);
        i += 1;
        mutated += 1;
    }
    i
}
