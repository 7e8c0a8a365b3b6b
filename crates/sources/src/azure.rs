//! Azure: provisioning media (`ovf-env.xml`), IMDS and the wireserver, in
//! the local stage over ephemeral DHCP.
//!
//! Upstream's sequence (`crawl_metadata`): look for `ovf-env.xml` in the
//! seed dir, on `/dev/sr0`, on any iso9660/udf device and in the agent's
//! data dir; bring up DHCP on the primary NIC (DHCP option 245 names the
//! wireserver); fetch IMDS `metadata/instance` (extended API, 2019-06-01 on
//! HTTP 400); take user name, host name, password policy, user-data and
//! keys from IMDS over the OVF; report Ready to the wireserver; tear the
//! network down. Any provisioning error is reported to the fabric
//! (`NotReady`/`ProvisioningFailed`) and the datasource is "not found".
//! Pre-provisioned (PPS) VMs, Hyper-V KVP telemetry, the wireserver
//! certificate exchange and the files upstream writes (the agent's copy of
//! `ovf-env.xml`, marker clean-up) are not done here.

use crate::blob;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::Datasource;
use crate::devices::{with_mounted, BlockDevices};
use crate::ephemeral::{EphemeralKind, Lease};
use crate::error::SourceError;
use crate::merge::merge_many;
use base64::Engine;
use ci_host::{Cmd, Host};
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

mod crypt;
mod http;
pub mod identity;
mod imds;
pub mod netcfg;
pub mod ovf;
pub mod report;
pub mod wire;
pub mod xml;

pub use imds::ImdsPolicy;
use ovf::OvfError;
use report::ReportableError;
pub use wire::{GoalState, WirePolicy, DEFAULT_WIRESERVER_ENDPOINT};

/// Upstream's IMDS address (`http://169.254.169.254/metadata`, minus the path).
pub const DEFAULT_IMDS_URL: &str = "http://169.254.169.254";
const DEFAULT_PROVISIONING_ISO_DEV: &str = "/dev/sr0";
const AGENT_SEED_DIR: &str = "/var/lib/waagent";
const RESOURCE_DISK_PATH: &str = "/dev/disk/cloud/azure_resource";
const PLATFORM_ENTROPY_SOURCE: &str = "/sys/firmware/acpi/tables/OEM0";
const DEFAULT_IID: &str = "iid-AZURE-NODE";

/// How long DHCP is retried (upstream: 20 minutes when IMDS is required,
/// else 5) and the pause between attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpPolicy {
    pub provisioning: Duration,
    pub normal: Duration,
    pub retry_sleep: Duration,
}

impl Default for DhcpPolicy {
    fn default() -> Self {
        DhcpPolicy {
            provisioning: Duration::from_secs(20 * 60),
            normal: Duration::from_secs(5 * 60),
            retry_sleep: Duration::from_secs(1),
        }
    }
}

/// Upstream `PPSType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PpsType {
    None,
    OsDisk,
    Running,
    Savable,
    Unknown,
}

impl PpsType {
    fn as_str(self) -> &'static str {
        match self {
            PpsType::None => "None",
            PpsType::OsDisk => "PreprovisionedOSDisk",
            PpsType::Running => "Running",
            PpsType::Savable => "Savable",
            PpsType::Unknown => "Unknown",
        }
    }
}

pub struct Azure {
    stage: Stage,
    opts: SourceOptions,
    imds_url: String,
    /// Replaces the DHCP-derived wireserver (`http://<option 245>`) when set.
    wireserver_url: Option<String>,
    imds_policy: ImdsPolicy,
    wire_policy: WirePolicy,
    dhcp_policy: DhcpPolicy,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    cfg: Value,
    seed: Option<String>,
    network: Option<Value>,
    provisioning_ovf: Option<Vec<u8>>,
    reported_ready: bool,
}

/// State of one crawl: the lease (dropped = torn down) and what it told us.
struct Session<'a> {
    ctx: &'a SourceContext<'a>,
    lease: Option<Box<dyn Lease>>,
    wireserver: String,
    imds_routed: bool,
    negotiated: bool,
}

