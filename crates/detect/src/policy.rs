//! `ci.di.policy=` / `policy:` strings:
//! `<mode>,found=all|first,maybe=all|none,notfound=enabled|disabled`.

use std::fmt;

/// Upstream's default on every architecture since 25.1.4.
pub const DEFAULT_POLICY: &str = "search,found=all,maybe=none,notfound=disabled";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run the checks and write the result (the normal case).
    Search,
    /// Run the checks and write the result under `di_report:` only.
    Report,
    /// Enable cloud-init without writing any config.
    Enabled,
    /// Disable cloud-init.
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFound {
    All,
    First,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMaybe {
    All,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnNotFound {
    Enabled,
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub found: OnFound,
    pub maybe: OnMaybe,
    pub notfound: OnNotFound,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            mode: Mode::Search,
            found: OnFound::All,
            maybe: OnMaybe::None,
            notfound: OnNotFound::Disabled,
        }
    }
}

impl Policy {
    /// Parse `text` over the default policy. Unknown tokens are ignored; a
    /// bad `found=`/`maybe=`/`notfound=` value keeps the default and adds
    /// upstream's warning line (printed to stderr, not logged) to `warnings`.
    pub fn parse(text: &str, warnings: &mut Vec<String>) -> Policy {
        let def = Policy::default();
        let mut p = def;
        for tok in text.split(',') {
            let (key, val) = tok.split_once('=').unwrap_or((tok, tok));
            match (tok, key) {
                ("enabled", _) => p.mode = Mode::Enabled,
                ("disabled", _) => p.mode = Mode::Disabled,
                ("search", _) => p.mode = Mode::Search,
                ("report", _) => p.mode = Mode::Report,
                ("found=all", _) => p.found = OnFound::All,
                ("found=first", _) => p.found = OnFound::First,
                ("maybe=all", _) => p.maybe = OnMaybe::All,
                ("maybe=none", _) => p.maybe = OnMaybe::None,
                ("notfound=enabled", _) => p.notfound = OnNotFound::Enabled,
                ("notfound=disabled", _) => p.notfound = OnNotFound::Disabled,
                (_, "found") => {
                    warnings.push(invalid("found", val, def.found_str()));
                    p.found = def.found;
                }
                (_, "maybe") => {
                    warnings.push(invalid("maybe", val, def.maybe_str()));
                    p.maybe = def.maybe;
                }
                (_, "notfound") => {
                    warnings.push(invalid("notfound", val, def.notfound_str()));
                    p.notfound = def.notfound;
                }
                _ => {}
            }
        }
        p
    }

    pub fn mode_str(&self) -> &'static str {
        match self.mode {
            Mode::Search => "search",
            Mode::Report => "report",
            Mode::Enabled => "enabled",
            Mode::Disabled => "disabled",
        }
    }

    pub fn found_str(&self) -> &'static str {
        match self.found {
            OnFound::All => "all",
            OnFound::First => "first",
        }
    }

    pub fn maybe_str(&self) -> &'static str {
        match self.maybe {
            OnMaybe::All => "all",
            OnMaybe::None => "none",
        }
    }

    pub fn notfound_str(&self) -> &'static str {
        match self.notfound {
            OnNotFound::Enabled => "enabled",
            OnNotFound::Disabled => "disabled",
        }
    }
}

fn invalid(key: &str, val: &str, def: &str) -> String {
    format!("WARN: invalid value '{val}' for key '{key}'. Using {key}={def}.")
}

impl fmt::Display for Policy {
    /// The `policy loaded:` log line's fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mode={} report=false found={} maybe={} notfound={}",
            self.mode_str(),
            self.found_str(),
            self.maybe_str(),
            self.notfound_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> (Policy, Vec<String>) {
        let mut w = Vec::new();
        let p = Policy::parse(s, &mut w);
        (p, w)
    }

    #[test]
    fn default_and_empty() {
        assert_eq!(parse("").0, Policy::default());
        assert_eq!(parse(DEFAULT_POLICY).0, Policy::default());
        assert_eq!(
            Policy::default().to_string(),
            "mode=search report=false found=all maybe=none notfound=disabled"
        );
    }

    #[test]
    fn tokens_override_in_order() {
        let (p, w) = parse("report,found=first,maybe=all,notfound=enabled");
        assert_eq!(p.mode, Mode::Report);
        assert_eq!(p.found, OnFound::First);
        assert_eq!(p.maybe, OnMaybe::All);
        assert_eq!(p.notfound, OnNotFound::Enabled);
        assert!(w.is_empty());
        assert_eq!(parse("enabled,disabled").0.mode, Mode::Disabled);
        assert_eq!(parse("bogus,enabled").0.mode, Mode::Enabled);
    }

    #[test]
    fn bad_values_warn_and_keep_default() {
        let (p, w) = parse("search,found=some,notfound=maybe");
        assert_eq!(p.found, OnFound::All);
        assert_eq!(p.notfound, OnNotFound::Disabled);
        assert_eq!(
            w,
            vec![
                "WARN: invalid value 'some' for key 'found'. Using found=all.",
                "WARN: invalid value 'maybe' for key 'notfound'. Using notfound=disabled."
            ]
        );
    }
}
