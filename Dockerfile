# syntax=docker/dockerfile:1
# external-oauth-apps: two stages. `deps` installs the production dependencies (better-sqlite3 builds its
# native addon there when no prebuilt binary fits); the runtime stage copies them with the source and runs
# as the unprivileged `node` user. TypeScript runs through tsx, a production dependency: there is no build.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Node's headers ship in the image (/usr/local/include/node): node-gyp uses them instead of downloading them.
ENV npm_config_nodedir=/usr/local
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=19999 \
    EOA_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
# /data holds the SQLite file and key file when no DATABASE_URL is given; owned by the user that runs.
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
VOLUME ["/data"]
EXPOSE 19999
# Readiness, not liveness: /readyz makes one database round trip (503 while the database is unreachable).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 19999) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/app/bin/container-entrypoint.sh"]
CMD ["serve"]
