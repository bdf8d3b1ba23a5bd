#!/bin/sh
# migrate-engine-cancel.sh: migrate-cancel.sh with vmferry's storage
# engine: SIGINT during its bulk copy leaves the source VM running with
# no bitmap, export, NBD server or mirror left, and the destination clean
# (its data channel listener and receivers too).  --transport tcp: the
# channel without compression, so the bulk copy of the (compressible)
# prefilled data lasts long enough to be interrupted.  --no-resume: the
# destination keeps no partial image for a retry (migrate-resume.sh
# tests that), and the source no write record.
MIG_ENGINE=vmferry MIG_OPTS="--transport tcp --no-resume"
. "$(dirname "$0")/migrate-cancel.sh"
