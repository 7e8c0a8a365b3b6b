//! Users and groups as the *target* knows them (`<root>/etc/passwd`,
//! `<root>/etc/group`), never the machine the agent runs on.

use crate::Host;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

impl Host {
    pub fn users(&self) -> Vec<UserEntry> {
        let text = self.read_to_string("/etc/passwd").unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                if f.len() < 7 {
                    return None;
                }
                Some(UserEntry {
                    name: f[0].to_string(),
                    uid: f[2].parse().ok()?,
                    gid: f[3].parse().ok()?,
                    gecos: f[4].to_string(),
                    home: f[5].to_string(),
                    shell: f[6].to_string(),
                })
            })
            .collect()
    }

    pub fn groups(&self) -> Vec<GroupEntry> {
        let text = self.read_to_string("/etc/group").unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                if f.len() < 4 {
                    return None;
                }
                Some(GroupEntry {
                    name: f[0].to_string(),
                    gid: f[2].parse().ok()?,
                    members: f[3]
                        .split(',')
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .collect(),
                })
            })
            .collect()
    }

    pub fn user(&self, name: &str) -> Option<UserEntry> {
        self.users().into_iter().find(|u| u.name == name)
    }

    pub fn group(&self, name: &str) -> Option<GroupEntry> {
        self.groups().into_iter().find(|g| g.name == name)
    }

    /// Resolve `user`, `user:group`, numeric ids or `:group` to ids on the
    /// target. Unknown names give `Err(name)`.
    pub fn resolve_owner(&self, spec: &str) -> Result<(Option<u32>, Option<u32>), String> {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let uid = if u.is_empty() {
            None
        } else if let Ok(n) = u.parse() {
            Some(n)
        } else {
            Some(self.user(u).map(|e| e.uid).ok_or_else(|| u.to_string())?)
        };
        let gid = match g {
            None | Some("") => None,
            Some(g) => match g.parse() {
                Ok(n) => Some(n),
                Err(_) => Some(self.group(g).map(|e| e.gid).ok_or_else(|| g.to_string())?),
            },
        };
        Ok((uid, gid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WriteOpts;

    #[test]
    fn resolves_names_from_target_files() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        h.write_atomic(
            "/etc/passwd",
            b"root:x:0:0:root:/root:/bin/bash\nbob:x:1001:1002:Bob:/home/bob:/bin/sh\n",
            &WriteOpts::default(),
        )
        .unwrap();
        h.write_atomic(
            "/etc/group",
            b"root:x:0:\nstaff:x:50:bob,al\n",
            &WriteOpts::default(),
        )
        .unwrap();
        assert_eq!(h.resolve_owner("bob:staff"), Ok((Some(1001), Some(50))));
        assert_eq!(h.resolve_owner("root"), Ok((Some(0), None)));
        assert_eq!(h.resolve_owner("nobody"), Err("nobody".to_string()));
        assert_eq!(h.group("staff").unwrap().members, vec!["bob", "al"]);
        assert_eq!(h.user("bob").unwrap().home, "/home/bob");
    }
}
