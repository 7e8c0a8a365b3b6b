//! The facts ds-identify collects about the machine, under the host's root.

use crate::blkid::{self, FsInfo};
use crate::log::DiLog;
use crate::shellish::{read_first_line, shell_read};
use crate::Env;
use ci_host::{Cmd, Host};

pub const UNAVAILABLE: &str = "unavailable";
const ERROR: &str = "error";
const DMI_DIR: &str = "/sys/class/dmi/id";

/// Machine facts, named after the `DI_*` variables upstream logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub dmi_product_name: String,
    pub dmi_sys_vendor: String,
    pub dmi_product_serial: String,
    pub dmi_product_uuid: String,
    pub pid_1_product_name: String,
    pub dmi_chassis_asset_tag: String,
    pub dmi_board_name: String,
    pub fs: FsInfo,
    pub kernel_cmdline: String,
    pub virt: String,
    pub uname_kernel_name: String,
    pub uname_kernel_version: String,
    pub uname_machine: String,
}

impl Facts {
    /// Upstream `is_container`.
    pub fn is_container(&self) -> bool {
        matches!(
            self.virt.as_str(),
            "container-other"
                | "lxc"
                | "lxc-libvirt"
                | "systemd-nspawn"
                | "docker"
                | "rkt"
                | "jail"
        )
    }
}

/// The parts needed before the disabled check: virt and the command line.
pub(crate) fn early(host: &Host, env: &Env, log: &mut DiLog) -> Facts {
    let mut f = Facts {
        uname_kernel_name: read_proc_line(host, "/proc/sys/kernel/ostype")
            .unwrap_or_else(|| "Linux".into()),
        uname_kernel_version: read_proc_line(host, "/proc/sys/kernel/version")
            .unwrap_or_else(|| UNAVAILABLE.into()),
        // `uname -m` (Linux 6.1+ has it as a sysctl); older kernels: the
        // architecture we were built for.
        uname_machine: read_proc_line(host, "/proc/sys/kernel/arch")
            .unwrap_or_else(|| std::env::consts::ARCH.to_string()),
        ..Facts::default()
    };
    f.virt = detect_virt(host, env, log);
    f.kernel_cmdline = read_cmdline(host, f.is_container());
    f
}

/// DMI, the PID 1 product name and filesystems.
pub(crate) fn rest(host: &Host, f: &mut Facts, log: &mut DiLog) {
    f.pid_1_product_name = pid1_product_name(host);
    f.dmi_sys_vendor = dmi_field(host, "sys_vendor", log);
    f.dmi_board_name = dmi_field(host, "board_name", log);
    f.dmi_chassis_asset_tag = dmi_field(host, "chassis_asset_tag", log);
    f.dmi_product_name = dmi_field(host, "product_name", log);
    f.dmi_product_serial = dmi_field(host, "product_serial", log);
    f.dmi_product_uuid = dmi_field(host, "product_uuid", log);
    f.fs = fs_info(host, f.is_container(), log);
}

fn read_proc_line(host: &Host, path: &str) -> Option<String> {
    let v = host.read_to_string(path).ok()?;
    let v = v.trim().to_string();
    (!v.is_empty()).then_some(v)
}

/// `unavailable` when the DMI directory has no such file; an unreadable
/// file is `error`. Without the directory (no SMBIOS, some containers) ask
/// `dmidecode`, as upstream does.
fn dmi_field(host: &Host, key: &str, log: &mut DiLog) -> String {
    if !host.is_dir(DMI_DIR) {
        return dmidecode(host, key, log);
    }
    let path = format!("{DMI_DIR}/{key}");
    if !host.resolve(&path).is_file() {
        return UNAVAILABLE.into();
    }
    // `read` fails on an empty file or one without a newline: `error`.
    match host
        .read(&path)
        .map(|b| shell_read(&String::from_utf8_lossy(&b)))
    {
        Ok((v, true)) => v,
        _ => ERROR.into(),
    }
}

