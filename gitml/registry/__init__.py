"""The model registry on annotated git tags (docs/registry.md).

- ``grammar``: names, versions, stages, tag names and ``models:/`` URIs (pure).
- ``events``: what a tag says (its name and machine-readable message).
- ``state``: the registry as the tags say it is, over any tag source (lazy).
- ``ops``: register, promote, demote, deprecate (one new tag each; never moved).
- ``query``: models list / show / history, check-ref, search.
- ``get``: resolving ``models:/`` in a clone or from a URL, and downloading.
- ``fluent``: the Python API re-exported by ``gitml`` (register_model, promote, ...).
"""
