-- Frees a per-key cap's slot (per_key.py) and makes due at once the first jobs of the key's waiting line,
-- as many as slots are free: each was put back in its queue until a later recheck. A woken job keeps its
-- place until it holds a slot; an id found in no queue (aborted, purged) leaves the line.
-- KEYS: leases, waiting, then per queue: the queue, its wake list. ARGV: holder, limit, wake tokens max.
-- Returns how many jobs were made due.
redis.call('ZREM', KEYS[1], ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
local woken, looked = 0, 0
while free > 0 and looked < tonumber(ARGV[2]) + 16 do
  local first = redis.call('ZRANGE', KEYS[2], looked, looked)[1]
  if not first then
    break
  end
  local found = false
  for q = 3, #KEYS, 2 do
    if redis.call('ZSCORE', KEYS[q], first) then
      found = true
      redis.call('ZADD', KEYS[q], 'XX', now, first)
      if redis.call('LLEN', KEYS[q + 1]) < tonumber(ARGV[3]) then
        redis.call('RPUSH', KEYS[q + 1], '1')
      end
      break
    end
  end
  if found then
    free, woken, looked = free - 1, woken + 1, looked + 1
  else
    redis.call('ZREM', KEYS[2], first)
  end
end
return woken
