# Stand-in for the official Redis image where no registry is reachable: Debian's redis-server.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/*
COPY harness/dockerfiles/redis-entrypoint.sh /usr/local/bin/redis-entrypoint.sh
WORKDIR /var/lib/redis
USER redis
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/redis-entrypoint.sh"]
CMD ["redis-server"]
