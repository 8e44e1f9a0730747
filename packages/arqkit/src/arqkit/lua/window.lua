-- The sliding-window decision, included by the scripts that rate-limit (`-- include: window.lua`).
-- `window`: a zset of request id -> admitted-at ms. With `peek`, decide but record nothing.
-- Returns {admitted 0|1, remaining, wait ms, reset ms}: `wait` is when the request may (or may next) go,
-- `reset` is when the whole window is free again.
local function decide(window, count, period, max_wait, member, peek)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', window, '-inf', now - period)
  local taken = redis.call('ZCARD', window)
  local at = now
  if taken >= count then
    local blocker = redis.call('ZRANGE', window, taken - count, taken - count, 'WITHSCORES')
    at = tonumber(blocker[2]) + period
  end
  local newest = redis.call('ZRANGE', window, -1, -1, 'WITHSCORES')
  local last = newest[2] and tonumber(newest[2]) or now
  if at - now > max_wait then
    return {0, 0, at - now, math.max(last + period - now, 0)}
  end
  if peek then
    return {1, math.max(count - taken, 0), at - now, math.max(last + period - now, 0)}
  end
  redis.call('ZADD', window, at, member)
  last = math.max(last, at)
  redis.call('PEXPIRE', window, last + period - now)
  return {1, math.max(count - taken - 1, 0), at - now, last + period - now}
end
