# The jishi collector (and CLI). Build: docker build -t jishi .
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY cli ./cli
COPY common ./common
COPY agent ./agent
COPY collector ./collector
COPY devices ./devices
RUN mkdir -p /var/lib/jishi && chown node:node /var/lib/jishi
USER node
VOLUME ["/var/lib/jishi"]
EXPOSE 8080
ENTRYPOINT ["node", "bin/jishi.mjs"]
CMD ["collector", "--config", "/etc/jishi/collector.yaml"]
