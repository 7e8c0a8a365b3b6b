//! One DHCPv4 exchange through the distro's own client (dhcpcd or udhcpc),
//! read back as a lease in upstream's option names (`fixed-address`,
//! `subnet-mask`, `routers`, `static_routes`, `unknown-245`, ...).
//!
//! dhclient is deliberately not driven: the point is to need no ISC client.
//! The clients only fetch the lease; addresses and routes are put in place
//! (and taken away) by [`super::system`], so both clients leave the same state.

use ci_host::{Cmd, Host, WriteOpts};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A lease in upstream's key names.
pub type DhcpLease = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Dhcpcd,
    Udhcpc,
}

impl Client {
    pub fn name(self) -> &'static str {
        match self {
            Client::Dhcpcd => "dhcpcd",
            Client::Udhcpc => "udhcpc",
        }
    }

    fn from_name(name: &str) -> Option<Client> {
        match name {
            "dhcpcd" => Some(Client::Dhcpcd),
            "udhcpc" => Some(Client::Udhcpc),
            _ => None,
        }
    }
}

/// Upstream's default order, without dhclient.
const DEFAULT_PRIORITY: [Client; 2] = [Client::Dhcpcd, Client::Udhcpc];

/// Directories searched for the client besides `$PATH` (boot units often
/// run with a minimal `$PATH` that lacks the sbin directories).
const SBIN_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The first installed client of `network.dhcp_client_priority` (names
/// upstream knows), else of the default order, as upstream: a configured list
/// naming no usable client falls back to the default order.
pub fn select(host: &Host, configured: &[String]) -> Option<(Client, PathBuf)> {
    let wanted: Vec<Client> = configured
        .iter()
        .filter_map(|n| {
            let c = Client::from_name(n);
            if c.is_none() {
                log::debug!("DHCP client not supported by cloud-init-rs: {n}");
            }
            c
        })
        .collect();
    let installed = |list: &[Client]| {
        list.iter()
            .find_map(|c| find_program(host, c.name()).map(|p| (*c, p)))
    };
    let found = installed(&wanted).or_else(|| installed(&DEFAULT_PRIORITY));
    match &found {
        Some((c, _)) => log::debug!("DHCP client selected: {}", c.name()),
        None => log::debug!("No DHCP client found (tried dhcpcd, udhcpc)"),
    }
    found
}

fn find_program(host: &Host, name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(SBIN_DIRS)
        .map(|d| Path::new(d).join(name))
        .find(|p| is_executable(&host.path(p)));
    found
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Why no lease came back.
#[derive(Debug, thiserror::Error)]
pub enum DhcpError {
    #[error("{client} on {iface} got no lease: {detail}")]
    NoLease {
        client: &'static str,
        iface: String,
        detail: String,
    },
    #[error("{client} lease on {iface} unreadable: {detail}")]
    BadLease {
        client: &'static str,
        iface: String,
        detail: String,
    },
}

/// Runs `client` once on `iface` and returns the lease. The interface must
/// be up already.
pub fn discover(
    host: &Host,
    client: Client,
    program: &Path,
    iface: &str,
    tmp_dir: &Path,
) -> Result<Discovered, DhcpError> {
    log::debug!("Performing a dhcp discovery on {iface}");
    match client {
        Client::Dhcpcd => dhcpcd(host, program, iface),
        Client::Udhcpc => udhcpc(host, program, iface, tmp_dir).map(|lease| Discovered {
            lease,
            client_exit: None,
        }),
    }
}

/// A lease, and the client's exit when it is still under way: dhcpcd takes
/// a noticeable time to stop, which need not delay the metadata requests.
/// Join it before tearing the network down.
pub struct Discovered {
    pub lease: DhcpLease,
    pub client_exit: Option<std::thread::JoinHandle<()>>,
}

fn no_lease(client: Client, iface: &str, detail: impl Into<String>) -> DhcpError {
    DhcpError::NoLease {
        client: client.name(),
        iface: iface.to_string(),
        detail: detail.into(),
    }
}

fn dhcpcd(host: &Host, program: &Path, iface: &str) -> Result<Discovered, DhcpError> {
    let prog = program.to_string_lossy().into_owned();
    // Upstream's flags: IPv4 only, wait for the address, keep it when dhcpcd
    // exits, no ARP probe, no hooks. dhcpcd's own timeout (30 s) bounds it.
    let base = [
        prog.as_str(),
        "--ipv4only",
        "--waitip",
        "--persistent",
        "--noarp",
        "--script=/bin/true",
    ];
    let out = host
        .run(&Cmd::new(base.iter().copied().chain([iface])))
        .map_err(|e| no_lease(Client::Dhcpcd, iface, e.to_string()))?;
    log::debug!("dhcpcd output: {}", out.stderr_str().trim());
    let dump = host
        .run(&Cmd::new([
            prog.as_str(),
            "--dumplease",
            "--ipv4only",
            iface,
        ]))
        .map_err(|e| no_lease(Client::Dhcpcd, iface, e.to_string()));
    // Stop the daemon dhcpcd left behind, whatever the dump said, while the
    // caller goes on: with --persistent it exits without removing the
    // address or the routes, so it does not race the caller's `ip` commands.
    let stopper = host.clone();
    let stop_cmd = Cmd::new([prog.as_str(), "--ipv4only", "--persistent", "-x", iface]);
    let name = iface.to_string();
    let client_exit = std::thread::spawn(move || {
        if let Err(e) = stopper.run(&stop_cmd) {
            log::debug!("dhcpcd on {name} did not stop cleanly: {e}");
        }
    });
    let parsed = dump.and_then(|d| {
        parse_dhcpcd_dump(&d.stdout_str(), iface).ok_or_else(|| DhcpError::BadLease {
            client: "dhcpcd",
            iface: iface.to_string(),
            detail: "no options in --dumplease output".into(),
        })
    });
    let mut lease = match parsed {
        Ok(l) => l,
        Err(e) => {
            let _ = client_exit.join();
            return Err(e);
        }
    };
    // dhcpcd does not name option 245 (Azure's wireserver); read it from the
    // raw lease it keeps.
    if let Ok(raw) = host.read(format!("/var/lib/dhcpcd/{iface}.lease")) {
        if let Some([a, b, c, d]) =
            packet_option(&raw, 245).and_then(|o| <[u8; 4]>::try_from(o).ok())
        {
            lease.insert("unknown-245".into(), format!("{a}.{b}.{c}.{d}"));
        }
    }
    Ok(Discovered {
        lease,
        client_exit: Some(client_exit),
    })
}

/// `dhcpcd --dumplease` is `name='value'` lines; names are mapped to upstream's.
pub fn parse_dhcpcd_dump(text: &str, iface: &str) -> Option<DhcpLease> {
    let mut lease = DhcpLease::new();
    for line in text.lines() {
        let line = line.replace('\'', "");
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let key = match k.trim().replace('_', "-").as_str() {
            "ip-address" => "fixed-address".to_string(),
            "classless-static-routes" => "static_routes".to_string(),
            other => other.to_string(),
        };
        lease.insert(key, v.to_string());
    }
    if lease.is_empty() {
        return None;
    }
    lease.insert("interface".into(), iface.to_string());
    Some(lease)
}

/// Option `code` of a raw DHCP packet (options start after the 236-byte
/// BOOTP header and the 4-byte magic cookie).
pub fn packet_option(packet: &[u8], code: u8) -> Option<&[u8]> {
    let mut i = 240;
    while let (Some(&c), Some(&len)) = (packet.get(i), packet.get(i + 1)) {
        match c {
            0 => {
                i += 1;
                continue;
            }
            255 => return None,
            _ => {}
        }
        let data = packet.get(i + 2..i + 2 + usize::from(len))?;
        if c == code {
            return Some(data);
        }
        i += 2 + usize::from(len);
    }
    None
}

/// The udhcpc event script: writes the variables udhcpc hands it, one per
/// line, and configures nothing itself.
const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
# cloud-init-rs: record the lease for temporary networking, configure nothing.
case "$1" in
    bound|renew)
        {
            for v in interface ip subnet mask broadcast router staticroutes dns domain \
                     serverid lease mtu hostname opt245; do
                eval "val=\${$v}"
                [ -n "$val" ] && printf '%s=%s\n' "$v" "$val"
            done
        } > "$LEASE_FILE"
        ;;
    deconfig) exit 0 ;;
    leasefail|nak) echo "udhcpc: $1: $message" >&2; exit 1 ;;
