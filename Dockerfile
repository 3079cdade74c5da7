# syntax=docker/dockerfile:1
# The HuskyVoice sandbox, its contract kit and drift, in one image (README, "Docker").
#
#   docker build -t huskyvoice-sandbox .
#   docker run --rm -p 8080:8080 huskyvoice-sandbox
#
# The entry point is the `huskyvoice-sandbox` command: `serve` by default; `contract`, `drift`,
# `mirror`, `validate` and `health` work the same way (docker run --rm huskyvoice-sandbox --help).
# Every option of `serve` can also be set with HUSKYVOICE_SANDBOX_* variables (docs/docker.md).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: the package and the contract kit's libraries, in a virtual environment ---------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/huskyvoice-sandbox
WORKDIR /src
COPY pyproject.toml README.md LICENSE openapi.yaml ./
COPY fixtures/ fixtures/
COPY sandbox/ sandbox/
COPY contract_tests/ contract_tests/
# The contract extra (pytest, Schemathesis) makes `contract` work from the same image. pip and
# setuptools are not needed at run time.
RUN /opt/huskyvoice-sandbox/bin/pip install ".[contract]" \
 && /opt/huskyvoice-sandbox/bin/pip uninstall --yes pip setuptools

# -- run: the environment alone, as a user without privileges -------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="huskyvoice-sandbox" \
      org.opencontainers.image.description="A stateful sandbox and contract test kit for the HuskyVoice appointments API" \
      org.opencontainers.image.licenses="MIT"
RUN useradd --uid 10001 --user-group --home-dir /home/sandbox --create-home \
      --shell /usr/sbin/nologin sandbox
COPY --from=build /opt/huskyvoice-sandbox /opt/huskyvoice-sandbox
# Bound to every interface (a published port reaches it); the access log on stdout. The control
# API stays closed to everyone outside the container until the operator opens it with
# HUSKYVOICE_SANDBOX_ADMIN_TOKEN or HUSKYVOICE_SANDBOX_CONTROL_FROM.
ENV PATH=/opt/huskyvoice-sandbox/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HUSKYVOICE_SANDBOX_HOST=0.0.0.0 \
    HUSKYVOICE_SANDBOX_PORT=8080 \
    HUSKYVOICE_SANDBOX_LOG_STREAM=stdout
USER sandbox
WORKDIR /home/sandbox
EXPOSE 8080
# `health` asks the server in this container, with its own settings (port, admin token).
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["huskyvoice-sandbox", "health"]
# PID 1 is the sandbox itself: it stops on SIGTERM (docker stop) in well under 2 s.
ENTRYPOINT ["huskyvoice-sandbox"]
CMD ["serve"]
