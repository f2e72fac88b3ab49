# One image for the API, the worker and the one-shot migration job (docker-compose.yml picks the command).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx prisma generate && npx tsx scripts/build-workflow-bundle.ts dist/workflow-bundle.js
ENV NODE_ENV=production WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js API_HOST=0.0.0.0
USER node
# node itself is PID 1's command (no npm/npx shell in between), so `docker stop`'s SIGTERM reaches the graceful shutdown.
CMD ["node", "--import", "tsx", "api/index.ts"]
