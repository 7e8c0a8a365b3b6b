#!/usr/bin/env python3
"""Writes tests/corpus/ (inputs for regen-expected.py and the differential
test). The corpus is committed; rerun this only to change it, then rerun
regen-expected.py with the oracle's Python."""
import base64, gzip, os, json, quopri
D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
H = D + "/http"
def w(name, data, d=D):
    if isinstance(data, str): data = data.encode()
    open(os.path.join(d, name), "wb").write(data)
def b64(s):
    if isinstance(s, str): s = s.encode()
    e = base64.b64encode(s).decode()
    return "\n".join(e[i:i+76] for i in range(0, len(e), 76))
def gz(s):
    if isinstance(s, str): s = s.encode()
    return gzip.compress(s, mtime=0)
def mime(parts, boundary="XXBOUNDARYXX", extra=""):
    out = f'Content-Type: multipart/mixed; boundary="{boundary}"\nMIME-Version: 1.0\n{extra}\n'
    for headers, body in parts:
        out += f"--{boundary}\n" + "".join(f"{k}: {v}\n" for k, v in headers) + "\n" + body + "\n"
    out += f"--{boundary}--\n"
    return out
opts = {}

w("01-cloud-config.txt", "#cloud-config\nhostname: h1\npackages: [curl, git]\nruncmd:\n  - [ls, -l, /]\n  - echo 'hi there'\nusers:\n  - default\n  - name: bob\n    groups: [adm, sudo]\nwrite_files:\n  - path: /etc/x\n    content: |\n      line1\n      line2\n")
w("02-cloud-config-crlf.txt", "#cloud-config\r\nhostname: crlf\r\nruncmd:\r\n - echo a\r\n")
w("03-script-crlf.txt", "#!/bin/sh\r\necho one\r\necho two\r\n")
w("04-boothook.txt", "#cloud-boothook\n\n#!/bin/sh\necho boothook $INSTANCE_ID\n")
w("05-part-handler.txt", "#part-handler\n# vi: syntax=python ts=4\n\ndef list_types():\n    return ['text/x-my-type']\n\ndef handle_part(data, ctype, filename, payload):\n    pass\n")
w("06-jsonp-alone.txt", '#cloud-config-jsonp\n[{"op": "add", "path": "/packages", "value": ["a"]}, {"op": "add", "path": "/packages/-", "value": "b"}]\n')
w("07-mime-basic.txt", mime([
    ([("Content-Type", 'text/cloud-config; charset="us-ascii"')], "#cloud-config\nhostname: mime1\nruncmd: [a]"),
    ([("Content-Type", "text/x-shellscript")], "#!/bin/bash\necho from mime\n"),
    ([("Content-Type", "text/cloud-boothook")], "#cloud-boothook\necho bh\n"),
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nruncmd: [b]\nntp: {enabled: true}\n"),
]))
w("08-mime-base64.txt", mime([
    ([("Content-Type", 'text/cloud-config; charset="utf-8"'), ("MIME-Version", "1.0"), ("Content-Transfer-Encoding", "base64"), ("Content-Disposition", 'attachment; filename="config.yaml"')], b64("#cloud-config\nhostname: b64host\nusers: [default]\n")),
    ([("Content-Type", 'text/x-shellscript; charset="utf-8"'), ("MIME-Version", "1.0"), ("Content-Transfer-Encoding", "base64"), ("Content-Disposition", 'attachment; filename="script.sh"')], b64("#!/bin/sh\necho b64\n")),
], boundary="===============1234567890123456789=="))
w("09-mime-qp.txt", mime([
    ([("Content-Type", "text/cloud-config"), ("Content-Transfer-Encoding", "quoted-printable")], "#cloud-config\nruncmd:\n  - echo a=3Db\n  - echo this is a very long line that is soft broken in the=\n middle\nbootcmd: [\"x=3D1\"]   "),
]))
inner = mime([
    ([("Content-Type", "text/x-shellscript")], "#!/bin/sh\necho inner1\n"),
    ([("Content-Type", "text/plain")], "#cloud-config\nhostname: nested\n"),
], boundary="INNER").split("\n", 2)[2]
w("10-mime-nested.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nhostname: outer\nfoo: 1\n"),
    ([("Content-Type", 'multipart/alternative; boundary="INNER"')], inner),
    ([("Content-Type", "text/x-shellscript")], "#!/bin/sh\necho outer2\n"),
]))
w("11-mime-per-freq.txt", mime([
    ([("Content-Type", "text/x-shellscript-per-boot"), ("Content-Disposition", 'attachment; filename="dir/boot.sh"')], "#!/bin/sh\r\necho boot\r\n"),
    ([("Content-Type", "text/x-shellscript-per-instance"), ("Content-Disposition", 'attachment; filename="inst ance$.sh"')], "#!/bin/sh\necho inst\n"),
    ([("Content-Type", "text/x-shellscript-per-once")], "#!/bin/sh\necho once\n"),
]))
w("12-mime-merge-headers.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nruncmd: [a, b]\npackages: [p1]\nd: {x: 1, l: [1]}\n"),
    ([("Content-Type", "text/cloud-config"), ("Merge-Type", "list(append)+dict(recurse_array,recurse_list)+str()")], "#cloud-config\nruncmd: [c]\npackages: [p2]\nd: {l: [2], y: 2}\n"),
    ([("Content-Type", "text/cloud-config"), ("X-Merge-Type", "dict(no_replace,recurse_list)+list(prepend)")], "#cloud-config\nruncmd: [z]\nhostname: kept\nd: {x: 9}\n"),
    ([("Content-Type", "text/cloud-config"), ("merge-type", "list(append)")], "#cloud-config\nruncmd: [lowercase-header-ignored]\n"),
]))
w("13-merge-how-in-parts.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nruncmd: [a]\nwrite_files: [{path: /a}]\ns: abc\n"),
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nmerge_how:\n - name: list\n   settings: [append]\n - name: dict\n   settings: [no_replace, recurse_list]\nruncmd: [b]\nwrite_files: [{path: /b}]\ns: def\n"),
    ([("Content-Type", "text/cloud-config"), ("Merge-Type", "list(prepend)")], "#cloud-config\nmerge_type: 'list(append)+dict(replace)+str(append)'\nruncmd: [c]\ns: ghi\n"),
]))
w("14-mime-jsonp.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\npackages: [a, b]\nhostname: h\nusers: [{name: x}]\n"),
    ([("Content-Type", "text/cloud-config-jsonp")], '#cloud-config-jsonp\n[{"op": "add", "path": "/packages/1", "value": "inserted"}, {"op": "replace", "path": "/hostname", "value": "patched"}, {"op": "remove", "path": "/users/0"}, {"op": "move", "from": "/packages/0", "path": "/moved"}, {"op": "copy", "from": "/hostname", "path": "/h2"}]'),
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nafter: true\n"),
]))
w("15-jsonp-bad.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\na: 1\n"),
    ([("Content-Type", "text/cloud-config-jsonp")], '#cloud-config-jsonp\n[{"op": "remove", "path": "/nope"}]'),
    ([("Content-Type", "text/cloud-config-jsonp")], '#cloud-config-jsonp\n{not json'),
    ([("Content-Type", "text/cloud-config-jsonp")], '#cloud-config-jsonp\n[{"op": "test", "path": "/a", "value": 2}]'),
    ([("Content-Type", "text/cloud-config-jsonp")], '#cloud-config-jsonp\n[{"op": "add", "path": "/b", "value": 2}]'),
]))
w("16-gzip-whole.txt.gz", gz("#cloud-config\nhostname: gz\nruncmd: [gzipped]\n"))
w("17-mime-gzip-part.txt", mime([
    ([("Content-Type", "application/x-gzip"), ("Content-Transfer-Encoding", "base64"), ("Content-Disposition", 'attachment; filename="packed.sh"'), ("Launch-Index", "0")], b64(gz("#!/bin/sh\necho unpacked\n"))),
    ([("Content-Type", "application/gzip"), ("Content-Transfer-Encoding", "base64")], b64(gz("#cloud-config\nhostname: fromgz\n"))),
    ([("Content-Type", "application/gzip"), ("Content-Transfer-Encoding", "base64")], b64(gz("just text\n"))),
]))
w("18-mime-bad-gzip.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\na: 1\n"),
    ([("Content-Type", "application/x-gzip"), ("Content-Transfer-Encoding", "base64")], b64("not gzip at all")),
]))
w("cc1.txt", "#cloud-config\nhostname: included\nruncmd: [inc1]\n", H)
w("script.sh", "#!/bin/sh\necho included script\n", H)
w("cc2.txt", "#cloud-config\npackages: [once]\n", H)
w("nested.txt", "#include\n@@BASE@@/cc1.txt\n", H)
w("mime-inc.txt", mime([([("Content-Type", "text/x-shellscript")], "#!/bin/sh\necho via mime include\n")]), H)
w("inc.gz", gz("#cloud-config\nfrom_gz_include: true\n"), H)
w("19-include.txt", "#include\n# a comment\n\n@@BASE@@/cc1.txt\n   @@BASE@@/script.sh  \n#include @@BASE@@/mime-inc.txt\n@@BASE@@/inc.gz\n")
w("20-include-once.txt", "#include-once\n@@BASE@@/cc2.txt\n#include @@BASE@@/script.sh\n")
w("21-include-nested.txt", "#include @@BASE@@/nested.txt\n")
w("22-include-404.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\na: 1\n"),
    ([("Content-Type", "text/x-include-url")], "@@BASE@@/missing.txt\n"),
]))
w("23-archive.txt", """#cloud-config-archive
- |
  #cloud-config
  hostname: archived
- type: text/x-shellscript
  content: |
    #!/bin/sh
    echo archived script
  filename: arch.sh
- content: |
    #!/bin/sh
    echo sniffed script
- content: "runcmd: [no-header-is-cloud-config]"
  Merge-Type: list(append)
- content: |
    #cloud-config
    runcmd: [second]
  X-Merge-Type: list(append)+dict(recurse_array)
  Some-Header: forty-two
- type: text/x-include-url
  content: http://127.0.0.1:1/never-fetched
- 42
- [not, a, dict]
- type: application/octet-stream
  content: binary-ish
""")
w("24-archive-launch-index.txt", """#cloud-config-archive
- content: |
    #cloud-config
    runcmd: [idx0]
  launch-index: 0
- content: |
    #cloud-config
    packages: [idx1]
  launch-index: 1
- content: |
    #cloud-config
    launch-index: 1
    bootcmd: [payload-idx1]
- content: |
    #cloud-config
    launch-index: 2
    ntp: {enabled: true}
- content: |
    #!/bin/sh
    echo all
""")
opts["24-archive-launch-index.txt"] = {"launch_index": 1}
w("25-mime-launch-index.txt", mime([
    ([("Content-Type", "text/cloud-config"), ("Launch-Index", "0")], "#cloud-config\nruncmd: [zero]\n"),
    ([("Content-Type", "text/cloud-config"), ("Launch-Index", "1")], "#cloud-config\nruncmd: [one]\n"),
    ([("Content-Type", "text/x-shellscript"), ("Launch-Index", "abc")], "#!/bin/sh\necho bad index\n"),
    ([("Content-Type", "text/x-shellscript")], "#!/bin/sh\necho no index\n"),
]))
opts["25-mime-launch-index.txt"] = {"launch_index": 0}
w("26-jinja-cloud-config.txt", """## template: jinja
#cloud-config
hostname: {{ v1.local_hostname }}
fqdn: {{ local_hostname }}.{{ v1.region }}
runcmd:
  - echo {{ ds.meta_data.instance_id }} {{ ds['meta_data']['instance-id'] }}
  - echo {{ v1.nosuch }} {{ undefined_top }}
{% for key in v1.public_ssh_keys %}
  - echo key {{ key }}
{% endfor %}
{% if v1.cloud_name == 'nocloud' %}
  - echo is nocloud
{% endif %}
  - echo {{ v1.nosuch2 | default('dflt') }}
""")
w("27-jinja-script.txt", "## template: jinja\n#!/bin/sh\necho {{ v1.instance_id }} {{ v1.availability_zone }}\n")
w("28-jinja-no-instance-data.txt", "## template: jinja\n#cloud-config\nhostname: {{ v1.local_hostname }}\n")
opts["28-jinja-no-instance-data.txt"] = {"no_instance_data": True}
w("29-jinja-syntax-error.txt", "## template: jinja\n#cloud-config\nhostname: x\n{% if v1.region %}\nruncmd: [a]\n")
w("30-unknown.txt", "hello world, this is not user-data at all\nsecond line\n")
w("31-empty.txt", "")
w("32-bad-yaml.txt", "#cloud-config\nruncmd: [a, b\nhostname: x\n")
w("33-cloud-config-list.txt", "#cloud-config\n- a\n- b\n")
w("34-mime-unknown-type.txt", mime([
    ([("Content-Type", "text/x-foo")], "some foo content that is long enough to be cut\n"),
    ([("Content-Type", "application/octet-stream"), ("Content-Transfer-Encoding", "base64")], b64(b"\x00\x01binary'stuff\n")),
    ([("Content-Type", "text/plain")], "plain text that is not sniffable\n"),
]))
w("35-vendor.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nvendor: true\nruncmd: [v]\n"),
    ([("Content-Type", "text/x-shellscript")], "#!/bin/sh\necho vendor script\n"),
    ([("Content-Type", "text/x-shellscript-per-boot")], "#!/bin/sh\necho vendor per boot\n"),
    ([("Content-Type", "text/cloud-config"), ("Launch-Index", "5")], "#cloud-config\nnot_filtered_for_vendor: true\n"),
]))
opts["35-vendor.txt"] = {"kind": "vendor", "launch_index": 0}
w("36-vendor-disabled.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nvendor2: true\n"),
    ([("Content-Type", "text/x-shellscript")], "#!/bin/sh\necho disabled\n"),
]))
opts["36-vendor-disabled.txt"] = {"kind": "vendor2", "disabled_handlers": ["text/x-shellscript"]}
w("37-mime-sniff.txt", mime([
    ([("Content-Type", "text/plain")], "#cloud-config\nsniffed_plain: 1\n"),
    ([("Content-Type", "text/x-shellscript")], "#cloud-config\nshellscript_that_is_cc: 1\n"),
    ([], "#!/bin/sh\necho no content type header\n"),
    ([("Content-Type", "text/cloud-config")], "#!/bin/sh\necho typed cc not sniffed\n"),
    ([("Content-Type", "text/plain")], "  \n#Include-Once\n@@BASE@@/cc2.txt\n"),
]))
w("38-case-and-space.txt", "\n\n  #CLOUD-CONFIG\nhostname: shouty\n")
w("39-mime-empty-part.txt", mime([
    ([("Content-Type", "text/x-foo")], ""),
    ([("Content-Type", "text/cloud-config")], "#cloud-config\n"),
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nb: 2\n"),
]))
w("40-mime-utf8.txt", mime([
    ([("Content-Type", 'text/cloud-config; charset="utf-8"'), ("Content-Transfer-Encoding", "base64")], b64("#cloud-config\nmotd: 'héllo wörld ✓'\n")),
    ([("Content-Type", "text/x-shellscript")], "#!/bin/sh\necho plain ascii\n"),
]))
w("41-merge-bad-spec.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\na: 1\n"),
    ([("Content-Type", "text/cloud-config"), ("Merge-Type", "dict")], "#cloud-config\nb: 2\n"),
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nmerge_how: 'nope()'\nc: 3\n"),
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nd: 4\n"),
]))
w("42-jinja-jsonp.txt", '## template: jinja\n#cloud-config-jsonp\n[{"op": "add", "path": "/x", "value": "{{ v1.region }}"}]\n')
w("43-mime-include-part.txt", mime([
    ([("Content-Type", "text/x-include-url")], "@@BASE@@/cc1.txt\n"),
    ([("Content-Type", "text/x-include-once-url")], "@@BASE@@/cc2.txt\n"),
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nlast: yes\n"),
]))
w("44-mime-boothook-crlf.txt", mime([
    ([("Content-Type", "text/cloud-boothook"), ("Content-Disposition", 'attachment; filename="hook.sh"')], "#cloud-boothook\r\n#!/bin/sh\r\necho crlf hook\r\n"),
]))
w("45-mime-no-closing.txt", 'Content-Type: multipart/mixed; boundary="B"\nMIME-Version: 1.0\n\n--B\nContent-Type: text/cloud-config\n\n#cloud-config\nunclosed: 1\n--B\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho unclosed\n')
w("46-mime-single-part.txt", 'MIME-Version: 1.0\nContent-Type: text/cloud-config\nContent-Transfer-Encoding: base64\n\n' + b64("#cloud-config\nsingle: part\n") + "\n")
w("47-mime-mixed-filenames.txt", mime([
    ([("Content-Type", 'text/cloud-config; name="by-name.yaml"')], "#cloud-config\nnamed: 1\n"),
    ([("Content-Type", "text/cloud-config"), ("Content-Disposition", 'attachment; filename="tab\tname.yaml"')], "#cloud-config\ntabbed: 1\n"),
]))
w("48-jinja-aliases.txt", "## template: jinja\n#cloud-config\nruncmd:\n  - echo {{ ds.meta_data.some_key_with_dashes }} {{ v1.sys_info_alias | default('x') }}\n  - echo {{ merged_cfg_ok }} {{ v1['local-hostname'] }}\n  - echo {{ ds.meta_data['some.dotted.key'] }} {{ ds.meta_data.some_dotted_key }}\n")
w("49-gzip-mime.txt.gz", gz(mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\ngzipped_mime: true\n"),
    ([("Content-Type", "text/x-shellscript")], "#!/bin/sh\necho gzipped mime\n"),
])))
w("50-jinja-basic-header.txt", mime([
    ([("Content-Type", "text/jinja2")], "## template: basic\n#cloud-config\na: 1\n"),
    ([("Content-Type", "text/jinja2")], "## template: jinja\nnot anything known {{ v1.region }}\n"),
    ([("Content-Type", "text/jinja2")], "## template: jinja\n{{ nosuch.attr }}\n"),
]))
w("51-jinja-undefined-parent.txt", "## template: jinja\n#cloud-config\na: {{ ds['meta-data']['instance-id'] }}\n")
w("52-archive-int-header.txt", "#cloud-config-archive\n- content: '#cloud-config\\na: 1'\n  Some-Header: 42\n")
w("53-include-unknown-scheme.txt", "#include\nftpx://127.0.0.1:1/nothing\n")
w("54-mime-8bit-utf8.txt", mime([
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nmotd: 'héllo'\n"),
    ([("Content-Type", "text/cloud-config")], "#cloud-config\nafter_utf8: 1\n"),
]))
w("options.json", json.dumps(opts, indent=1, sort_keys=True) + "\n")
w("instance-data.json", json.dumps({
    "base64_encoded_keys": [],
    "ds": {"meta_data": {"instance-id": "iid-abc", "local-hostname": "md-host", "some-key-with-dashes": "dashes", "some.dotted.key": "dotted"},
           "_doc": "x"},
    "merged_cfg": {"ok": 1},
    "sys_info": {"dist": ["debian", "12", "bookworm"]},
    "v1": {"cloud_name": "nocloud", "instance_id": "iid-abc", "local_hostname": "host-1", "local-hostname": "host-1",
           "region": "reg-1", "availability_zone": "az-1", "public_ssh_keys": ["ssh-rsa AAA k1", "ssh-ed25519 BBB k2"],
           "platform": "nocloud", "distro": "debian"},
}, indent=1, sort_keys=True) + "\n")
