# syntax=docker/dockerfile:1
# Multi-stage: build a wheel with its dependencies, then a slim runtime as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY chipin ./chipin
RUN python -m build --wheel --outdir /dist && \
    pip wheel --no-cache-dir --wheel-dir /dist /dist/chipin-*.whl

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CHIPIN_ENV=production LOG_JSON=true \
    DATABASE_URL=sqlite:////data/chipin.db
RUN groupadd --system chipin && useradd --system --gid chipin --home /app chipin && \
    mkdir -p /data /app && chown chipin:chipin /data /app
COPY --from=build /dist /dist
RUN pip install --no-cache-dir --no-index --find-links /dist chipin && rm -rf /dist
USER chipin
WORKDIR /app
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# `chipin serve` migrates an empty database; run `chipin db upgrade` before deploying a new version.
CMD ["chipin", "serve", "--host", "0.0.0.0", "--port", "8000"]
