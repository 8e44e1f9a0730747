-- Included by flow_step.lua and finish.lua: one step of a flow ended (flows.py). Counted once: by the
-- step's status in the flow's hash, so a step that runs twice, or a late finish, changes nothing.
-- Then the flow's policy: a failure with `fail_flow` cancels the stages not yet begun; a stage whose
-- steps all succeeded (or, with `run_callback`, all ended) enqueues the next stage.
-- include: flow_dispatch.lua
local function flow_advance(flow, a)
  -- a: step id, the job id that ran it, outcome (complete | failed | aborted), error JSON,
  --    job key prefix, result key prefix, wake key prefix, wake tokens max
  local step, outcome = a[1], a[3]
  local current = redis.call('HGET', flow, 'st:' .. step)
  if not current or current == 'complete' or current == outcome then
    return 0
  end
  redis.call('HSET', flow, 'st:' .. step, outcome, 'job:' .. step, a[2])
  if outcome == 'complete' then
    redis.call('HDEL', flow, 'err:' .. step)
  else
    redis.call('HSET', flow, 'err:' .. step, a[4])
  end
  redis.call('PEXPIRE', flow, redis.call('HGET', flow, 'ttl_ms'))
  if redis.call('HEXISTS', flow, 'aborted') == 1 then
    return 1
  end
  local spec = cjson.decode(redis.call('HGET', flow, 'spec'))
  local stages = spec['stages']
  local stage = tonumber(redis.call('HGET', flow, 'stage:' .. step))
  local succeeded, ended = true, true
  for _, id in ipairs(stages[stage]) do
    local status = redis.call('HGET', flow, 'st:' .. id)
    if status ~= 'complete' then
      succeeded = false
      if status ~= 'failed' and status ~= 'aborted' then
        ended = false
      end
    end
  end
  local fail_flow = spec['policy'] == 'fail_flow'
  if outcome ~= 'complete' and fail_flow then
    for later = stage + 1, #stages do
      for _, id in ipairs(stages[later]) do
        if redis.call('HGET', flow, 'st:' .. id) == 'waiting' then
          redis.call('HSET', flow, 'st:' .. id, 'cancelled')
        end
      end
    end
    redis.call('HSET', flow, 'finished_ms', now_ms())
    return 1
  end
  if not ended or (fail_flow and not succeeded) then
    return 1
  end
  if stage == #stages then
    redis.call('HSET', flow, 'finished_ms', now_ms())
    return 1
  end
  flow_dispatch(flow, stages[stage + 1], a[5], a[6], a[7], a[8])
  return 1
end
