//! gzip as upstream's `util.decomp_gzip`, bounded by the blob's budget.

use ci_pyval::gzip::{decompress_bounded, GzipError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GzError {
    /// Not gzip, or a corrupt stream: a Python-like reason.
    Invalid(String),
    /// The output would pass the budget: the message names the bound.
    TooBig(String),
}

/// Decompresses `data`, producing at most `budget.expanded_left` bytes
/// (charged to the budget); `what` names the input in the error.
pub(crate) fn decompress(
    data: &[u8],
    budget: &mut crate::bounds::Budget,
    what: &str,
) -> Result<Vec<u8>, GzError> {
    let (out, inflated) = match decompress_bounded(data, budget.expanded_left) {
        Ok(out) => {
            let n = out.len() as u64;
            (out, n)
        }
        Err(GzipError::NotGzip(head)) => {
            return Err(GzError::Invalid(format!(
                "Not a gzipped file ({})",
                crate::pyrepr::repr_bytes(&head)
            )))
        }
        Err(GzipError::Corrupt(e)) => return Err(GzError::Invalid(e)),
        // More than is left: charging one byte past it names the bound.
        Err(GzipError::OverBound) => (Vec::new(), budget.expanded_left.saturating_add(1)),
    };
    budget
        .charge_expanded(inflated, &format!("{what} decompressed"))
        .map_err(GzError::TooBig)?;
    Ok(out)
}

/// The whole blob: decompressed when it is valid gzip, else unchanged.
/// `Err` only when it is gzip that inflates past the budget.
pub(crate) fn decompress_quiet(
    data: &[u8],
    budget: &mut crate::bounds::Budget,
) -> Result<Vec<u8>, String> {
    match decompress(data, budget, "gzip-compressed user-data") {
        Ok(d) => Ok(d),
        Err(GzError::Invalid(_)) => Ok(data.to_vec()),
        Err(GzError::TooBig(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::{Budget, MAX_EXPANDED_BYTES};
    use std::io::Write;
    use std::time::{Duration, Instant};

    pub(crate) fn gz(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// `n` zero bytes, gzip'd without holding them all in memory.
    pub(crate) fn gz_zeros(n: u64) -> Vec<u8> {
        ci_pyval::gzip::repeated(0, n)
    }

    #[test]
    fn roundtrip_and_errors() {
        let mut b = Budget::default();
        let gz = gz(b"#cloud-config\n");
        assert_eq!(decompress(&gz, &mut b, "x").unwrap(), b"#cloud-config\n");
        assert_eq!(
            decompress(b"ab", &mut b, "x").unwrap_err(),
            GzError::Invalid("Not a gzipped file (b'ab')".into())
        );
        assert!(matches!(
            decompress(&gz[..gz.len() - 4], &mut b, "x"),
            Err(GzError::Invalid(_))
        ));
        assert_eq!(decompress_quiet(b"plain", &mut b).unwrap(), b"plain");
    }

    #[test]
    fn bomb_is_refused_quickly_and_just_under_passes() {
        let started = Instant::now();
        let bomb = gz_zeros(MAX_EXPANDED_BYTES + 1);
        let mut b = Budget::default();
        let err = decompress_quiet(&bomb, &mut b).unwrap_err();
        assert!(err.contains("bound MAX_EXPANDED_BYTES"), "{err}");
        assert!(err.contains("gzip-compressed user-data"), "{err}");

        let fits = gz_zeros(MAX_EXPANDED_BYTES);
        let mut b = Budget::default();
        assert_eq!(
            decompress_quiet(&fits, &mut b).unwrap().len() as u64,
            MAX_EXPANDED_BYTES
        );
        assert_eq!(b.expanded_left, 0);
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn the_budget_is_shared_by_every_stream_of_a_blob() {
        let part = gz_zeros(MAX_EXPANDED_BYTES / 2 + 1);
        let mut b = Budget::default();
        assert!(decompress(&part, &mut b, "part").is_ok());
        assert!(matches!(
            decompress(&part, &mut b, "part"),
            Err(GzError::TooBig(_))
        ));
    }
}
