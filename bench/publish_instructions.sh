#!/usr/bin/env bash
# Instructions per delivered SSE event (bench/publish_path.py under callgrind): the difference
# between a run of 100 and one of 400 rounds (4 publishes to 100 streams each), over the
# 120,000 deliveries between them, so start-up and imports cancel out. Deterministic, so it
# compares two checkouts on a busy machine:
#   bench/publish_instructions.sh                 # this checkout
#   bench/publish_instructions.sh /path/to/other  # another checkout, same .venv
exec "$(dirname "$0")/count_instructions.sh" publish_path.py 100 400 120000 \
  "instructions per delivery" "${1:-}"
