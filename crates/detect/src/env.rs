//! The process environment ds-identify reads, as a value so tests can set it
//! without touching the real environment.

/// Inputs upstream's ds-identify takes from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// `KERNEL_CMDLINE`: systemd's environment hook for disabling cloud-init
    /// (`systemctl set-environment KERNEL_CMDLINE=cloud-init=disabled`).
    pub kernel_cmdline: Option<String>,
    /// `SYSTEMD_VIRTUALIZATION` (`vm:kvm`, `container:lxc`), set by systemd
    /// 251+ for generators; saves running `systemd-detect-virt`.
    pub systemd_virtualization: Option<String>,
    /// `DEBUG_LEVEL` (default 1): how chatty `ds-identify.log` is.
    pub debug_level: u8,
    /// `DI_LOG`: `stderr`, or a log file path on this machine. `None` means
    /// `<root>/run/cloud-init/ds-identify.log`.
    pub di_log: Option<String>,
    /// `VMX_GUESTINFO` and the `VMX_GUESTINFO_{METADATA,USERDATA,VENDORDATA}`
    /// data: the VMware datasource's transport for containers.
    pub vmx_guestinfo: Option<String>,
    pub vmx_guestinfo_metadata: Option<String>,
    pub vmx_guestinfo_userdata: Option<String>,
    pub vmx_guestinfo_vendordata: Option<String>,
}

impl Default for Env {
    fn default() -> Self {
        Env {
            kernel_cmdline: None,
            systemd_virtualization: None,
            debug_level: 1,
            di_log: None,
            vmx_guestinfo: None,
            vmx_guestinfo_metadata: None,
            vmx_guestinfo_userdata: None,
            vmx_guestinfo_vendordata: None,
        }
    }
}

impl Env {
    /// Read the variables from this process's environment.
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            kernel_cmdline: var("KERNEL_CMDLINE"),
            systemd_virtualization: var("SYSTEMD_VIRTUALIZATION"),
            debug_level: var("DEBUG_LEVEL")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(1),
            di_log: var("DI_LOG"),
            vmx_guestinfo: var("VMX_GUESTINFO"),
            vmx_guestinfo_metadata: var("VMX_GUESTINFO_METADATA"),
            vmx_guestinfo_userdata: var("VMX_GUESTINFO_USERDATA"),
            vmx_guestinfo_vendordata: var("VMX_GUESTINFO_VENDORDATA"),
        }
    }
}
