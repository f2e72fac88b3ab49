# One image for the API, the worker and the one-shot migration job (docker-compose.yml picks the command).
# Build stage: every dependency, the Prisma client, TypeScript compiled to dist/, the prebuilt workflow bundle.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx prisma generate && npm run build

# Runtime stage: production dependencies and the compiled output only, as a non-root user.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js API_HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY prisma/migrations ./prisma/migrations
# The inbound spool's directory (INBOUND_SPOOL_DIR), owned by the user the service runs as: a named volume mounted on it
# takes this ownership when it is first created, where a directory Docker made itself would be root's.
RUN mkdir -p /app/.data/inbound-spool && chown -R node:node /app/.data
USER node
# node itself is PID 1's command (no npm/npx shell in between), so `docker stop`'s SIGTERM reaches the graceful shutdown.
CMD ["node", "dist/api/index.js"]
