"""`python -m gateway`: validate the environment, then serve with uvicorn (uvloop, httptools)."""

from __future__ import annotations

import gc
import logging
import sys

import uvicorn

from gateway.app import create_app
from gateway.protocol import CoalescingHttpToolsProtocol
from gateway.server import EXIT_GRACE_S, DrainingServer
from gateway.settings import SettingsError, load_settings

GC_GEN0_THRESHOLD = 20_000


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stdout,
        format="ts=%(created).3f level=%(levelname)s logger=%(name)s msg=%(message)s",
    )


def tune_garbage_collector() -> None:
    """Move start-up objects out of the collector's way and collect young objects less often.

    Every request allocates a few hundred short-lived objects; with the default gen-0 threshold
    of 700 the collector ran several times per request batch and showed in the p99.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 20, 20)


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=CoalescingHttpToolsProtocol,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=EXIT_GRACE_S,
    )
    tune_garbage_collector()
    DrainingServer(config, app.state.admission, settings.drain_seconds).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
