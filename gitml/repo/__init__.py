"""git, through dulwich: this package is the only part of gitml that imports dulwich.

- ``worktree``: the work tree — HEAD, dirty state, reading at a revision, committing a run's folder.
- ``tags``: reading and writing annotated tags (the registry's storage).
- ``transport``: talking to other repositories — ls-remote, fetching a few objects, pushing tags.
"""

from gitml.repo.worktree import GitRepo, SourceState, discover_root

__all__ = ["GitRepo", "SourceState", "discover_root"]
