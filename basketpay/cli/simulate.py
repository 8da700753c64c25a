"""`basketpay simulate …`: simulations that drive realistic traffic through the sandboxes."""

from __future__ import annotations

import os

import typer

from basketpay.settings import get_settings

simulate_app = typer.Typer(no_args_is_help=True, help="Simulations against the sandbox processors.")


@simulate_app.command("routing")
def routing(
    payments: int = typer.Option(2_000, min=20, max=1_000_000, help="Payments per strategy."),
    seed: int = typer.Option(1, help="The seed of the traffic and of the processors' answers: the same seed, the same traffic."),
    concurrency: int = typer.Option(8, min=1, max=64, help="Payments in flight at once."),
) -> None:
    """Run the same seeded traffic through every routing strategy against the Stripe- and
    Adyen-compatible sandboxes (different approval rates and fees, stripe down for the middle
    fifth of each run); print authorization rate, fees and revenue recovered against a
    stripe-only baseline as a table, then one JSON line."""
    from rich.console import Console

    from basketpay.routing.simulate import SimulationOptions, run_simulation
    from basketpay.routing.simulate_report import print_table

    os.environ.setdefault("BASKETPAY_LOG_LEVEL", "WARNING")
    console = Console()
    options = SimulationOptions(payments=payments, seed=seed, concurrency=concurrency)
    results = run_simulation(get_settings(), options, console)
    print_table(console, results, {"payments": payments, "seed": seed, "concurrency": concurrency,
                                   "outage": {"processor": "stripe", "payments": [options.outage().start,
                                                                                 options.outage().stop]}})
