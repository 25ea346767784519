#!/usr/bin/env bash
# Instructions per acknowledged WebSocket mutation (bench/ws_ack_path.py under callgrind):
# the difference between a run of 2,000 and one of 12,000 acks, over 10,000, so start-up and
# imports cancel out. Deterministic, so it compares two checkouts on a busy machine:
#   bench/ws_ack_instructions.sh                 # this checkout
#   bench/ws_ack_instructions.sh /path/to/other  # another checkout, same .venv
exec "$(dirname "$0")/count_instructions.sh" ws_ack_path.py 2000 12000 10000 \
  "instructions per ack" "${1:-}"
