#!/bin/sh
# ansible-migrate.sh: the Ansible module vmferry_migrate, run by the
# real ansible-playbook (Debian's ansible-core, local connection) in
# the source namespace, against a vmferryd in the destination one.
#   1. check mode: vmferry check runs (not the module's own preflight):
#      changed (a move would happen), nothing moves;
#   2. an unreachable destination: the task fails with exit_code 2, its
#      meaning, and vm_location "source"; the VM still runs here;
#   3. the example playbook vmferry.migration.evacuate_host stops at
#      the first failure: a dead VM socket sorted first fails, the play
#      fails, and ans1 is not attempted (still here, nothing on the
#      destination);
#   4. the playbook moves the VM: changed,
#      result "migrated", the summary's fields; the guest verifies its
#      disk and memory on the destination, check-image accepts the
#      destination image, and the VM runs on exactly one host;
#   5. after vmferryd on the destination was killed and restarted, the
#      module again, the VM named but given as a socket path that is not
#      here: changed=false, "already on the destination", dest_state
#      running (the agent's inventory, GET /v1/vms, by name);
#   6. vmferry_vm_info on the destination lists ans1 running, received
#      from the source; with another name, an empty list.

. "${VMFERRY_BUILDDIR:-.}/tests/functions.sh"
. "$abs_top_srcdir/tests/mig-functions.sh"

if ! command -v ansible-playbook > /dev/null; then
  echo "$0: SKIP: ansible-playbook is not installed (Debian: ansible-core)"
  exit 77
fi
guest_test_init
mig_hosts
mig_start_vmferryd
coll="$abs_top_srcdir/contrib/ansible"
evacuate=vmferry.migration.evacuate_host

src="$TEST_DIR/src"
vms="$TEST_DIR/vms"
img="$src/disk0.qcow2"
mkdir -p "$src" "$vms"
disk_create "$img" 1G 100
vm_start "$src" ans1 "$SRC_NS" "$img" vmferry.disk_rate=100
src_pid=$VM_PID
ln -s "$src/qmp.sock" "$vms/ans1.qmp"
vm_wait_ready "$src"
vm_wait_ack "$src" 10

# One task: the module on VM ans1 of $vms, to DEST.
cat > "$TEST_DIR/one.yml" <<YML
- hosts: localhost
  gather_facts: false
  tasks:
    - name: move
      vmferry.migration.vmferry_migrate:
        vm: ans1
        vm_dir: "$vms"
        to: "{{ dest }}"
        tls_dir: "$SRC_TLS"
        vmferry: "$abs_top_builddir/cmd/vmferry"
      register: r
      ignore_errors: true
    - name: save
      check_mode: false
      ansible.builtin.copy:
        content: "{{ r | to_nice_json }}"
        dest: "$TEST_DIR/r.json"
YML
# The example playbook, then its registered results saved.
cat > "$TEST_DIR/evacuate.yml" <<YML
- import_playbook: "$evacuate"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: save
      check_mode: false
      ansible.builtin.copy:
        content: "{{ evacuated[0] | to_nice_json }}"
        dest: "$TEST_DIR/r.json"
YML

# play PLAYBOOK ARG...: run it in SRC_NS; the module's result in r.json,
#   the output in play.out, exit status in PLAY_RC.
play ()
{
  ip netns exec "$SRC_NS" env HOME="$TEST_DIR" \
    ANSIBLE_COLLECTIONS_PATH="$coll" \
    ANSIBLE_LOCAL_TEMP="$TEST_DIR/ansible-tmp" ANSIBLE_NOCOLOR=1 \
    PATH="$abs_top_builddir/cmd:$PATH" \
    ansible-playbook -i localhost, -c local \
      -e ansible_python_interpreter=/usr/bin/python3 "$@" \
      > "$TEST_DIR/play.out" 2>&1
  PLAY_RC=$?
  echo "ansible-playbook $*: exit $PLAY_RC"
  [ "$PLAY_RC" = 0 ] || { cat "$TEST_DIR/play.out"; fail "ansible-playbook failed"; }
}
field () { jq -r ".$1" "$TEST_DIR/r.json"; }
show () { jq -c "$1" "$TEST_DIR/r.json"; }

rm -f "$TEST_DIR/r.json"
play "$TEST_DIR/one.yml" --check -e "dest=$DST_IP"
show '{changed, failed, result, vm_location}'
[ "$(field changed)" = true ] || fail "check mode: not changed"
[ "$(field failed)" = false ] || fail "check mode: failed"
field result | grep -q preflight &&
  fail "check mode did not use vmferry check: $(field result)"
vm_running "$src" || fail "check mode moved the VM"
# check mode made nothing on the destination: no file in either root,
# no QEMU.
mig_dest_clean

rm -f "$TEST_DIR/r.json"
play "$TEST_DIR/one.yml" -e "dest=$DST_IP:1"
show '{failed, exit_code, meaning, vm_location, msg}'
[ "$(field failed)" = true ] || fail "a migration to a closed port succeeded"
[ "$(field exit_code)" = 2 ] || fail "exit_code is not 2"
[ "$(field vm_location)" = source ] || fail "vm_location is not source"
field meaning | grep -q '^refused' || fail "no meaning for exit 2"
field msg | grep -q 'could not connect' || fail "msg lacks the reason"
vm_running "$src" || fail "the VM stopped after a refused migration"

