"""The parent's side of split_parse.py: start the two parsing processes, forward their COPY
text into the import's COPY as it arrives, and make the whole-file checks on their results."""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from basketpay.reconciliation.fee_models import FeeModels
from basketpay.reconciliation.formats.rows import FileRejected
from basketpay.reconciliation.split_parse import Half, SplitConflict, parse_half
from basketpay.reconciliation.tally import FileTally

__all__ = ["write_split"]


def start(path: Path, header: str, parts: list[Half], prefix: tuple[str, str, str],
          fees: FeeModels) -> tuple[list[Any], list[Connection]]:
    """The child processes (forked: they only parse) and the ends of their pipes."""
    context = multiprocessing.get_context("fork")
    processes, pipes = [], []
    for half in parts:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=parse_half, args=(path, header, half, prefix, fees, sender), daemon=True)
        process.start()
        sender.close()
        processes.append(process)
        pipes.append(receiver)
    return processes, pipes


async def _receive(pipes: list[Connection], copy: Any) -> tuple[list[FileTally], list[dict[str, str]], list[Any]]:
    """Forward the halves' COPY text as it comes; their tallies, payout currencies and rejections."""
    loop = asyncio.get_running_loop()
    tallies: list[FileTally] = []
    payouts: list[dict[str, str]] = []
    rejected: list[Any] = []
    active = list(pipes)
    while active:
        ready = await loop.run_in_executor(None, wait, active)
        for pipe in (item for item in active if item in ready):
            try:
                message = pipe.recv()
            except EOFError:
                active.remove(pipe)
                continue
            if message[0] == "chunk" and message[1]:
                await copy.write(message[1])
            elif message[0] == "done":
                tallies.append(message[1])
                payouts.append(message[2])
            elif message[0] == "rejected":
                rejected.append(message[1:])
    return tallies, payouts, rejected


def _same_currencies(payouts: list[dict[str, str]]) -> bool:
    seen: dict[str, str] = {}
    return all(seen.setdefault(payout, currency) == currency for part in payouts for payout, currency in part.items())


async def write_split(copy: Any, path: Path, header: str, parts: list[Half], prefix: tuple[str, str, str],
                      fees: FeeModels) -> FileTally:
    """Parse the halves in two processes into `copy`; the whole file's tally."""
    processes, pipes = start(path, header, parts, prefix, fees)
    try:
        tallies, payouts, rejected = await _receive(pipes, copy)
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
    if rejected:
        reason, line, column = min(rejected, key=lambda item: item[1] or 0)
        raise FileRejected(reason, line=line, column=column)
    if len(tallies) != len(parts):
        raise RuntimeError("a settlement parser process ended without its result")
    if not _same_currencies(payouts):
        raise SplitConflict("a payout's lines are in two currencies across the halves")
    whole = FileTally()
    for tally in tallies:
        whole.merge(tally)
    return whole
