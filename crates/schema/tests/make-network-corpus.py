#!/usr/bin/env python3
"""Write the network-config part of tests/corpus (net-*.yaml).

Our own v1 and v2 configurations (bare and under `network:`) and broken
variants. tests/regen-expected.py runs them with `-t network-config`.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

CASES = {
    "v1-physical-dhcp": """version: 1
config:
  - type: physical
    name: eth0
    mac_address: "52:54:00:12:34:00"
    subnets:
      - type: dhcp
""",
    "v1-wrapped-static": """network:
  version: 1
  config:
    - type: physical
      name: ens3
      mtu: 1500
      subnets:
        - type: static
          address: 192.0.2.10/24
          gateway: 192.0.2.1
          dns_nameservers: [192.0.2.53]
          dns_search: [example.net]
        - type: static6
          address: "2001:db8::10/64"
""",
    "v1-bond": """version: 1
config:
  - type: physical
    name: eth1
    mac_address: "52:54:00:00:00:01"
  - type: physical
    name: eth2
    mac_address: "52:54:00:00:00:02"
  - type: bond
    name: bond0
    bond_interfaces: [eth1, eth2]
    params:
      bond-mode: active-backup
      bond-miimon: 100
    subnets:
      - type: dhcp6
""",
    "v1-bridge-vlan": """version: 1
config:
  - type: physical
    name: eth0
  - type: vlan
    name: eth0.100
    vlan_link: eth0
    vlan_id: 100
  - type: bridge
    name: br0
    bridge_interfaces: [eth0.100]
    params:
      bridge_stp: "off"
      bridge_fd: 0
    subnets:
      - type: static
        address: 10.1.0.5
        netmask: 255.255.255.0
""",
    "v1-nameserver-route": """version: 1
config:
  - type: nameserver
    address: [198.51.100.53, 198.51.100.54]
    search: [corp.example]
  - type: route
    destination: 203.0.113.0/24
    gateway: 192.0.2.254
    metric: 3
""",
    "v1-bad-subnet-type": """version: 1
config:
  - type: physical
    name: eth0
    subnets:
      - type: dhcp5
""",
    "v1-bad-item-type": """version: 1
config:
  - type: tunnel
    name: tun0
""",
    "v1-two-bad-items": """version: 1
config:
  - type: physical
    name: eth0
    subnets:
      - type: bogus
  - type: unknown
""",
    "v1-bridge-missing-interfaces": """version: 1
config:
  - type: bridge
    name: br0
""",
    "v1-mtu-strings": """version: 1
config:
  - type: physical
    name: eth0
    mtu: big
  - type: physical
    name: eth1
    mtu: huge
""",
    "v1-name-too-long": """version: 1
config:
  - type: physical
    name: averyveryverylongname0
""",
    "v1-unknown-top-key": """version: 1
config: []
colour: blue
""",
    "v1-config-not-list": """version: 1
config: eth0
""",
    "v1-vlan-id-string": """version: 1
config:
  - type: vlan
    name: v10
    vlan_link: eth0
    vlan_id: ten
""",
    "v2-ethernets": """version: 2
ethernets:
  eth0:
    dhcp4: true
    dhcp6: false
    match:
      macaddress: "52:54:00:aa:bb:cc"
    set-name: lan0
    mtu: 9000
""",
    "v2-wrapped-static": """network:
  version: 2
  renderer: networkd
  ethernets:
    ens3:
      addresses: [192.0.2.20/24, "2001:db8::20/64"]
      gateway4: 192.0.2.1
      nameservers:
        addresses: [192.0.2.53]
        search: [example.org]
      routes:
        - to: 0.0.0.0/0
          via: 192.0.2.1
          metric: 100
""",
    "v2-bonds-bridges-vlans": """version: 2
ethernets:
  eno1: {}
  eno2: {}
bonds:
  bond0:
    interfaces: [eno1, eno2]
    parameters:
      mode: 802.3ad
      mii-monitor-interval: 100
bridges:
  br0:
    interfaces: [bond0]
    dhcp4: yes
vlans:
  vlan15:
    id: 15
    link: br0
""",
    "v2-dhcp-maybe": """network:
  version: 2
  ethernets:
    eth0:
      dhcp4: maybe
""",
    "v2-renderer-bad": """version: 2
renderer: systemd
ethernets: {}
""",
    "v2-unknown-keys": """version: 2
ethernets:
  eth0:
    dhcp4: true
    frobnicate: 1
wifis: {}
""",
    "v2-vlan-id-string": """version: 2
vlans:
  v1:
    id: one
    link: eth0
""",
    "v2-ethernets-list": """version: 2
ethernets:
  - eth0
""",
    "v2-mtu-string": """version: 2
ethernets:
  eth0:
    mtu: large
    dhcp6: "on"
""",
    "no-version": """ethernets:
  eth0:
    dhcp4: true
""",
    "version-3": """version: 3
config: []
""",
    "empty-network": "network: {}\n",
    "empty-file": "",
    "not-a-dict": "- eth0\n",
    "yaml-error": "version: 2\nethernets: [\n",
    "network-null": "network:\n",
    "v1-yes-no": """version: 1
config:
  - type: physical
    name: eth0
    subnets:
      - type: static
        address: 192.0.2.1/24
        control: yes
""",
}


def main():
    for name, text in CASES.items():
        with open(os.path.join(CORPUS, f"net-{name}.yaml"), "w", encoding="utf-8") as f:
            f.write(text)
    print(f"wrote {len(CASES)} files")


if __name__ == "__main__":
    main()
