#!/usr/bin/python
# -*- coding: utf-8 -*-
# vmferry_migrate: an Ansible module that runs "vmferry migrate --json"
# on the source host and returns its summary.  See DOCUMENTATION.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vmferry_migrate
short_description: Live-migrate a running QEMU VM, with its disks, with vmferry
description:
  - Runs C(vmferry migrate VM --to DEST --json) on the VM's host (the
    source; run the task there) and returns vmferry's final summary.
  - "I(state=present): the VM named I(name) is to live on I(to).
    Idempotent by name. The VM counts as on this host when its QMP
    socket exists here (I(vm) as a path, or C(NAME.qmp) /
    C(NAME/qmp.sock) in I(vm_dir)). Then it is migrated. When it is not
    here, the destination's inventory is asked by name; if the VM lives
    there (running or stopped) the result is C(changed=false), else the
    task fails."
  - The destination's inventory. An agent (I(to) is C(ADDR[:PORT]))
    answers C(GET /v1/vms) (asked with this host's client certificate
    from I(tls_dir)) with the VMs this host sent that live there, from
    their saved definitions (vmferryd remembers them across restarts);
    an older agent is asked C(GET /v1/status) (its running migrations
    since it started). For C(ssh://) destinations, the directory
    C(RUN_ROOT/NAME) there must hold a unix socket.
  - In check mode nothing changes. If C(vmferry check --help) succeeds,
    C(vmferry check VM --to DEST --json) runs;
    otherwise a preflight of the module's own runs (the VM's QMP socket
    exists; the destination answers C(GET /v1/host), or the ssh login
    works and finds vmferryd). C(changed) says whether a migration
    would run.
