#!/var/tmp/cloud-init-oracle/venv/bin/python
"""Write the per-module part of tests/corpus (mod-*.yaml).

Each module gets our own valid examples (the kinds of configs upstream's
module docs show) and mutations derived from them: the module's keys with
a wrong type, an unknown key inside its mapping, and a wrong type one
level down. Hand-written deprecation, YAML 1.1 and jinja cases follow.
Run it, then tests/regen-expected.py for the oracle's outputs.
"""
import os
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# module -> list of valid example documents (without the header)
EXAMPLES = {
    "ansible": [
        """ansible:
  package_name: ansible-core
  install_method: distro
  pull:
    url: "https://git.example.org/site.git"
    playbook_name: site.yml
""",
        """ansible:
  install_method: pip
  run_user: deploy
  galaxy:
    actions:
      - ["ansible-galaxy", "collection", "install", "community.general"]
  setup_controller:
    repositories:
      - path: /srv/playbooks
        source: "https://git.example.org/pb.git"
    run_ansible:
      - playbook_dir: /srv/playbooks
        playbook_name: all.yml
        forks: 2
""",
    ],
    "apk_configure": [
        """apk_repos:
  preserve_repositories: false
  alpine_repo:
    version: v3.20
    base_url: "https://mirror.example.net/alpine"
    community_enabled: true
    testing_enabled: false
  local_repo_base_url: "https://apk.example.net"
""",
    ],
    "apt_configure": [
        """apt:
  preserve_sources_list: false
  disable_suites: [backports, security]
  primary:
    - arches: [default]
      uri: "http://deb.example.org/ubuntu"
  security:
    - arches: [default]
      search: ["http://sec.example.org/ubuntu"]
  conf: |
    APT::Get::Assume-Yes "true";
  http_proxy: "http://proxy.example:3128"
  sources:
    extra.list:
      source: "deb http://pkgs.example.org/ stable main"
      keyid: "0123456789ABCDEF"
""",
        """apt:
  sources_list: |
    deb $MIRROR $RELEASE main
  debconf_selections:
    tz: "tzdata tzdata/Areas select Europe"
  add_apt_repo_match: "^[\\\\w-]+:\\\\w"
""",
    ],
    "apt_pipelining": ["apt_pipelining: false\n", "apt_pipelining: os\n", "apt_pipelining: 3\n"],
    "ubuntu_autoinstall": ["autoinstall:\n  version: 1\n  identity:\n    hostname: box\n"],
    "byobu": ["byobu_by_default: enable-user\n", "byobu_by_default: system\n"],
    "ca_certs": [
        """ca_certs:
  remove_defaults: true
  trusted:
    - |
      -----BEGIN CERTIFICATE-----
      MIIBnotreal
      -----END CERTIFICATE-----
""",
    ],
    "chef": [
        """chef:
  install_type: omnibus
  force_install: false
  server_url: "https://chef.example.com"
  node_name: node-01
  environment: production
  validation_name: example-validator
  validation_cert: system
  run_list: ["recipe[base]", "role[web]"]
  initial_attributes:
    nginx:
      workers: 4
  omnibus_url_retries: 3
  exec: true
""",
    ],
    "disable_ec2_metadata": ["disable_ec2_metadata: true\n"],
    "disk_setup": [
        """device_aliases:
  data: /dev/vdb
disk_setup:
  data:
    table_type: gpt
    layout: [50, [50, 82]]
    overwrite: false
fs_setup:
  - label: data
    filesystem: ext4
    device: data
    partition: auto
    cmd: mkfs -t %(filesystem)s -L %(label)s %(device)s
""",
        """disk_setup:
  /dev/xvdh:
    table_type: mbr
    layout: true
fs_setup:
  - device: /dev/xvdh1
    filesystem: xfs
    overwrite: true
    extra_opts: ["-f"]
""",
    ],
    "fan": ["fan:\n  config: |\n    10.0.0.0/8 250.0.0.0/8\n  config_path: /etc/network/fan\n"],
    "final_message": ["final_message: \"up after $UPTIME seconds\"\n"],
    "growpart": [
        "growpart:\n  mode: auto\n  devices: [\"/\"]\n  ignore_growroot_disabled: false\n",
        "growpart:\n  mode: growpart\n  devices: [\"/\", \"/dev/vdb1\"]\n",
    ],
    "grub_dpkg": [
        "grub_dpkg:\n  enabled: true\n  grub-pc/install_devices: /dev/sda\n  grub-pc/install_devices_empty: false\n  grub-efi/install_devices: /dev/sda1\n",
    ],
    "install_hotplug": ["updates:\n  network:\n    when: [boot, hotplug]\n"],
    "keyboard": [
        "keyboard:\n  layout: us\n",
        "keyboard:\n  layout: de\n  model: pc105\n  variant: nodeadkeys\n  options: compose:rwin\n",
    ],
    "keys_to_console": [
        "ssh:\n  emit_keys_to_console: false\n",
        "ssh_key_console_blacklist: [rsa]\nssh_fp_console_blacklist: [ecdsa, ed25519]\n",
    ],
    "landscape": [
        """landscape:
  client:
    url: "https://landscape.example.com/message-system"
    ping_url: "http://landscape.example.com/ping"
    data_path: /var/lib/landscape/client
    http_proxy: "http://proxy:3128"
    tags: "web,prod"
    computer_title: host-a
    account_name: acct
    registration_key: secret
""",
    ],
    "locale": ["locale: de_DE.UTF-8\nlocale_configfile: /etc/default/locale\n", "locale: false\n"],
    "lxd": [
        """lxd:
  init:
    network_address: 0.0.0.0
    network_port: 8443
    storage_backend: zfs
    storage_pool: default
    storage_create_loop: 10
    trust_password: pw
  bridge:
    mode: new
    name: lxdbr0
    ipv4_address: 10.10.0.1
    ipv4_netmask: 24
    ipv4_dhcp_first: 10.10.0.2
    ipv4_dhcp_last: 10.10.0.200
    ipv4_nat: true
    domain: lxd
""",
        """lxd:
  preseed: |
    config: {}
    networks: []
""",
    ],
    "mcollective": [
        "mcollective:\n  conf:\n    loglevel: debug\n    public-cert: |\n      -----BEGIN CERTIFICATE-----\n      x\n      -----END CERTIFICATE-----\n",
    ],
    "mounts": [
        """mounts:
  - [/dev/vdb, /mnt/data, ext4, "defaults,nofail", "0", "2"]
  - [swap, none, swap, sw, "0", "0"]
mount_default_fields: [null, null, auto, "defaults,nofail", "0", "2"]
swap:
  filename: /swapfile
  size: auto
  maxsize: 2G
""",
        "mounts:\n  - [/dev/vdc]\nswap:\n  filename: /swap.img\n  size: 1073741824\n",
    ],
    "ntp": [
        """ntp:
  enabled: true
  ntp_client: chrony
  servers: [ntp1.example.com, ntp2.example.com]
  pools: [0.pool.example.org]
  peers: [peer.example.com]
  allow: [10.0.0.0/8]
""",
        """ntp:
  ntp_client: myntp
  config:
    confpath: /etc/myntp/myntp.conf
    check_exe: myntpd
    packages: [myntp]
    service_name: myntpd
    template: |
      ## template: jinja
      {% for s in servers %}server {{s}}{% endfor %}
""",
        "ntp:\n",
    ],
    "package_update_upgrade_install": [
        "package_update: true\npackage_upgrade: true\npackage_reboot_if_required: true\npackages:\n  - nginx\n  - [libc6, 2.36-9]\n  - snap:\n      - [lxd, --classic]\n  - apt: [curl]\n",
    ],
    "phone_home": [
        "phone_home:\n  url: \"http://example.com/$INSTANCE_ID/\"\n  post: [pub_key_rsa, instance_id, hostname]\n  tries: 5\n",
        "phone_home:\n  url: \"http://example.com/ph\"\n  post: all\n",
    ],
    "power_state_change": [
        "power_state:\n  delay: now\n  mode: poweroff\n  message: bye\n  timeout: 30\n  condition: true\n",
        "power_state:\n  delay: 30\n  mode: reboot\n  condition: \"test -f /run/reboot-required\"\n",
    ],
    "puppet": [
        """puppet:
  install: true
  install_type: aio
  collection: puppet8
  version: "8.1.0"
  start_service: true
  exec: true
  exec_args: ["--test"]
  csr_attributes:
    custom_attributes:
      1.2.840.113549.1.9.7: password
  conf:
    agent:
      server: puppet.example.org
      certname: "%i.%f"
""",
    ],
    "resizefs": ["resize_rootfs: true\n", "resize_rootfs: noblock\n"],
    "resolv_conf": [
        """manage_resolv_conf: true
resolv_conf:
  nameservers: [8.8.8.8, 1.1.1.1]
  searchdomains: [example.com]
  domain: example.com
  sortlist: [10.0.0.0/255.0.0.0]
  options:
    rotate: true
    timeout: 1
""",
    ],
    "rh_subscription": [
        "rh_subscription:\n  username: joe@example.com\n  password: pw\n  auto-attach: true\n  service-level: self-support\n",
        "rh_subscription:\n  activation-key: key1\n  org: \"ACME\"\n  add-pool: [pool1, pool2]\n  enable-repo: [repo-a]\n  disable-repo: [repo-b]\n  rhsm-baseurl: \"http://rhsm.example\"\n  server-hostname: sub.example\n",
    ],
    "rsyslog": [
        """rsyslog:
  remotes:
    central: "@10.0.0.5"
    backup: "@@backup.example:514"
  configs:
    - "*.* @@10.0.0.6"
    - content: "*.*   @@192.0.2.1:10514"
      filename: 01-example.conf
  config_dir: /etc/rsyslog.d
  config_filename: 20-cloud-config.conf
  service_reload_command: auto
  install_rsyslog: true
  check_exe: rsyslogd
  packages: [rsyslog]
""",
    ],
    "salt_minion": [
        """salt_minion:
  pkg_name: salt-minion
  service_name: salt-minion
  config_dir: /etc/salt
  conf:
    file_client: local
    master: salt.example.com
  grains:
    role: web
  public_key: |
    -----BEGIN PUBLIC KEY-----
    x
    -----END PUBLIC KEY-----
  private_key: |
    -----BEGIN PRIVATE KEY-----
    x
    -----END PRIVATE KEY-----
  pki_dir: /etc/salt/pki/minion
""",
    ],
    "scripts_vendor": ["vendor_data:\n  enabled: true\n  prefix: [timeout, 30]\n", "vendor_data:\n  enabled: false\n  prefix: /usr/bin/env\n"],
    "snap": [
        "snap:\n  assertions:\n    00: |\n      signed-assertion-blob\n  commands:\n    00: snap install lxd\n    01: [snap, install, go, --classic]\n",
        "snap:\n  commands:\n    - snap install vlc\n    - [snap, refresh]\n",
    ],
    "spacewalk": ["spacewalk:\n  server: spacewalk.example.com\n  proxy: proxy.example.com\n  activation_key: ak-1\n"],
    "ssh_import_id": ["ssh_import_id: [gh:someone, lp:other]\n"],
    "ubuntu_drivers": ["drivers:\n  nvidia:\n    license-accepted: true\n    version: \"535-server\"\n"],
    "ubuntu_pro": [
        "ubuntu_pro:\n  token: abc123\n  enable: [fips, esm-infra]\n  enable_beta: [realtime-kernel]\n",
        "ubuntu_pro:\n  token: abc\n  config:\n    http_proxy: \"http://proxy:3128\"\n    global_apt_http_proxy: null\n  features:\n    disable_auto_attach: true\n",
    ],
    "wireguard": [
        """wireguard:
  interfaces:
    - name: wg0
      config_path: /etc/wireguard/wg0.conf
      content: |
        [Interface]
        PrivateKey = x
  readinessprobe:
    - "systemctl restart service"
    - "curl https://example.com"
""",
    ],
    "yum_add_repo": [
        """yum_repo_dir: /etc/yum.repos.d
yum_repos:
  epel-testing:
    baseurl: "http://download.example.org/epel/testing/9/$basearch"
    enabled: false
    failovermethod: priority
    gpgcheck: true
    gpgkey: "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL"
    name: Extra Packages - Testing
""",
    ],
    "zypper_add_repo": [
        """zypper:
  repos:
    - id: opensuse-oss
      name: os-oss
      baseurl: "http://dl.example.org/oss"
      enabled: 1
      autorefresh: 1
  config:
    reposdir: /etc/zypp/repos.dir
    servicesdir: /etc/zypp/services.d
    download.use_deltarpm: true
""",
    ],
    "reporting": [
        """reporting:
  logging:
    type: log
  telemetry:
    type: webhook
    endpoint: "http://example.com/reporting"
    consumer_key: ck
    timeout: 5.5
    retries: 3
  hv:
    type: hyperv
    kvp_file_path: /var/lib/hyperv/.kvp_pool_1
    event_types: [start, finish]
""",
    ],
    "output": [
        "output:\n  all: \">> /var/log/cloud-init-output.log\"\n",
        "output:\n  init:\n    output: \"> /var/log/init.out\"\n    error: \"> /var/log/init.err\"\n  config: \"tee -a /var/log/config.log\"\n  final: [\">> /var/log/final.out\", \"&1\"]\n",
    ],
}

