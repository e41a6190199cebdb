# One image for web, worker, beat and the Webex emulator (docker-compose.yml picks the command).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Throwaway build-time secrets: collectstatic must run with DEBUG off so the hashed manifest
# that production serves is written. They are not kept in the image's environment.
RUN DJANGO_DEBUG=false DJANGO_SECRET_KEY=build-only-not-a-secret-$(date +%s)-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx \
    PORTAL_ENCRYPTION_KEYS=build:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput \
    && useradd --system --uid 1000 portal && mkdir -p /app/var && chown portal /app/var
USER portal
EXPOSE 8000
# The same gunicorn limits as docker-compose.yml's web service (why: see there).
CMD ["gunicorn", "byods_portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--timeout", "30", "--graceful-timeout", "30", \
     "--max-requests", "1000", "--max-requests-jitter", "100", "--access-logfile", "-"]