impl Azure {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Azure {
            stage,
            opts,
            imds_url: DEFAULT_IMDS_URL.into(),
            wireserver_url: None,
            imds_policy: ImdsPolicy::default(),
            wire_policy: WirePolicy::default(),
            dhcp_policy: DhcpPolicy::default(),
            metadata: json!({}),
            userdata_raw: None,
            cfg: json!({}),
            seed: None,
            network: None,
            provisioning_ovf: None,
            reported_ready: false,
        }
    }

    /// IMDS base URL (`http://169.254.169.254`); `/metadata/instance?...` is appended.
    pub fn with_imds_url(mut self, url: impl Into<String>) -> Self {
        self.imds_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// Wireserver base URL (`http://168.63.129.16`), instead of the DHCP option.
    pub fn with_wireserver_url(mut self, url: impl Into<String>) -> Self {
        self.wireserver_url = Some(url.into().trim_end_matches('/').to_string());
        self
    }

    pub fn with_policies(mut self, imds: ImdsPolicy, wire: WirePolicy, dhcp: DhcpPolicy) -> Self {
        self.imds_policy = imds;
        self.wire_policy = wire;
        self.dhcp_policy = dhcp;
        self
    }

    /// Upstream `get_config_obj`: default user, `ssh_pwauth`, disk setup.
    pub fn config_obj(&self) -> &Value {
        &self.cfg
    }

    /// The provisioning document found (or built from IMDS), which
    /// upstream copies to the agent's data dir with the password redacted.
    pub fn provisioning_ovf(&self) -> Option<&[u8]> {
        self.provisioning_ovf.as_deref()
    }

    /// Whether this crawl reported Ready to the wireserver.
    pub fn reported_ready(&self) -> bool {
        self.reported_ready
    }

    /// The IMDS document (`{}` when IMDS was not reachable).
    pub fn imds(&self) -> &Value {
        self.metadata.get("imds").unwrap_or(&Value::Null)
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = Azure::new(stage, opts);
        ds.metadata = match v.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => {
                return Err(SourceError::Cache(
                    "Azure entry: missing or bad metadata".into(),
                ))
            }
        };
        ds.userdata_raw = blob::decode(v.get("userdata_raw"))
            .map_err(|_| SourceError::Cache("Azure entry: bad userdata_raw".into()))?;
        ds.cfg = v.get("cfg").cloned().unwrap_or_else(|| json!({}));
        ds.seed = v.get("seed").and_then(Value::as_str).map(String::from);
        ds.network = v.get("network").filter(|n| !n.is_null()).cloned();
        Ok(ds)
    }

    /// `datasource.Azure` merged over upstream's built-in values.
    fn ds_cfg(ctx: &SourceContext) -> Value {
        let builtin = json!({
            "data_dir": AGENT_SEED_DIR,
            "disk_aliases": {"ephemeral0": RESOURCE_DISK_PATH},
            "apply_network_config": true,
            "apply_network_config_for_secondary_ips": true,
        });
        Value::Object(merge_many(&[&ctx.ds_cfg("Azure"), &builtin]))
    }

    fn seed_dir(ctx: &SourceContext) -> String {
        format!("{}/azure", ctx.seed_dir())
    }

    /// Upstream `_iid`: the system UUID, unless the previous boot's id is
    /// the same UUID in another case or byte order (keeps host keys).
    fn iid(ctx: &SourceContext) -> Result<String, String> {
        let system_uuid = identity::query_system_uuid(ctx.host)?;
        let prev_path = format!("{}/data/instance-id", ctx.cloud_dir());
        if let Ok(prev) = ctx.host.read_to_string(&prev_path) {
            let previous = prev.trim().to_string();
            let swapped = identity::byte_swap_system_uuid(&system_uuid)
                .map_err(|e| format!("ValueError(\"{e}\")"))?;
            let lower = previous.to_lowercase();
            if lower == system_uuid || lower == swapped {
                return Ok(previous);
            }
        }
        Ok(system_uuid)
    }
}

/// Upstream `get_ip_from_lease_value`: option 245 as dhclient writes it
/// (`a8:3f:81:10`) or already dotted.
pub fn wireserver_from_option(value: &str) -> Option<String> {
    let v = value.replace('\\', "");
    if v.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some(v);
    }
    if v.len() > 4 {
        let hex: String = v
            .split(':')
            .map(|p| {
                if p.len() == 1 {
                    format!("0{p}")
                } else {
                    p.to_string()
                }
            })
            .collect();
        let n = u32::from_str_radix(&hex, 16).ok()?;
        return Some(std::net::Ipv4Addr::from(n).to_string());
    }
    let b = v.as_bytes();
    match b {
        [a, b2, c, d] => Some(std::net::Ipv4Addr::new(*a, *b2, *c, *d).to_string()),
        _ => None,
    }
}

