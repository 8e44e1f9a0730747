-- Included by flow_step.lua and finish.lua: one step of a flow ended (flows.py). Counted once: by the
-- step's status in the flow's hash, so a step that runs twice, or a late finish, changes nothing.
-- Then the flow's policy: a failure with `fail_flow` cancels the stages not yet begun; a stage whose
-- steps all succeeded (or, with `run_callback`, all ended) enqueues the next stage. Each counted end
-- renews the flow's record and its steps' links (a long flow keeps its replay links), and keeps the
-- earliest start of a step as the flow's `started_ms`.
-- include: flow_dispatch.lua
local function flow_renew(flow, link_prefix, stages)
  -- The record lives ttl after this end. The links are renewed to ttl plus a tenth, and only once a tenth
  -- of ttl has passed since they last were (`links_ms`; none until the first end, and a replay's resume
  -- clears it): so they always outlive the record, at one loop over the steps per tenth of ttl, not per end.
  local ttl = tonumber(redis.call('HGET', flow, 'ttl_ms'))
  redis.call('PEXPIRE', flow, ttl)
  local now = now_ms()
  local renewed = tonumber(redis.call('HGET', flow, 'links_ms'))
  if renewed and now - renewed < ttl / 10 then
    return
  end
  local link_ttl = ttl + math.ceil(ttl / 10)
  for _, ids in ipairs(stages) do
    for _, id in ipairs(ids) do
      redis.call('PEXPIRE', link_prefix .. id, link_ttl)
      local job_id = redis.call('HGET', flow, 'job:' .. id)
      if job_id and job_id ~= id then  -- a replay's job runs the step: its link too
        redis.call('PEXPIRE', link_prefix .. job_id, link_ttl)
      end
    end
  end
  redis.call('HSET', flow, 'links_ms', now)
end

local function flow_advance(flow, a)
  -- a: step id, the job id that ran it, outcome (complete | failed | aborted), error JSON,
  --    job key prefix, result key prefix, wake key prefix, wake tokens max, step link key prefix,
  --    flow key prefix, the run's start (ms; empty if it never began).
  -- An empty step id: the job expired before any worker ran it, so arq stored no payload (no meta
  -- naming the flow) and `flow` is the job's step link key instead, which names the flow and step.
  if a[1] == '' then
    local link = redis.call('GET', flow)
    if not link then
      return 0  -- not a flow's step (or its flow is long gone)
    end
    local space = string.find(link, ' ', 1, true)
    if not space then
      return 0
    end
    flow, a[1] = a[10] .. string.sub(link, 1, space - 1), string.sub(link, space + 1)
  end
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
  local began = tonumber(a[11])
  if began then
    local first = tonumber(redis.call('HGET', flow, 'started_ms'))
    if not first or began < first then
      redis.call('HSET', flow, 'started_ms', began)
    end
  end
  local spec = cjson.decode(redis.call('HGET', flow, 'spec'))
  local stages = spec['stages']
  flow_renew(flow, a[9], stages)
  if redis.call('HEXISTS', flow, 'aborted') == 1 then
    return 1
  end
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
