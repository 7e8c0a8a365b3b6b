#!/usr/bin/env python3
"""Random differential check against upstream (not run by CI).

  cargo build -p ci-net --example net-render
  /var/tmp/cloud-init-oracle/venv/bin/python crates/net/tests/fuzz-differential.py SEED COUNT

Generates COUNT random v1/v2 configs, renders each with upstream (in
process, as regen-expected.py does) and with our example binary, and
diffs the trees. Prints every difference; "bad=0" means all identical.
"""
import random, os, sys, subprocess, shutil, tempfile, yaml, importlib.util
HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "..", "..", "target"))
BIN = os.path.join(TARGET, "debug", "examples", "net-render")
WORK = tempfile.mkdtemp(prefix="net-fuzz-")
spec=importlib.util.spec_from_file_location("regen", os.path.join(HERE, "regen-expected.py"))
m=importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
random.seed(int(sys.argv[1]) if len(sys.argv)>1 else 1)
def mac(): return "52:55:%02x:%02x:%02x:%02x"%tuple(random.randrange(256) for _ in range(4))
def v4(): return "10.%d.%d.%d"%(random.randrange(256),random.randrange(256),random.randrange(2,250))
def subnet(v6ok=True):
    t=random.choice(["dhcp","dhcp4","dhcp6","static","static","static6","ipv6_slaac","ipv6_dhcpv6-stateless","ipv6_dhcpv6-stateful","manual"])
    s={"type":t}
    if t=="static":
        a=v4(); s["address"]=a+random.choice(["/24","/16",""," "]).strip()
        if random.random()<.3: s["netmask"]="255.255.255.0"
        if random.random()<.6: s["gateway"]=a.rsplit(".",1)[0]+".1"
        if random.random()<.3: s["dns_nameservers"]=[v4() for _ in range(random.randrange(1,5))]
        if random.random()<.3: s["dns_search"]=random.sample(["a.ex","b.ex","c.ex"],2)
        if random.random()<.2: s["mtu"]=random.choice([1400,1500,9000])
        if random.random()<.3: s["routes"]=[{"network":v4().rsplit(".",1)[0]+".0","netmask":"255.255.255.0","gateway":a.rsplit(".",1)[0]+".254", **({"metric":random.randrange(1,500)} if random.random()<.5 else {})}]
        if random.random()<.2: s["metric"]=random.randrange(1,400)
    if t=="static6":
        s["address"]="2001:db8:%x::%x/64"%(random.randrange(65535),random.randrange(2,999))
        if random.random()<.5: s["gateway"]="2001:db8::1" if random.random()<.5 else "fe80::1"
        if random.random()<.2: s["mtu"]=1280
    if random.random()<.15: s["control"]=random.choice(["manual","hotplug","auto"])
    return s