/// Upstream `_key_is_openssh_formatted`.
fn key_is_openssh_formatted(key: &str) -> bool {
    const VALID: &[&str] = &[
        "rsa",
        "ecdsa",
        "ed25519",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        "ssh-ed25519-cert-v01@openssh.com",
        "ssh-ed25519",
        "ssh-rsa-cert-v01@openssh.com",
        "ssh-rsa",
        "ssh-xmss-cert-v01@openssh.com",
        "ssh-xmss@openssh.com",
    ];
    if key.trim().contains("\r\n") {
        return false;
    }
    let line = key.trim_end_matches(['\r', '\n']).trim();
    if line.is_empty() || line.starts_with('#') {
        return false;
    }
    let typed = |ent: &str| {
        let toks: Vec<&str> = ent.split_whitespace().collect();
        toks.len() >= 2 && toks.first().is_some_and(|t| VALID.contains(t))
    };
    if typed(line) {
        return true;
    }
    // Skip an options prefix (spaces allowed only inside double quotes).
    let mut quoted = false;
    let mut end = line.len();
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while let Some((pos, c)) = chars.get(i).copied() {
        if !quoted && (c == ' ' || c == '\t') {
            end = pos;
            break;
        }
        if c == '\\' && chars.get(i + 1).map(|x| x.1) == Some('"') {
            i += 1;
        } else if c == '"' {
            quoted = !quoted;
        }
        i += 1;
    }
    typed(line.get(end..).unwrap_or("").trim_start())
}

/// IMDS `compute.publicKeys[*].keyData`, if present and all OpenSSH keys.
fn imds_public_keys(imds: &Value) -> Option<Vec<String>> {
    let keys = imds.get("compute")?.get("publicKeys")?.as_array()?;
    let mut out = Vec::new();
    for k in keys {
        out.push(py_str(k.get("keyData")?));
    }
    if out.iter().any(|k| !key_is_openssh_formatted(k)) {
        log::debug!("Key(s) not in OpenSSH format");
        return None;
    }
    log::debug!("Retrieved {} keys from IMDS", out.len());
    Some(out)
}

fn os_profile<'v>(imds: &'v Value, key: &str) -> Option<&'v Value> {
    imds.get("compute")?.get("osProfile")?.get(key)
}

/// Whether a lease's classless static routes include `dest`.
fn lease_routes_to(lease: &dyn Lease, dest: &str) -> bool {
    let comma = dest.replace('.', ",");
    lease.info().options.iter().any(|(k, v)| {
        let k = k.to_lowercase();
        (k.contains("static-routes") || k.contains("static_routes") || k == "121")
            && (v.contains(dest) || v.contains(&comma))
    })
}

impl<'a> Session<'a> {
    fn host(&self) -> &Host {
        self.ctx.host
    }

    fn net_up(&self) -> bool {
        self.lease.is_some()
    }

