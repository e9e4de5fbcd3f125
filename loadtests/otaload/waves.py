"""The waves scenario's steps, as plain arithmetic (no Locust here: tests import it)."""

from __future__ import annotations

import math


def wave_users(elapsed_s: float, users: int, waves: int, wave_s: float) -> int:
    """Users wanted `elapsed_s` into the run: one more step each `wave_s`, all after `waves`."""
    step = min(waves, int(elapsed_s // wave_s) + 1)
    return min(users, math.ceil(users * step / waves))
