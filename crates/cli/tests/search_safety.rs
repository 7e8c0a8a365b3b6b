//! Four boot stages on a copy of the Debian root:
//! - a NoCloud seed whose `instance-id` is empty, `.` or `..` fails
//!   the datasource (a WARNING naming it and the id, shown by `status`) and
//!   leaves nothing directly in /var/lib/cloud/instances or /var/lib/cloud;
//! - with Debian's full `datasource_list` (no generator narrowing it) a
//!   NoCloud boot is clean: DigitalOcean, never tried, logs no deprecation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;

const USER_DATA: &[u8] = b"#cloud-config\n{}\n";

fn warnings(status: &Value) -> Vec<String> {
    status["recoverable_errors"]["WARNING"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn entries(sb: &Sandbox, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(sb.path(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn unusable_instance_ids_fail_the_datasource_and_write_no_state() {
    let Some(base) = debian_root() else { return };
    for (yaml, shown) in [("\"\"", "\"\""), ("\".\"", "\".\""), ("\"..\"", "\"..\"")] {
        let md = format!("instance-id: {yaml}\nlocal-hostname: blank\n");
        let sb = Sandbox::new(
            &base,
            &[("meta-data", md.as_bytes()), ("user-data", USER_DATA)],
        );
        let before = entries(&sb, "/var/lib/cloud");
        let codes = sb.boot();
        assert_eq!(codes, vec![0, 0, 0, 0], "{yaml}: {}", sb.log());

        // Only the fallback's own directory: nothing of an instance (sem,
        // handlers, scripts, datasource, obj.json) straight in instances/
        // or in /var/lib/cloud.
        assert_eq!(
            entries(&sb, "/var/lib/cloud/instances"),
            vec!["iid-datasource-none".to_string()],
            "{yaml}"
        );
        for stray in [
            "datasource",
            "obj.json",
            "cloud-config.txt",
            "user-data.txt",
        ] {
            assert!(
                !sb.path(&format!("/var/lib/cloud/{stray}")).exists(),
                "{yaml}: /var/lib/cloud/{stray} (before: {before:?})"
            );
        }
        assert_eq!(
            sb.read("/var/lib/cloud/data/instance-id"),
            "iid-datasource-none\n"
        );

        let (st, code) = sb.status_json();
        assert_eq!(code, 2, "{yaml}: {st:#}");
        assert_eq!(st["extended_status"], "degraded done", "{yaml}");
        assert_eq!(st["datasource"], "none", "{yaml}");
        let expected = format!(
            "Ignoring datasource DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud]: its instance-id {shown} is unusable ("
        );
        assert!(
            warnings(&st).iter().any(|w| w.starts_with(&expected)),
            "{yaml}: {:#?}",
            warnings(&st)
        );
    }
}

#[test]
fn full_debian_datasource_list_nocloud_boot_is_clean() {
    let Some(base) = debian_root() else { return };
    let sb = Sandbox::new(
        &base,
        &[
            (
                "meta-data",
                b"instance-id: iid-full-list\nlocal-hostname: full\n",
            ),
            ("user-data", USER_DATA),
        ],
    );
    // No drop-in and no generator output (/run/cloud-init/cloud.cfg): the
    // full built-in list, DigitalOcean fifth, as on a stock Debian image.
    std::fs::remove_file(sb.path("/etc/cloud/cloud.cfg.d/90-test.cfg")).unwrap();
    assert!(!sb.path("/run/cloud-init/cloud.cfg").exists());
    let codes = sb.boot();
    assert_eq!(codes, vec![0, 0, 0, 0], "{}", sb.log());
    let log = sb.log();
    assert!(
        log.contains("'DataSourceNoCloud', 'DataSourceConfigDrive', 'DataSourceLXD', 'DataSourceDigitalOcean'"),
        "the full list was not searched:\n{log}"
    );
    assert!(
        !log.contains("DataSourceDigitalOcean is deprecated"),
        "deprecation for a datasource never tried:\n{log}"
    );
    let (st, code) = sb.status_json();
    assert_eq!(st["extended_status"], "done", "{st:#}");
    assert_eq!(st["recoverable_errors"], serde_json::json!({}), "{st:#}");
    assert_eq!(code, 0, "{st:#}");
    let out = sb.ci(&["status"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("status: done"));
}
