//! What upstream's shipped deb822 templates for Debian and Ubuntu render
//! to, for targets that do not carry those templates (ours does not ship
//! them). The header comments are part of the file apt users see, so they
//! are reproduced as upstream's templates produce them.

/// The values the templates use.
pub(super) struct Params<'a> {
    pub mirror: &'a str,
    pub security: &'a str,
    pub codename: &'a str,
    /// `primary_key`, when a primary mirror brought a key.
    pub primary_key: Option<&'a str>,
    pub security_key: Option<&'a str>,
}

impl Params<'_> {
    fn keys(&self, default: &str) -> (String, String) {
        let primary = self.primary_key.filter(|k| !k.is_empty());
        let security = self.security_key.filter(|k| !k.is_empty()).or(primary);
        (
            primary.unwrap_or(default).to_string(),
            security.unwrap_or(default).to_string(),
        )
    }
}

/// `sources.list.<distro>.deb822`, if upstream ships one for `distro`.
pub(super) fn deb822(distro: &str, p: &Params) -> Option<String> {
    match distro {
        "debian" => Some(debian(p)),
        "ubuntu" => Some(ubuntu(p)),
        _ => None,
    }
}

fn debian(p: &Params) -> String {
    let (pkey, skey) = p.keys("/usr/share/keyrings/debian-archive-keyring.gpg");
    let code = p.codename;
    // Releases before bullseye named their security suite `<code>/updates`.
    let security_suite = if matches!(code, "buster" | "stretch") {
        format!("{code}/updates")
    } else {
        format!("{code}-security")
    };
    let mut s = String::new();
    s.push_str(&header("sources.list.debian.deb822.tmpl", false));
    s.push_str(&format!(
        "\n# For how to upgrade to newer versions of the distribution, see:\n\
         # http://www.debian.org/releases/stable/i386/release-notes/ch-upgrading.html\n\
         \n## See the sources.list(5) manual page for further settings.\n\
         \n## Comment any of the following Suites to avoid getting updates from the\n\
         ## specific Suite.\n##\n\
         ## N.B. software from {code}-backports repository may not have been\n\
         ## tested as extensively as that contained in the main release, although it\n\
         ## includes newer versions of some applications which may provide useful\n\
         ## features.\n"
    ));
    s.push_str(&stanza(
        "deb deb-src",
        p.mirror,
        &format!("{code} {code}-updates {code}-backports"),
        "main",
        &pkey,
    ));
    s.push_str(
        "\n## Major bug fix updates produced after the final release of the distribution.\n",
    );
    s.push_str(&stanza(
        "deb deb-src",
        p.security,
        &security_suite,
        "main",
        &skey,
    ));
    s
}

fn ubuntu(p: &Params) -> String {
    let (pkey, skey) = p.keys("/usr/share/keyrings/ubuntu-archive-keyring.gpg");
    let code = p.codename;
    let comps = "main universe restricted multiverse";
    let mut s = String::new();
    s.push_str(&header("sources.list.ubuntu.deb822.tmpl", true));
    s.push_str(UBUNTU_NOTES);
    s.push_str(&stanza(
        "deb",
        p.mirror,
        &format!("{code} {code}-updates {code}-backports"),
        comps,
        &pkey,
    ));
    s.push_str(
        "\n## Ubuntu security updates. Aside from URIs and Suites,\n\
         ## this should mirror your choices in the previous section.\n",
    );
    s.push_str(&stanza(
        "deb",
        p.security,
        &format!("{code}-security"),
        comps,
        &skey,
    ));
    s
}

fn header(template: &str, ubuntu: bool) -> String {
    let (gap, ifyou) = if ubuntu { ("##\n", "If") } else { ("", "if") };
    format!(
        "## Note, this file is written by cloud-init on first boot of an instance\n\
         ## modifications made here will not survive a re-bundle.\n\
         {gap}## {ifyou} you wish to make changes you can:\n\
         ## a.) add 'apt_preserve_sources_list: true' to /etc/cloud/cloud.cfg\n\
         ##     or do the same in user-data\n\
         ## b.) add supplemental sources in /etc/apt/sources.list.d\n\
         ## c.) make changes to template file\n\
         ##      /etc/cloud/templates/{template}\n\
         {gap}"
    )
}

fn stanza(types: &str, uri: &str, suites: &str, comps: &str, key: &str) -> String {
    format!(
        "Types: {types}\nURIs: {uri}\nSuites: {suites}\nComponents: {comps}\nSigned-By: {key}\n"
    )
}

const UBUNTU_NOTES: &str =
    "\n# See http://help.ubuntu.com/community/UpgradeNotes for how to upgrade to
# newer versions of the distribution.

## Ubuntu distribution repository
##
## The following settings can be adjusted to configure which packages to use from Ubuntu.
## Mirror your choices (except for URIs and Suites) in the security section below to
## ensure timely security updates.
##
## Types: Append deb-src to enable the fetching of source package.
## URIs: A URL to the repository (you may add multiple URLs)
## Suites: The following additional suites can be configured
##   <name>-updates   - Major bug fix updates produced after the final release of the
##                      distribution.
##   <name>-backports - software from this repository may not have been tested as
##                      extensively as that contained in the main release, although it includes
##                      newer versions of some applications which may provide useful features.
##                      Also, please note that software in backports WILL NOT receive any review
##                      or updates from the Ubuntu security team.
## Components: Aside from main, the following components can be added to the list
##   restricted  - Software that may not be under a free license, or protected by patents.
##   universe    - Community maintained packages. Software in this repository receives maintenance
##                 from volunteers in the Ubuntu community, or a 10 year security maintenance
##                 commitment from Canonical when an Ubuntu Pro subscription is attached.
##   multiverse  - Community maintained of restricted. Software from this repository is
##                 ENTIRELY UNSUPPORTED by the Ubuntu team, and may not be under a free
##                 licence. Please satisfy yourself as to your rights to use the software.
##                 Also, please note that software in multiverse WILL NOT receive any
##                 review or updates from the Ubuntu security team.
##
## See the sources.list(5) manual page for further settings.
";
