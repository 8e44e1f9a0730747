-- KEYS: queue, paused flag. ARGV: the caller's now (ms; unused: queue_head.lua reads Redis's clock), offset, count, in-progress key prefix.
-- Returns {ids due now and not in progress (at most count), score of the next future job or false}.
-- include: queue_head.lua
local ready = {}
local offset = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
for _ = 1, 4 do  -- look past a bounded number of running jobs at the head of the queue
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', offset, count)
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', ARGV[4] .. id) == 0 then
      table.insert(ready, id)
      if #ready >= count then return {ready, false} end
    end
  end
  if #ids < count then break end
  offset = offset + count
end
local next_due = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return {ready, next_due[2] or false}
