# One image for every Recado process (web, worker, beat, relay, migrate): docker-compose.yml
# picks the command. Static files need no collectstatic step: WhiteNoise serves them via finders.
FROM python:3.11-slim

# RECADO_ENV_FILE="": configuration comes from the container environment only, never from a
# .env file inside the image (settings.py would otherwise read /app/.env).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    RECADO_ENV_FILE=""

WORKDIR /app

# An unprivileged user with a real home.
RUN groupadd --system --gid 10001 recado \
    && useradd --system --uid 10001 --gid recado --create-home --home-dir /home/recado --shell /usr/sbin/nologin recado

# Dependencies first, so code changes reuse this layer.
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt

# The code stays owned by root (read-only for the app); only var/ is writable.
COPY . .
RUN mkdir -p var/static var/media && chown -R recado:recado var

# Numeric, so orchestrators can verify the user is not root (runAsNonRoot).
USER 10001:10001

EXPOSE 8000
# Through sh, so the script needs no executable bit from the checkout.
ENTRYPOINT ["/bin/sh", "/app/docker/entrypoint.sh"]
CMD ["granian", "config.wsgi:application", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--blocking-threads", "16", "--backpressure", "32", "--no-ws", "--access-log", "--log-config", "config/granian_logging.json"]