# A socket nobody listens on, sorted before ans1: its move fails.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
  "$vms/ans0.qmp" || fail "making a dead socket"
ip netns exec "$SRC_NS" env HOME="$TEST_DIR" \
  ANSIBLE_COLLECTIONS_PATH="$coll" ANSIBLE_LOCAL_TEMP="$TEST_DIR/ansible-tmp" \
  ANSIBLE_NOCOLOR=1 PATH="$abs_top_builddir/cmd:$PATH" \
  ansible-playbook -i localhost, -c local \
  -e ansible_python_interpreter=/usr/bin/python3 "$TEST_DIR/evacuate.yml" \
  -e "evacuate_to=$DST_IP" -e "vm_dir=$vms" -e "tls_dir=$SRC_TLS" \
  > "$TEST_DIR/play.out" 2>&1 && fail "the evacuation with a dead VM succeeded"
grep -q 'the VMs after it were not attempted' "$TEST_DIR/play.out" ||
  { cat "$TEST_DIR/play.out"; fail "the play did not stop at the first failure"; }
grep -q 'Move .*/ans1.qmp' "$TEST_DIR/play.out" && fail "ans1 was attempted"
vm_running "$src" || fail "ans1 stopped after another VM failed"
mig_dir_empty "$DST_RUN" || fail "the destination got something"
rm -f "$vms/ans0.qmp"

rm -f "$TEST_DIR/r.json"
play "$TEST_DIR/evacuate.yml" -e "evacuate_to=$DST_IP" -e "vm_dir=$vms" \
  -e "tls_dir=$SRC_TLS"
show '{changed, result, exit_code, vm, total_s, downtime_ms, qmp, vm_location}'
[ "$(field changed)" = true ] || fail "not changed"
[ "$(field result)" = migrated ] || fail "not migrated"
[ "$(field vm)" = ans1 ] || fail "summary: wrong vm"
[ "$(field vm_location)" = destination ] || fail "vm_location is not destination"
dst="$DST_RUN/ans1"
[ "$(field qmp)" = "$dst/qmp.sock" ] || fail "summary: wrong qmp"

pid_alive "$src_pid" && fail "the source QEMU still runs"
dst_pid=$(vm_pid "$dst") || fail "no QEMU runs on the destination"
ip netns identify "$dst_pid" | grep -qx "$DST_NS" ||
  fail "the destination QEMU runs outside $DST_NS"

kill -9 "$VMFERRYD_PID"
mig_start_vmferryd
sed -i "s|vm: ans1$|vm: $TEST_DIR/gone/ans1.qmp\\n        name: ans1|" \
  "$TEST_DIR/one.yml"
sed -i 's|\\n|\n|' "$TEST_DIR/one.yml"
grep -q "name: ans1" "$TEST_DIR/one.yml" || fail "one.yml not rewritten"
rm -f "$TEST_DIR/r.json"
play "$TEST_DIR/one.yml" -e "dest=$DST_IP"
show '{changed, failed, result, vm_location, dest_state}'
[ "$(field changed)" = false ] || fail "second run: changed"
[ "$(field failed)" = false ] || fail "second run: failed"
[ "$(field result)" = "already on the destination" ] ||
  fail "second run: wrong result"
[ "$(field dest_state)" = running ] || fail "second run: no dest_state"

# vmferry_vm_info NAME: run on the destination; its vms in r.json.
cat > "$TEST_DIR/info.yml" <<YML
- hosts: localhost
  gather_facts: false
  tasks:
    - name: info
      vmferry.migration.vmferry_vm_info:
        name: "{{ vm }}"
        vm_dir: "$DST_VMS"
        vmferry: "$abs_top_builddir/cmd/vmferry"
      register: r
    - name: save
      ansible.builtin.copy:
        content: "{{ r | to_nice_json }}"
        dest: "$TEST_DIR/r.json"
YML
SRC_NS_SAVED=$SRC_NS SRC_NS=$DST_NS
play "$TEST_DIR/info.yml" -e vm=ans1
show '.vms'
[ "$(jq -r '.vms[0].state' "$TEST_DIR/r.json")" = running ] ||
  fail "vmferry_vm_info does not show ans1 running"
[ "$(jq -r '.vms[0].received.from' "$TEST_DIR/r.json")" = "$SRC_IP" ] ||
  fail "vmferry_vm_info does not say where ans1 came from"
play "$TEST_DIR/info.yml" -e vm=nosuch
[ "$(jq -r '.vms | length' "$TEST_DIR/r.json")" = 0 ] ||
  fail "vmferry_vm_info lists a VM of another name"
SRC_NS=$SRC_NS_SAVED

last=$(vm_last_ack "$src")
vm_wait_ack "$dst" $((last + 10)) 60
vm_verify "$dst" 120 || fail "guest verdict on the destination: $VM_VERDICT"
vm_stop "$dst"
vm_check_image "$DST_STORAGE/ans1/disk0.qcow2" "$src/console.log" \
  "$dst/console.log" || fail "check-image rejected the destination image"
exit 0