    fn wire(&self, az: &Azure) -> wire::Wireserver {
        let base = az
            .wireserver_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.wireserver));
        wire::Wireserver::new(base, az.wire_policy.clone(), &az.opts.http.user_agent)
    }

    /// Upstream `_setup_ephemeral_networking`: DHCP until a lease or the
    /// budget runs out. `false` when no lease was obtained.
    fn setup_net(&mut self, az: &Azure, budget: Duration, report_non_primary: bool) -> bool {
        log::debug!("Bringing up ephemeral networking with iface=None");
        let start = Instant::now();
        let deadline = start + budget;
        loop {
            match self.ctx.net.bring_up(&EphemeralKind::Dhcp4 { iface: None }) {
                Ok(lease) => {
                    self.lease = Some(lease);
                    break;
                }
                // No way to bring a network up at all is upstream's missing
                // dhclient: no point in retrying.
                Err(SourceError::Malformed { what, message })
                    if what == "ephemeral network" && message.starts_with("not available") =>
                {
                    log::error!("dhclient executable not found");
                    return false;
                }
                Err(e) => {
                    log::debug!("ephemeral DHCP failed: {e}");
                    log::error!("Failed to obtain DHCP lease (iface=None)");
                    let err = ReportableError::new("failure to obtain DHCP lease")
                        .with("duration", format!("{}", start.elapsed().as_secs_f64()))
                        .with("interface", "None");
                    self.report_failure(az, &err, true);
                }
            }
            if Instant::now() + az.dhcp_policy.retry_sleep < deadline {
                std::thread::sleep(az.dhcp_policy.retry_sleep);
            } else {
                return false;
            }
        }
        let Some(lease) = self.lease.as_deref() else {
            return false;
        };
        let info = lease.info().clone();
        if let Some((_, v)) = info
            .options
            .iter()
            .find(|(k, _)| k == "unknown-245" || k == "245")
        {
            if let Some(ip) = wireserver_from_option(v) {
                self.wireserver = ip;
            }
        }
        self.imds_routed = lease_routes_to(lease, "169.254.169.254");
        let wire_routed = lease_routes_to(lease, &self.wireserver);
        let primary = self.imds_routed || wire_routed;
        log::debug!(
            "Obtained DHCP lease on interface '{}' (primary={} imds_routed={} wireserver_routed={})",
            info.iface,
            py_bool(primary),
            py_bool(self.imds_routed),
            py_bool(wire_routed)
        );
        if report_non_primary && !primary {
            let err = ReportableError::new("failure to find primary DHCP interface")
                .with("interface", info.iface.clone())
                .with(
                    "router",
                    info.routers
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "None".into()),
                );
            self.report_failure(az, &err, true);
        }
        true
    }

    fn teardown(&mut self) {
        self.imds_routed = false;
        self.lease = None;
    }

    /// Upstream `_report_failure`: log it; unless `host_only`, tell the
    /// fabric, bringing up a fresh lease when needed.
    fn report_failure(&mut self, az: &Azure, error: &ReportableError, host_only: bool) -> bool {
        let encoded = error.encoded(self.host());
        log::error!("Azure datasource failure occurred: {encoded}");
        if host_only {
            return false;
        }
        if self.net_up() {
            log::debug!("Using cached ephemeral dhcp context to report failure to Azure");
            match self.wire(az).report_failure(&encoded) {
                Ok(()) => {
                    self.negotiated = true;
                    return true;
                }
                Err(e) => {
                    log::error!("Failed to report failure using cached ephemeral dhcp context: {e}")
                }
            }
        }
        log::debug!("Using new ephemeral dhcp to report failure to Azure");
        self.teardown();
        self.setup_net(az, az.dhcp_policy.provisioning, true);
        match self.wire(az).report_failure(&encoded) {
            Ok(()) => {
                self.negotiated = true;
                true
            }
            Err(e) => {
                log::debug!("Failed to report failure using new ephemeral dhcp: {e}");
                false
            }
        }
    }

    /// Upstream `get_metadata_from_imds`: `{}` (after reporting) on failure.
    fn imds_metadata(&mut self, az: &Azure, report: bool) -> Value {
        let start = Instant::now();
        let max_conn = if self.imds_routed { None } else { Some(11) };
        let client = http::Client::new(
            az.imds_policy.timeout,
            az.imds_policy.timeout,
            &az.opts.http.user_agent,
        );
        let (msg, err, report) = match imds::fetch_metadata_with_api_fallback(
            &client,
            &az.imds_url,
            &az.imds_policy,
            max_conn,
        ) {
            Ok(Value::Object(m)) => return Value::Object(m),
            Ok(other) => {
                let msg = format!(
                    "TypeError: expected a JSON object, got {}",
                    ci_pyval::py_type(&other)
                );
                (
                    msg.clone(),
                    ReportableError::new("error parsing IMDS metadata").with("exception", msg),
                    report,
                )
            }
            Err(imds::ImdsError::Url(e)) => {
                let mut err = ReportableError::new(e.reason());
                if let Some(c) = e.code {
                    err = err.with("http_code", c.to_string());
                }
                err = err
                    .with("duration", format!("{}", start.elapsed().as_secs_f64()))
                    .with("exception", e.repr())
                    .with("url", e.url.clone());
                // Azure Stack without IMDS: a refused connection off-route is expected.
                let report = report && (self.imds_routed || !e.is_connection_error());
                (e.message.clone(), err, report)
            }
            Err(imds::ImdsError::Parse(m)) => (
                m.clone(),
                ReportableError::new("error parsing IMDS metadata")
                    .with("exception", format!("JSONDecodeError('{m}')")),
                report,
            ),
        };
        self.report_failure(az, &err, !report);
        log::warn!("Ignoring IMDS metadata due to: {msg}");
        json!({})
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// What one provisioning-media candidate gave.
type OvfData = (Map<String, Value>, Vec<u8>, Map<String, Value>, Vec<u8>);

fn load_ovf_file(path: &std::path::Path) -> Result<OvfData, OvfError> {
    let contents = match std::fs::read(path) {
        Ok(c) => c,
        Err(_) => return Err(OvfError::NonAzure("No ovf-env file found".into())),
    };
    if !path.is_file() {
        return Err(OvfError::NonAzure("No ovf-env file found".into()));
    }
    let (md, ud, cfg) = ovf::read_azure_ovf(&contents, &crypt::hash_password)?;
    Ok((md, ud, cfg, contents))
}

impl Azure {
    /// The provisioning-media candidates, in upstream's order.
    fn candidates(&self, ctx: &SourceContext, data_dir: &str) -> Vec<String> {
        let mut out = vec![
            Self::seed_dir(ctx),
            DEFAULT_PROVISIONING_ISO_DEV.to_string(),
        ];
        if self.opts.devices.enabled(ctx.host) {
            match BlockDevices::probe(ctx.host) {
                Ok(devs) => {
                    for fstype in ["iso9660", "udf"] {
                        out.extend(devs.with(&format!("TYPE={fstype}")));
                    }
                }
                Err(e) => log::debug!("blkid failed: {e}"),
            }
        }
        if !data_dir.is_empty() {
            out.push(data_dir.to_string());
        }
        out
    }

    /// Look through the candidates; `Err` for an Azure document that is unusable.
    fn find_ovf(
        &self,
        ctx: &SourceContext,
        data_dir: &str,
    ) -> Result<Option<(String, OvfData, bool)>, ReportableError> {
        for src in self.candidates(ctx, data_dir) {
            let result = if src.starts_with("/dev/") {
                if !self.opts.devices.enabled(ctx.host) {
                    continue;
                }
                match with_mounted(ctx.host, &src, |dir| {
                    load_ovf_file(&dir.join("ovf-env.xml"))
                }) {
                    Ok(r) => r.map(|d| (d, true)),
                    Err(_) => {
                        log::debug!("{src} was not mountable");
                        continue;
                    }
                }
            } else {
                load_ovf_file(&ctx.host.resolve(format!("{src}/ovf-env.xml"))).map(|d| (d, false))
            };
            match result {
                Ok((data, is_dev)) => {
                    log::debug!("Found provisioning metadata in {src}");
                    return Ok(Some((src, data, is_dev)));
                }
                Err(OvfError::NonAzure(_)) => {
                    log::debug!("Did not find Azure data source in {src}");
                }
                Err(OvfError::Reportable(e)) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Upstream `_determine_pps_type`.
    fn pps_type(ctx: &SourceContext, cfg: &Map<String, Value>, imds_md: &Value) -> PpsType {
        let imds_pps = imds_md
            .get("extended")
            .and_then(|e| e.get("compute"))
            .and_then(|c| c.get("ppsType"))
            .and_then(Value::as_str);
        let ovf_type = cfg.get("PreprovisionedVMType").and_then(Value::as_str);
        let is = |t: PpsType| ovf_type == Some(t.as_str()) || imds_pps == Some(t.as_str());
        let marker = format!("{}/data/reported_ready", ctx.cloud_dir());
        let t = if ctx.host.resolve(&marker).is_file() {
            PpsType::Unknown
        } else if is(PpsType::Savable) {
            PpsType::Savable
        } else if is(PpsType::OsDisk) {
            PpsType::OsDisk
        } else if cfg.get("PreprovisionedVm") == Some(&json!(true)) || is(PpsType::Running) {
            PpsType::Running
        } else {
            PpsType::None
        };
        log::info!("PPS type: {}", t.as_str());
        t
    }

    /// Upstream `validate_imds_network_metadata` (warnings only).
    fn validate_imds_network(ctx: &SourceContext, imds_md: &Value, primary_iface: Option<&str>) {
        let nics = netcfg::interfaces(ctx.host);
        let local = netcfg::hv_netvsc_macs(&nics);
        let network = imds_md.get("network");
        let imds_macs: Option<Vec<String>> = network
            .and_then(|n| n.get("interface"))
            .and_then(Value::as_array)
            .and_then(|l| {
                l.iter()
                    .map(|i| {
                        i.get("macAddress")
                            .map(|m| netcfg::normalize_mac(&py_str(m)))
                    })
                    .collect()
            });
        let Some(imds_macs) = imds_macs else {
            log::warn!(
                "IMDS network metadata has incomplete configuration: {}",
                network
                    .map(ci_pyval::py_repr)
                    .unwrap_or_else(|| "None".into())
            );
            return;
        };
        let missing: Vec<String> = local
            .into_iter()
            .filter(|m| !imds_macs.contains(m))
            .collect();
        if missing.is_empty() {
            return;
        }
        let net_repr = network.map(ci_pyval::py_repr).unwrap_or_default();
        log::warn!(
            "IMDS network metadata is missing configuration for NICs {}: {net_repr}",
            ci_pyval::py_list(&missing)
        );
        let primary_mac = primary_iface.and_then(|i| {
            nics.iter()
                .find(|(n, _, _)| n == i)
                .map(|(_, m, _)| netcfg::normalize_mac(m))
        });
        if let Some(m) = primary_mac.filter(|m| missing.contains(m)) {
            log::warn!("IMDS network metadata is missing primary NIC '{m}': {net_repr}");
        }
    }

    /// Upstream `crawl_metadata`; `Err` carries what is reported to the fabric.
    fn crawl_metadata(
        &mut self,
        s: &mut Session,
        ds_cfg: &Value,
    ) -> Result<Map<String, Value>, ReportableError> {
        let ctx = s.ctx;
        let data_dir = ds_cfg.get("data_dir").map(py_str).unwrap_or_default();
        let found = self.find_ovf(ctx, &data_dir)?;
        let (ovf_source, mut md, mut userdata, mut cfg, files, iso_dev) = match found {
            Some((src, (md, ud, cfg, raw), is_dev)) => (
                Some(src.clone()),
                md,
                ud,
                cfg,
                Some(raw),
                is_dev.then_some(src),
            ),
            None => {
                log::warn!(
                    "Unable to find provisioning media, falling back to IMDS metadata. Be aware that IMDS metadata does not support admin passwords or custom-data (user-data only)."
                );
                let mut md = Map::new();
                md.insert("local-hostname".into(), json!(""));
                let cfg = json!({"system_info": {"default_user": {"name": ""}}})
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                (None, md, Vec::new(), cfg, None, None)
            }
        };
        let requires_imds = iso_dev.is_some() || ovf_source.is_none();
        let budget = if requires_imds {
            self.dhcp_policy.provisioning
        } else {
            self.dhcp_policy.normal
        };
        s.setup_net(self, budget, true);
        let mut imds_md = json!({});
        if s.net_up() {
            if cfg.get("ProvisionGuestProxyAgent").is_some_and(truthy) {
                self.check_proxy_agent(s);
            }
            imds_md = s.imds_metadata(self, true);
        }
        let imds_empty = imds_md.as_object().is_none_or(Map::is_empty);
        if imds_empty && ovf_source.is_none() {
            log::debug!("No OVF or IMDS available");
            return Err(ReportableError::unhandled(
                "InvalidMetaDataException('No OVF or IMDS available')".into(),
            ));
        }
        let pps = Self::pps_type(ctx, &cfg, &imds_md);
        if pps != PpsType::None {
            let msg = format!(
                "pre-provisioned VM (PPS type {}) is not supported by this build",
                pps.as_str()
            );
            log::error!("{msg}");
            return Err(ReportableError::unhandled(format!(
                "InvalidMetaDataException('{msg}')"
            )));
        }
        let primary_iface = s.lease.as_ref().map(|l| l.info().iface.clone());
        Self::validate_imds_network(ctx, &imds_md, primary_iface.as_deref());
        self.seed = Some(ovf_source.clone().unwrap_or_else(|| "IMDS".into()));
        md.insert("imds".into(), imds_md.clone());
        let imds_username = os_profile(&imds_md, "adminUsername").map(py_str);
        let imds_hostname = os_profile(&imds_md, "computerName").map(py_str);
        let imds_disable_pw =
            os_profile(&imds_md, "disablePasswordAuthentication").map(|v| v == &json!("true"));
        if let Some(u) = &imds_username {
            log::debug!("Username retrieved from IMDS: {u}");
            let du = cfg
                .entry("system_info")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .map(|si| si.entry("default_user").or_insert_with(|| json!({})));
            if let Some(Value::Object(du)) = du {
                du.insert("name".into(), json!(u));
            }
        }
        if let Some(h) = &imds_hostname {
            log::debug!("Hostname retrieved from IMDS: {h}");
            md.insert("local-hostname".into(), json!(h));
        }
        if let Some(d) = imds_disable_pw {
            log::debug!("Disable password retrieved from IMDS: {}", py_bool(d));
            cfg.insert("ssh_pwauth".into(), json!(!d));
        }
        self.provisioning_ovf = match files {
            Some(raw) => Some(raw),
            None => Some(ovf::build_minimal_ovf(
                imds_username.as_deref().unwrap_or("None"),
                imds_hostname.as_deref().unwrap_or("None"),
                imds_disable_pw.map(py_bool).unwrap_or("None"),
            )),
        };
        if userdata.is_empty() {
            if let Some(ud) = imds_md
                .get("compute")
                .and_then(|c| c.get("userData"))
                .filter(|u| truthy(u))
            {
                log::debug!("Retrieved userdata from IMDS");
                let compact: String = py_str(ud).split_whitespace().collect();
                match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
                    Ok(b) => userdata = b,
                    Err(_) => log::warn!("Bad userdata in IMDS"),
                }
            }
        }
        if ovf_source.as_deref() == Some(data_dir.as_str()) {
            log::debug!("using files cached in {data_dir}");
        }
        if let Ok(Some(seed)) = ctx.host.read_optional(PLATFORM_ENTROPY_SOURCE) {
            md.insert(
                "random_seed".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(seed)),
            );
        }
        let iid = Self::iid(ctx).map_err(ReportableError::unhandled)?;
        md.insert("instance-id".into(), json!(iid));
        if !s.negotiated && s.net_up() {
            let pubkey_info = match imds_public_keys(&imds_md) {
                Some(_) => None,
                None => {
                    let info = cfg.get("_pubkeys").and_then(Value::as_array).cloned();
                    log::debug!(
                        "Retrieved {} fingerprints from OVF",
                        info.as_ref().map(Vec::len).unwrap_or(0)
                    );
                    info
                }
            };
            match s.wire(self).report_ready() {
                Ok(()) => {
                    s.negotiated = true;
                    self.reported_ready = true;
                    let keys = pubkey_info.map(|info| ovf_keys(&info));
                    log::debug!(
                        "negotiating returned {}",
                        keys.as_ref()
                            .map(|k| ci_pyval::py_list(k))
                            .unwrap_or_else(|| "None".into())
                    );
                    if let Some(k) = keys.filter(|k| !k.is_empty()) {
                        md.insert("public-keys".into(), json!(k));
                    }
                }
                Err(e) => {
                    log::warn!(
                        "Error communicating with Azure fabric; You may experience connectivity issues: {e}"
                    );
                }
            }
        }
        self.userdata_raw = Some(userdata);
        self.cfg = Value::Object(cfg);
        Ok(md)
    }

    /// Upstream `_check_azure_proxy_agent_status`.
    fn check_proxy_agent(&self, s: &mut Session) {
        let cmd = Cmd::new(["azure-proxy-agent", "--status", "--wait", "120"]);
        match s.host().runner().execute(s.host(), &cmd) {
            Ok(out) if out.status == 0 => log::debug!(
                "Executing {} resulted in stderr='{}' with stdout='{}'",
                ci_pyval::py_list(&cmd.argv),
                out.stderr_str(),
                out.stdout_str()
            ),
            Ok(out) => {
                log::error!(
                    "Failed to activate Azure Guest Proxy Agent: status check failed cmd={} stderr='{}' stdout='{}' exit_code={}",
                    ci_pyval::py_list(&cmd.argv),
                    out.stderr_str(),
                    out.stdout_str(),
                    out.status
                );
                let err = ReportableError::new("azure-proxy-agent status failure")
                    .with("exit_code", out.status.to_string())
                    .with("stdout", out.stdout_str())
                    .with("stderr", out.stderr_str());
                s.report_failure(self, &err, false);
            }
            Err(_) => {
                log::error!(
                    "Failed to activate Azure Guest Proxy Agent: azure-proxy-agent not found"
                );
                s.report_failure(
                    self,
                    &ReportableError::new("azure-proxy-agent not found"),
                    false,
                );
            }
        }
    }
}

/// The keys upstream returns from the wireserver for OVF key entries: the
/// inline values (fingerprint-only keys need the certificate exchange,
/// which is not done: they are reported missing as upstream words it).
fn ovf_keys(info: &[Value]) -> Vec<String> {
    let mut keys = Vec::new();
    for pk in info {
        match (
            pk.get("value").filter(|v| truthy(v)),
            pk.get("fingerprint").filter(|v| truthy(v)),
        ) {
            (Some(v), _) => keys.push(py_str(v)),
            (None, Some(fp)) => log::warn!(
                "ovf-env.xml specified PublicKey fingerprint {} not found in goalstate XML",
                py_str(fp)
            ),
            (None, None) => log::warn!(
                "ovf-env.xml specified PublicKey with neither value nor fingerprint: {}",
                ci_pyval::py_repr(pk)
            ),
        }
    }
    keys
}

impl Datasource for Azure {
    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn ds_config(&self) -> Option<Value> {
        let cfg = self.config_obj();
        (cfg.is_object() && cfg.as_object().is_some_and(|m| !m.is_empty())).then(|| cfg.clone())
    }

    fn dsname(&self) -> &'static str {
        "Azure"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceAzure"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn ds_detect(&self, ctx: &SourceContext) -> bool {
        if identity::has_azure_chassis_tag(ctx.host) {
            return true;
        }
        ctx.host
            .exists(format!("{}/ovf-env.xml", Self::seed_dir(ctx)))
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let ds_cfg = Self::ds_cfg(ctx);
        let mut s = Session {
            ctx,
            lease: None,
            wireserver: DEFAULT_WIRESERVER_ENDPOINT.into(),
            imds_routed: false,
            negotiated: false,
        };
        let crawled = self.crawl_metadata(&mut s, &ds_cfg);
        let md = match crawled {
            Ok(md) => md,
            Err(e) => {
                s.report_failure(self, &e, false);
                s.teardown();
                return Ok(false);
            }
        };
        s.teardown();
        if ctx.host.exists(RESOURCE_DISK_PATH) {
            log::debug!(
                "Ephemeral resource disk '{RESOURCE_DISK_PATH}' exists. Merging default Azure cloud ephemeral disk configs."
            );
            let builtin = json!({
                "disk_setup": {"ephemeral0": {"table_type": "gpt", "layout": [100], "overwrite": true}},
                "fs_setup": [{"filesystem": "ext4", "device": "ephemeral0.1"}],
            });
            self.cfg = Value::Object(merge_many(&[&self.cfg, &builtin]));
        } else {
            log::debug!(
                "Ephemeral resource disk '{RESOURCE_DISK_PATH}' does not exist. Not merging default Azure cloud ephemeral disk configs."
            );
        }
        self.metadata = Value::Object(merge_many(&[
            &Value::Object(md),
            &json!({"instance-id": DEFAULT_IID}),
        ]));
        self.network = self.generate_network_config(ctx, &ds_cfg);
        Ok(true)
    }

    fn metadata(&self) -> &Value {
        &self.metadata
    }

    fn userdata_raw(&self) -> Option<&[u8]> {
        self.userdata_raw.as_deref()
    }

    fn network_config(&self) -> Option<Value> {
        self.network.clone()
    }

    fn public_ssh_keys(&self) -> Vec<String> {
        if let Some(keys) = imds_public_keys(self.imds()) {
            return keys;
        }
        match self.metadata.get("public-keys") {
            Some(Value::Array(a)) => {
                log::debug!("Retrieved {} keys from OVF", a.len());
                a.iter().map(py_str).collect()
            }
            Some(other) => crate::normalize_pubkey_data(Some(other)),
            None => {
                log::debug!("No keys available from OVF");
                Vec::new()
            }
        }
    }

    fn platform_type(&self) -> String {
        "azure".into()
    }

    fn subplatform(&self) -> String {
        match self.seed.as_deref() {
            None => "unknown (None)".into(),
            Some(s) if s.starts_with("/dev") => format!("config-disk ({s})"),
            Some(s) if s.eq_ignore_ascii_case("imds") => format!("imds ({s})"),
            Some(s) => format!("seed-dir ({s})"),
        }
    }

    fn default_cloud_name(&self) -> String {
        "azure".into()
    }

    fn region(&self) -> Option<String> {
        self.imds()
            .get("compute")
            .and_then(|c| c.get("location"))
            .filter(|v| !v.is_null())
            .map(py_str)
    }

    fn availability_zone(&self) -> Option<String> {
        self.imds()
            .get("compute")
            .and_then(|c| c.get("platformFaultDomain"))
            .filter(|v| !v.is_null())
            .map(py_str)
    }

    fn display(&self) -> String {
        format!(
            "{} [seed={}]",
            self.class_name(),
            self.seed.as_deref().unwrap_or("None")
        )
    }

    /// Upstream: the cached instance-id equals the DMI system UUID (case-insensitively).
    fn check_instance_id(&self, ctx: &SourceContext) -> bool {
        let iid = self.instance_id();
        if iid.is_empty() {
            return false;
        }
        match crate::dmi::read(ctx.host, "system-uuid") {
            Some(u) if !u.is_empty() => iid.to_lowercase() == u.to_lowercase(),
            _ => false,
        }
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "cfg": self.cfg,
            "seed": self.seed,
            "network": self.network,
        })
    }
}

