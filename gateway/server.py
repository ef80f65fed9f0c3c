"""uvicorn with a drain: what the gateway does between SIGTERM and exit.

On the first SIGTERM (or Ctrl-C) the gateway starts draining at once: `/ready` answers 503 so
load balancers stop sending, new API requests are refused with 503 and `Connection: close`, and
requests already in flight (streams included) run to completion. When none is left, or after
`DRAIN_SECONDS`, uvicorn shuts down: listeners close, the lifespan closes the upstream pool and
Redis, and the process exits 0. A second signal skips the rest of the drain.
"""

from __future__ import annotations

import logging
import time
from types import FrameType

import uvicorn

from gateway.middleware import Admission

log = logging.getLogger("gateway.server")

EXIT_GRACE_S = 2
"""uvicorn's own graceful timeout after the drain, for connections still closing."""


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, admission: Admission, drain_s: float) -> None:
        super().__init__(config)
        self.admission = admission
        self.drain_s = drain_s
        self.drain_started: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain_started is not None:  # second signal: stop waiting
            super().handle_exit(sig, frame)
            return
        self.drain_started = time.monotonic()
        self.admission.start_draining()
        log.info(
            "draining: signal=%d in_flight=%d drain_s=%.0f",
            sig,
            self.admission.in_flight,
            self.drain_s,
        )

    async def on_tick(self, counter: int) -> bool:
        if self.drain_started is not None and not self.should_exit:
            waited = time.monotonic() - self.drain_started
            if self.admission.in_flight == 0 or waited >= self.drain_s:
                log.info(
                    "drained: waited_s=%.2f still_in_flight=%d", waited, self.admission.in_flight
                )
                self.should_exit = True
        return await super().on_tick(counter)
