"""Generated GA-day data and a local Prometheus serving it.

`gaday` writes the metrics of the metrics contract as OpenMetrics, with
optional faults; `prometheus` backfills them and runs a real Prometheus on
127.0.0.1. Tests use both; `python -m gacert.demo` runs the whole demo.
Nothing here is imported by `gacert` itself.
"""
