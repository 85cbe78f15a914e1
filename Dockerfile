# The web pages' pinned front-end packages (GraphiQL, React, Swagger UI), from the npm registry.
FROM node:20-slim AS web
WORKDIR /web
COPY src/tagtrail/web/package.json src/tagtrail/web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --omit=dev

FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 \
    TAGTRAIL_MAPPINGS_DIR=/app/index_mappings TAGTRAIL_TAXONOMY_DIR=/app/taxonomy/default
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .
COPY index_mappings ./index_mappings
COPY taxonomy ./taxonomy
COPY --from=web /web/node_modules ./web_vendor
ENV TAGTRAIL_WEB_VENDOR_DIR=/app/web_vendor
EXPOSE 8000
CMD ["tagtrail", "serve", "--demo"]
