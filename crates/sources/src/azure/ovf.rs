//! `ovf-env.xml`, the provisioning document on Azure's CD-ROM: user name,
//! password, host name, SSH keys, custom data and pre-provisioning flags.

use super::report::ReportableError;
use super::xml::{self, Element};
use base64::Engine;
use serde_json::{json, Map, Value};

const NS_WA: &str = "http://schemas.microsoft.com/windowsazure";
/// A password upstream already replaced before caching the document.
pub const DEF_PASSWD_REDACTION: &str = "REDACTED";

/// One `<PublicKey>`: any of the three may be missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvfPublicKey {
    pub fingerprint: Option<String>,
    pub path: Option<String>,
    pub value: String,
}

impl OvfPublicKey {
    pub fn to_value(&self) -> Value {
        json!({"fingerprint": self.fingerprint, "path": self.path, "value": self.value})
    }
}

/// What upstream's `OvfEnvXml` extracts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OvfEnv {
    pub username: Option<String>,
    pub password: Option<String>,
    pub hostname: Option<String>,
    pub custom_data: Option<Vec<u8>>,
    pub disable_ssh_password_auth: bool,
    pub public_keys: Vec<OvfPublicKey>,
    pub preprovisioned_vm: bool,
    pub preprovisioned_vm_type: Option<String>,
    pub provision_guest_proxy_agent: bool,
}

/// Why a document was not used.
#[derive(Debug)]
pub enum OvfError {
    /// Not Azure's format: upstream skips to the next candidate.
    NonAzure(String),
    /// Azure's, but unusable: upstream reports a provisioning failure.
    Reportable(ReportableError),
}

/// Upstream `util.translate_bool` on an optional text.
fn translate_bool(v: Option<&str>) -> bool {
    v.is_some_and(|s| {
        matches!(
            s.trim().to_lowercase().as_str(),
            "true" | "1" | "on" | "yes"
        )
    })
}

fn invalid(msg: String) -> OvfError {
    OvfError::Reportable(ReportableError::new(format!(
        "unexpected metadata parsing ovf-env.xml: {msg}"
    )))
}

/// The single `wa:<name>` child (`None` when absent and optional).
fn find<'a>(
    node: &'a Element,
    name: &str,
    required: bool,
) -> Result<Option<&'a Element>, OvfError> {
    let matches = node.find_all(Some(NS_WA), name);
    match matches.as_slice() {
        [] => {
            let msg = format!("missing configuration for '{name}'");
            log::debug!("{msg}");
            if required {
                return Err(invalid(msg));
            }
            Ok(None)
        }
        [one] => Ok(Some(one)),
        many => Err(invalid(format!(
            "multiple configuration matches for '{name}' ({})",
            many.len()
        ))),
    }
}

/// The text of the single `wa:<name>` child; empty text counts as absent.
fn property(node: &Element, name: &str, required: bool) -> Result<Option<String>, OvfError> {
    Ok(find(node, name, required)?.and_then(|e| e.text.clone()))
}

impl OvfEnv {
    /// Upstream `OvfEnvXml.parse_text`.
    pub fn parse(contents: &[u8]) -> Result<OvfEnv, OvfError> {
        let root = xml::parse(contents).map_err(|e| {
            OvfError::Reportable(ReportableError::new(format!(
                "error parsing ovf-env.xml: {}",
                e.msg
            )))
        })?;
        let Some(prov) = root.find(Some(NS_WA), "ProvisioningSection") else {
            return Err(OvfError::NonAzure(
                "Ignoring non-Azure ovf-env.xml: ProvisioningSection not found".into(),
            ));
        };
        let mut env = OvfEnv::default();
        // Upstream finds the section again with the strict finder (duplicates are an error).
        let _ = prov;
        let prov = find(&root, "ProvisioningSection", true)?.unwrap_or(&root);
        let config_set = find(prov, "LinuxProvisioningConfigurationSet", true)?.unwrap_or(prov);
        env.custom_data = match property(config_set, "CustomData", false)? {
            Some(text) => {
                let compact: String = text.split_whitespace().collect();
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(compact.as_bytes())
                        .map_err(|e| {
                            OvfError::Reportable(ReportableError::unhandled(format!(
                                "Error('Invalid base64-encoded string: {e}')"
                            )))
                        })?,
                )
            }
            None => None,
        };
        env.username = property(config_set, "UserName", true)?;
        env.password = property(config_set, "UserPassword", false)?;
        env.hostname = property(config_set, "HostName", true)?;
        env.disable_ssh_password_auth = translate_bool(
            property(config_set, "DisableSshPasswordAuthentication", false)?.as_deref(),
        );
        if let Some(ssh) = find(config_set, "SSH", false)? {
            if let Some(pks) = find(ssh, "PublicKeys", false)? {
                for pk in pks.find_all(Some(NS_WA), "PublicKey") {
                    env.public_keys.push(OvfPublicKey {
                        fingerprint: property(pk, "Fingerprint", false)?,
                        path: property(pk, "Path", false)?,
                        value: property(pk, "Value", false)?.unwrap_or_default(),
                    });
                }
            }
        }
        let pss = find(&root, "PlatformSettingsSection", true)?.unwrap_or(&root);
        let ps = find(pss, "PlatformSettings", true)?.unwrap_or(pss);
        env.preprovisioned_vm = translate_bool(property(ps, "PreprovisionedVm", false)?.as_deref());
        env.preprovisioned_vm_type = property(ps, "PreprovisionedVMType", false)?;
        env.provision_guest_proxy_agent =
            translate_bool(property(ps, "ProvisionGuestProxyAgent", false)?.as_deref());
        Ok(env)
    }
}