esac
exit 0
"#;

fn udhcpc(
    host: &Host,
    program: &Path,
    iface: &str,
    tmp_dir: &Path,
) -> Result<DhcpLease, DhcpError> {
    let script = tmp_dir.join("udhcpc_script");
    let lease_file = tmp_dir.join(format!("{iface}.lease"));
    let bad = |detail: String| DhcpError::BadLease {
        client: "udhcpc",
        iface: iface.to_string(),
        detail,
    };
    host.write_atomic(&script, UDHCPC_SCRIPT.as_bytes(), &WriteOpts::mode(0o755))
        .map_err(|e| no_lease(Client::Udhcpc, iface, format!("writing its script: {e}")))?;
    let _ = host.remove_file(&lease_file);
    let script_s = host.path(&script).to_string_lossy().into_owned();
    let lease_s = host.path(&lease_file).to_string_lossy().into_owned();
    // -n: give up without a lease (3 tries of 3 s by default), -q: exit once
    // bound, -f: foreground. 245 is asked for Azure's wireserver address.
    let cmd = Cmd::new([
        program.to_string_lossy().as_ref(),
        "-O",
        "staticroutes",
        "-O",
        "245",
        "-i",
        iface,
        "-s",
        script_s.as_str(),
        "-n",
        "-q",
        "-f",
        "-v",
    ])
    .env("LEASE_FILE", lease_s.as_str());
    let out = host.run(&cmd);
    let _ = host.remove_file(&script);
    out.map_err(|e| no_lease(Client::Udhcpc, iface, e.to_string()))?;
    let text = host
        .read_to_string(&lease_file)
        .map_err(|e| bad(format!("{}: {e}", lease_file.display())))?;
    let _ = host.remove_file(&lease_file);
    parse_udhcpc_lease(&text).ok_or_else(|| bad("no address in the lease".into()))
}

