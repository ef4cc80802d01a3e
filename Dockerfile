# The Breakeven service image: `breakeven` is the entrypoint, so one image runs every process of
# docker-compose.yml (web, scheduler, db upgrade) and the one-off commands (`check`, `calc`, `prices`).
# The dashboard's chart library comes from npm, as in `make install`; only its built file reaches the image.
FROM node:20-slim AS dashboard-assets
WORKDIR /dashboard
COPY service/dashboard/package.json service/dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package build reads, so that editing tests or workflows does not invalidate this layer.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY service ./service
COPY --from=dashboard-assets /dashboard/node_modules/chart.js/dist/chart.umd.min.js ./service/dashboard/node_modules/chart.js/dist/
RUN pip install . && rm -rf /build

# A fixed uid, so files written to a mounted volume have a predictable owner. The working folder is the
# user's own: without BREAKEVEN_API_KEYS the service keeps its generated key file there.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /app breakeven
USER breakeven
WORKDIR /app

EXPOSE 8000
# /readyz answers 200 only while the database answers; urlopen raises (exit 1) on 503 or no answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]

ENTRYPOINT ["breakeven"]
CMD ["web", "--host", "0.0.0.0", "--port", "8000"]
