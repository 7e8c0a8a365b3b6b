use super::*;
use crate::testutil::{logcap, TestEnv};
use base64::Engine;
use serde_json::json;
use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;

const FIXTURE: &str = include_str!("../../tests/fixtures/write_files_decode.json");

#[test]
fn decoding_matches_upstream_for_every_encoding() {
    logcap::init();
    let fx: Value = serde_json::from_str(FIXTURE).unwrap();
    for case in fx["decode"].as_array().unwrap() {
        let content = case["content"].as_str().unwrap();
        let enc = match &case["encoding"] {
            Value::Null => None,
            v => Some(v),
        };
        let before = logcap::warnings().len();
        let got = decode_content(content.as_bytes(), enc);
        match (case.get("result_b64"), case.get("error")) {
            (Some(want), _) => {
                let want = base64::engine::general_purpose::STANDARD
                    .decode(want.as_str().unwrap())
                    .unwrap();
                assert_eq!(got.as_deref(), Ok(want.as_slice()), "case {case}");
            }
            (None, Some(err)) => {
                assert_eq!(got, Err(err.as_str().unwrap().to_string()), "case {case}")
            }
            _ => unreachable!(),
        }
        let warned: Vec<String> = logcap::warnings()[before..].to_vec();
        let want: Vec<String> = serde_json::from_value(case["warnings"].clone()).unwrap();
        assert_eq!(warned, want, "case {case}");
    }
}

#[test]
fn permissions_decode_as_upstream() {
    logcap::init();
    let fx: Value = serde_json::from_str(FIXTURE).unwrap();
    for case in fx["perms"].as_array().unwrap() {
        let before = logcap::warnings().len();
        let got = decode_perms(Some(&case["perm"]), 0o644);
        assert_eq!(Value::from(got), case["mode"], "case {case}");
        let warned: Vec<String> = logcap::warnings()[before..].to_vec();
        let want: Vec<String> = serde_json::from_value(case["warnings"].clone()).unwrap();
        assert_eq!(warned, want, "case {case}");
    }
}

fn passwd(env: &TestEnv) {
    env.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\n",
    );
    env.write("/etc/group", "root:x:0:\nbob:x:1001:\nstaff:x:50:\n");
}

#[test]
fn writes_files_with_modes_owners_and_normalised_paths() {
    let env = TestEnv::new(json!({"write_files": [
        {"path": "/etc/motd", "content": "hi\n"},
        {"path": "etc/../etc/app//conf", "content": "aGVsbG8K", "encoding": "b64",
         "permissions": "0600", "owner": "bob:staff"},
        {"path": "/home/bob/new/dir/f", "content": "x", "owner": "bob", "permissions": 493},
        {"path": "/empty"},
    ]}));
    passwd(&env);
    handle(&env.ctx("write_files")).unwrap();
    assert_eq!(env.read("/etc/motd"), "hi\n");
    assert_eq!(env.mode("/etc/motd"), 0o644);
    assert_eq!(env.read("/etc/app/conf"), "hello\n");
    assert_eq!(env.mode("/etc/app/conf"), 0o600);
    let md = std::fs::metadata(env.host.path("/etc/app/conf")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1001, 50));
    assert_eq!(env.mode("/home/bob/new/dir/f"), 0o755);
    // Directories created for the file belong to its owner, as upstream's ensure_dir.
    let dmd = std::fs::metadata(env.host.path("/home/bob/new")).unwrap();
    assert_eq!(dmd.uid(), 1001);
    assert_eq!(env.read("/empty"), "");
}

#[test]
fn root_owner_works_without_passwd_in_the_target() {
    let env = TestEnv::new(json!({"write_files": [{"path": "/a", "content": "x"}]}));
    handle(&env.ctx("write_files")).unwrap();
    assert_eq!(std::fs::metadata(env.host.path("/a")).unwrap().uid(), 0);
}

#[test]
fn append_adds_and_sets_mode() {
    let env = TestEnv::new(json!({"write_files": [
        {"path": "/log", "content": "two\n", "append": true, "permissions": "0640"},
    ]}));
    env.write("/log", "one\n");
    handle(&env.ctx("write_files")).unwrap();
    assert_eq!(env.read("/log"), "one\ntwo\n");
    assert_eq!(env.mode("/log"), 0o640);
}

#[test]
fn deferred_entries_wait_for_write_files_deferred() {
    let env = TestEnv::new(json!({"write_files": [
        {"path": "/now", "content": "n"},
        {"path": "/later", "content": "l", "defer": "yes"},
    ]}));
    handle(&env.ctx("write_files")).unwrap();
    assert!(env.host.exists("/now"));
    assert!(!env.host.exists("/later"));
    std::fs::remove_file(env.host.path("/now")).unwrap();
    handle_deferred(&env.ctx("write_files_deferred")).unwrap();
    assert!(env.host.exists("/later"));
    assert!(!env.host.exists("/now"));
}