/// Our udhcpc script's `name=value` lines, in upstream's option names.
pub fn parse_udhcpc_lease(text: &str) -> Option<DhcpLease> {
    let mut lease = DhcpLease::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = match k {
            "interface" => ("interface", v.to_string()),
            "ip" => ("fixed-address", v.to_string()),
            "subnet" => ("subnet-mask", v.to_string()),
            "broadcast" => ("broadcast-address", v.to_string()),
            // Upstream keeps the first router only.
            "router" => (
                "routers",
                v.split_whitespace().next().unwrap_or("").to_string(),
            ),
            "staticroutes" => ("static_routes", v.to_string()),
            "dns" => ("domain-name-servers", v.to_string()),
            "domain" => ("domain-name", v.to_string()),
            "serverid" => ("dhcp-server-identifier", v.to_string()),
            "lease" => ("dhcp-lease-time", v.to_string()),
            "mtu" => ("interface-mtu", v.to_string()),
            "hostname" => ("host-name", v.to_string()),
            "opt245" => match hex_ipv4(v) {
                Some(ip) => ("unknown-245", ip),
                None => continue,
            },
            _ => continue,
        };
        lease.insert(key.to_string(), value);
    }
    lease.contains_key("fixed-address").then_some(lease)
}

/// udhcpc prints unknown options as hex (`a83f8110` for 168.63.129.16).
fn hex_ipv4(hex: &str) -> Option<String> {
    let hex = hex.trim();
    if hex.len() != 8 {
        return None;
    }
    let b: Option<Vec<u8>> = (0..4)
        .map(|i| {
            hex.get(i * 2..i * 2 + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    b.map(|b| b.iter().map(u8::to_string).collect::<Vec<_>>().join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dhcpcd_dump_names() {
        let dump =
            "reason=BOUND\ninterface=eth0\nip_address='10.77.0.54'\nsubnet_mask=255.255.255.0\n\
                    classless_static_routes='169.254.169.254/32 10.77.0.1 0.0.0.0/0 10.77.0.1'\n\
                    routers=10.77.0.1\ndhcp_server_identifier=10.77.0.1\n";
        let l = parse_dhcpcd_dump(dump, "eth0").unwrap();
        assert_eq!(l["fixed-address"], "10.77.0.54");
        assert_eq!(l["subnet-mask"], "255.255.255.0");
        assert_eq!(
            l["static_routes"],
            "169.254.169.254/32 10.77.0.1 0.0.0.0/0 10.77.0.1"
        );
        assert_eq!(l["dhcp-server-identifier"], "10.77.0.1");
        assert_eq!(l["interface"], "eth0");
        assert!(parse_dhcpcd_dump("garbage\n", "eth0").is_none());
    }

    #[test]
    fn udhcpc_lease_names() {
        let text = "interface=eth1\nip=10.0.0.5\nsubnet=255.255.0.0\nrouter=10.0.0.1 10.0.0.2\n\
                    staticroutes=0.0.0.0/0 10.0.0.1\nopt245=a83f8110\nserverid=10.0.0.1\n";
        let l = parse_udhcpc_lease(text).unwrap();
        assert_eq!(l["fixed-address"], "10.0.0.5");
        assert_eq!(l["routers"], "10.0.0.1");
        assert_eq!(l["unknown-245"], "168.63.129.16");
        assert_eq!(l["static_routes"], "0.0.0.0/0 10.0.0.1");
        assert!(parse_udhcpc_lease("interface=eth1\n").is_none());
        assert!(parse_udhcpc_lease("opt245=zz\nip=1.2.3.4\n")
            .is_some_and(|l| !l.contains_key("unknown-245")));
    }

    #[test]
    fn option_from_packet() {
        let mut p = vec![0u8; 240];
        p.extend([53, 1, 5, 0, 245, 4, 168, 63, 129, 16, 255]);
        assert_eq!(packet_option(&p, 245), Some(&[168, 63, 129, 16][..]));
        assert_eq!(packet_option(&p, 53), Some(&[5][..]));
        assert_eq!(packet_option(&p, 121), None);
        // Truncated option data and short packets end the search quietly.
        assert_eq!(packet_option(&[0u8; 10], 245), None);
        let mut t = vec![0u8; 240];
        t.extend([245, 4, 1]);
        assert_eq!(packet_option(&t, 245), None);
    }

    #[test]
    fn selection_follows_priority_and_installed() {
        let dir = std::env::temp_dir().join(format!("cirs-dhcp-sel-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let host = Host::new(&dir);
        let opts = WriteOpts::mode(0o755);
        host.write_atomic("/usr/sbin/udhcpc", b"#!/bin/sh\n", &opts)
            .unwrap();
        // PATH entries are looked up under the root too; only sbin is populated.
        let sel = select(&host, &["dhclient".into(), "dhcpcd".into()]);
        assert_eq!(sel.map(|s| s.0), Some(Client::Udhcpc));
        host.write_atomic("/sbin/dhcpcd", b"#!/bin/sh\n", &opts)
            .unwrap();
        assert_eq!(select(&host, &[]).map(|s| s.0), Some(Client::Dhcpcd));
        assert_eq!(
            select(&host, &["udhcpc".into()]).map(|s| s.0),
            Some(Client::Udhcpc)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
