//! The program's only source of randomness: the operating system's generator
//! (`getrandom(2)`, which blocks until the kernel pool is seeded, as upstream's
//! `os.urandom`/`SystemRandom` do).
//!
//! Everything here fails closed: when the kernel cannot give random bytes the
//! caller gets a [`RandomError`] and must abandon the operation. There is no
//! clock, pid or hash fallback: a guessable password or salt is worse than
//! none. Sampling below `n` uses rejection, so no value is more likely than
//! another (a plain `x % n` favours the low values whenever `n` does not
//! divide the generator's range).

use std::fmt;

/// The operating system could not provide random bytes.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no randomness from the operating system: {0}")]
pub struct RandomError(String);

impl RandomError {
    /// An error with this description (the generator's own errors, and
    /// callers' tests of their fail-closed paths).
    pub fn new(msg: impl fmt::Display) -> Self {
        RandomError(msg.to_string())
    }
}

/// Fill `buf` with random bytes from the OS generator.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(RandomError::new)
}

/// A uniformly random `u64`.
pub fn u64() -> Result<u64, RandomError> {
    getrandom::u64().map_err(RandomError::new)
}

/// A uniformly random index in `0..n`. `n == 0` is an error (there is nothing
/// to pick).
pub fn index_below(n: usize) -> Result<usize, RandomError> {
    index_below_from(n, &mut fill)
}

/// A uniformly random integer in `lo..=hi` (Python's `random.randint`).
pub fn int_between(lo: u64, hi: u64) -> Result<u64, RandomError> {
    if hi < lo {
        return Err(RandomError::new(format!("empty range {lo}..={hi}")));
    }
    let span = hi - lo;
    if span == u64::MAX {
        return u64();
    }
    let n = usize::try_from(span + 1)
        .map_err(|_| RandomError::new(format!("range {lo}..={hi} is too wide")))?;
    let i = index_below(n)?;
    Ok(lo + i as u64)
}

/// `k` characters picked independently and uniformly from `alphabet`
/// (upstream's `rand_str`).
pub fn pick_chars(alphabet: &str, k: usize) -> Result<String, RandomError> {
    pick_chars_from(alphabet, k, &mut fill)
}

/// One element of `items`, uniformly (Python's `random.choice`).
pub fn choose<T>(items: &[T]) -> Result<&T, RandomError> {
    let i = index_below(items.len())?;
    items
        .get(i)
        .ok_or_else(|| RandomError::new("index out of range"))
}

/// Put `items` in a uniformly random order (Fisher-Yates, as
/// `random.shuffle`).
pub fn shuffle<T>(items: &mut [T]) -> Result<(), RandomError> {
    for i in (1..items.len()).rev() {
        let j = index_below(i + 1)?;
        items.swap(i, j);
    }
    Ok(())
}

/// A random (version 4) UUID in its lowercase hyphenated form, as Python's
/// `str(uuid.uuid4())`.
pub fn uuid4() -> Result<String, RandomError> {
    let mut b = [0u8; 16];
    fill(&mut b)?;
    Ok(format_uuid4(b))
}

fn format_uuid4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A source of random bytes; tests inject a predictable one.
type Source<'a> = dyn FnMut(&mut [u8]) -> Result<(), RandomError> + 'a;

/// Draws the rejection loop makes before it gives up. Each draw is accepted
/// with probability above 1/2, so a healthy generator never gets near this;
/// a broken one gets an error instead of a hang.
const MAX_DRAWS: u32 = 256;

