"""Results, aggregation and rendering: everything after the load has been generated.

`result.RunResult` is the contract between the harness and the reports: a report is rendered
from a result file alone, without Docker and without live objects.
"""
