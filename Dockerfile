# The worker image. Build context: the repository root.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY service ./service
RUN pip install --no-cache-dir ".[rocksdb]" && useradd --system --uid 10001 risk && mkdir -p /data && chown risk /data
USER risk
ENV RISK_DATA_DIR=/data RISK_WEB_HOST=0.0.0.0 RISK_WEB_PORT=6066
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,os;urllib.request.urlopen('http://127.0.0.1:%s/healthz'%os.environ.get('RISK_WEB_PORT','6066'),timeout=2)"
ENTRYPOINT ["risk-warnings"]
CMD ["worker"]