#[test]
fn missing_path_and_bad_permissions_warn_and_go_on() {
    logcap::init();
    let env = TestEnv::new(json!({"write_files": [
        {"content": "no path"},
        {"path": "/p", "content": "x", "permissions": "rw-r--r--"},
    ]}));
    handle(&env.ctx("write_files")).unwrap();
    let w = logcap::warnings();
    assert!(
        w.contains(&"No path provided to write for entry 1 in module write_files".to_string()),
        "{w:?}"
    );
    assert!(
        w.contains(&"Undecodable permissions 'rw-r--r--', returning default 644".to_string()),
        "{w:?}"
    );
    assert_eq!(env.mode("/p"), 0o644);
}

#[test]
fn unknown_owner_and_bad_base64_stop_the_module() {
    let env = TestEnv::new(json!({"write_files": [
        {"path": "/first", "content": "1"},
        {"path": "/bad", "content": "x", "owner": "nobody:nogroup"},
        {"path": "/after", "content": "2"},
    ]}));
    passwd(&env);
    let err = handle(&env.ctx("write_files")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unknown user or group: \"getpwnam(): name not found: 'nobody'\""
    );
    assert!(env.host.exists("/first"));
    // The parent existed, so upstream wrote the file before it looked the
    // owner up (as 25.1.4 does): written, owned as made.
    assert_eq!(env.read("/bad"), "x");
    assert!(!env.host.exists("/after"));

    let env = TestEnv::new(json!({"write_files": [
        {"path": "/g", "content": "x", "owner": "root:nogroup"},
    ]}));
    let err = handle(&env.ctx("write_files")).unwrap_err();
    assert!(
        err.to_string()
            .contains("getgrnam(): name not found: 'nogroup'"),
        "{err}"
    );

    let env = TestEnv::new(json!({"write_files": [
        {"path": "/b", "content": "aGVsbG8", "encoding": "base64"},
    ]}));
    let err = handle(&env.ctx("write_files")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "write_files entry 1 (/b): Incorrect padding"
    );
}

#[test]
fn source_file_url_and_fallback_to_content() {
    logcap::init();
    let env = TestEnv::new(json!({"write_files": [
        {"path": "/copy", "source": {"uri": "file:///srv/src.txt"}},
        {"path": "/fallback", "source": {"uri": "file:///missing"}, "content": "Zg==", "encoding": "b64"},
        {"path": "/nothing", "source": {"uri": "/missing"}},
        {"path": "/after", "content": "ok"},
    ]}));
    env.write("/srv/src.txt", "from source\n");
    handle(&env.ctx("write_files")).unwrap();
    assert_eq!(env.read("/copy"), "from source\n");
    assert_eq!(env.read("/fallback"), "f");
    assert!(!env.host.exists("/nothing"));
    assert_eq!(env.read("/after"), "ok");
    let w = logcap::warnings();
    assert!(w.contains(&"Failed to retrieve contents from source \"file:///missing\"; falling back to data from \"contents\" key".to_string()), "{w:?}");
    assert!(
        w.contains(
            &"No content could be loaded for entry 3 in module write_files; skipping".to_string()
        ),
        "{w:?}"
    );
}

#[test]
fn source_http_sends_headers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push(line.trim_end().to_string());
        }
        let body = "served\n";
        write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        head
    });
    let env = TestEnv::new(json!({"write_files": [
        {"path": "/web", "source": {"uri": format!("http://127.0.0.1:{port}/f"),
                                    "headers": {"Authorization": "Basic xyz", "X-N": 1}}},
    ]}));
    handle(&env.ctx("write_files")).unwrap();
    assert_eq!(env.read("/web"), "served\n");
    let head = server.join().unwrap();
    assert!(head[0].starts_with("GET /f "), "{head:?}");
    let lower: Vec<String> = head.iter().map(|h| h.to_lowercase()).collect();
    assert!(
        lower.contains(&"authorization: basic xyz".to_string()),
        "{head:?}"
    );
    assert!(lower.contains(&"x-n: 1".to_string()), "{head:?}");
}

#[test]
fn usergroup_extraction() {
    assert_eq!(
        extract_usergroup(Some("a:b")),
        (Some("a".into()), Some("b".into()))
    );
    assert_eq!(extract_usergroup(Some(" a ")), (Some("a".into()), None));
    assert_eq!(extract_usergroup(Some("-1:none")), (None, None));
    assert_eq!(extract_usergroup(Some("")), (None, None));
}

