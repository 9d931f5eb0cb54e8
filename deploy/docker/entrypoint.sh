#!/bin/sh
# Entry point of the jishi image (Dockerfile): runs the jishi CLI with the container's arguments,
#   docker run jishi:local collector --config ...     =  jishi collector --config ...
# after rendering a config template when JISHI_CONFIG_TEMPLATE names one: its ${VAR} values are replaced from the
# environment (deploy/docker/render-config.ts) and the result is written to JISHI_CONFIG (default
# /run/jishi/collector.yaml, readable by the container's user only), the file the command then reads. This is how
# docker-compose.yml gives the collector its token hashes from .env; see docs/production.md.
set -eu
if [ -n "${JISHI_CONFIG_TEMPLATE:-}" ]; then
  node --import tsx /app/deploy/docker/render-config.ts "$JISHI_CONFIG_TEMPLATE" "${JISHI_CONFIG:-/run/jishi/collector.yaml}"
fi
exec node /app/bin/jishi.mjs "$@"
