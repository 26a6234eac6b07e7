"""Options and helpers shared by the commands that talk to a registry."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from client.registry import RegistryClient, load_client_config
from client.registry.client import Progress as ProgressCallback


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        metavar="URL",
        help="registry URL (default: $CLAWFT_REGISTRY_URL, the config file, or the local one)",
    )
    parser.add_argument(
        "--token", help="API token (default: $CLAWFT_REGISTRY_TOKEN or the config file)"
    )


def client_from(args: argparse.Namespace) -> RegistryClient:
    """A client for the registry the flags, environment or config file name (ValueError if bad)."""
    config = load_client_config(url=args.registry, token=args.token)
    return RegistryClient(config.url, token=config.token)


@contextmanager
def progress_bar(description: str, *, enabled: bool) -> Iterator[ProgressCallback | None]:
    """A transfer progress bar on stderr (nothing when ``enabled`` is false)."""
    if not enabled:
        yield None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update
