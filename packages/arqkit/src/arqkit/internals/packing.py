"""Commands packed by hiredis's C packer, as redis-py's own blocking client does when hiredis is there.

redis-py's asyncio connection builds every command's bytes in Python (`pack_command`), even with hiredis
installed: per no-op job that was about a fifth of the worker's instructions (issue 24). hiredis's
`pack_command` gives byte-identical output for what redis-py accepts (str, bytes, int, float,
memoryview; a command name with a space split the same way) and refuses the rest, which becomes the
`DataError` redis-py would raise. A pool whose encoding is not UTF-8 keeps redis-py's packer.
"""

from __future__ import annotations

from typing import Any

from hiredis import pack_command as pack  # a dependency: redis[hiredis]
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import DataError


def hiredis_packing(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """`connection_class`, its commands packed by hiredis."""

    class HiredisPacked(connection_class):  # type: ignore[valid-type,misc]
        def pack_command(self, *args: Any) -> list[bytes]:
            if self.encoder.encoding.lower().replace("-", "") != "utf8":
                return super().pack_command(*args)  # type: ignore[no-any-return]
            if isinstance(args[0], str):
                args = (*args[0].encode().split(), *args[1:])
            elif b" " in args[0]:
                args = (*args[0].split(), *args[1:])
            try:
                return [pack(args)]
            except TypeError as error:
                raise DataError(f"Invalid input: {error}") from error

    HiredisPacked.__name__ = HiredisPacked.__qualname__ = f"HiredisPacked{connection_class.__name__}"
    return HiredisPacked
