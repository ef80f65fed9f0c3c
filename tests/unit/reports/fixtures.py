"""The old home of `sample_result`, kept while tests outside this branch still import it from
here: new tests take the `make_result` fixture from `tests/unit/conftest.py`."""

from tests.unit.conftest import sample_result

__all__ = ["sample_result"]
