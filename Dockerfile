# syntax=docker/dockerfile:1
# The jishi image: the whole `jishi` CLI (collector, agent, token, recompute, export...), run by
# docker-compose.yml as the collector, the simulated lab and its agent. Build: docker build -t jishi:local .
#   docker run --rm jishi:local --help                       any jishi command
#   docker run --rm jishi:local token lab-pc-1               a token for an agent
# The sources are TypeScript. bin/jishi.mjs runs them as JavaScript that esbuild bundles into node_modules/.cache/jishi/
# (bin/bundle.mjs, docs/operations.md); this image builds that bundle at image build time, so a container never
# writes it. esbuild and tsx (the fallback, and the loader of deploy/docker/render-config.ts) are production
# dependencies.
#
# Build arguments:
#   NODE_IMAGE         base image of both stages (same libc for the native modules built in the first one)
#   NPM_REGISTRY       npm registry, e.g. a mirror (https://registry.npmmirror.com)
#   BUILD_FROM_SOURCE  true: compile better-sqlite3 from source instead of downloading its prebuilt binary from
#                      GitHub (for networks where that download fails); serialport ships its binaries in the package
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: production dependencies, native modules compiled or fetched for this platform ----------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ARG NPM_REGISTRY=https://registry.npmjs.org/
ARG BUILD_FROM_SOURCE=false
COPY package.json package-lock.json ./
RUN npm_config_registry="$NPM_REGISTRY" npm_config_build_from_source="$BUILD_FROM_SOURCE" \
    npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
# Fail the build here, not at the first start, when a native module does not load on this platform.
RUN node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
 && node -e "require('node-gyp-build')(require('path').dirname(require.resolve('@serialport/bindings-cpp/package.json')))" \
 && node -e "require('esbuild').transformSync('const x: number = 1', { loader: 'ts' })"

# ---- runtime: node, the production node_modules and the sources the CLI imports; no compiler ----------------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
LABEL org.opencontainers.image.title="jishi" \
      org.opencontainers.image.description="Instrument utilization monitoring: collector, agent and CLI" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /app/node_modules ./node_modules
COPY package.json ./
# Every top-level directory bin/jishi.mjs -> cli/main.ts imports (test/production-stack.test.ts checks the list).
COPY bin ./bin
COPY cli ./cli
COPY agent ./agent
COPY collector ./collector
COPY common ./common
COPY devices ./devices
# The image's entry point, config rendering and health check; the simulated lab of the compose profile `sim`.
COPY deploy/docker ./deploy/docker
COPY deploy/sim ./deploy/sim
# The bundle the CLI runs, built from the sources above (unchanged in the image, so it stays current), then tried.
RUN node bin/bundle.mjs && node bin/jishi.mjs --version
RUN chmod 0755 bin/jishi.mjs deploy/docker/entrypoint.sh \
 && ln -s /app/bin/jishi.mjs /usr/local/bin/jishi \
 && mkdir -p /var/lib/jishi /var/lib/jishi-agent /run/jishi \
 && chown node:node /var/lib/jishi /var/lib/jishi-agent /run/jishi \
 && chmod 0700 /run/jishi
# Not root: the user node (uid 1000) owns the data directories (named volumes take their ownership from here).
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.mjs"]
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
CMD ["collector", "--config", "/etc/jishi/collector.yaml", "--host", "0.0.0.0", "--data", "/var/lib/jishi"]
