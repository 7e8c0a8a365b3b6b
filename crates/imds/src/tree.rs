//! The metadata tree as EC2 serves it: directories list their entries one
//! per line, sub-directories with a trailing `/`.

/// One node of the served tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Leaf(Vec<u8>),
    Dir(Vec<Entry>),
}

/// A directory entry. `label` replaces the name in the listing: EC2 lists
/// public keys as `0=name` while serving them under `0/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub label: Option<String>,
    pub node: Node,
}

impl Node {
    pub fn dir() -> Node {
        Node::Dir(Vec::new())
    }

    pub fn leaf(text: impl Into<String>) -> Node {
        Node::Leaf(text.into().into_bytes())
    }

    /// Add or replace an entry (directories only).
    pub fn insert(&mut self, name: &str, node: Node) {
        self.insert_labelled(name, None, node);
    }

    pub fn insert_labelled(&mut self, name: &str, label: Option<String>, node: Node) {
        if let Node::Dir(entries) = self {
            let entry = Entry {
                name: name.to_string(),
                label,
                node,
            };
            match entries.iter_mut().find(|e| e.name == name) {
                Some(e) => *e = entry,
                None => entries.push(entry),
            }
        }
    }

    /// The directory entry `name`, created as an empty directory if missing.
    pub fn subdir(&mut self, name: &str) -> Option<&mut Node> {
        let Node::Dir(entries) = self else {
            return None;
        };
        if !entries.iter().any(|e| e.name == name) {
            entries.push(Entry {
                name: name.to_string(),
                label: None,
                node: Node::dir(),
            });
        }
        entries
            .iter_mut()
            .find(|e| e.name == name)
            .map(|e| &mut e.node)
    }

    pub fn get(&self, name: &str) -> Option<&Node> {
        match self {
            Node::Dir(entries) => entries.iter().find(|e| e.name == name).map(|e| &e.node),
            Node::Leaf(_) => None,
        }
    }

    /// The node at a `/`-separated path (empty segments ignored).
    pub fn lookup(&self, path: &str) -> Option<&Node> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .try_fold(self, |node, seg| node.get(seg))
    }

    /// What a GET of this node answers: a leaf's bytes, or a directory
    /// listing (entries joined by newlines, no trailing newline).
    pub fn body(&self) -> Vec<u8> {
        match self {
            Node::Leaf(b) => b.clone(),
            Node::Dir(entries) => entries
                .iter()
                .map(|e| match (&e.label, &e.node) {
                    (Some(l), _) => l.clone(),
                    (None, Node::Dir(_)) => format!("{}/", e.name),
                    (None, Node::Leaf(_)) => e.name.clone(),
                })
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_and_lookup() {
        let mut root = Node::dir();
        root.insert("instance-id", Node::leaf("i-1"));
        let keys = root.subdir("public-keys").unwrap();
        let mut k0 = Node::dir();
        k0.insert("openssh-key", Node::leaf("ssh-rsa AAA"));
        keys.insert_labelled("0", Some("0=mykey".into()), k0);
        assert_eq!(root.body(), b"instance-id\npublic-keys/");
        assert_eq!(root.lookup("public-keys/").unwrap().body(), b"0=mykey");
        assert_eq!(
            root.lookup("public-keys/0/openssh-key").unwrap().body(),
            b"ssh-rsa AAA"
        );
        assert!(root.lookup("nope").is_none());
        assert!(root.lookup("instance-id/x").is_none());
    }
}