/// Rejection sampling: read just enough bytes to cover `n - 1`, mask them to
/// the next power of two, and retry when the value is `n` or above. Every
/// accepted value has exactly the same number of byte patterns behind it.
fn index_below_from(n: usize, src: &mut Source<'_>) -> Result<usize, RandomError> {
    if n == 0 {
        return Err(RandomError::new("cannot pick from an empty set"));
    }
    if n == 1 {
        return Ok(0);
    }
    let max = (n - 1) as u64;
    let bits = u64::BITS - max.leading_zeros();
    let mask = if bits == u64::BITS {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let len = bits.div_ceil(8) as usize;
    let mut raw = [0u8; 8];
    for _ in 0..MAX_DRAWS {
        let bytes = raw
            .get_mut(..len)
            .ok_or_else(|| RandomError::new("index width"))?;
        src(bytes)?;
        let v = u64::from_le_bytes(raw) & mask;
        if v <= max {
            return usize::try_from(v).map_err(RandomError::new);
        }
    }
    Err(RandomError::new(format!(
        "the generator gave {MAX_DRAWS} out-of-range values in a row"
    )))
}

fn pick_chars_from(alphabet: &str, k: usize, src: &mut Source<'_>) -> Result<String, RandomError> {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut out = String::with_capacity(k);
    for _ in 0..k {
        let i = index_below_from(chars.len(), src)?;
        let c = chars
            .get(i)
            .ok_or_else(|| RandomError::new("index out of range"))?;
        out.push(*c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out the given bytes once, then fails.
    fn bytes_source(bytes: Vec<u8>) -> impl FnMut(&mut [u8]) -> Result<(), RandomError> {
        let mut it = bytes.into_iter();
        move |buf: &mut [u8]| {
            for b in buf.iter_mut() {
                *b = it.next().ok_or_else(|| RandomError::new("exhausted"))?;
            }
            Ok(())
        }
    }

    #[test]
    fn every_value_gets_the_same_share_of_byte_patterns() {
        // Present every one-byte value exactly once: each index must come out
        // equally often. `b % 3` would give 86/85/85 and `b % 62` 5/4.
        for n in [2usize, 3, 5, 62, 94, 100, 200, 256] {
            let mut src = bytes_source((0..=255).collect());
            let mut counts = vec![0u32; n];
            while let Ok(i) = index_below_from(n, &mut src) {
                counts[i] += 1;
            }
            let expect = 256 / n.next_power_of_two() as u32;
            assert!(
                counts.iter().all(|c| *c == expect),
                "n={n}: uneven counts {counts:?}"
            );
        }
    }

    #[test]
    fn fixed_bytes_map_to_fixed_indices() {
        // n = 3 masks to 2 bits: 0x07 -> 3 is rejected, 0x05 -> 1 accepted.
        let mut src = bytes_source(vec![0x07, 0x05]);
        assert_eq!(index_below_from(3, &mut src).unwrap(), 1);
        // n = 300 reads two bytes, little-endian, masked to 9 bits: 0x12c
        // (300) is rejected, 0xfe05 -> 0x005 accepted.
        let mut src = bytes_source(vec![0x2c, 0x01, 0x05, 0xfe]);
        assert_eq!(index_below_from(300, &mut src).unwrap(), 5);
        let mut src = bytes_source(vec![0x2b, 0x01]);
        assert_eq!(index_below_from(300, &mut src).unwrap(), 299);
    }

    #[test]
    fn large_non_power_of_two_range_has_no_modulo_bias() {
        // n = 3 * 2^30: a 32-bit draw reduced with `% n` lands in the lowest
        // third half of the time (values below 2^30 have two preimages).
        // Unbiased sampling lands there a third of the time.
        for n in [3usize << 30, 3usize << 62] {
            let trials = 20_000;
            let low = (0..trials)
                .filter(|_| index_below(n).unwrap() < n / 3)
                .count();
            let share = low as f64 / f64::from(trials);
            assert!(
                (0.30..0.37).contains(&share),
                "n={n}: lowest third drawn {share} of the time"
            );
        }
    }

    #[test]
    fn small_alphabet_is_uniform() {
        // Chi-square over 62 classes (61 degrees of freedom): mean 61, the
        // 1e-6 tail starts near 130.
        let n = 62;
        let per = 1000;
        let mut counts = vec![0u32; n];
        for _ in 0..n * per {
            counts[index_below(n).unwrap()] += 1;
        }
        let chi: f64 = counts
            .iter()
            .map(|c| {
                let d = f64::from(*c) - per as f64;
                d * d / per as f64
            })
            .sum();
        assert!(chi < 140.0, "chi-square {chi} over {counts:?}");
    }

    #[test]
    fn a_failing_source_is_an_error_not_a_fallback() {
        let mut broken = |_: &mut [u8]| Err(RandomError::new("ENOSYS"));
        let e = index_below_from(10, &mut broken).unwrap_err();
        assert!(e.to_string().contains("ENOSYS"), "{e}");
        let e = pick_chars_from("abc", 4, &mut broken).unwrap_err();
        assert!(e.to_string().contains("no randomness"), "{e}");
    }

    #[test]
    fn a_stuck_source_gives_up() {
        let mut stuck = |buf: &mut [u8]| {
            buf.fill(0xff);
            Ok(())
        };
        assert!(index_below_from(3, &mut stuck).is_err());
    }

    #[test]
    fn degenerate_ranges() {
        assert!(index_below(0).is_err());
        assert_eq!(index_below(1).unwrap(), 0);
        assert!(choose::<u8>(&[]).is_err());
        assert!(int_between(5, 4).is_err());
        assert_eq!(int_between(7, 7).unwrap(), 7);
        for _ in 0..200 {
            let v = int_between(1, 168).unwrap();
            assert!((1..=168).contains(&v));
        }
    }

    #[test]
    fn picks_only_from_the_alphabet() {
        let s = pick_chars("xyz", 500).unwrap();
        assert_eq!(s.chars().count(), 500);
        assert!(s.chars().all(|c| "xyz".contains(c)));
        for c in ['x', 'y', 'z'] {
            assert!(s.contains(c), "{c} never picked in {s}");
        }
        let s = pick_chars("é€", 50).unwrap();
        assert!(s.chars().all(|c| c == 'é' || c == '€'));
    }

    #[test]
    fn shuffle_keeps_elements_and_moves_them() {
        let orig: Vec<u32> = (0..50).collect();
        let mut v = orig.clone();
        shuffle(&mut v).unwrap();
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, orig);
        assert_ne!(v, orig, "50 elements came back in order");
    }

    #[test]
    fn uuid4_has_version_and_variant() {
        assert_eq!(
            format_uuid4([0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        assert_eq!(
            format_uuid4([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
        let a = uuid4().unwrap();
        assert_eq!(a.len(), 36);
        assert_ne!(a, uuid4().unwrap());
    }

    #[test]
    fn fill_gives_different_bytes() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        fill(&mut a).unwrap();
        fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