options:
  state:
    description: C(present), the VM lives on I(to) (the only state).
    type: str
    choices: [present]
    default: present
  vm:
    description: QMP socket path of the VM (contains a C(/)), or its name in I(vm_dir).
    type: str
    required: true
  to:
    description: Destination agent C(ADDR[:PORT]), or C(ssh://[USER@]HOST[:PORT]) for the one-shot over ssh.
    type: str
    required: true
  name:
    description:
      - The VM's name, used to ask the destination whether the VM is
        already there. Default, I(vm) if it is a name; for a socket path
        the name QEMU reports (read while the VM is still here), else
        the file name without C(.qmp), or the directory name for C(qmp.sock).
    type: str
  vm_dir:
    description: Directory of QMP sockets, for VM names.
    type: path
    default: /run/vmferry/vms
  tls_dir:
    description: This host's vmferry certificates (not used with C(ssh://)).
    type: path
    default: /etc/pki/vmferry
  keep_source:
    description: Keep the source image files.
    type: bool
    default: false
  keep_source_for:
    description:
      - Set the source images aside and delete them this long after the
        move (C(10m), C(1h), C(2d)); meanwhile C(vmferry undo ID) moves
        the VM back (vmferry C(--keep-source=DURATION)).
    type: str
  bandwidth:
    description: At most this much per second for disk and memory data together, in MiB (C(0.5), C(100)) or with a unit (C(500K), C(20M), C(1G)) (vmferry C(--bandwidth)).
    type: str
  timeout:
    description: Cancel the move when pre-copy has not finished after this many seconds; the VM stays on the source (vmferry C(--timeout); 0, never).
    type: int
  migration_network:
    description: The network (CIDR) disk and memory data take (vmferry C(--migration-network)).
    type: str
  dry_run:
    description: Rehearse the move (connect everything, move nothing; vmferry C(--dry-run)). The result is C(rehearsed), C(changed=false).
    type: bool
    default: false
  disk_path:
    description: C(SRC=DST) items, placing disks on the destination.
    type: list
    elements: str
    default: []
  disks:
    description:
      - Copy only these disks (vmferry --disk ID, for the check too), given
        by device or node name or image path.  Every other disk must be
        reachable on the destination as it is.
    type: list
    elements: str
    default: []
  skip_disks:
    description:
      - Do not copy these disks (vmferry --skip-disk ID, for the check too);
        each must be reachable on the destination as it is.
    type: list
    elements: str
    default: []
  storage_engine:
    description: Who copies the disks (vmferry C(--storage-engine)).
    type: str
    choices: [vmferry, qemu]
  ssh_options:
    description: ssh C(-o) options for C(ssh://) destinations.
    type: list
    elements: str
    default: []
  ssh_vmferryd:
    description: vmferryd on the ssh destination.
    type: str
  ssh_storage_root:
    description: Storage root on the ssh destination.
    type: str
    default: /var/lib/vmferry
  ssh_run_root:
    description: Run root on the ssh destination.
    type: str
    default: /run/vmferry
  vmferry:
    description: The vmferry program.
    type: str
    default: vmferry
requirements:
  - vmferry (the same version as the destination's vmferryd) on the host the task runs on
  - python3 on that host
attributes:
  check_mode:
    support: full
    description: Runs C(vmferry check), which changes nothing on either host.
  diff_mode:
    support: none
    description: No diff.
version_added: 0.1.0
author:
  - vmferry developers (@vmferry)
'''

EXAMPLES = r'''
- name: Move web1 to hostb (agent with certificates)
  vmferry.migration.vmferry_migrate:
    vm: web1
    to: 192.0.2.2

- name: Move web1 to hostb over ssh, no certificates needed
  vmferry.migration.vmferry_migrate:
    vm: /run/vms/web1/qmp.sock
    name: web1
    to: ssh://root@hostb
    ssh_options: [BatchMode=yes]
'''

RETURN = r'''
result:
  description: vmferry's result code (migrated, rehearsed, refused, failed_rolled_back, failed_leftovers, uncertain; vmferry(1) OUTPUT), or "already on the destination"; result_text says it in words.
  returned: always
  type: str
exit_code:
  description: vmferry's exit status (0 migrated; 1 usage; 2 refused; 3 failed, destination cleaned; 4 failed, leftovers; 5 uncertain).
  returned: when vmferry ran
  type: int
meaning:
  description: What exit_code means.
  returned: when vmferry ran
  type: str
vm_location:
  description: Where the VM runs now, "source", "destination" or "unknown".
  returned: always
  type: str
dest_state:
  description: When the VM was already on the destination, its state there (running, stopped, stored).
  returned: when the VM was already on the destination
  type: str
summary:
  description: vmferry's final JSON object (vm, id, destination, total_s, downtime_ms, qmp, files, error, ...); its fields are also returned at the top level.
  returned: when vmferry printed one
  type: dict
'''

import json
import os
import re
import ssl
import urllib.error
import urllib.request

from ansible.module_utils.basic import AnsibleModule

MEANINGS = {
    0: ('migrated: the VM runs on the destination', 'destination'),
    1: ('usage error: nothing was done', 'source'),
    2: ('refused: nothing was done, the VM runs on the source', 'source'),
    3: ('failed: the VM still runs on the source, the destination was '
        'cleaned', 'source'),
    4: ('failed: the VM still runs on the source, leftovers remain on the '
        'destination (listed in the error)', 'source'),
    5: ('state uncertain: the VM may be paused on the source or running on '
        'the destination; inspect both hosts', 'unknown'),
}


def vm_socket(p):
    """The VM's QMP socket path as vmferry resolves it."""
    if '/' in p['vm']:
        return p['vm']
    for rel in ('%s.qmp', '%s/qmp.sock'):
        path = os.path.join(p['vm_dir'], rel % p['vm'])
        if os.path.exists(path):
            return path
    return os.path.join(p['vm_dir'], p['vm'] + '.qmp')


def vm_name(p):
    if p['name']:
        return p['name']
    if '/' not in p['vm']:
        return p['vm']
    base = os.path.basename(p['vm'])
    if base == 'qmp.sock':
        return os.path.basename(os.path.dirname(p['vm']))
    return re.sub(r'\.qmp$', '', base)


def is_ssh(p):
    return p['to'].startswith('ssh://')


def ssh_argv(p, remote):
    """ssh argv for the ssh:// destination running the shell command remote."""
    m = re.match(r'^ssh://(?:([^@/]+)@)?(\[[^]]+\]|[^:/]+)(?::(\d+))?$', p['to'])
    if not m:
        raise ValueError("'%s' is not ssh://[USER@]HOST[:PORT]" % p['to'])
    argv = ['ssh', '-T']
    if m.group(3):
        argv += ['-p', m.group(3)]
    if m.group(1):
        argv += ['-l', m.group(1)]
    for o in p['ssh_options']:
        argv += ['-o', o]
    return argv + ['--', m.group(2).strip('[]'), remote]


def agent_get(p, path):
    """GET https://ADDR:PORT/path with this host's client certificate."""
    m = re.match(r'^(\[[^]]+\]|[^:]+)(?::(\d+))?$', p['to'])
    if not m:
        raise ValueError("'%s' is not ADDR[:PORT]" % p['to'])
    host, port = m.group(1), m.group(2) or '7480'
    ctx = ssl.create_default_context(
        cafile=os.path.join(p['tls_dir'], 'ca-cert.pem'))
    ctx.load_cert_chain(os.path.join(p['tls_dir'], 'client-cert.pem'),
                        os.path.join(p['tls_dir'], 'client-key.pem'))
    url = 'https://%s:%s%s' % (host, port, path)
    with urllib.request.urlopen(url, context=ctx, timeout=30) as r:
        return json.loads(r.read().decode())


def runs_on_destination(module, p, name):
    """The VM's state on the destination if it lives there; else False
    and the reason."""
    if is_ssh(p):
        d = os.path.join(p['ssh_run_root'], name)
        remote = ('for f in %s/*; do [ -S "$f" ] && exit 0; done; exit 1'
                  % shell_quote(d))
        rc, out, err = module.run_command(ssh_argv(p, remote))
        return ('running', None) if rc == 0 else (False, 'no socket in %s '
                'there (%s)' % (d, err.strip() or 'ssh exit %d' % rc))
    try:
        vms = agent_get(p, '/v1/vms').get('vms', [])
    except urllib.error.HTTPError as e:
        if e.code != 404:
            return False, 'asking the destination failed: %s' % e
        vms = [dict(name=m.get('name'), state='running') for m in
               agent_get(p, '/v1/status').get('migrations', [])
               if m.get('state') == 'running']
    except Exception as e:
        return False, 'asking the destination failed: %s' % e
    for v in vms:
        if v.get('name') == name:
            return v.get('state', 'running'), None
    return False, 'the destination does not list %s among its VMs' % name


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def vmferry_argv(p, sub):
    a = [p['vmferry'], sub, p['vm'], '--to', p['to'], '--json',
         '--vm-dir', p['vm_dir']]
    if is_ssh(p):
        for o in p['ssh_options']:
            a += ['--ssh-option', o]
        if p['ssh_vmferryd']:
            a += ['--ssh-vmferryd', p['ssh_vmferryd']]
        a += ['--ssh-storage-root', p['ssh_storage_root'],
              '--ssh-run-root', p['ssh_run_root']]
    else:
        a += ['--tls-dir', p['tls_dir']]
    for d in p['disks']:
        a += ['--disk', d]
    for d in p['skip_disks']:
        a += ['--skip-disk', d]
    if sub != 'migrate':
        return a
    if p['keep_source']:
        a.append('--keep-source')
    for d in p['disk_path']:
        a += ['--disk-path', d]
    if p['storage_engine']:
        a += ['--storage-engine', p['storage_engine']]
    if p['keep_source_for']:
        a.append('--keep-source=' + p['keep_source_for'])
    if p['bandwidth']:
        a += ['--bandwidth', p['bandwidth']]
    if p['timeout'] is not None:
        a += ['--timeout', str(p['timeout'])]
    if p['migration_network']:
        a += ['--migration-network', p['migration_network']]
    if p['dry_run']:
        a.append('--dry-run')
    return a


def last_result(out):
    """vmferry's final {"event":"result",...} object, or None."""
    res = None
    for line in out.splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if isinstance(o, dict) and o.get('event') == 'result':
            res = o
    return res


def report(module, rc, out, err, changed_if_ok, check=False):
    summary = last_result(out) or {}
    meaning, where = MEANINGS.get(rc, ('unknown exit status', 'unknown'))
    if check and rc == 0:
        where = 'source'
    res = dict(summary)
    res.update(exit_code=rc, meaning=meaning, vm_location=where,
               summary=summary, changed=changed_if_ok and rc == 0)
    res.setdefault('result', meaning)
    if rc != 0:
        msg = summary.get('error') or err.strip() or meaning
        module.fail_json(msg='vmferry: %s (exit %d: %s)' % (msg, rc, meaning),
                         **res)
    module.exit_json(**res)


def preflight(module, p):
    """Check mode without vmferry check: a look that changes nothing."""
    sock = vm_socket(p)
    if not os.path.exists(sock):
        module.fail_json(msg='no QMP socket %s on this host' % sock,
                         vm_location='unknown')
    try:
        if is_ssh(p):
            remote = 'command -v %s' % shell_quote(p['ssh_vmferryd'] or
                                                   'vmferryd')
            rc, out, err = module.run_command(ssh_argv(p, remote))
            if rc != 0:
                raise RuntimeError(err.strip() or 'no vmferryd there')
            facts = {'vmferryd': out.strip()}
        else:
            facts = agent_get(p, '/v1/host')
    except Exception as e:
        module.fail_json(msg='destination %s: %s' % (p['to'], e),
                         vm_location='source', exit_code=2,
                         meaning=MEANINGS[2][0])
    module.exit_json(changed=True, vm_location='source', destination=facts,
                     result='would migrate (preflight of the module: '
                     'vmferry has no check command)')


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', default='present', choices=['present']),
            vm=dict(type='str', required=True),
            to=dict(type='str', required=True),
            name=dict(type='str'),
            vm_dir=dict(type='path', default='/run/vmferry/vms'),
            tls_dir=dict(type='path', default='/etc/pki/vmferry'),
            keep_source=dict(type='bool', default=False),
            disk_path=dict(type='list', elements='str', default=[]),
            disks=dict(type='list', elements='str', default=[]),
            skip_disks=dict(type='list', elements='str', default=[]),
            storage_engine=dict(type='str', choices=['vmferry', 'qemu']),
            keep_source_for=dict(type='str'),
            bandwidth=dict(type='str'),
            timeout=dict(type='int'),
            migration_network=dict(type='str'),
            dry_run=dict(type='bool', default=False),
            ssh_options=dict(type='list', elements='str', default=[]),
            ssh_vmferryd=dict(type='str'),
            ssh_storage_root=dict(type='str', default='/var/lib/vmferry'),
            ssh_run_root=dict(type='str', default='/run/vmferry'),
            vmferry=dict(type='str', default='vmferry'),
        ),
        supports_check_mode=True,
        mutually_exclusive=[('keep_source', 'keep_source_for'),
                            ('disks', 'skip_disks')],
    )
    p = module.params
    if not os.path.exists(vm_socket(p)):
        name = vm_name(p)
        state, why = runs_on_destination(module, p, name)
        if state:
            module.exit_json(changed=False, vm_location='destination',
                             result='already on the destination', vm=name,
                             destination=p['to'], dest_state=state)
        module.fail_json(msg='VM %s is not on this host (%s) and %s'
                         % (name, vm_socket(p), why), vm_location='unknown')
    if module.check_mode:
        rc, out, err = module.run_command([p['vmferry'], 'check', '--help'])
        if rc != 0:
            preflight(module, p)
        rc, out, err = module.run_command(vmferry_argv(p, 'check'))
        report(module, rc, out, err, True, check=True)
    rc, out, err = module.run_command(vmferry_argv(p, 'migrate'))
    report(module, rc, out, err, not p['dry_run'], check=p['dry_run'])


if __name__ == '__main__':
    main()
