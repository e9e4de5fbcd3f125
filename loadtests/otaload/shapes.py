"""The waves scenario's load shape: --users reached in --wave-count equal steps of --wave-s
seconds each, then held until --run-time. Without the waves tag it is Locust's plain shape: all
--users at --spawn-rate."""

from __future__ import annotations

import time

from locust import LoadTestShape

from otaload.options import WAVES
from otaload.run import RUN
from otaload.waves import wave_users


class Waves(LoadTestShape):
    use_common_options = True  # --users, --spawn-rate and --run-time keep their meaning

    def elapsed(self) -> float:
        start: float = self.start_time
        return time.perf_counter() - start

    def into_waves(self) -> float:
        """Seconds since the fleet was made: the first wave starts then, not before."""
        made = RUN.fleet_at
        return 0.0 if made is None else time.perf_counter() - made

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options if self.runner else None
        if options is None:
            return None
        run_time = options.run_time
        if run_time and self.elapsed() > run_time:
            return None
        users = options.num_users or 1
        if WAVES not in (options.tags or []):
            return users, options.spawn_rate
        return wave_users(self.into_waves(), users, options.wave_count, options.wave_s), (
            options.spawn_rate
        )
