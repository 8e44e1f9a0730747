#!lua
-- A new flow (flows.py): its hash, each step's link back to it, and its first stage enqueued, at once.
-- KEYS: the flow's hash. ARGV: spec JSON, flow TTL (ms), job TTL (ms), job key prefix, result key prefix,
-- wake key prefix, wake tokens max, step link key prefix, flow id, then per step: its id (its job's id),
-- stage (1-based), function, queue, payload. Returns 0 (nothing written) if the flow exists already.
-- include: flow_dispatch.lua
local flow = KEYS[1]
if redis.call('EXISTS', flow) == 1 then
  return 0
end
redis.call('HSET', flow, 'spec', ARGV[1], 'ttl_ms', ARGV[2], 'job_ttl_ms', ARGV[3], 'created_ms', now_ms())
for i = 10, #ARGV, 5 do
  local step = ARGV[i]
  redis.call('HSET', flow, 'st:' .. step, 'waiting', 'job:' .. step, step, 'stage:' .. step, ARGV[i + 1],
    'fn:' .. step, ARGV[i + 2], 'q:' .. step, ARGV[i + 3], 'p:' .. step, ARGV[i + 4])
  redis.call('SET', ARGV[8] .. step, ARGV[9] .. ' ' .. step, 'PX', ARGV[2])
end
redis.call('PEXPIRE', flow, ARGV[2])
flow_dispatch(flow, cjson.decode(ARGV[1])['stages'][1], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return 1
