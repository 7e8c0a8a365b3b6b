//! Azure on one listener: IMDS (`GET /metadata/instance?api-version=...`,
//! header `Metadata: true`) and the wireserver (`GET /machine/?comp=goalstate`,
//! `POST /machine?comp=health`, header `x-ms-version`).
//!
//! The IMDS document is meta-data `imds` when the seed gives one (served as
//! is), else built from the usual keys: `instance-id` (vmId),
//! `local-hostname`, `region`, `availability-zone`, `admin-username`,
//! `public-keys`, `tags`, `mac`, `local-ipv4`. `user-data` is served base64
//! encoded in `compute.userData`. `imds-api-versions` (list) limits the
//! accepted versions (others answer 400, as IMDS does). Health reports
//! posted to the wireserver are kept; `GET /_emulator/health-reports`
//! (emulator only) returns them as a JSON list of strings.

use super::CloudApi;
use crate::http::{Request, Response};
use crate::seedfiles::SeedFiles;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const SUPPORTED_VERSIONS: &[&str] = &["2019-06-01", "2020-09-01", "2021-08-01", "2023-07-01"];
const WIRE_VERSION: &str = "2012-11-30";
/// Health reports remembered at most.
const MAX_REPORTS: usize = 1000;

pub struct AzureApi {
    imds: Value,
    versions: Vec<String>,
    container_id: String,
    role_instance_id: String,
    incarnation: String,
    reports: Arc<Mutex<Vec<String>>>,
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
                out.push(char::from(T.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl AzureApi {
    pub fn new(seed: SeedFiles) -> AzureApi {
        let md = &seed.meta_data;
        let s = |k: &str, d: &str| seed.md_str(k).unwrap_or_else(|| d.to_string());
        let vm_id = s("instance-id", "d0a5a6a8-3a4e-4a4e-9c3b-2d4b5d6e7f80");
        let mut imds = match md.get("imds") {
            Some(v @ Value::Object(_)) => v.clone(),
            _ => {
                let hostname = s("local-hostname", "azure-vm");
                let user = s("admin-username", "azureuser");
                let keys: Vec<Value> = seed
                    .public_keys()
                    .into_iter()
                    .map(|k| json!({"keyData": k, "path": format!("/home/{user}/.ssh/authorized_keys")}))
                    .collect();
                let mac = s("mac", "000D3A000001");
                let ip = s("local-ipv4", "10.0.0.4");
                json!({
                    "compute": {
                        "azEnvironment": "AzurePublicCloud",
                        "location": s("region", "eastus"),
                        "name": hostname,
                        "osProfile": {
                            "adminUsername": user,
                            "computerName": hostname,
                            "disablePasswordAuthentication": s("disable-password-authentication", "true"),
                        },
                        "osType": "Linux",
                        "platformFaultDomain": s("platform-fault-domain", "0"),
                        "publicKeys": keys,
                        "tags": s("tags", ""),
                        "vmId": vm_id,
                        "vmSize": s("vm-size", "Standard_D2s_v3"),
                        "zone": s("availability-zone", ""),
                    },
                    "network": {"interface": [{
                        "ipv4": {"ipAddress": [{"privateIpAddress": ip, "publicIpAddress": ""}],
                                 "subnet": [{"address": "10.0.0.0", "prefix": "24"}]},
                        "ipv6": {"ipAddress": []},
                        "macAddress": mac,
                    }]},
                })
            }
        };
        if let (Some(ud), Some(Value::Object(c))) = (&seed.user_data, imds.get_mut("compute")) {
            c.entry("userData").or_insert_with(|| json!(b64(ud)));
        }
        let versions = match md.get("imds-api-versions") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
            _ => SUPPORTED_VERSIONS.iter().map(|s| s.to_string()).collect(),
        };
        AzureApi {
            imds,
            versions,
            container_id: s("container-id", "b3a0d1b2-0000-4000-8000-00000000c0de"),
            role_instance_id: s("role-instance-id", &format!("{vm_id}._azure-vm")),
            incarnation: s("incarnation", "1"),
            reports: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Health reports posted so far, in order.
    pub fn health_reports(&self) -> Vec<String> {
        self.reports.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn query_param<'a>(req: &'a Request, key: &str) -> Option<&'a str> {
        req.query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    fn imds_error(msg: &str) -> Response {
        Response::new(400, json!({"error": msg}).to_string().into_bytes())
            .with_header("Content-Type", "application/json; charset=utf-8")
    }

    fn instance(&self, req: &Request) -> Response {
        if req.header("metadata") != Some("true") {
            return Self::imds_error("Bad request. Required metadata header not specified");
        }
        let Some(version) = Self::query_param(req, "api-version") else {
            return Self::imds_error("Bad request. api-version was not specified in the request.");
        };
        if !self.versions.iter().any(|v| v == version) {
            return Self::imds_error(
                "Bad request. api-version is invalid or was not specified in the request.",
            );
        }
        let mut doc = self.imds.clone();
        if Self::query_param(req, "extended") == Some("true") {
            if let Value::Object(m) = &mut doc {
                m.entry("extended")
                    .or_insert_with(|| json!({"compute": {"ppsType": "None"}}));
            }
        }
        Response::ok(doc.to_string().into_bytes())
            .with_header("Content-Type", "application/json; charset=utf-8")
    }

    fn goal_state(&self) -> Response {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<GoalState xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="goalstate10.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Version>{WIRE_VERSION}</Version>
  <Incarnation>{}</Incarnation>
  <Machine>
    <ExpectedState>Started</ExpectedState>
    <StopRolesDeadlineHint>300000</StopRolesDeadlineHint>
    <LBProbePorts><Port>16001</Port></LBProbePorts>
    <ExpectHealthReport>FALSE</ExpectHealthReport>
  </Machine>
  <Container>
    <ContainerId>{}</ContainerId>
    <RoleInstanceList>
      <RoleInstance>
        <InstanceId>{}</InstanceId>
        <State>Started</State>
        <Configuration>
          <HostingEnvironmentConfig>http://168.63.129.16:80/machine/?comp=config&amp;type=hostingEnvironmentConfig&amp;incarnation=1</HostingEnvironmentConfig>
          <SharedConfig>http://168.63.129.16:80/machine/?comp=config&amp;type=sharedConfig&amp;incarnation=1</SharedConfig>
          <ExtensionsConfig>http://168.63.129.16:80/machine/?comp=config&amp;type=extensionsConfig&amp;incarnation=1</ExtensionsConfig>
          <FullConfig>http://168.63.129.16:80/machine/?comp=config&amp;type=fullConfig&amp;incarnation=1</FullConfig>
          <ConfigName>{}.0.{}.0._azure-vm.1.xml</ConfigName>
        </Configuration>
      </RoleInstance>
    </RoleInstanceList>
  </Container>
</GoalState>
"#,
            self.incarnation,
            self.container_id,
            self.role_instance_id,
            self.container_id,
            self.container_id
        );
        Response::ok(body.into_bytes()).with_header("Content-Type", "text/xml; charset=utf-8")
    }

    fn health(&self, req: &Request) -> Response {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        if !body.contains("<Health") {
            return Response::status(400);
        }
        if let Ok(mut r) = self.reports.lock() {
            if r.len() < MAX_REPORTS {
                r.push(body);
            }
        }
        Response::ok(Vec::new())
    }
}

impl CloudApi for AzureApi {
    fn name(&self) -> &'static str {
        "Azure"
    }

    fn answer(&self, req: &Request) -> Response {
        let path = req.path.as_str();
        if path == "/_emulator/health-reports" {
            let list: Vec<Value> = self
                .health_reports()
                .into_iter()
                .map(Value::String)
                .collect();
            return Response::ok(Value::Array(list).to_string().into_bytes());
        }
        if path.starts_with("/metadata/") {
            if req.method != "GET" {
                return Response::status(405);
            }
            return match path {
                "/metadata/instance" | "/metadata/instance/" => self.instance(req),
                _ => Response::status(404),
            };
        }
        if path == "/machine" || path == "/machine/" {
            if req.header("x-ms-version") != Some(WIRE_VERSION) {
                return Response::status(400);
            }
            return match (req.method.as_str(), Self::query_param(req, "comp")) {
                ("GET", Some("goalstate")) => self.goal_state(),
                ("POST", Some("health")) => self.health(req),
                _ => Response::status(400),
            };
        }
        Response::status(404)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn req(
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
            close: false,
        }
    }

    #[test]
    fn imds_and_wireserver() {
        let mut md = Map::new();
        md.insert("instance-id".into(), json!("vm-1"));
        md.insert("imds-api-versions".into(), json!(["2019-06-01"]));
        let api = AzureApi::new(SeedFiles {
            meta_data: md,
            user_data: Some(b"#cloud-config\n".to_vec()),
            ..SeedFiles::default()
        });
        let q = "api-version=2021-08-01&extended=true";
        assert_eq!(
            api.answer(&req("GET", "/metadata/instance", q, &[], b""))
                .status,
            400
        );
        assert_eq!(
            api.answer(&req(
                "GET",
                "/metadata/instance",
                q,
                &[("metadata", "true")],
                b""
            ))
            .status,
            400
        );
        let ok = api.answer(&req(
            "GET",
            "/metadata/instance",
            "api-version=2019-06-01",
            &[("metadata", "true")],
            b"",
        ));
        let doc: Value = serde_json::from_slice(&ok.body).unwrap();
        assert_eq!(doc["compute"]["vmId"], "vm-1");
        assert_eq!(doc["compute"]["userData"], "I2Nsb3VkLWNvbmZpZwo=");
        assert_eq!(
            api.answer(&req("GET", "/machine/", "comp=goalstate", &[], b""))
                .status,
            400
        );
        let gs = api.answer(&req(
            "GET",
            "/machine/",
            "comp=goalstate",
            &[("x-ms-version", WIRE_VERSION)],
            b"",
        ));
        assert!(
            String::from_utf8_lossy(&gs.body).contains("<InstanceId>vm-1._azure-vm</InstanceId>")
        );
        let h = api.answer(&req(
            "POST",
            "/machine",
            "comp=health",
            &[("x-ms-version", WIRE_VERSION)],
            b"<Health/>",
        ));
        assert_eq!(h.status, 200);
        assert_eq!(api.health_reports(), vec!["<Health/>".to_string()]);
    }
}
