"""What a routing decision reads about processor health: an immutable copy of the store's
view, answered from memory in microseconds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from basketpay.routing import health_rules
from basketpay.routing.health_model import CLOSED, BreakerRecord, BreakerState, HealthPolicy, HealthView

Clock = Callable[[], float]  # seconds since the epoch: processes sharing Redis must agree on it


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """Health as last read. Time still moves inside it: buckets leave the window and a
    cool-down ends by the clock, with no refresh needed."""

    view: HealthView
    policy: HealthPolicy
    clock: Clock

    def successes_failures(self, processor: str, segment: str) -> tuple[int, int]:
        """(approvals, issuer declines) in the window; errors and timeouts are not in it."""
        index = health_rules.bucket_index(self.clock(), self.policy.window_bucket_seconds)
        buckets = self.view.windows.get((processor, segment), ())
        return health_rules.window_totals(buckets, index, self.policy.window_buckets_count)

    def state(self, processor: str) -> BreakerState:
        return self._breaker(processor).state

    def allows(self, processor: str) -> bool:
        """Closed: yes. Open: no. Half-open: while probes remain, as last seen; the probe itself
        must then be taken with `HealthBoard.try_acquire_probe`."""
        return health_rules.after_probe_request(self._breaker(processor), self.policy)[1]

    def with_breaker(self, processor: str, record: BreakerRecord) -> HealthSnapshot:
        """A copy with one breaker replaced: a process acts on its own breaker changes at once,
        not at the next refresh."""
        breakers = {name: kept for name, kept in self.view.breakers.items() if name != processor}
        if record.state is not BreakerState.CLOSED:
            breakers[processor] = record
        return replace(self, view=HealthView(windows=self.view.windows, breakers=breakers))

    def _breaker(self, processor: str) -> BreakerRecord:
        return health_rules.current(self.view.breakers.get(processor, CLOSED), self.clock(), self.policy)
