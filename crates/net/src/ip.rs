//! The slice of Python's `ipaddress` semantics that network-state
//! normalisation depends on (what counts as a network, mask ↔ prefix).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `ipaddress.ip_network(text, strict=False)`: an address with an optional
/// `/prefix` (or, for IPv4, `/netmask` or `/hostmask`).
pub fn parse_network(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, mask) = match text.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (text, None),
    };
    if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        let prefix = match mask {
            None => 32,
            Some(m) => v4_mask_prefix(m)?,
        };
        return Some((IpAddr::V4(v4), prefix));
    }
    let v6 = parse_v6(addr)?;
    let prefix = match mask {
        None => 128,
        Some(m) => decimal_prefix(m, 128)?,
    };
    Some((IpAddr::V6(v6), prefix))
}

/// Python accepts a `%scope` suffix on IPv6 addresses.
fn parse_v6(text: &str) -> Option<Ipv6Addr> {
    let bare = text.split_once('%').map_or(text, |(a, _)| a);
    bare.parse().ok()
}

fn decimal_prefix(m: &str, max: u8) -> Option<u8> {
    if m.is_empty() || !m.bytes().all(|b| b.is_ascii_digit()) || m.len() > 3 {
        return None;
    }
    let n: u16 = m.parse().ok()?;
    (n <= u16::from(max)).then_some(n as u8)
}

/// A v4 prefix given as a number, a netmask or a hostmask.
fn v4_mask_prefix(m: &str) -> Option<u8> {
    if let Some(p) = decimal_prefix(m, 32) {
        return Some(p);
    }
    if m.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits = u32::from(m.parse::<Ipv4Addr>().ok()?);
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) == 0 {
        return Some(ones as u8);
    }
    // A hostmask (0.0.0.255) is the inverse of a netmask.
    let inv = !bits;
    let ones = inv.leading_ones();
    if inv.checked_shl(ones).unwrap_or(0) == 0 {
        return Some(ones as u8);
    }
    None
}

pub fn is_ip_network(text: &str) -> bool {
    parse_network(text).is_some()
}

pub fn is_ipv4_network(text: &str) -> bool {
    matches!(parse_network(text), Some((IpAddr::V4(_), _)))
}

pub fn is_ipv6_network(text: &str) -> bool {
    matches!(parse_network(text), Some((IpAddr::V6(_), _)))
}

/// `ipaddress.IPv6Address(text)` succeeds (no prefix allowed).
pub fn is_ipv6_address(text: &str) -> bool {
    !text.contains('/') && parse_v6(text).is_some()
}

/// `ipv4_mask_to_net_prefix`: `24`, `"24"` or `"255.255.255.0"` → 24.
pub fn ipv4_mask_to_prefix(mask: &str) -> Option<u8> {
    v4_mask_prefix(mask)
}

/// `ipv6_mask_to_net_prefix`: `64`, `"64"` or `"ffff:ffff::"` → prefix.
pub fn ipv6_mask_to_prefix(mask: &str) -> Option<u8> {
    if let Some(p) = decimal_prefix(mask, 128) {
        return Some(p);
    }
    let bits = u128::from(parse_v6(mask)?);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// `net_prefix_to_ipv4_mask`: 24 → `"255.255.255.0"`.
pub fn prefix_to_ipv4_mask(prefix: u8) -> String {
    let bits = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    Ipv4Addr::from(bits).to_string()
}

/// `is_ip_in_subnet(address, subnet)`; `None` where Python raises.
pub fn ip_in_subnet(address: &str, subnet: &str) -> Option<bool> {
    let ip: IpAddr = match address.parse::<Ipv4Addr>() {
        Ok(v4) => IpAddr::V4(v4),
        Err(_) => IpAddr::V6(parse_v6(address)?),
    };
    let (net, prefix) = parse_network(subnet)?;
    Some(match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    })
}

/// `should_add_gateway_onlink_flag`: the gateway lies outside the subnet.
/// Where Python's check raises, upstream logs a warning and says no.
pub fn gateway_needs_onlink(gateway: &str, subnet: &str) -> bool {
    match ip_in_subnet(gateway, subnet) {
        Some(inside) => !inside,
        None => {
            log::warn!(
                "Failed to check whether gateway {gateway} is contained within subnet {subnet}: \
                 invalid address"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_prefixes() {
        assert_eq!(ipv4_mask_to_prefix("255.255.255.0"), Some(24));
        assert_eq!(ipv4_mask_to_prefix("16"), Some(16));
        assert_eq!(ipv4_mask_to_prefix("0.0.0.255"), Some(24));
        assert_eq!(ipv4_mask_to_prefix("255.0.255.0"), None);
        assert_eq!(ipv6_mask_to_prefix("ffff:ffff:ffff::"), Some(48));
        assert_eq!(ipv6_mask_to_prefix("129"), None);
        assert_eq!(prefix_to_ipv4_mask(25), "255.255.255.128");
        assert_eq!(prefix_to_ipv4_mask(0), "0.0.0.0");
    }

    #[test]
    fn networks() {
        assert!(is_ipv4_network("10.0.0.5/255.255.0.0"));
        assert!(is_ipv6_network("2001:db8::/48"));
        assert!(!is_ip_network("default"));
        assert!(is_ipv6_address("fe80::1"));
        assert!(!is_ipv6_address("fe80::1/64"));
        assert_eq!(ip_in_subnet("10.16.255.1", "10.16.0.5/32"), Some(false));
        assert_eq!(ip_in_subnet("10.1.0.1", "10.1.0.5/24"), Some(true));
        assert_eq!(ip_in_subnet("fe80::1", "2001:db8::5/64"), Some(false));
    }
}
