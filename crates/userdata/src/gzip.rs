//! gzip as upstream's `util.decomp_gzip`.

use std::io::Read;

/// Decompresses `data`; `Err` carries a Python-like reason.
pub(crate) fn decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() < 2 || data[..2] != [0x1f, 0x8b] {
        let head = data.get(..2).unwrap_or(data);
        return Err(format!(
            "Not a gzipped file ({})",
            crate::pyrepr::repr_bytes(head)
        ));
    }
    let mut out = Vec::new();
    // Concatenated members are one stream, as Python's GzipFile reads them.
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The whole blob: decompressed when it is valid gzip, else unchanged.
pub(crate) fn decompress_quiet(data: &[u8]) -> Vec<u8> {
    decompress(data).unwrap_or_else(|_| data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn roundtrip_and_errors() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"#cloud-config\n").unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(decompress(&gz).unwrap(), b"#cloud-config\n");
        assert_eq!(decompress(b"ab").unwrap_err(), "Not a gzipped file (b'ab')");
        assert!(decompress(&gz[..gz.len() - 4]).is_err());
        assert_eq!(decompress_quiet(b"plain"), b"plain");
    }
}
