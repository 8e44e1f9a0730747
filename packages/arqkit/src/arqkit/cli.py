"""The operator CLI: the admin API's operations from a shell. A service runs it from a module of its own
that passes its registry (the template's `jobs/__main__.py`, so `python -m jobs <command>`):

    python -m jobs queues                  python -m jobs pause bulk / resume bulk
    python -m jobs dead-letters --limit 5  python -m jobs replay JOB_ID / replay --since 3600
    python -m jobs discard JOB_ID          python -m jobs purge bulk --yes
    python -m jobs job JOB_ID              add --json to any of them for a script
    python -m jobs replay JOB_ID --set email=ada@example.com   (shows the diff, asks; --yes to skip)

Every command goes through `QueueAdmin`, on a pool with the settings' short timeouts and no retries:
an unreachable Redis is a one-line error and exit 1 within about two seconds, never a hang.
Exit codes: 0 done, 1 the operation failed (unknown id, Redis away), 2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from pydantic import ValidationError

from arqkit import cli_output, priorities
from arqkit.admin import QueueAdmin
from arqkit.cli_output import Output
from arqkit.client import JobQueue
from arqkit.errors import QueueError, QueueUnavailable
from arqkit.logs import configure_logging
from arqkit.registry import Registry
from arqkit.settings import QueueSettings

Handler = Callable[[QueueAdmin, argparse.Namespace], Awaitable[Output]]


class NotConfirmed(QueueError):
    """The operator did not confirm an edited replay: nothing was enqueued."""


def main(registry: Registry, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run one command; `prog` names the CLI in its help and messages (default: how it was started,
    `python -m <module>` when run with -m)."""
    root = parser(prog or _invoked_as())
    args = root.parse_args(argv)
    args.prog = root.prog
    if args.command == "replay":
        edits = bool(args.set) or args.kwargs is not None
        if edits and args.job_id is None:
            root.error("--set and --kwargs edit one dead letter: name its JOB_ID instead of --since")
        if args.dry_run and not edits:
            root.error("--dry-run shows an edit's diff: add --set NAME=VALUE or --kwargs JSON")
        if args.operator is not None and not (args.operator.isprintable() and 0 < len(args.operator) <= 100):
            root.error("--operator: 1 to 100 printable characters (it goes into the audit and a log line)")
    try:
        settings = QueueSettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        return _fail(f"invalid setting {'.'.join(map(str, first['loc'])).upper()}: {first['msg']}")
    configure_logging(settings)  # log lines go to stderr; stdout is the command's answer
    return asyncio.run(_run(args, settings, registry))


