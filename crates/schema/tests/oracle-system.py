#!/var/tmp/cloud-init-oracle/venv/bin/python
"""Upstream's `cloud-init schema --system` on a seeded target root.

Usage: oracle-system.py ROOT [--annotate]

ROOT holds var/lib/cloud/instances/<iid>/ and the `instance` link, as the
--system tests in crates/cli/tests/schema_cmd.rs seed it. Upstream finds
the instance through its cached datasource and needs root; both are
stubbed here so the oracle reads ROOT. Paths in the output carry ROOT;
strip it to compare with `cloud-init --root ROOT schema --system`.
"""
import os, sys
from argparse import Namespace
from cloudinit.config import schema
from cloudinit.helpers import Paths
ROOT = os.path.abspath(sys.argv[1])
class DS:
    def get_instance_id(self): return os.path.basename(os.readlink(ROOT + '/var/lib/cloud/instance'))
schema.read_cfg_paths = lambda *a, **k: Paths({'cloud_dir': ROOT + '/var/lib/cloud', 'run_dir': ROOT + '/run/cloud-init'}, ds=DS())
os.getuid = lambda: 0
args = Namespace(config_file=None, system=True, schema_type=None, annotate='--annotate' in sys.argv, instance_data=None)
try:
    schema.handle_schema_args('schema', args)
except SystemExit as e:
    print('EXIT', e.code, file=sys.stderr)