# Hand-written cases: name -> document (header included)
EXTRA = {
    "dep-apt-update": "#cloud-config\napt_update: true\napt_upgrade: false\napt_reboot_if_required: true\n",
    "dep-ca-certs-dash": "#cloud-config\nca-certs:\n  remove-defaults: true\n",
    "dep-ca-certs-remove-defaults": "#cloud-config\nca_certs:\n  remove-defaults: false\n  trusted: [cert]\n",
    "dep-grub-dpkg-dash": "#cloud-config\ngrub-dpkg:\n  enabled: false\n",
    "dep-grub-install-empty-str": "#cloud-config\ngrub_dpkg:\n  grub-pc/install_devices_empty: \"true\"\n",
    "dep-growpart-mode-false": "#cloud-config\ngrowpart:\n  mode: false\n",
    "dep-power-delay-str": "#cloud-config\npower_state:\n  delay: \"+5\"\n  mode: halt\n",
    "dep-power-delay-bad-str": "#cloud-config\npower_state:\n  delay: soon\n  mode: halt\n",
    "dep-rh-org-int": "#cloud-config\nrh_subscription:\n  org: 12345\n",
    "dep-vendor-enabled-str": "#cloud-config\nvendor_data:\n  enabled: \"true\"\n",
    "dep-ubuntu-advantage": "#cloud-config\nubuntu_advantage:\n  token: tok\n",
    "dep-apt-pipelining-none": "#cloud-config\napt_pipelining: none\n",
    "dep-apt-pipelining-unchanged": "#cloud-config\napt_pipelining: unchanged\n",
    "dep-manage-etc-hosts-template": "#cloud-config\nmanage_etc_hosts: template\n",
    "dep-many": "#cloud-config\napt_update: true\ngrub-dpkg: {}\nubuntu_advantage: {token: x}\nuser: {name: a, lock-passwd: true}\n",
    "mut-ntp-bad-client-type": "#cloud-config\nntp:\n  ntp_client: 5\n  servers: server1\n",
    "mut-ntp-unknown-config-key": "#cloud-config\nntp:\n  config:\n    confpath: /x\n    colour: blue\n",
    "mut-mounts-too-long": "#cloud-config\nmounts:\n  - [a, b, c, d, e, f, g]\n",
    "mut-mounts-empty-entry": "#cloud-config\nmounts:\n  - []\n",
    "mut-swap-size-bad": "#cloud-config\nswap:\n  size: lots\n",
    "mut-swap-size-pattern": "#cloud-config\nswap:\n  size: 1.5G\n  maxsize: 10X\n",
    "mut-packages-bad-item": "#cloud-config\npackages:\n  - 5\n  - [a, b, c]\n  - {yum: [x]}\n",
    "mut-packages-empty": "#cloud-config\npackages: []\n",
    "mut-power-mode-bad": "#cloud-config\npower_state:\n  mode: sleep\n",
    "mut-power-missing-mode": "#cloud-config\npower_state:\n  delay: now\n",
    "mut-phone-home-missing-url": "#cloud-config\nphone_home:\n  post: all\n",
    "mut-phone-home-bad-post": "#cloud-config\nphone_home:\n  url: http://x\n  post: [fqdn, bogus]\n  tries: \"3\"\n",
    "mut-lxd-bridge-mode": "#cloud-config\nlxd:\n  bridge:\n    mode: sideways\n",
    "mut-lxd-preseed-and-init": "#cloud-config\nlxd:\n  preseed: \"x\"\n  init:\n    storage_backend: zfs\n",
    "mut-lxd-storage-backend": "#cloud-config\nlxd:\n  init:\n    storage_backend: ext5\n",
    "mut-chef-install-type": "#cloud-config\nchef:\n  install_type: magic\n  run_list: recipe\n",
    "mut-puppet-install-type": "#cloud-config\npuppet:\n  install_type: gem\n  conf: {agent: {server: 5}}\n",
    "mut-growpart-mode-bad": "#cloud-config\ngrowpart:\n  mode: maybe\n  devices: /\n",
    "mut-resize-rootfs-str": "#cloud-config\nresize_rootfs: sometimes\n",
    "mut-apt-pipelining-bad": "#cloud-config\napt_pipelining: always\n",
    "mut-byobu-bad": "#cloud-config\nbyobu_by_default: maybe\n",
    "mut-snap-commands-int": "#cloud-config\nsnap:\n  commands: 5\n  assertions: {}\n",
    "mut-snap-empty": "#cloud-config\nsnap: {}\n",
    "mut-apt-sources-bad": "#cloud-config\napt:\n  sources:\n    x.list:\n      keyid: 5\n      bogus: true\n",
    "mut-apt-primary-missing-arches": "#cloud-config\napt:\n  primary:\n    - uri: http://x\n",
    "mut-apt-unknown": "#cloud-config\napt:\n  proxies: x\n",
    "mut-fs-setup-bad": "#cloud-config\nfs_setup:\n  - filesystem: 5\n    partition: first\n",
    "mut-disk-setup-table": "#cloud-config\ndisk_setup:\n  /dev/sdb:\n    table_type: dos\n    layout: \"yes\"\n",
    "mut-keyboard-missing-layout": "#cloud-config\nkeyboard:\n  model: pc105\n",
    "mut-wireguard-missing": "#cloud-config\nwireguard:\n  interfaces:\n    - name: wg0\n",
    "mut-wireguard-empty": "#cloud-config\nwireguard: {}\n",
    "mut-yum-repo-name-bad": "#cloud-config\nyum_repos:\n  \"bad name!\":\n    baseurl: http://x\n",
    "mut-yum-repo-missing-url": "#cloud-config\nyum_repos:\n  myrepo:\n    name: x\n",
    "mut-zypper-repo-missing": "#cloud-config\nzypper:\n  repos:\n    - name: x\n",
    "mut-reporting-bad-type": "#cloud-config\nreporting:\n  x:\n    type: carrier-pigeon\n",
    "mut-reporting-webhook-missing": "#cloud-config\nreporting:\n  x:\n    type: webhook\n",
    "mut-output-bad": "#cloud-config\noutput:\n  all: 5\n  init: {output: 1}\n  bogus: x\n",
    "mut-rsyslog-configs-bad": "#cloud-config\nrsyslog:\n  configs:\n    - filename: only\n    - 5\n",
    "mut-salt-unknown": "#cloud-config\nsalt_minion:\n  grains: []\n  colour: x\n",
    "mut-landscape-missing-client": "#cloud-config\nlandscape: {}\n",
    "mut-ubuntu-pro-enable-str": "#cloud-config\nubuntu_pro:\n  enable: fips\n  token: 5\n",
    "mut-ubuntu-pro-features": "#cloud-config\nubuntu_pro:\n  features:\n    disable_auto_attach: \"yes\"\n",
    "mut-drivers-license": "#cloud-config\ndrivers:\n  nvidia:\n    version: 535\n",
    "mut-updates-when-bad": "#cloud-config\nupdates:\n  network:\n    when: [always]\n",
    "mut-resolv-conf-bad": "#cloud-config\nresolv_conf:\n  nameservers: 8.8.8.8\n  options: []\n",
    "mut-ssh-import-id-str": "#cloud-config\nssh_import_id: gh:me\n",
    "mut-ansible-install-method": "#cloud-config\nansible:\n  install_method: brew\n",
    "mut-ansible-pull-missing": "#cloud-config\nansible:\n  pull:\n    url: http://x\n",
    "mut-ca-certs-both": "#cloud-config\nca_certs:\n  trusted: cert\nca-certs:\n  trusted: [c]\n",
    "mut-spacewalk-server-int": "#cloud-config\nspacewalk:\n  server: 5\n",
    "mut-fan-missing-config": "#cloud-config\nfan:\n  config_path: /x\n",
    "mut-autoinstall-no-version": "#cloud-config\nautoinstall:\n  identity: {}\n",
    "mut-vendor-data-prefix": "#cloud-config\nvendor_data:\n  prefix: 5\n",
    "mut-mcollective-bad": "#cloud-config\nmcollective:\n  conf: []\n",
    "mut-apk-repos-missing-version": "#cloud-config\napk_repos:\n  alpine_repo:\n    base_url: http://x\n",
    "mut-locale-int": "#cloud-config\nlocale: 5\n",
    "mut-final-message-list": "#cloud-config\nfinal_message: [a]\n",
    "mut-disable-ec2-str": "#cloud-config\ndisable_ec2_metadata: \"true\"\n",
    "mut-grub-dpkg-unknown": "#cloud-config\ngrub_dpkg:\n  grub-pc/install_device: /dev/sda\n",
    "y11-bool-yes-no": "#cloud-config\npackage_update: yes\npackage_upgrade: no\ndisable_ec2_metadata: on\nmanage_resolv_conf: off\n",
    "y11-bool-capital": "#cloud-config\npackage_update: Yes\npackage_upgrade: NO\nresize_rootfs: On\n",
    "y11-bool-y-n": "#cloud-config\npackage_update: y\npackage_upgrade: n\n",
    "y11-octal-swap-size": "#cloud-config\nswap:\n  size: 0777\n",
    "y11-sexagesimal-timezone": "#cloud-config\ntimezone: 1:30\n",
    "y11-sexagesimal-power-delay": "#cloud-config\npower_state:\n  delay: 1:30\n  mode: reboot\n",
    "y11-octal-power-timeout": "#cloud-config\npower_state:\n  mode: reboot\n  timeout: 010\n",
    "y11-hex-ntp-server": "#cloud-config\nntp:\n  servers: [0x10]\n",
    "y11-float-keyboard": "#cloud-config\nkeyboard:\n  layout: 1e3\n",
    "y11-null-tilde": "#cloud-config\nntp: ~\nwireguard: null\n",
    "y11-sexagesimal-float": "#cloud-config\nfinal_message: 190:20:30.15\n",
    "y11-binary-int": "#cloud-config\nlxd:\n  init:\n    network_port: 0b1010\n",
    "y11-underscore-int": "#cloud-config\nlxd:\n  init:\n    network_port: 8_443\n",
    "y11-timestamp-final": "#cloud-config\nfinal_message: 2001-12-14t21:59:43.10-05:00\n",
    "y11-merge-key": "#cloud-config\nbase: &b\n  enabled: true\nntp:\n  <<: *b\n  servers: [a]\n",
    "jinja-valid": "## template: jinja\n#cloud-config\nhostname: {{ v1.local_hostname }}\n",
    "jinja-invalid-after-render": "## template: jinja\n#cloud-config\nhostname: {{ v1.local_hostname }}\nruncmd: {{ v1.cloud_name }}\n",
    "jinja-not-jinja": "## template: jinja\nhostname: plain\n",
    "jinja-bad-header-after": "## template: jinja\nhostname: {{ v1.local_hostname }}\n",
    "jinja-leading-space": " ## template: jinja\n#cloud-config\nhostname: a\n",
    "jinja-syntax-error": "## template: jinja\n#cloud-config\nhostname: {{ v1.local_hostname \n",
    "jinja-missing-var": "## template: jinja\n#cloud-config\nhostname: {{ v1.no_such_key }}\n",
    "jinja-deprecated": "## template: jinja\n#cloud-config\napt_update: {{ v1.platform == 'nocloud' }}\n",
    "y11-octal-write-files": "#cloud-config\nwrite_files:\n  - path: /x\n    permissions: 0644\n",
    "y11-on-off-strings": "#cloud-config\nntp:\n  enabled: on\nlocale: off\n",
    "y11-sexagesimal-uid": "#cloud-config\nusers:\n  - name: a\n    uid: 1:00\n",
    "y11-quoted-yes": "#cloud-config\npackage_update: \"yes\"\n",
}

