//! Python's `os.path` where upstream's results depend on it.

/// `os.path.abspath` with `/` as the working directory (cloud-init runs
/// from `/`): relative paths become absolute; `.`, `..` and repeated
/// slashes are folded.
pub fn abspath(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abspath_folds() {
        assert_eq!(abspath("etc/x"), "/etc/x");
        assert_eq!(abspath("/a//b/./c/../d"), "/a/b/d");
        assert_eq!(abspath("/../../x"), "/x");
        assert_eq!(abspath("/etc/sudoers.d/"), "/etc/sudoers.d");
        assert_eq!(abspath(""), "/");
    }
}