async def _run(args: argparse.Namespace, settings: QueueSettings, registry: Registry) -> int:
    # One try per command: an operator re-runs it, a retry storm against a struggling Redis helps nobody.
    queue = JobQueue.connect(settings.model_copy(update={"redis_retry_attempts": 0}), registry)
    handler: Handler = args.handler
    try:
        output = await handler(QueueAdmin(queue), args)
    except QueueUnavailable as exc:
        return _fail(f"Redis at {_where(settings.redis_url)} is unreachable: {exc}")
    except NotConfirmed as exc:
        return _fail(str(exc))
    except QueueError as exc:
        return _fail(f"{cli_output.describe(exc)}")
    finally:
        await queue.aclose()
    if args.json:
        sys.stdout.write(orjson.dumps(output.data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(output.text + "\n")
    return 0


def _fail(reason: str) -> int:
    sys.stderr.write(f"error: {' '.join(reason.split())}\n")  # one line, whatever the error said
    return 1


def _where(url: str) -> str:
    """The Redis URL without its password."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host).geturl()


async def queues(admin: QueueAdmin, args: argparse.Namespace) -> Output:
    return cli_output.queues(await admin.overview())


async def dead_letters(admin: QueueAdmin, args: argparse.Namespace) -> Output:
    return cli_output.dead_letters(await admin.dead_letters(args.limit, None))


REPLAY_BATCH = 500


async def replay(admin: QueueAdmin, args: argparse.Namespace) -> Output:
    if args.since is not None:
        replayed: list[str] = []
        until_ms = None
        while True:  # bounded batches at the first batch's window end, each letter at most once
            batch = await admin.replay_since(args.since, REPLAY_BATCH, until_ms)
            replayed += [replay.job.job_id for replay in batch.replayed]
            if not batch.remaining or not batch.replayed:
                return cli_output.replayed_window(replayed)
            until_ms = batch.until_ms
    if args.set or args.kwargs is not None:
        return await replay_edited(admin, args)
    replay = await admin.replay(args.job_id, operator=args.operator or _shell_user(), via="cli")
    return cli_output.replayed_one(args.job_id, replay.job.job_id, replay.job.status, replay.warning)


async def replay_edited(admin: QueueAdmin, args: argparse.Namespace) -> Output:
    """The letter's arguments (or `--kwargs`) with each `--set` on top, checked and shown as a diff; then
    replayed once the operator says yes (`--yes`: at once; `--dry-run`: never)."""
    base = args.kwargs if args.kwargs is not None else (await admin.preview_replay(args.job_id, None)).before
    preview = await admin.preview_replay(args.job_id, {**base, **dict(args.set)})
    if args.dry_run:
        return cli_output.replay_preview(preview)
    if not args.yes:
        sys.stderr.write(cli_output.replay_preview(preview).text + "\n")
        sys.stderr.write("replay with these arguments? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            raise NotConfirmed(f"not replayed: {args.job_id} stays a dead letter")
    operator = args.operator or _shell_user()
    replay = await admin.replay(args.job_id, preview.after, operator=operator, via="cli")
    job = replay.job
    return cli_output.replayed_one(args.job_id, job.job_id, job.status, replay.warning, replay.changes)


def _shell_user() -> str | None:
    """Who runs the command, for the audit record, when `--operator` does not say."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER variable and no passwd entry (some containers)
        return None


async def discard(admin: QueueAdmin, args: argparse.Namespace) -> Output:
    await admin.discard(args.job_id)
    return Output({"discarded": args.job_id}, f"discarded dead letter {args.job_id}")


async def pause(admin: QueueAdmin, args: argparse.Namespace) -> Output:
    await admin.pause(args.queue)
    text = f"paused {args.queue}: its workers take no new job until `{args.prog} resume {args.queue}`"
    return Output({"queue": args.queue, "paused": True}, text)


async def resume(admin: QueueAdmin, args: argparse.Namespace) -> Output:
    await admin.resume(args.queue)
    return Output({"queue": args.queue, "paused": False}, f"resumed {args.queue}")


async def purge(admin: QueueAdmin, args: argparse.Namespace) -> Output:
    removed = await admin.purge(args.queue)
    text = f"purged {removed} waiting job(s) from {args.queue}"
    return Output({"queue": args.queue, "purged": removed}, text)


async def job(admin: QueueAdmin, args: argparse.Namespace) -> Output:
    return cli_output.job(await admin.job_detail(args.job_id), args.prog)


def _invoked_as() -> str:
    """`python -m jobs` when run as `python -m jobs`, else the script's name (argparse's default)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return f"python -m {spec.name.removesuffix('.__main__')}"
    return Path(sys.argv[0]).name


def parser(prog: str = "python -m jobs") -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog=prog, description="Operate the job queue.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_, description=help_)
        sub.set_defaults(handler=handler)
        return sub

    command("queues", queues, "each queue: queued, deferred, in progress, dead, workers alive, paused")
    listing = command("dead-letters", dead_letters, "the newest dead letters first")
    listing.add_argument("--limit", type=_bounded(1, 500), default=20, help="how many (1..500, default 20)")
    again = command("replay", replay, "enqueue a dead letter again, or every one of a recent window")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("job_id", nargs="?", metavar="JOB_ID", help="the dead letter's job id")
    which.add_argument(
        "--since", type=_bounded(1, 90 * 86_400), metavar="SECONDS", help="failed that long ago"
    )
    again.add_argument("--operator", metavar="NAME", help="who replays, for the audit (default: your user)")
    edit = again.add_argument_group("replay with edited arguments (one JOB_ID)")
    edit.add_argument(
        "--set",
        type=_assignment,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one argument (VALUE is JSON if it parses, else a string); repeatable",
    )
    edit.add_argument("--kwargs", type=_json_object, metavar="JSON", help="every argument, as a JSON object")
    edit.add_argument("--yes", action="store_true", help="replay without asking after the diff")
    edit.add_argument("--dry-run", action="store_true", help="show the diff, replay nothing")
    command("discard", discard, "drop one dead letter for good").add_argument("job_id", metavar="JOB_ID")
    for name, handler, help_ in (
        ("pause", pause, "the queue's workers take no new job (running ones finish; enqueues go on)"),
        ("resume", resume, "the queue's workers take jobs again, at once"),
        ("purge", purge, "drop every job waiting in the queue, due or deferred (running ones finish)"),
    ):
        command(name, handler, help_).add_argument(
            "queue", metavar="QUEUE", choices=priorities.PRIORITIES, help="default, critical or bulk"
        )
    commands.choices["purge"].add_argument("--yes", action="store_true", required=True, help="yes, drop them")
    command("job", job, "one job: its status, failed tries, dead letter").add_argument(
        "job_id", metavar="JOB_ID"
    )
    return root


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    parse.__name__ = "whole number"  # argparse's word for a value that is not one

    return parse


def _assignment(text: str) -> tuple[str, Any]:
    """`name=value`: the value as JSON when it parses (`42`, `true`, `"42"`, `{...}`), else as a string."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    try:
        return name, orjson.loads(value)
    except orjson.JSONDecodeError:
        return name, value


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('must be a JSON object: {"name": value, ...}')
    return value
