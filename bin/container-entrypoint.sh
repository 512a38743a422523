#!/bin/sh
# Container entry point. Secrets mounted as files (compose or Kubernetes secrets) become the variables the
# service reads, so they are not set in the container's configuration, where `inspect` would show them:
#   EOA_MASTER_KEY_FILE -> EOA_MASTER_KEY;  PGPASSWORD_FILE -> PGPASSWORD (pg uses it when DATABASE_URL has no password).
# Then node replaces this shell, so SIGTERM reaches the service and it drains before exiting.
set -eu
if [ -z "${EOA_MASTER_KEY:-}" ] && [ -n "${EOA_MASTER_KEY_FILE:-}" ]; then
  EOA_MASTER_KEY=$(cat "${EOA_MASTER_KEY_FILE}")
  export EOA_MASTER_KEY
fi
if [ -z "${PGPASSWORD:-}" ] && [ -n "${PGPASSWORD_FILE:-}" ]; then
  PGPASSWORD=$(cat "${PGPASSWORD_FILE}")
  export PGPASSWORD
fi
unset EOA_MASTER_KEY_FILE PGPASSWORD_FILE
# The memory settings of `npm start` (docs/performance.md, "Memory"): glibc's malloc, unless set, with few
# arenas and large blocks (scrypt's 16 MB) given back on free rather than kept per thread; V8's young
# generation at 4 MB a half instead of 16.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
exec node --max-semi-space-size=4 --import tsx src/main.ts "$@"
