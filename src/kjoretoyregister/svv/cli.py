"""``kjoretoyregister svv …``: generate a synthetic register and serve the simulator."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from kjoretoyregister.cliutil import settings_or_exit
from kjoretoyregister.svv.generate import DEFAULT_AS_OF, MAX_VEHICLES, generate
from kjoretoyregister.svv.serve_cmd import serve

app = typer.Typer(
    help="SVV (Autosys) simulator: generate a register and serve SVV's API.", no_args_is_help=True
)


@app.command("generate")
def generate_command(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Register file to write (replaced when done). Default: KJR_SVV__DATA, else "
            "<data_dir>/svv-register.sqlite.",
        ),
    ] = None,
    vehicles: Annotated[
        int,
        typer.Option(
            "--vehicles",
            min=0,
            max=MAX_VEHICLES,
            help="Vehicles to generate (Norway scale: 6000000); the sisdinky test vehicles "
            "come on top.",
        ),
    ] = 100_000,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed and size give the same data.")
    ] = 1,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=0, help="Generator processes (default: 2 for big registers; 0 = none)."
        ),
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="The register's 'now' (histories end before it). "
            f"Default {DEFAULT_AS_OF:%Y-%m-%d}.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Write a deterministic synthetic vehicle register (SQLite) for `svv serve`."""
    settings = settings_or_exit()
    chosen = out or settings.svv.data
    if chosen is None:
        # Only our own data folder is created on demand; a path the user named must have an
        # existing folder (a typo must not create /nonexistent/dir at the root).
        target = settings.data_dir / "svv-register.sqlite"
        target.parent.mkdir(parents=True, exist_ok=True)
    else:
        target = chosen
        if not target.parent.is_dir():
            typer.echo(
                f"error: folder {target.parent} does not exist; create it first or give "
                "--out a path in an existing folder",
                err=True,
            )
            raise typer.Exit(2)
    when = as_of.replace(tzinfo=DEFAULT_AS_OF.tzinfo) if as_of else None
    started = time.perf_counter()
    meta = generate(
        target, vehicles=vehicles, seed=seed, progress=not quiet, workers=workers, as_of=when
    )
    elapsed = time.perf_counter() - started
    size_mb = target.stat().st_size / 1e6
    typer.echo(
        f"Wrote {target}: {meta['vehicles']:,} vehicles + {meta['sisdinky']} sisdinky, "
        f"{meta['persons']:,} persons, {meta['organisations']:,} organisations "
        f"(seed {seed}, as of {meta['as_of'][:10]}); {size_mb:,.0f} MB in {elapsed:,.1f} s."
    )
    phases = ", ".join(
        f"{name} {seconds:,.1f} s" for name, seconds in meta["phase_seconds"].items()
    )
    typer.echo(f"Writer phases: {phases}.")


# `svv serve` (owned by the simulator API) is mounted below.
app.command("serve")(serve)
