//! The wireserver (Azure's fabric endpoint): fetch the goal state, then post
//! a health report saying the VM is Ready (or NotReady, with the failure).

use super::http::Client;
use super::xml::{self, escape};
use std::time::{Duration, Instant};

pub const DEFAULT_WIRESERVER_ENDPOINT: &str = "168.63.129.16";
const AGENT_NAME: &str = "WALinuxAgent";
const PROTOCOL_VERSION: &str = "2012-11-30";
/// Health descriptions are cut to this many characters.
const DESCRIPTION_TRIM_LEN: usize = 512;

/// Upstream `http_with_retries` budgets: 5 s connect, 60 s read, 5 s
/// between attempts, give up after 20 minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WirePolicy {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub retry_sleep: Duration,
    pub give_up_after: Duration,
}

impl Default for WirePolicy {
    fn default() -> Self {
        WirePolicy {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
            retry_sleep: Duration::from_secs(5),
            give_up_after: Duration::from_secs(20 * 60),
        }
    }
}

/// The three goal-state values a health report needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalState {
    pub container_id: String,
    pub instance_id: String,
    pub incarnation: String,
}

impl GoalState {
    /// Upstream `GoalState.__init__` (certificates are not fetched).
    pub fn parse(body: &[u8]) -> Result<GoalState, String> {
        let root = xml::parse(body).map_err(|e| {
            log::warn!("Failed to parse GoalState XML: {e}");
            e.msg
        })?;
        let text = |p: &[&str]| root.path(p).and_then(|e| e.text.clone());
        let container_id = text(&["Container", "ContainerId"]);
        let instance_id = text(&[
            "Container",
            "RoleInstanceList",
            "RoleInstance",
            "InstanceId",
        ]);
        let incarnation = text(&["Incarnation"]);
        for (name, v) in [
            ("container_id", &container_id),
            ("instance_id", &instance_id),
            ("incarnation", &incarnation),
        ] {
            if v.is_none() {
                let msg = format!("Missing {name} in GoalState XML");
                log::warn!("{msg}");
                return Err(msg);
            }
        }
        Ok(GoalState {
            container_id: container_id.unwrap_or_default(),
            instance_id: instance_id.unwrap_or_default(),
            incarnation: incarnation.unwrap_or_default(),
        })
    }
}

/// Upstream `GoalStateHealthReporter.build_report`.
pub fn build_report(gs: &GoalState, status: &str, detail: Option<(&str, &str)>) -> String {
    let detail = match detail {
        Some((substatus, description)) => {
            let d: String = description.chars().take(DESCRIPTION_TRIM_LEN).collect();
            format!(
                "<Details>\n  <SubStatus>{}</SubStatus>\n  <Description>{}</Description>\n</Details>\n",
                escape(substatus),
                escape(&d)
            )
        }
        None => String::new(),
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Health xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <GoalStateIncarnation>{}</GoalStateIncarnation>
  <Container>
    <ContainerId>{}</ContainerId>
    <RoleInstanceList>
      <Role>
        <InstanceId>{}</InstanceId>
        <Health>
          <State>{}</State>
          {detail}
        </Health>
      </Role>
    </RoleInstanceList>
  </Container>
</Health>
"#,
        escape(&gs.incarnation),
        escape(&gs.container_id),
        escape(&gs.instance_id),
        escape(status),
    )
}

/// Talks to one wireserver base URL (`http://168.63.129.16`).
pub struct Wireserver {
    pub base: String,
    pub policy: WirePolicy,
    client: Client,
}

impl Wireserver {
    pub fn new(base: String, policy: WirePolicy, user_agent: &str) -> Self {
        let client = Client::new(policy.connect_timeout, policy.read_timeout, user_agent);
        Wireserver {
            base,
            policy,
            client,
        }
    }

