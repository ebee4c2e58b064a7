#!/bin/sh
# Every Recado container starts here, then becomes its command (exec: signals reach it directly).
set -eu

# Prometheus multiprocess mode (the web process sets PROMETHEUS_MULTIPROC_DIR, as in the Procfile):
# the directory must exist and start empty, or samples of a previous run's processes are summed in.
# `make run` does the same before starting the Procfile.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

exec "$@"
