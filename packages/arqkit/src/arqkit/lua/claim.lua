#!lua
-- The worker's queue read and claim in one call (internals/batch_claim.py): up to `count` due jobs
-- that no worker runs, each claimed as arq's start_jobs and run_job would, in one atomic step.
-- KEYS: queue, paused flag, abort set.
-- ARGV: the caller's now (ms; unused: queue_head.lua reads Redis's clock), offset, window (ids looked at per read), count (at most this many claimed), claim (ms),
--   started at (s, text; unused: Redis's clock is written), meta TTL (s), the worker's claim token (a claim's value is `<token>:<try>`: its
--   finish checks it, lua/finish.lua), then the key prefixes: in-progress, job, retry, meta; then the
--   ids this worker runs already (never claimed again here, even if their claim expired in an outage).
-- Returns {{{id, score, job payload or false, try, aborted (0/1)}...}, score of the next future job or
-- false, Redis's now (ms)}.
-- include: queue_head.lua
local token, in_progress, job, retry, meta = ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local mine = {}
for i = 13, #ARGV do mine[ARGV[i]] = true end
local claimed = {}
local offset, window, count = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for _ = 1, 4 do  -- look past a bounded number of running jobs at the head of the queue
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', offset, window)
  -- the claims on the ids other workers may run, in one MGET: arq keeps a running job in the queue, so
  -- with W workers the head holds up to W x max_jobs running jobs, and an EXISTS each made Redis's
  -- commands per job grow with W (issue 24). A claim is a string (arq's psetex, our SET): false if none.
  local others = {}
  for i = 1, #ids, 2 do
    if not mine[ids[i]] then others[#others + 1] = in_progress .. ids[i] end
  end
  local held = {}
  if #others > 0 then
    local claims = redis.call('MGET', unpack(others))
    for j = 1, #others do held[others[j]] = claims[j] end
  end
  for i = 1, #ids, 2 do
    local id = ids[i]
    if not mine[id] and not held[in_progress .. id] then
      -- arq's run_job: the try counter; arq's start_jobs: the claim (here already as short as the
      -- heartbeat keeps it, and naming this worker and try); arq's run_job: the abort marker, the payload
      local try = redis.call('INCR', retry .. id)
      redis.call('EXPIRE', retry .. id, 88400)
      redis.call('SET', in_progress .. id, token .. ':' .. try, 'PX', ARGV[5])
      local aborted = redis.call('ZREM', KEYS[3], id)
      local payload = redis.call('GET', job .. id)
      -- the template's on_job_start: when it started, no progress yet
      redis.call('HSET', meta .. id, 'started_at', string.format('%.3f', now / 1000), 'progress', '')
      redis.call('EXPIRE', meta .. id, ARGV[7])
      table.insert(claimed, {id, ids[i + 1], payload, try, aborted})
      if #claimed >= count then return {claimed, false, now} end
    end
  end
  if #ids < 2 * window then break end
  offset = offset + window
end
local next_due = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return {claimed, next_due[2] or false, now}
