//! Python's `gzip.decompress` (every member of a multi-member stream, as
//! `GzipFile` reads them) with a bound on the output: the one bounded
//! inflater for every place a small input can grow.

use std::io::{Read, Write};

/// Why [`decompress_bounded`] gave no output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GzipError {
    /// Not gzip: the first two bytes (at most) that were found instead.
    NotGzip(Vec<u8>),
    /// Gzip, but truncated or corrupt.
    Corrupt(String),
    /// It inflates past the bound given.
    OverBound,
}

/// `n` copies of `byte`, gzip'd without holding them all in memory: the
/// bomb the tests of every bound feed (1 GiB packs into about 1 MiB).
pub fn repeated(byte: u8, n: u64) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![byte; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        // Writing into a Vec cannot fail.
        if enc.write_all(&chunk[..k]).is_err() {
            break;
        }
        left -= k as u64;
    }
    enc.finish().unwrap_or_default()
}

/// True when `data` starts with the gzip magic.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

/// Inflate `data`, refusing output over `limit` bytes. Reading stops one
/// byte past the bound, so a bomb costs at most `limit + 1` bytes of memory
/// and the time to produce them.
pub fn decompress_bounded(data: &[u8], limit: u64) -> Result<Vec<u8>, GzipError> {
    if !is_gzip(data) {
        return Err(GzipError::NotGzip(data.iter().take(2).copied().collect()));
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| GzipError::Corrupt(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(GzipError::OverBound);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn bound_is_inclusive_and_members_are_joined() {
        let two = [gz(b"abc"), gz(b"def")].concat();
        assert_eq!(decompress_bounded(&two, 6).unwrap(), b"abcdef");
        assert_eq!(decompress_bounded(&two, 5), Err(GzipError::OverBound));
    }

    #[test]
    fn not_gzip_and_corrupt() {
        assert_eq!(
            decompress_bounded(b"hello", 10),
            Err(GzipError::NotGzip(b"he".to_vec()))
        );
        assert_eq!(decompress_bounded(b"", 10), Err(GzipError::NotGzip(vec![])));
        let g = gz(b"some text to compress");
        assert!(matches!(
            decompress_bounded(&g[..g.len() - 4], 100),
            Err(GzipError::Corrupt(_))
        ));
    }

    #[test]
    fn a_bomb_stops_at_the_bound() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..256 {
            enc.write_all(&chunk).unwrap();
        }
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        assert_eq!(
            decompress_bounded(&bomb, 1 << 20),
            Err(GzipError::OverBound)
        );
    }
}
