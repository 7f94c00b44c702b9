# The image compose.yaml builds: one image, three commands (web, worker, beat).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY crisis crisis
COPY incidents incidents
COPY playbooks playbooks
COPY locale locale
COPY manage.py ./
RUN pip install . && useradd --system desk && mkdir -p var && chown desk var
USER desk
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
