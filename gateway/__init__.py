"""The reference gateway: a minimal, correct async LLM gateway.

One pooled upstream client owned by the app lifespan, typed settings validated at start-up,
a Redis response cache that never takes the gateway down with it, load shedding and Prometheus
metrics.
"""

from gateway.app import create_app
from gateway.settings import GatewaySettings

__all__ = ["GatewaySettings", "create_app"]
