"""Stage 2, the engine: resolve the window, plan the queries, fetch them through
the sources concurrently, evaluate the rules and write the results document.

Modules, in the order a run uses them: `window`, `plan`, `fetch`, `evaluate`,
`results`; `run` wires them together.
"""
