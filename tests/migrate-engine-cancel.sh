#!/bin/sh
# migrate-engine-cancel.sh: migrate-cancel.sh with vmferry's storage
# engine: SIGINT during its bulk copy leaves the source VM running with
# no bitmap, export, NBD server or mirror left, and the destination clean
# (its data channel listener and receivers too).  --transport tcp: the
# channel without compression, so the bulk copy of the (compressible)
# prefilled data lasts long enough to be interrupted.
MIG_ENGINE=vmferry MIG_OPTS="--transport tcp"
. "$(dirname "$0")/migrate-cancel.sh"
