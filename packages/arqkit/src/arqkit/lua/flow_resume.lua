#!lua
-- A failed step's dead letter was replayed (admin.py): the replay's job now runs the step, and its end
-- advances the flow as the step's own would have. KEYS: the flow's hash, the replay's step link.
-- ARGV: step id, the replay's job id, the link's value. Returns 1 if the step was failed (now queued).
local flow = KEYS[1]
if redis.call('EXISTS', flow) == 0 then
  return 0
end
redis.call('SET', KEYS[2], ARGV[3], 'PX', redis.call('HGET', flow, 'ttl_ms'))
redis.call('HDEL', flow, 'links_ms')  -- the next end renews every link (flow_advance.lua), this one too
local status = redis.call('HGET', flow, 'st:' .. ARGV[1])
if status ~= 'failed' and status ~= 'aborted' then
  return 0
end
redis.call('HSET', flow, 'st:' .. ARGV[1], 'queued', 'job:' .. ARGV[1], ARGV[2])
return 1
