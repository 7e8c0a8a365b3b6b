//! `cloud-id` outputs and exit codes (upstream cmd/cloud_id.py).

#![allow(clippy::unwrap_used, clippy::panic)]

use ci_host::{Host, WriteOpts};
use ci_state::cloud_id::{run_cloud_id, CloudIdArgs};
use ci_state::status::{status_details, StatusEnv, Systemd};
use ci_state::Paths;
use std::path::Path;

struct NoSystemd;
impl Systemd for NoSystemd {
    fn show_environment(&self) -> Option<String> {
        None
    }
    fn show_unit(&self, _: &str) -> Result<String, String> {
        Err("no systemd".into())
    }
}

fn env(sd: &NoSystemd) -> StatusEnv<'_> {
    StatusEnv {
        uses_systemd: true,
        cmdline: String::new(),
        env_kernel_cmdline: None,
        systemd: sd,
    }
}

#[test]
fn cloud_id_states() {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    let p = Paths::default();
    let sd = NoSystemd;
    let idf = Path::new("/run/cloud-init/instance-data.json");
    let args = CloudIdArgs::default();

    let out = run_cloud_id(&h, &status_details(&h, &p, &env(&sd)), idf, args);
    assert_eq!((out.stdout.as_str(), out.exit_code), ("not started\n", 3));

    h.write_atomic("/etc/cloud/cloud-init.disabled", b"", &WriteOpts::default())
        .unwrap();
    let out = run_cloud_id(&h, &status_details(&h, &p, &env(&sd)), idf, args);
    assert_eq!((out.stdout.as_str(), out.exit_code), ("disabled\n", 2));
    h.remove_file("/etc/cloud/cloud-init.disabled").unwrap();

    h.write_atomic(
        "/run/cloud-init/result.json",
        b"{\"v1\": {\"datasource\": \"DataSourceEc2\", \"errors\": []}}",
        &WriteOpts::default(),
    )
    .unwrap();
    h.write_atomic(
        "/run/cloud-init/status.json",
        b"{\"v1\": {\"datasource\": \"DataSourceEc2\", \"init\": {\"errors\": [], \"recoverable_errors\": {}, \"start\": 1.0, \"finished\": 2.0}, \"stage\": null}}",
        &WriteOpts::default(),
    )
    .unwrap();
    let details = status_details(&h, &p, &env(&sd));
    let out = run_cloud_id(&h, &details, idf, args);
    assert_eq!(out.exit_code, 1);
    assert_eq!(
        out.stderr,
        "Error:\nFile not found '/run/cloud-init/instance-data.json'. Provide a path to instance data json file using --instance-data\n"
    );

    h.write_atomic(
        idf,
        b"{\"v1\": {\"cloud_name\": \"aws\", \"region\": \"cn-north-1\", \"platform\": \"ec2\"}}",
        &WriteOpts::default(),
    )
    .unwrap();
    assert_eq!(run_cloud_id(&h, &details, idf, args).stdout, "aws-china\n");
    assert_eq!(
        run_cloud_id(
            &h,
            &details,
            idf,
            CloudIdArgs {
                long: true,
                json: false
            }
        )
        .stdout,
        "aws-china\tcn-north-1\n"
    );
    let j = run_cloud_id(
        &h,
        &details,
        idf,
        CloudIdArgs {
            json: true,
            long: false,
        },
    );
    assert_eq!(j.stderr, "DEPRECATED: Use: cloud-init query v1\n");
    assert_eq!(
        j.stdout,
        "{\n \"cloud_id\": \"aws-china\",\n \"cloud_name\": \"aws\",\n \"platform\": \"ec2\",\n \"region\": \"cn-north-1\"\n}\n"
    );
    h.write_atomic(
        idf,
        b"{\"v1\": {\"cloud_name\": \"unknown\", \"region\": null, \"platform\": \"lxd\"}}",
        &WriteOpts::default(),
    )
    .unwrap();
    assert_eq!(
        run_cloud_id(
            &h,
            &details,
            idf,
            CloudIdArgs {
                long: true,
                json: false
            }
        )
        .stdout,
        "lxd\tNone\n"
    );
    h.write_atomic(idf, b"not json", &WriteOpts::default())
        .unwrap();
    let out = run_cloud_id(&h, &details, idf, args);
    assert_eq!(out.exit_code, 1);
    assert!(out
        .stderr
        .starts_with("Error:\nFile '/run/cloud-init/instance-data.json' is not valid json. "));
}