/// Upstream `dmi_decode`: the sysfs names mapped to dmidecode's keywords.
fn dmidecode(host: &Host, key: &str, log: &mut DiLog) -> String {
    let keyword = match key {
        "sys_vendor" => Some("system-manufacturer"),
        "product_name" => Some("system-product-name"),
        "product_uuid" => Some("system-uuid"),
        "product_serial" => Some("system-serial-number"),
        "chassis_asset_tag" => Some("chassis-asset-tag"),
        _ => None,
    };
    let arg = format!("--string={}", keyword.unwrap_or(""));
    let cmd = Cmd::new(["dmidecode", "--quiet", arg.as_str()]);
    // Only a keyword dmidecode knows is asked for; whether the program
    // exists is known from trying.
    let out = match keyword {
        Some(_) => host.runner().execute(host, &cmd),
        None => host
            .runner()
            .execute(host, &Cmd::new(["dmidecode", "--version"])),
    };
    let Ok(out) = out else {
        log.warn(format!("No dmidecode program. Cannot read {key}."));
        return ERROR.into();
    };
    if keyword.is_none() {
        log.error(format!("Unknown field {key}. Cannot call dmidecode."));
        return ERROR.into();
    }
    if out.status != 0 {
        return ERROR.into();
    }
    out.stdout_str().trim_end_matches('\n').to_string()
}

fn detect_virt(host: &Host, env: &Env, log: &mut DiLog) -> String {
    if !host.is_dir("/run/systemd") {
        return UNAVAILABLE.into();
    }
    if let Some(v) = &env.systemd_virtualization {
        let v = v.split_once(':').map_or(v.as_str(), |(_, b)| b).to_string();
        log.debug(
            2,
            format!("detected {v} via env variable SYSTEMD_VIRTUALIZATION"),
        );
        return v;
    }
    // systemd older than 251 does not tell generators; ask it.
    let virt = match host
        .runner()
        .execute(host, &Cmd::new(["systemd-detect-virt"]))
    {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status == 0 || text == "none" {
                text
            } else {
                UNAVAILABLE.into()
            }
        }
        Err(_) => UNAVAILABLE.into(),
    };
    log.debug(2, format!("detected {virt} via ds-identify"));
    virt
}

fn read_cmdline(host: &Host, container: bool) -> String {
    if container {
        return match host.read("/proc/1/cmdline") {
            Ok(b) => String::from_utf8_lossy(&b).replace('\0', " "),
            Err(_) => format!("{UNAVAILABLE}:container"),
        };
    }
    if std::env::var_os("DEBUG_PROC_CMDLINE").is_some() {
        return host.kernel_cmdline();
    }
    match host.read("/proc/cmdline") {
        Ok(b) => read_first_line(&String::from_utf8_lossy(&b)),
        Err(_) => format!("{UNAVAILABLE}:no-cmdline"),
    }
}

/// `product_name=` in PID 1's environment (set by some container
/// managers); empty when unreadable, `unavailable` when absent.
fn pid1_product_name(host: &Host) -> String {
    let Ok(env) = host.read("/proc/1/environ") else {
        return String::new();
    };
    String::from_utf8_lossy(&env)
        .split('\0')
        .find_map(|kv| kv.strip_prefix("product_name=").map(str::to_string))
        .unwrap_or_else(|| UNAVAILABLE.into())
}

fn fs_info(host: &Host, container: bool, log: &mut DiLog) -> FsInfo {
    if container {
        // blkid gives nothing useful inside containers.
        let mut fs = FsInfo::unavailable("container");
        fs.uuids = String::new();
        return fs;
    }
    // Test and image roots may stand in for blkid with a by-label listing.
    if host.is_sandbox() && host.is_dir("/dev/disk/by-label") {
        return blkid::from_by_label(&host.list_dir("/dev/disk/by-label"));
    }
    let cmd = Cmd::new(["blkid", "-c", "/dev/null", "-o", "export"]);
    let ret = match host.runner().execute(host, &cmd) {
        Ok(out) if out.status == 0 => return blkid::parse_export(&out.stdout_str()),
        Ok(out) => out.status,
        Err(_) => 127,
    };
    log.error(format!(
        "failed running [{ret}]: blkid -c /dev/null -o export"
    ));
    FsInfo::unavailable("error")
}