def v1():
    cfg=[]; names=[]
    for i in range(random.randrange(1,4)):
        n="eth%d"%i; names.append(n)
        d={"type":"physical","name":n}
        if random.random()<.8: d["mac_address"]=mac()
        if random.random()<.2: d["mtu"]=random.choice([1500,9000])
        if random.random()<.15: d["accept-ra"]=random.choice([True,False])
        if random.random()<.1: d["wakeonlan"]=True
        if random.random()<.7: d["subnets"]=[subnet() for _ in range(random.randrange(1,3))]
        cfg.append(d)
    r=random.random()
    if r<.25 and len(names)>=2:
        b={"type":"bond","name":"bond0","bond_interfaces":names[:2],"params":{"bond-mode":random.choice(["active-backup","802.3ad","balance-rr"]),"bond-miimon":100}}
        for k in cfg[:2]: k.pop("subnets",None)
        if random.random()<.5: b["subnets"]=[subnet()]
        if random.random()<.3: b["mac_address"]=mac()
        cfg.append(b)
    elif r<.45:
        b={"type":"bridge","name":"br0","bridge_interfaces":names[:1],"params":{"bridge_stp":random.choice(["on","off"]),"bridge_fd":0}}
        cfg[0].pop("subnets",None)
        if random.random()<.6: b["subnets"]=[subnet()]
        cfg.append(b)
    elif r<.65:
        vl={"type":"vlan","name":names[0]+".%d"%(r*100//1+2),"vlan_link":names[0],"vlan_id":int(r*100//1+2)}
        if random.random()<.7: vl["subnets"]=[subnet()]
        cfg.append(vl)
    if random.random()<.3: cfg.append({"type":"nameserver","address":[v4()],"search":["z.ex"]})
    if random.random()<.3: cfg.append({"type":"route","destination":random.choice(["0.0.0.0/0",v4().rsplit(".",1)[0]+".0/24"]),"gateway":v4()})
    return {"version":1,"config":cfg}
def v2():
    eth={}
    for i in range(random.randrange(1,4)):
        d={}
        if random.random()<.5: d["match"]={"macaddress":mac()}; d["set-name"]="eth%d"%i
        if random.random()<.5: d["dhcp4"]=True
        if random.random()<.3: d["dhcp6"]=True
        if random.random()<.4:
            a=v4(); d["addresses"]=[a+"/24"]
            if random.random()<.5: d["gateway4"]=a.rsplit(".",1)[0]+".1"
        if random.random()<.2: d.setdefault("addresses",[]).append("2001:db8::%x/64"%random.randrange(2,999))
        if random.random()<.3: d["nameservers"]={"addresses":[v4()],"search":["q.ex"]}
        if random.random()<.2: d["mtu"]=9000
        if random.random()<.2 and d.get("addresses"): d["routes"]=[{"to":v4().rsplit(".",1)[0]+".0/24","via":v4(),"metric":random.randrange(1,99)}]
        if random.random()<.2 and d.get("dhcp4"): d["dhcp4-overrides"]={"route-metric":random.randrange(1,999),"use-dns":False}
        if random.random()<.1: d["optional"]=True
        if random.random()<.1: d["accept-ra"]=random.choice([True,False])
        eth["eth%d"%i]=d
    c={"version":2,"ethernets":eth}
    if random.random()<.3:
        c["vlans"]={"vlan10":{"id":10,"link":"eth0","addresses":[v4()+"/24"]}}
    if random.random()<.2 and len(eth)>=2:
        c["bonds"]={"bond0":{"interfaces":list(eth)[:2],"parameters":{"mode":"active-backup","mii-monitor-interval":100},"dhcp4":True}}
    return c
N=int(sys.argv[2]) if len(sys.argv)>2 else 100
combos=[("netplan","ubuntu"),("eni","debian"),("eni","alpine"),("networkd","debian"),("network-manager","fedora"),("sysconfig","rhel"),("sysconfig","opensuse"),("netbsd","netbsd"),("openbsd","openbsd")]
# The BSD renderers order resolv.conf by a Python set: compare its lines unordered.
BSD=("freebsd","netbsd","openbsd")
def lines(p): return sorted(open(p).read().split()) if os.path.exists(p) else None
bad=0; crashes=0
for i in range(N):
    cfg=v1() if random.random()<.6 else v2()
    text=yaml.safe_dump(cfg)
    p=os.path.join(WORK, "c%d.yaml"%i)
    open(p,"w").write(text)
    for r,d in combos:
        up=os.path.join(WORK, "up"); ours=os.path.join(WORK, "ours")
        shutil.rmtree(up,ignore_errors=True); shutil.rmtree(ours,ignore_errors=True); os.makedirs(up)
        try:
            m.render(text,d,r,up)
        except Exception as e:
            crashes+=1; continue
        res=subprocess.run([BIN,p,r,d,ours],capture_output=True,text=True)
        if res.returncode!=0:
            print("OURS FAILED",p,r,d,res.stderr.strip()[:200]); bad+=1; continue
        skip=["-x","resolv.conf"] if r in BSD else []
        cmp=subprocess.run(["diff","-r"]+skip+[up,ours],capture_output=True,text=True)
        if r in BSD and lines(up+"/etc/resolv.conf")!=lines(ours+"/etc/resolv.conf"):
            cmp.returncode=1; cmp.stdout="resolv.conf differs\n"+cmp.stdout
        if cmp.returncode!=0:
            bad+=1
            print("DIFF",p,r,d); print(cmp.stdout[:1500])
print("done bad=%d upstream-crashes=%d"%(bad,crashes))
shutil.rmtree(WORK, ignore_errors=True)
