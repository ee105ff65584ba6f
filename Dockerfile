# A runnable image of `turnout serve`. Production settings come from the environment:
# TURNOUT_DATABASE_URL, TURNOUT_MASTER_KEY, TURNOUT_PROVIDER_WEBHOOK_SECRET and TURNOUT_BROKER_URL
# (see README.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TURNOUT_ENV=production
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY platform ./platform
COPY tenants ./tenants
COPY migrations ./migrations
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 turnout
# migrations/ and alembic.ini stay in /app, where `turnout migrate` looks for them.
USER turnout
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["turnout", "serve", "--host", "0.0.0.0", "--port", "8000"]
