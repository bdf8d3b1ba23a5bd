#!/usr/bin/python
# -*- coding: utf-8 -*-
# vmferry_vm_info: an Ansible module that returns this host's VMs as
# "vmferry list --json" shows them.  See DOCUMENTATION.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vmferry_vm_info
short_description: This host's VMs, as vmferry list shows them
description:
  - Runs C(vmferry list --json) on the host and returns its VMs, the ones
    vmferry finds in I(vm_dir) (started by hand, or received by
    vmferryd, which registers each VM it receives there by name).
  - Changes nothing; supports check mode.
options:
  name:
    description: Only the VM of this name (an empty list if there is none).
    type: str
  vm_dir:
    description: Where vmferry finds VMs (vmferry --vm-dir).
    type: path
    default: /run/vmferry/vms
  run_dir:
    description: vmferry's migration state (vmferry --run-dir), for the states "migrating out" and "quarantined".
    type: path
  vmferry:
    description: The vmferry program.
    type: str
    default: vmferry
requirements:
  - vmferry on the host the task runs on
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: No diff.
version_added: 0.2.0
author:
  - vmferry developers (@vmferry)
'''

EXAMPLES = r'''
- name: What runs here?
  vmferry.migration.vmferry_vm_info:
  register: here
- name: Is web1 running here?
  vmferry.migration.vmferry_vm_info:
    name: web1
  register: web1
  failed_when: web1.vms | length == 0 or web1.vms[0].state != 'running'
'''

RETURN = r'''
vms:
  description: >-
    One dict per VM: name, qmp, state (arriving, running, paused,
    migrating out, busy, stopped, quarantined), memory (bytes), disks
    (id, path, format, virtual_size, allocated), qemu_version, machine,
    and for VMs vmferryd received, received (from, peer, arrived).
  returned: always
  type: list
  elements: dict
'''

import json

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str'),
            vm_dir=dict(type='path', default='/run/vmferry/vms'),
            run_dir=dict(type='path'),
            vmferry=dict(type='str', default='vmferry'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    argv = [p['vmferry'], 'list', '--json', '--vm-dir', p['vm_dir']]
    if p['run_dir']:
        argv += ['--run-dir', p['run_dir']]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg='vmferry list: %s (exit %d)'
                         % (err.strip() or 'failed', rc))
    try:
        vms = json.loads(out)['vms']
    except (ValueError, KeyError, TypeError) as e:
        module.fail_json(msg='vmferry list printed no VM list: %s' % e)
    if p['name'] is not None:
        vms = [v for v in vms if v.get('name') == p['name']]
    module.exit_json(changed=False, vms=vms)


if __name__ == '__main__':
    main()
