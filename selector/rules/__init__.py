"""The rules matrix: data (``matrix.yaml``), its JSON Schema, the closed condition vocabulary
and the compiled rule model that :mod:`selector.engine` evaluates.

Modules:

- :mod:`selector.rules.facts`: the facts a condition may name, taken from a profile;
- :mod:`selector.rules.conditions`: the closed operator set, compiled to plain callables;
- :mod:`selector.rules.model`: compiled rules and matrices (frozen dataclasses);
- :mod:`selector.rules.schema`: the JSON Schemas of the matrix file and of org overlays;
- :mod:`selector.rules.loading`: reading, validating and compiling the matrix and overlays.
"""
