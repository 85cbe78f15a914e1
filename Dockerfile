FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 \
    TAGTRAIL_MAPPINGS_DIR=/app/index_mappings TAGTRAIL_TAXONOMY_DIR=/app/taxonomy/default
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .
COPY index_mappings ./index_mappings
COPY taxonomy ./taxonomy
EXPOSE 8000
CMD ["tagtrail", "serve", "--demo"]