#[test]
fn symlinked_targets_are_written_through() {
    let env = TestEnv::new(json!({"write_files": [
        {"path": "/etc/resolv.conf", "content": "nameserver 127.0.0.53\n"},
        {"path": "/etc/rel", "content": "r"},
    ]}));
    env.write("/run/systemd/resolve/stub-resolv.conf", "old\n");
    env.host
        .symlink("/run/systemd/resolve/stub-resolv.conf", "/etc/resolv.conf")
        .unwrap();
    env.host.symlink("../srv/real", "/etc/rel").unwrap();
    handle(&env.ctx("write_files")).unwrap();
    assert!(env.host.read_link("/etc/resolv.conf").is_ok());
    assert_eq!(
        env.read("/run/systemd/resolve/stub-resolv.conf"),
        "nameserver 127.0.0.53\n"
    );
    assert_eq!(env.read("/srv/real"), "r");
}

/// The image's own links: an absolute last component is written through
/// inside the root, and a chain of 41 links is an error; neither touches
/// this machine.
#[test]
fn image_links_resolve_inside_the_root_and_long_chains_fail() {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "ORIGINAL\n").unwrap();
    let env = TestEnv::new(json!({"write_files": [
        {"path": "/etc/last", "content": "through\n", "append": true},
        {"path": "/etc/replaced", "content": "new\n"},
    ]}));
    let root = env.host.root().to_path_buf();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    symlink(&victim, root.join("etc/last")).unwrap();
    symlink(&victim, root.join("etc/replaced")).unwrap();
    handle(&env.ctx("write_files")).unwrap();
    let in_root = root.join(victim.strip_prefix("/").unwrap());
    // Both wrote through their link to the same file inside the root (the
    // second truncating it, as upstream's "wb" does); the links stay.
    assert_eq!(std::fs::read_to_string(&in_root).unwrap(), "new\n");
    assert!(root.join("etc/last").is_symlink() && root.join("etc/replaced").is_symlink());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "ORIGINAL\n");

    let env = TestEnv::new(json!({"write_files": [
        {"path": "/srv/f", "content": "escaped\n", "append": true, "permissions": "0666"},
    ]}));
    let srv = env.host.root().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    symlink("/srv/g1", srv.join("f")).unwrap();
    for i in 1..40 {
        symlink(format!("/srv/g{}", i + 1), srv.join(format!("g{i}"))).unwrap();
    }
    symlink(&victim, srv.join("g40")).unwrap();
    let err = handle(&env.ctx("write_files")).unwrap_err();
    assert!(
        err.to_string()
            .contains("too many levels of symbolic links"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "ORIGINAL\n");
    let md = std::fs::metadata(&victim).unwrap();
    assert_ne!(md.mode() & 0o777, 0o666);
    assert!(!env
        .host
        .root()
        .join(victim.strip_prefix("/").unwrap())
        .exists());
}

/// Upstream's documented `!!binary` example for write_files.
const GZIP_EXAMPLE: &str = "write_files:
- encoding: gzip
  content: !!binary |
    H4sIAIDb/U8C/1NW1E/KzNMvzuBKTc7IV8hIzcnJVyjPL8pJ4QIA6N+MVxsAAAA=
  path: /usr/bin/hello
  permissions: '0755'
";

fn yaml_env(text: &str) -> TestEnv {
    TestEnv::new(ci_yaml::load(text).unwrap())
}

#[test]
fn binary_gzip_example_writes_the_script() {
    let env = yaml_env(GZIP_EXAMPLE);
    handle(&env.ctx("write_files")).unwrap();
    // What 25.1.4 writes: gzip.decompress of the !!binary bytes.
    assert_eq!(env.read("/usr/bin/hello"), "#!/bin/sh\necho hello world\n");
    assert_eq!(env.mode("/usr/bin/hello"), 0o755);
}

#[test]
fn binary_content_is_written_byte_exact() {
    let elf: &[u8] = b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe\x80\n";
    let b64 = base64::engine::general_purpose::STANDARD.encode(elf);
    let env = yaml_env(&format!(
        "write_files:\n- path: /bin/tool\n  permissions: '0700'\n  content: !!binary |\n    {b64}\n"
    ));
    handle(&env.ctx("write_files")).unwrap();
    assert_eq!(std::fs::read(env.host.path("/bin/tool")).unwrap(), elf);
    assert_eq!(env.mode("/bin/tool"), 0o700);
}

#[test]
fn binary_content_goes_through_b64_and_gz_b64() {
    // !!binary of the text "aGVsbG8K": b64decode of those bytes is "hello\n".
    let gz_b64 = {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"zipped\n").unwrap();
        let gz = enc.finish().unwrap();
        let inner = base64::engine::general_purpose::STANDARD.encode(gz);
        base64::engine::general_purpose::STANDARD.encode(inner)
    };
    let env = yaml_env(&format!(
        "write_files:\n\
         - {{path: /b64, encoding: b64, content: !!binary YUdWc2JHOEsK}}\n\
         - path: /gzb64\n  encoding: gz+b64\n  content: !!binary {gz_b64}\n"
    ));
    handle(&env.ctx("write_files")).unwrap();
    assert_eq!(env.read("/b64"), "hello\n");
    assert_eq!(env.read("/gzb64"), "zipped\n");
}

