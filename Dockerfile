# syntax=docker/dockerfile:1
# One image for the API, the worker and the development mail sink. The compose.yaml services choose
# between them with `command`.
#
#   docker build -t fastapi-arq-template .
#   docker run --rm -p 8000:8000 -e REDIS_URL=redis://host:6379/0 -e ADMIN_TOKEN=... fastapi-arq-template
#   docker run --rm -e REDIS_URL=... fastapi-arq-template arq jobs.WorkerSettings

# ---- build: the runtime dependencies in a venv, exactly as uv.lock pins them (with their hashes) -------
FROM python:3.11-slim AS build

# The same uv as scripts/_bootstrap.py (UV_VERSION), from PyPI like every other package.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --disable-pip-version-check uv==0.13.8

# Bytecode compiled at build time (the app user cannot write __pycache__ at run time); files copied out
# of the cache mount rather than linked to it; never a downloaded Python: the image's own.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv

WORKDIR /src
# The dependency files and the arqkit package, bind-mounted: this layer stays cached until they change.
# --no-default-groups: no test or bench tools, no embedded Redis (compose runs the redis image).
# --no-install-project: the service's own code lives only in /app, so there is one copy of it (`arq`
# appends the working directory to sys.path, and a copy in site-packages would win over /app).
# --no-editable: arqkit, the machinery, is installed into the venv as a package would be from PyPI.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=packages,target=packages \
    uv sync --frozen --no-default-groups --no-install-project --no-editable

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
RUN python -m compileall -q /app

USER 10001:10001

EXPOSE 8000

# The worker: `arq jobs.WorkerSettings`. Both handle SIGTERM (exec form: the process is PID 1).
# --no-proxy-headers: TRUSTED_PROXIES alone decides whose X-Forwarded-For the API believes.
# --http arqkit.web.server:HttpProtocol: header size, count and read-time limits, connections per address
# and per process below the open-file limit (it raises the soft limit to the hard one itself);
# --limit-concurrency: connections and requests per process (uvicorn counts open event streams and long
# polls as requests: 2000 leaves room beside JOB_EVENTS_MAX_STREAMS, 1000, and JOB_WAIT_MAX_POLLS, 200);
# --timeout-keep-alive: seconds an idle keep-alive connection stays open.
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers", \
     "--http", "arqkit.web.server:HttpProtocol", "--limit-concurrency", "2000", "--timeout-keep-alive", "5"]