MUTANT_KEY = "not_a_real_option"


def wrong(value):
    """A value of a type the key almost certainly rejects."""
    if isinstance(value, bool):
        return "maybe"
    if isinstance(value, (dict, list)):
        return 42
    if isinstance(value, (int, float)):
        return {"n": value}
    if value is None:
        return [1]
    return [value]


def dump(doc):
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def first_nested(doc):
    """(key, subkey) of the first scalar one level down, if any."""
    for k, v in doc.items():
        if isinstance(v, dict):
            for sk, sv in v.items():
                if not isinstance(sv, (dict, list)):
                    return k, sk
    return None


def main():
    os.makedirs(CORPUS, exist_ok=True)
    files = {}
    for module, examples in EXAMPLES.items():
        for i, text in enumerate(examples, 1):
            files[f"mod-{module}-ex{i}"] = "#cloud-config\n" + text
        doc = yaml.safe_load(examples[0]) or {}
        if not isinstance(doc, dict):
            continue
        files[f"mod-{module}-wrongtype"] = dump({k: wrong(v) for k, v in doc.items()})
        objs = {k: v for k, v in doc.items() if isinstance(v, dict)}
        if objs:
            mutated = dict(doc)
            for k in objs:
                mutated[k] = dict(objs[k], **{MUTANT_KEY: True})
            files[f"mod-{module}-unknown"] = dump(mutated)
        nested = first_nested(doc)
        if nested:
            k, sk = nested
            mutated = dict(doc)
            mutated[k] = dict(doc[k])
            mutated[k][sk] = wrong(doc[k][sk])
            files[f"mod-{module}-deep"] = dump(mutated)
    files.update(EXTRA)
    for name, text in files.items():
        with open(os.path.join(CORPUS, name + ".yaml"), "w", encoding="utf-8") as f:
            f.write(text)
    print(f"wrote {len(files)} files")


if __name__ == "__main__":
    main()
