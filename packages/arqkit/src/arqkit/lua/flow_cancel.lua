#!lua
-- Cancel a flow (DELETE /jobs/{flow id}): no stage begins any more, steps not yet enqueued are cancelled.
-- KEYS: the flow's hash. Returns the job ids of its enqueued steps (flows.py aborts each as a job), or
-- -1 if there is no such flow.
local flow = KEYS[1]
if redis.call('EXISTS', flow) == 0 then
  return -1
end
local time = redis.call('TIME')
redis.call('HSET', flow, 'aborted', '1', 'finished_ms', tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
local enqueued = {}
for _, stage in ipairs(cjson.decode(redis.call('HGET', flow, 'spec'))['stages']) do
  for _, step in ipairs(stage) do
    local status = redis.call('HGET', flow, 'st:' .. step)
    if status == 'waiting' then
      redis.call('HSET', flow, 'st:' .. step, 'cancelled')
    elseif status == 'queued' then
      table.insert(enqueued, redis.call('HGET', flow, 'job:' .. step))
    end
  end
end
return enqueued
