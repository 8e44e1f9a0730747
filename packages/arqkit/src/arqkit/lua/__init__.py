"""Every Lua script the machinery runs, one `.lua` file each, read from disk once per process.

| script | run by | does |
|---|---|---|
| `enqueue.lua` | `internals/enqueue.py` | arq's enqueue (job key, queue entry), wake-up token; a rate limit |
| `claim.lua` | `internals/batch_claim.py` | the queue read: claims due jobs as arq would; none if paused |
| `finish.lua` | `internals/batch_claim.py` | arq's finish of a run, only while the claim is still the run's |
| `ready.lua` | `internals/wakeup.py` | the queue read of a worker that claims job by job (arq's own claim) |
| `purge.lua` | `queue_control.py` | drops a batch of a queue's waiting jobs, never a running one |
| `cap_claims.lua` | `internals/claims.py` | caps the claims a killed worker left on due jobs |
| `queue_state.lua` | `overview.py` | a queue's waiting, running (by their claims) and deferred jobs |
| `renew_claims.lua` | `internals/claim_keeper.py` | renews a worker's claims that are still its own |
| `sliding_window.lua` | `sliding_window.py` | one rate-limit decision (API and `throttle`) |
| `window.lua` | included by the two rate-limiting scripts | the sliding-window decision, written once |
| `queue_head.lua` | included by `ready.lua`, `claim.lua` | a paused queue reads empty; -inf scores made due |
| `lease_acquire.lua`, `lease_renew.lua` | `leases.py` | `concurrency_slot` and `PerKey` leases |
| `key_acquire.lua`, `key_release.lua` | `per_key.py` | `PerKey` leases and the key's waiting line |
| `unlock.lua` | `unique.py` | deletes a unique job's lock (`enqueue.lua` takes it) once its job ended |
| `flow_start.lua` | `flows.py` | a new flow: its hash, its steps' links, its first stage enqueued |
| `flow_step.lua` | `internals/result_tap.py` | a flow step's end, in the MULTI storing its result |
| `flow_advance.lua`, `flow_dispatch.lua` | included by flow scripts, `finish.lua` | count an end once |
| `flow_cancel.lua`, `flow_resume.lua` | `flows.py` | cancel a flow; a replayed step's job takes its step |
| `sample.lua` | `throughput.py` | one point of the dashboard's throughput history per interval |

A script whose writes must happen whole starts with `#!lua` (Redis 7's script flags; no `no-writes`): Redis
checks it before it runs, so out of memory (`noeviction`), read-only (a replica) or a failing disk
(MISCONF) refuses it whole, where a script without the line is checked at its first write only, and not at
all once it has written (a deletion first let `enqueue.lua` write past `maxmemory`). Scripts whose writes
are harmless to repeat (`cap_claims`, `lease_renew`, `ready`'s) go without, so they still run under OOM,
and so do the releases that start with a deletion (`key_release`, `unlock`): a slot is freed under OOM too.

A line `-- include: <name>.lua` stands for that file's text: Redis runs each script alone, so code two
scripts share (a `local function`) is written once and pasted into each at load time.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
_INCLUDE = re.compile(r"^-- include: (\w+)\.lua$", re.MULTILINE)


@cache
def source(name: str) -> str:
    """The text of `<name>.lua`, its includes pasted in (redis-py's `register_script` then runs it by SHA)."""
    text = (HERE / f"{name}.lua").read_text()
    return _INCLUDE.sub(lambda included: source(included.group(1)).rstrip("\n"), text)