/// Metadata, user-data and cfg from one document.
pub type OvfParts = (Map<String, Value>, Vec<u8>, Map<String, Value>);

/// Upstream `read_azure_ovf`: (metadata, user-data, cfg).
pub fn read_azure_ovf(
    contents: &[u8],
    hash_password: &dyn Fn(&str) -> Result<String, ci_host::random::RandomError>,
) -> Result<OvfParts, OvfError> {
    let env = OvfEnv::parse(contents)?;
    let mut md = Map::new();
    let mut cfg = Map::new();
    let ud = env.custom_data.clone().unwrap_or_default();
    if let Some(h) = env.hostname.as_deref().filter(|h| !h.is_empty()) {
        md.insert("local-hostname".into(), json!(h));
    }
    if !env.public_keys.is_empty() {
        cfg.insert(
            "_pubkeys".into(),
            Value::Array(env.public_keys.iter().map(OvfPublicKey::to_value).collect()),
        );
    }
    // Upstream's parser turns a missing flag into False, so this is always set.
    cfg.insert("ssh_pwauth".into(), json!(!env.disable_ssh_password_auth));
    let mut defuser = Map::new();
    if let Some(u) = env.username.as_deref().filter(|u| !u.is_empty()) {
        defuser.insert("name".into(), json!(u));
    }
    if let Some(p) = env.password.as_deref().filter(|p| !p.is_empty()) {
        defuser.insert("lock_passwd".into(), json!(false));
        if p != DEF_PASSWD_REDACTION {
            let hashed = hash_password(p).map_err(|e| {
                OvfError::Reportable(ReportableError::new(format!(
                    "cannot hash the provisioning password: {e}"
                )))
            })?;
            defuser.insert("hashed_passwd".into(), json!(hashed));
        }
    }
    if !defuser.is_empty() {
        cfg.insert("system_info".into(), json!({"default_user": defuser}));
    }
    cfg.insert("PreprovisionedVm".into(), json!(env.preprovisioned_vm));
    log::info!("PreprovisionedVm: {}", py_bool(env.preprovisioned_vm));
    cfg.insert(
        "PreprovisionedVMType".into(),
        json!(env.preprovisioned_vm_type),
    );
    log::info!(
        "PreprovisionedVMType: {}",
        env.preprovisioned_vm_type.as_deref().unwrap_or("None")
    );
    cfg.insert(
        "ProvisionGuestProxyAgent".into(),
        json!(env.provision_guest_proxy_agent),
    );
    log::info!(
        "ProvisionGuestProxyAgent: {}",
        py_bool(env.provision_guest_proxy_agent)
    );
    Ok((md, ud, cfg))
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// Upstream `build_minimal_ovf`: the document cached when only IMDS provisioned.
pub fn build_minimal_ovf(username: &str, hostname: &str, disable_ssh_pwd: &str) -> Vec<u8> {
    format!(
        r#"<ns0:Environment xmlns:ns0="http://schemas.dmtf.org/ovf/environment/1"
 xmlns:ns1="http://schemas.microsoft.com/windowsazure"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <ns1:ProvisioningSection>
    <ns1:Version>1.0</ns1:Version>
    <ns1:LinuxProvisioningConfigurationSet>
      <ns1:ConfigurationSetType>LinuxProvisioningConfiguration
      </ns1:ConfigurationSetType>
      <ns1:UserName>{username}</ns1:UserName>
      <ns1:DisableSshPasswordAuthentication>{disable_ssh_pwd}
      </ns1:DisableSshPasswordAuthentication>
      <ns1:HostName>{hostname}</ns1:HostName>
    </ns1:LinuxProvisioningConfigurationSet>
  </ns1:ProvisioningSection>
  <ns1:PlatformSettingsSection>
    <ns1:Version>1.0</ns1:Version>
    <ns1:PlatformSettings>
      <ns1:ProvisionGuestAgent>true</ns1:ProvisionGuestAgent>
    </ns1:PlatformSettings>
  </ns1:PlatformSettingsSection>
</ns0:Environment>
"#
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:wa="http://schemas.microsoft.com/windowsazure">
 <wa:ProvisioningSection><wa:Version>1.0</wa:Version>
  <LinuxProvisioningConfigurationSet xmlns="http://schemas.microsoft.com/windowsazure">
   <ConfigurationSetType>LinuxProvisioningConfiguration</ConfigurationSetType>
   <HostName>myhost</HostName><UserName>azureuser</UserName>
   <UserPassword>secret</UserPassword>
   <DisableSshPasswordAuthentication>false</DisableSshPasswordAuthentication>
   <CustomData>I2Nsb3VkLWNv
   bmZpZwo=</CustomData>
   <SSH><PublicKeys><PublicKey><Fingerprint>ABCD</Fingerprint><Path>/home/azureuser/.ssh/authorized_keys</Path><Value>ssh-rsa AAA x</Value></PublicKey>
   <PublicKey><Fingerprint>EF01</Fingerprint><Path>/p</Path></PublicKey></PublicKeys></SSH>
  </LinuxProvisioningConfigurationSet></wa:ProvisioningSection>
 <wa:PlatformSettingsSection><wa:Version>1.0</wa:Version><wa:PlatformSettings>
  <wa:PreprovisionedVm>False</wa:PreprovisionedVm><wa:ProvisionGuestProxyAgent>true</wa:ProvisionGuestProxyAgent>
 </wa:PlatformSettings></wa:PlatformSettingsSection>
</Environment>"#;

    #[test]
    fn password_without_randomness_is_a_reportable_failure() {
        let no_rng = |_: &str| Err(ci_host::random::RandomError::new("ENOSYS"));
        match read_azure_ovf(DOC.as_bytes(), &no_rng) {
            Err(OvfError::Reportable(e)) => {
                let text = format!("{e:?}");
                assert!(
                    text.contains("cannot hash the provisioning password"),
                    "{text}"
                );
                assert!(!text.contains("secret"), "{text}");
            }
            other => panic!("expected a reportable error, got {other:?}"),
        }
    }

    #[test]
    fn parses_provisioning_document() {
        let (md, ud, cfg) = read_azure_ovf(DOC.as_bytes(), &|p| Ok(format!("H({p})"))).unwrap();
        assert_eq!(
            md,
            json!({"local-hostname": "myhost"})
                .as_object()
                .cloned()
                .unwrap()
        );
        assert_eq!(ud, b"#cloud-config\n");
        assert_eq!(
            Value::Object(cfg),
            json!({
                "_pubkeys": [
                    {"fingerprint": "ABCD", "path": "/home/azureuser/.ssh/authorized_keys", "value": "ssh-rsa AAA x"},
                    {"fingerprint": "EF01", "path": "/p", "value": ""}
                ],
                "ssh_pwauth": true,
                "system_info": {"default_user": {"name": "azureuser", "lock_passwd": false, "hashed_passwd": "H(secret)"}},
                "PreprovisionedVm": false,
                "PreprovisionedVMType": null,
                "ProvisionGuestProxyAgent": true
            })
        );
    }

    #[test]
    fn non_azure_and_invalid() {
        let other = br#"<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1"><PropertySection/></Environment>"#;
        assert!(matches!(OvfEnv::parse(other), Err(OvfError::NonAzure(_))));
        match OvfEnv::parse(b"<Environment>") {
            Err(OvfError::Reportable(e)) => assert_eq!(
                e.reason,
                "error parsing ovf-env.xml: no element found: line 1, column 13"
            ),
            other => panic!("{other:?}"),
        }
        let no_user = DOC.replace("<UserName>azureuser</UserName>", "");
        match OvfEnv::parse(no_user.as_bytes()) {
            Err(OvfError::Reportable(e)) => assert_eq!(
                e.reason,
                "unexpected metadata parsing ovf-env.xml: missing configuration for 'UserName'"
            ),
            other => panic!("{other:?}"),
        }
        let dup = DOC.replace(
            "<HostName>myhost</HostName>",
            "<HostName>a</HostName><HostName>b</HostName>",
        );
        match OvfEnv::parse(dup.as_bytes()) {
            Err(OvfError::Reportable(e)) => assert_eq!(
                e.reason,
                "unexpected metadata parsing ovf-env.xml: multiple configuration matches for 'HostName' (2)"
            ),
            other => panic!("{other:?}"),
        }
    }
}
