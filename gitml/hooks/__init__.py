"""The git hooks gitml installs, and what each one does when git runs it.

- ``scripts``: the hook files themselves (pure): tiny POSIX sh shims that call ``gitml hooks run``.
- ``install``: putting them in place (chaining to hooks already there), taking them out, status.
- ``runner``: ``gitml hooks run NAME ARGS...``: run the replaced hook, then gitml's part.
- ``prepush``: push the artifacts of the commits being pushed to the default gitml remote.
- ``checkout``: after a checkout or merge, report (or pull) artifacts missing from the cache.
- ``precommit``: refuse large binaries staged into git and ``.gitml/`` files that do not parse.
"""

from gitml.hooks.scripts import CHAINED_SUFFIX, HOOK_NAMES

__all__ = ["CHAINED_SUFFIX", "HOOK_NAMES"]