    /// Upstream `http_with_retries`.
    fn request(&self, url: &str, body: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let mut headers = vec![
            ("x-ms-agent-name", AGENT_NAME),
            ("x-ms-version", PROTOCOL_VERSION),
        ];
        if body.is_some() {
            headers.push(("Content-Type", "text/xml; charset=utf-8"));
        }
        let give_up = Instant::now() + self.policy.give_up_after;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let err = match self.client.send(url, &headers, body) {
                Ok((code, b)) if (200..300).contains(&code) => {
                    log::debug!(
                        "Successful HTTP request with Azure endpoint {url} after {attempt} attempts"
                    );
                    return Ok(b);
                }
                Ok((code, _)) => (format!("{code} Error for url: {url}"), Some(code)),
                Err(f) => (f.message, None),
            };
            log::debug!(
                "Failed HTTP request with Azure endpoint {url} during attempt {attempt} with exception: {} (code={} headers=None)",
                err.0,
                err.1.map(|c| c.to_string()).unwrap_or_else(|| "None".into())
            );
            if Instant::now() + self.policy.retry_sleep >= give_up
                || err.0.contains("Network is unreachable")
            {
                return Err(err.0);
            }
            std::thread::sleep(self.policy.retry_sleep);
        }
    }

    /// `GET /machine/?comp=goalstate` and parse it.
    pub fn goal_state(&self) -> Result<GoalState, String> {
        log::info!("Registering with Azure...");
        let url = format!("{}/machine/?comp=goalstate", self.base);
        let body = self.request(&url, None).map_err(|e| {
            log::warn!("failed to register with Azure and fetch GoalState XML: {e}");
            e
        })?;
        log::debug!("Successfully fetched GoalState XML.");
        let gs = GoalState::parse(&body).map_err(|e| {
            log::warn!("Error processing GoalState XML: {e}");
            e
        })?;
        log::debug!(
            "GoalState XML container id: {}, GoalState XML instance id: {}, GoalState XML incarnation: {}",
            gs.container_id,
            gs.instance_id,
            gs.incarnation
        );
        Ok(gs)
    }

    fn post_health(&self, document: &str) -> Result<(), String> {
        log::debug!("Sending health report to Azure fabric.");
        let url = format!("{}/machine?comp=health", self.base);
        self.request(&url, Some(document.as_bytes()))?;
        log::debug!("Successfully sent health report to Azure fabric");
        Ok(())
    }

    /// Goal state, then the Ready report.
    pub fn report_ready(&self) -> Result<(), String> {
        let gs = self.goal_state()?;
        let doc = build_report(&gs, "Ready", None);
        log::debug!("Reporting ready to Azure fabric.");
        self.post_health(&doc).map_err(|e| {
            log::error!("exception while reporting ready: {e}");
            e
        })?;
        log::info!("Reported ready to Azure fabric.");
        Ok(())
    }

    /// Goal state, then NotReady / ProvisioningFailed with `description`.
    pub fn report_failure(&self, description: &str) -> Result<(), String> {
        let gs = self.goal_state()?;
        let doc = build_report(&gs, "NotReady", Some(("ProvisioningFailed", description)));
        self.post_health(&doc).map_err(|e| {
            log::error!("exception while reporting failure: {e}");
            e
        })?;
        log::warn!("Reported failure to Azure fabric.");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goal_state_parse() {
        let gs = GoalState::parse(
            br#"<?xml version="1.0" encoding="utf-8"?>
<GoalState xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="goalstate10.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Version>2012-11-30</Version><Incarnation>1</Incarnation>
  <Machine><ExpectedState>Started</ExpectedState></Machine>
  <Container><ContainerId>c-1</ContainerId><RoleInstanceList><RoleInstance>
    <InstanceId>i-1</InstanceId><State>Started</State></RoleInstance></RoleInstanceList></Container>
</GoalState>"#,
        )
        .unwrap();
        assert_eq!(
            gs,
            GoalState {
                container_id: "c-1".into(),
                instance_id: "i-1".into(),
                incarnation: "1".into()
            }
        );
        assert_eq!(
            GoalState::parse(b"<GoalState><Incarnation>1</Incarnation></GoalState>").unwrap_err(),
            "Missing container_id in GoalState XML"
        );
    }
}
