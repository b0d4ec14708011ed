# syntax=docker/dockerfile:1
# One Dockerfile for every service: they differ only in which workspace package they install and run.
# compose.yaml passes SERVICE (the package) and MODULE (what `python -m` runs); the gateway uses the
# `gateway` target, which adds the built frontend.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY proto proto
COPY libs libs
COPY deploy/local deploy/local
COPY services services
# Only this service's dependencies, installed (not linked) so the venv stands alone.
RUN uv sync --frozen --no-dev --no-editable --package "${SERVICE}"

FROM node:20-slim AS frontend
WORKDIR /frontend
COPY frontend/ ./
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
RUN npm ci --no-audit --no-fund && npm run build

FROM ${PYTHON_IMAGE} AS service
ARG SERVICE
ARG MODULE
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH SERVICE_NAME=${SERVICE} SERVICE_MODULE=${MODULE} PYTHONUNBUFFERED=1
USER 10001
HEALTHCHECK --interval=10s --timeout=5s --retries=3 CMD python -m contracts.health "$SERVICE_NAME"
CMD ["sh", "-c", "exec python -m \"$SERVICE_MODULE\""]

FROM service AS gateway
COPY --from=frontend /frontend/dist /app/frontend/dist
ENV GATEWAY_FRONTEND_DIST=/app/frontend/dist
EXPOSE 8000
