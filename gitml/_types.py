"""Type aliases shared across the package."""

from __future__ import annotations

import os
from typing import TypeAlias

StrPath: TypeAlias = "str | os.PathLike[str]"
Scalar: TypeAlias = "str | int | float | bool | None"
