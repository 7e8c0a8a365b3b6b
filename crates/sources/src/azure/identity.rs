//! Who this VM is: the DMI system UUID (byte-swapped on gen1 VMs to match
//! IMDS `compute.vmId`) and the chassis asset tag that marks Azure.

use crate::dmi;
use ci_host::Host;

/// DMI chassis asset tag of every Azure VM.
pub const AZURE_CHASSIS_ASSET_TAG: &str = "7783-7084-3265-9085-8269-3286-77";

/// Upstream `byte_swap_system_uuid`: the first three fields little-endian
/// (SMBIOS before 2.6 stored them so; Linux reads them big-endian).
pub fn byte_swap_system_uuid(system_uuid: &str) -> Result<String, String> {
    let hex: String = system_uuid
        .trim()
        .trim_start_matches("urn:")
        .trim_start_matches("uuid:")
        .trim_matches(['{', '}'])
        .chars()
        .filter(|c| *c != '-')
        .collect();
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| hex.get(2 * i..2 * i + 2))
        .filter_map(|p| u8::from_str_radix(p, 16).ok())
        .collect();
    let Ok(b) = <[u8; 16]>::try_from(bytes.as_slice()) else {
        let msg = format!("Failed to parse system uuid: '{system_uuid}'");
        log::error!("{msg}");
        return Err(msg);
    };
    if hex.len() != 32 {
        let msg = format!("Failed to parse system uuid: '{system_uuid}'");
        log::error!("{msg}");
        return Err(msg);
    }
    let order = [3usize, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    let s: String = order
        .iter()
        .filter_map(|i| b.get(*i))
        .map(|x| format!("{x:02x}"))
        .collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        s.get(0..8).unwrap_or_default(),
        s.get(8..12).unwrap_or_default(),
        s.get(12..16).unwrap_or_default(),
        s.get(16..20).unwrap_or_default(),
        s.get(20..32).unwrap_or_default()
    ))
}

/// Gen1 VMs boot with BIOS: no `/sys/firmware/efi` (or BSD's `/dev/efi`).
pub fn is_vm_gen1(host: &Host) -> bool {
    !(host.exists("/sys/firmware/efi") || host.exists("/dev/efi"))
}

/// Upstream `query_system_uuid`: lower-cased DMI system-uuid.
pub fn query_system_uuid(host: &Host) -> Result<String, String> {
    let u = dmi::read(host, "system-uuid")
        .ok_or_else(|| "RuntimeError('failed to read system-uuid')".to_string())?
        .to_lowercase();
    log::debug!("Read product uuid: {u}");
    Ok(u)
}

/// Upstream `query_vm_id`: the system UUID, byte-swapped on gen1.
pub fn query_vm_id(host: &Host) -> Result<String, String> {
    let u = query_system_uuid(host)?;
    if is_vm_gen1(host) {
        byte_swap_system_uuid(&u).map_err(|e| format!("ValueError('{e}')"))
    } else {
        Ok(u)
    }
}

/// Upstream `ChassisAssetTag.query_system`.
pub fn has_azure_chassis_tag(host: &Host) -> bool {
    let tag = dmi::read(host, "chassis-asset-tag");
    if tag.as_deref() == Some(AZURE_CHASSIS_ASSET_TAG) {
        log::debug!("Azure chassis asset tag: '{AZURE_CHASSIS_ASSET_TAG}' (AZURE_CLOUD)");
        true
    } else {
        log::debug!(
            "Non-Azure chassis asset tag: {}",
            tag.map(|t| format!("'{t}'"))
                .unwrap_or_else(|| "None".into())
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap() {
        // Oracle: uuid.UUID(bytes=UUID(x).bytes_le).
        assert_eq!(
            byte_swap_system_uuid("45e12aec-dcd1-b213-94ed-012345abcdef").unwrap(),
            "ec2ae145-d1dc-13b2-94ed-012345abcdef"
        );
        assert!(byte_swap_system_uuid("nope").is_err());
        assert!(byte_swap_system_uuid("45e12aec-dcd1-b213-94ed-012345abcde").is_err());
    }
}
