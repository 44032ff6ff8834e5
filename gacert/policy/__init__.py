"""Stage 1, the policy: read a YAML file, check it against the schema and for
meaning, and build the frozen `gacert.model.Policy` every later stage reads.

Modules: `yamlsource` (YAML with positions, bounded), `quickschema` and `load`
(schema, then the model), `meaning` (what the schema cannot say), `expressions`
(the sandboxed rule language), `ruleshape` (where a rule compares the value
with a bound, read once per rule at load), `rulecheck` (what rules reveal
before a run), `thresholds` (those bounds under the run's params), `params`
(`--set`, `${ENV}`), `variables` (query templating), `promql` (PromQL parsing).
"""
