#!/bin/sh
# Like the official image: started with no config file, Redis listens on every interface of its
# container without protected mode, so the other containers of the network can reach it.
set -e
if [ "${1:-}" = "redis-server" ]; then
    shift
    exec redis-server --protected-mode no "$@"
fi
exec "$@"
