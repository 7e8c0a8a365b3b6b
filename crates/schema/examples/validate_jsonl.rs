//! Reads one JSON config per line on stdin and prints its problems as one
//! JSON line each (`{"errors": [[path, msg]...], "deprecations": [...]}`),
//! for differential runs against upstream's validator.

use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let cfg: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let p = ci_schema::validate_cloud_config(&cfg);
        let pairs = |v: &[ci_schema::Problem]| {
            v.iter()
                .map(|p| serde_json::json!([p.path, p.message]))
                .collect::<Vec<_>>()
        };
        let out =
            serde_json::json!({"errors": pairs(&p.errors), "deprecations": pairs(&p.deprecations)});
        println!("{out}");
    }
}