#[test]
fn binary_settings_are_shown_as_python_bytes() {
    logcap::init();
    let env = yaml_env(
        "write_files:\n\
         - {path: /p, content: !!binary aGk=, encoding: !!binary R1o=, permissions: !!binary MDc1NQ==}\n\
         - {path: !!binary L3E=, content: !!binary aGVsbG8=}\n",
    );
    let before = logcap::all().len();
    handle(&env.ctx("write_files")).unwrap();
    let logged = logcap::all()[before..].join("\n");
    // 25.1.4's warnings for encoding b'GZ' and permissions b'0755'.
    let w = logcap::warnings();
    for want in [
        "Unknown encoding type b'gz', assuming text/plain",
        "Undecodable permissions b'0755', returning default 644",
    ] {
        assert!(w.iter().any(|l| l == want), "{want}: {w:?}");
    }
    assert!(!logged.contains('\u{FDD0}'), "{logged}");
    assert_eq!(env.read("/p"), "hi");
    assert_eq!(env.mode("/p"), 0o644);
    // A bytes path is written as upstream writes it, to its text.
    assert_eq!(env.read("/q"), "hello");
}

#[test]
fn unknown_owner_leaves_created_parents_and_no_file() {
    for (module, defer) in [("write_files", false), ("write_files_deferred", true)] {
        let env = TestEnv::new(json!({"write_files": [
            {"path": "/opt/new/deep/f", "content": "x", "owner": "nosuch:nosuch", "defer": defer},
            {"path": "/after", "content": "2", "defer": defer},
        ]}));
        passwd(&env);
        let ctx = env.ctx(module);
        let err = if defer {
            handle_deferred(&ctx)
        } else {
            handle(&ctx)
        }
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unknown user or group: \"getpwnam(): name not found: 'nosuch'\"",
            "{module}"
        );
        // As 25.1.4: ensure_dir made the directories (0755, owned as made)
        // before the owner lookup failed; the file and later entries are
        // not written.
        let me = std::fs::metadata(env.host.path("/")).unwrap();
        for d in ["/opt", "/opt/new", "/opt/new/deep"] {
            assert!(env.host.is_dir(d), "{module}: {d}");
            assert_eq!(env.mode(d), 0o755, "{module}: {d}");
            let md = std::fs::metadata(env.host.path(d)).unwrap();
            assert_eq!((md.uid(), md.gid()), (me.uid(), me.gid()), "{module}: {d}");
        }
        assert!(!env.host.exists("/opt/new/deep/f"), "{module}");
        assert!(!env.host.exists("/after"), "{module}");
    }
    // An unknown group fails the same way, after the directories too.
    let env = TestEnv::new(json!({"write_files": [
        {"path": "/srv/x/f", "content": "x", "owner": "root:nogroup", "defer": true},
    ]}));
    let err = handle_deferred(&env.ctx("write_files_deferred")).unwrap_err();
    assert!(
        err.to_string()
            .contains("getgrnam(): name not found: 'nogroup'"),
        "{err}"
    );
    assert!(env.host.is_dir("/srv/x"));
    assert!(!env.host.exists("/srv/x/f"));
}

#[test]
fn source_https_trusts_the_target_bundle() {
    let srv = ci_http::testing::TlsServer::start(&[("/f", b"over tls\n")]).unwrap();
    let env = TestEnv::new(json!({"write_files": [
        {"path": "/web", "source": {"uri": srv.url("/f")}},
    ]}));
    let bundle = env.host.path(ci_http::bundle_path());
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    std::fs::write(&bundle, srv.ca_pem().unwrap()).unwrap();
    handle(&env.ctx("write_files")).unwrap();
    assert_eq!(env.read("/web"), "over tls\n");
}

#[test]
fn source_https_from_an_untrusted_ca_fails_verification() {
    let srv = ci_http::testing::TlsServer::start(&[("/f", b"over tls\n")]).unwrap();
    let env = TestEnv::new(json!({}));
    let bundle = env.host.path(ci_http::bundle_path());
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    let stranger = ci_http::testing::TestCa::new("stranger").unwrap();
    std::fs::write(&bundle, stranger.cert_pem().unwrap()).unwrap();
    let fetch = Fetch {
        retries: 0,
        delay: Duration::ZERO,
        timeout: Duration::from_secs(5),
    };
    let err = fetch_url(&env.host, &srv.url("/f"), None, &fetch).unwrap_err();
    assert!(
        err.starts_with("TLS certificate verification failed: "),
        "{err}"
    );
}
