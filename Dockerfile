# syntax=docker/dockerfile:1
# Herald: one image for the demo services, the console/gateway and the exporter.
#
#   docker build -t herald:0.1.0 .
#   docker run --rm herald:0.1.0 --help                                   # the herald CLI
#   docker run --rm -e REDIS_URL=redis://redis:6379 herald:0.1.0 exporter --host 0.0.0.0
#   docker run --rm -e SERVICE=payment -e REDIS_URL=redis://redis:6379 \
#     --entrypoint node herald:0.1.0 build/examples/deploy/run-service.js
#
# Stage 1 compiles TypeScript to JavaScript (the library and CLI to dist/, the demo services
# to build/); stage 2 holds only that JavaScript, the production dependencies and Node, and
# runs as the unprivileged `node` user. No tsx, no TypeScript, no sources at run time.
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install` with the lock file installs the locked versions; npm 11's `npm ci` refuses a lock
# file without other platforms' optional packages (scripts/ensure-deps.sh).
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/build.mjs
COPY src src
COPY examples/saga examples/saga
COPY examples/deploy examples/deploy
COPY deploy/docker deploy/docker
# dist/: library + CLI (with its Lua scripts); build/: the demo services and what they import.
RUN node scripts/build.mjs \
  && node node_modules/typescript/bin/tsc -p deploy/docker/tsconfig.examples.json \
  && (cd src && find . -name '*.lua' -exec cp --parents {} ../build/src/ \;) \
  && cp -r examples/saga/lua build/examples/saga/lua \
  && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HEALTH_PORT=9090
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/build ./build
COPY --chown=root:root bin bin
COPY --chown=root:root deploy/prometheus deploy/prometheus
# Files owned by root and read-only to the process; it runs as `node` (uid 1000).
USER node
EXPOSE 8080 9090 9464
# Every role serves /healthz: set HEALTH_PORT to its port (exporter 9464, console 8080,
# services 9090). Kubernetes uses its own probes and ignores this.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.HEALTH_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/herald.mjs"]
CMD ["--help"]
