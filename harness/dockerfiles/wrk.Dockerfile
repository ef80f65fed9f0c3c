# The benchmark's load generator: Debian's wrk, on the same private network as its targets.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk \
 && rm -rf /var/lib/apt/lists/*
COPY harness/dockerfiles/post.lua /bench/post.lua
USER 65534:65534
