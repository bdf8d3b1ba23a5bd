#!/bin/sh
# migrate-relay-multifd.sh: migrate-relay.sh with --channels 2: both
# QEMUs use multifd with 2 channels, and each of the source QEMU's 3
# connections (main + 2 multifd) is relayed over its own stream of the
# data channel, compressed, into the skeleton.
MIG_CHANNELS=2
. "$(dirname "$0")/migrate-relay.sh"
