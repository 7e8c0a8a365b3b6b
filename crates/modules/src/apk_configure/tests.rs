use super::*;
use crate::testutil::TestEnv;
use serde_json::json;

const HEADER: &str =
    "#\n# Created by cloud-init\n#\n# This file is written on first boot of an instance\n#\n\n";

fn alpine(apk_repos: Value) -> TestEnv {
    TestEnv::new(json!({"system_info": {"distro": "alpine"}, "apk_repos": apk_repos}))
}

#[test]
fn main_and_community_on_the_default_mirror() {
    let env = alpine(json!({"alpine_repo": {"version": "v3.12", "community_enabled": true}}));
    handle(&env.ctx("apk_configure")).unwrap();
    assert_eq!(
        env.read(REPO_FILE),
        format!(
            "{HEADER}{m}/v3.12/main\n{m}/v3.12/community\n\n",
            m = DEFAULT_MIRROR
        )
    );
    assert_eq!(env.mode(REPO_FILE), 0o644);
}

#[test]
fn edge_with_testing_and_a_local_repo() {
    let env = alpine(json!({
        "alpine_repo": {"base_url": "https://m/alpine", "community_enabled": true,
                        "testing_enabled": true, "version": "edge"},
        "local_repo_base_url": "https://local/alpine"
    }));
    handle(&env.ctx("apk_configure")).unwrap();
    assert_eq!(
        env.read(REPO_FILE),
        format!("{HEADER}https://m/alpine/edge/main\nhttps://m/alpine/edge/community\nhttps://m/alpine/edge/testing\n\n#\n# Local repo\n#\nhttps://local/alpine/edge\n\n")
    );
}

#[test]
fn testing_on_a_release_carries_the_warning_comment() {
    let env = alpine(
        json!({"alpine_repo": {"base_url": "B", "testing_enabled": true, "version": "v3.20"}}),
    );
    handle(&env.ctx("apk_configure")).unwrap();
    assert_eq!(
        env.read(REPO_FILE),
        format!("{HEADER}B/v3.20/main\n#\n# Testing - using with non-Edge installation may cause problems!\n#\nB/edge/testing\n\n")
    );
}

#[test]
fn preserve_missing_repo_or_version_write_nothing() {
    for cfg in [
        json!({"preserve_repositories": true, "alpine_repo": {"version": "v3.12"}}),
        json!({"local_repo_base_url": "http://l"}),
        json!({"alpine_repo": {"community_enabled": true}}),
        json!({}),
    ] {
        let env = alpine(cfg.clone());
        handle(&env.ctx("apk_configure")).unwrap();
        assert!(!env.host.exists(REPO_FILE), "{cfg}");
    }
}

#[test]
fn a_null_local_repo_is_rendered_as_python_prints_it() {
    let env = alpine(
        json!({"alpine_repo": {"version": "v3.1", "base_url": "B"}, "local_repo_base_url": null}),
    );
    handle(&env.ctx("apk_configure")).unwrap();
    assert!(env
        .read(REPO_FILE)
        .ends_with("B/v3.1/main\n\n#\n# Local repo\n#\nNone/v3.1\n\n"));
}

#[test]
fn leaves_roots_tmp_directory_as_upstreams_template_file_does() {
    let env = alpine(json!({"alpine_repo": {"version": "v3.12"}}));
    handle(&env.ctx("apk_configure")).unwrap();
    let tmp = env.paths.run_dir.join("tmp");
    assert!(env.host.is_dir(&tmp));
    assert_eq!(env.mode(tmp.to_str().unwrap()), 0o1777);
}
