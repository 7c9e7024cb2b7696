# cellworker in place of the Cellenics worker pod (see README "Running in today's Cellenics").
# The base image only provides npm: the project runs on Node 24, which `npm ci` installs into
# node_modules/.bin/node from the npm registry (the `node` package, pinned by the lock file).
# `node` is a production dependency, so NODE_ENV=production (no devDependencies) still brings it.
#
# There is no Docker on the development machines or in CI: the image build is not run there.
# test/docker-install.test.ts (in `npm test`) reads this file and runs its install step below,
# with this ENV, on a copy of package.json and package-lock.json, and checks that it yields
# node_modules/.bin/node >= 24. Keep the install in one `RUN npm ci … && …` step.
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production \
    CELLWORKER_LOG_FORMAT=json \
    CELLWORKER_DATA_DIR=/data/experiments \
    CELLWORKER_CACHE_DIR=/data/cache

COPY package.json package-lock.json ./
# Install scripts are off except the `node` package's, which brings Node 24 (package.json
# "allowScripts" says the same for local installs). `npm cache clean` only slims the image.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild node \
 && node_modules/.bin/node --version \
 && npm cache clean --force

# The image runs the worker only: src/ and the bin wrapper (no scripts/, tools/ or tests).
COPY bin ./bin
COPY src ./src

# /data: experiment files and processed-state caches (an emptyDir in the pod, as the original's)
RUN mkdir -p /data && chown node:node /data
USER node

# `serve` is configured by environment variables and the pod's labels file (/etc/podinfo/labels)
CMD ["node_modules/.bin/node", "src/cli.ts", "serve"]
