#!/bin/sh
# migrate-engine-cancel.sh: migrate-cancel.sh with vmferry's storage
# engine: SIGINT during its bulk copy leaves the source VM running with
# no bitmap, export, NBD server or mirror left, and the destination clean.
MIG_ENGINE=vmferry
. "$(dirname "$0")/migrate-cancel.sh"
