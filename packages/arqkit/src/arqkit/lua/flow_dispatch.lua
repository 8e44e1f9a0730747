-- Included by flow_start.lua and flow_advance.lua: enqueue a flow stage's steps that wait (or were
-- cancelled by a failure a replay has since repaired), writing what enqueue.lua writes: the job key
-- (its payload serialized by flows.py when the flow began), the queue entry, a wake-up token.
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local function flow_dispatch(flow, steps, job_prefix, result_prefix, wake_prefix, wake_max)
  local now = now_ms()
  local job_ttl = redis.call('HGET', flow, 'job_ttl_ms')
  for _, step in ipairs(steps) do
    local status = redis.call('HGET', flow, 'st:' .. step)
    if status == 'waiting' or status == 'cancelled' then
      local job_id = redis.call('HGET', flow, 'job:' .. step)
      local queue = redis.call('HGET', flow, 'q:' .. step)
      local payload = redis.call('HGET', flow, 'p:' .. step)
      if payload and redis.call('EXISTS', job_prefix .. job_id, result_prefix .. job_id) == 0 then
        redis.call('PSETEX', job_prefix .. job_id, job_ttl, payload)
        redis.call('ZADD', queue, now, job_id)
        if redis.call('LLEN', wake_prefix .. queue) < tonumber(wake_max) then
          redis.call('RPUSH', wake_prefix .. queue, '1')
        end
      end
      redis.call('HSET', flow, 'st:' .. step, 'queued')
      redis.call('HDEL', flow, 'p:' .. step)
    end
  end
  redis.call('HDEL', flow, 'finished_ms')
end
