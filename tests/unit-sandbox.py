#!/usr/bin/python3
# unit-sandbox.py UNIT COMMAND...: run COMMAND under the restrictions of
# the systemd unit file UNIT that a process can impose on itself, as
# systemd would on the service's main process (and so on every child it
# starts): SystemCallFilter= (the groups resolved by systemd-analyze
# syscall-filter, deny lists removed from the allow list),
# SystemCallErrorNumber=, RestrictAddressFamilies= (socket() families),
# CapabilityBoundingSet=, NoNewPrivileges=.  For a test where PID 1 is
# not systemd: it shows that the unit's filters let the agent and its
# QEMUs work.  Not imitated: the mount options (ProtectSystem=, ...) and
# the device policy, which need systemd's namespace and cgroup set-up.
# Needs python3-seccomp and systemd-analyze; exit 77 without them.
import ctypes
import errno
import os
import re
import subprocess
import sys

try:
    import seccomp
except ImportError:
    print('unit-sandbox.py: python3-seccomp is not installed', file=sys.stderr)
    sys.exit(77)

CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER',
        'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
        'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST',
        'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
        'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
        'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
        'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
        'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
        'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
        'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
        'CAP_CHECKPOINT_RESTORE']
FAMILIES = {'AF_UNIX': 1, 'AF_INET': 2, 'AF_INET6': 10, 'AF_NETLINK': 16,
            'AF_PACKET': 17, 'AF_VSOCK': 40}
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38


def service_settings(path):
    """The [Service] settings of the unit: name -> list of values."""
    settings, section = {}, None
    for line in open(path):
        line = line.strip()
        if line.startswith('['):
            section = line
        elif section == '[Service]' and '=' in line and line[0] != '#':
            k, v = line.split('=', 1)
            settings.setdefault(k, []).append(v)
    return settings


_groups = {}


def expand(name):
    """A syscall, or a group's syscalls (recursively)."""
    if not name.startswith('@'):
        return {name}
    if name not in _groups:
        out = subprocess.run(['systemd-analyze', 'syscall-filter', name],
                             capture_output=True, text=True,
                             check=True).stdout
        items = set()
        for line in out.splitlines()[1:]:
            line = line.strip()
            if line and not line.startswith('#'):
                items |= expand(line)
        _groups[name] = items
    return _groups[name]


def allowed_syscalls(values):
    allow, deny = set(), set()
    for v in values:
        target = deny if v.startswith('~') else allow
        for name in v.lstrip('~').split():
            target |= expand(name)
    return allow - deny


def apply(settings):
    libc = ctypes.CDLL(None, use_errno=True)
    keep = set()
    for v in settings.get('CapabilityBoundingSet', []):
        keep |= set(v.split())
    if keep:
        for n, cap in enumerate(CAPS):
            if cap not in keep and libc.prctl(PR_CAPBSET_DROP, n, 0, 0, 0):
                if ctypes.get_errno() != errno.EINVAL:
                    raise OSError(ctypes.get_errno(), 'drop ' + cap)
    if settings.get('NoNewPrivileges', ['no'])[-1] == 'yes':
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):
            raise OSError(ctypes.get_errno(), 'no_new_privs')
    calls = allowed_syscalls(settings.get('SystemCallFilter', []))
    if not calls:
        return
    err = getattr(errno, settings.get('SystemCallErrorNumber',
                                      ['EPERM'])[-1])
    f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(err))
    families = [FAMILIES[a] for v in settings.get('RestrictAddressFamilies', [])
                for a in v.split()]
    for name in sorted(calls):
        try:
            if name == 'socket' and families:
                for fam in families:
                    f.add_rule(seccomp.ALLOW, name,
                               seccomp.Arg(0, seccomp.EQ, fam))
            else:
                f.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError, OSError):
            pass                # not a call of this architecture
    f.load()


def main():
    unit, argv = sys.argv[1], sys.argv[2:]
    apply(service_settings(unit))
    os.execvp(argv[0], argv)


if __name__ == '__main__':
    main()
