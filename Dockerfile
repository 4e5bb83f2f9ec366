# The remediation receiver: `receiver serve` for the Helm chart in charts/,
# `receiver heartbeat` for pods' heartbeat sidecars.
#
#   docker build -t remediation-receiver:0.1.0 .
#
# Two stages: the build stage installs the package into a virtual
# environment; the runtime stage copies only that environment, so no build
# tools or pip caches ship.

FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/receiver
WORKDIR /src
COPY pyproject.toml README.md ./
COPY receiver ./receiver
RUN /opt/receiver/bin/pip install .

FROM python:3.12-slim
# No .pyc writes: the chart runs the container with a read-only root filesystem.
ENV PATH=/opt/receiver/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 receiver \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin receiver
COPY --from=build /opt/receiver /opt/receiver
# Numeric, so that Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["receiver"]
CMD ["serve", "--help"]