impl Azure {
    /// Upstream `_generate_network_config`: from IMDS when enabled and
    /// present, else the fallback NIC with its driver.
    fn generate_network_config(&self, ctx: &SourceContext, ds_cfg: &Value) -> Option<Value> {
        let imds = self.imds();
        let enabled = ds_cfg.get("apply_network_config").is_some_and(truthy);
        if imds.as_object().is_some_and(|m| !m.is_empty()) && enabled {
            let secondary = ds_cfg
                .get("apply_network_config_for_secondary_ips")
                .is_some_and(truthy);
            let nics = netcfg::interfaces(ctx.host);
            match imds.get("network") {
                Some(net) => match netcfg::from_imds(net, secondary, &nics) {
                    Ok(cfg) => return Some(cfg),
                    Err(e) => log::error!(
                        "Failed generating network config from IMDS network metadata: {e}"
                    ),
                },
                None => log::error!(
                    "Failed generating network config from IMDS network metadata: 'network'"
                ),
            }
        }
        ci_net::fallback::fallback_config_with(ctx.host, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_245() {
        assert_eq!(
            wireserver_from_option("a8:3f:81:10").as_deref(),
            Some("168.63.129.16")
        );
        assert_eq!(
            wireserver_from_option("a8:3f:81:a").as_deref(),
            Some("168.63.129.10")
        );
        assert_eq!(
            wireserver_from_option("10.1.2.3").as_deref(),
            Some("10.1.2.3")
        );
        assert_eq!(wireserver_from_option("zz"), None);
    }

    #[test]
    fn openssh_keys() {
        assert!(key_is_openssh_formatted("ssh-rsa AAAA c"));
        assert!(key_is_openssh_formatted(
            "no-pty,command=\"a b\" ssh-ed25519 AAAA"
        ));
        assert!(!key_is_openssh_formatted("ssh-rsa AAAA\r\nssh-rsa BBBB"));
        assert!(!key_is_openssh_formatted("-----BEGIN CERTIFICATE-----"));
        assert!(!key_is_openssh_formatted("ssh-rsa"));
    }
}
