"""CPU seconds spent by groups of processes (the API server's tree, PostgreSQL's backends,
Redis), read with psutil before and after a load: where a benchmark's CPU goes."""

from __future__ import annotations

from collections.abc import Callable

import psutil

__all__ = ["CpuMeter", "cpu_seconds", "named", "postgres_processes", "tree"]

Lister = Callable[[], list[psutil.Process]]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def named(prefix: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith(prefix)]


def postgres_processes() -> list[psutil.Process]:
    return named("postgres")


def tree(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


class CpuMeter:
    """`start()`, then `stop()`: each group's CPU seconds in between. A process that starts
    in between counts whole (a new backend); one that ends in between is lost (rare here)."""

    def __init__(self, groups: dict[str, Lister]) -> None:
        self._groups = groups
        self._before: dict[str, dict[int, float]] = {}

    def start(self) -> None:
        self._before = {name: self._read(lister()) for name, lister in self._groups.items()}

    def stop(self) -> dict[str, float]:
        spent = {}
        for name, lister in self._groups.items():
            now, before = self._read(lister()), self._before.get(name, {})
            spent[name] = sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items())
        return spent

    @staticmethod
    def _read(processes: list[psutil.Process]) -> dict[int, float]:
        return {process.pid: cpu_seconds([process]) for process in processes}
