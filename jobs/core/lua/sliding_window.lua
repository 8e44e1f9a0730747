-- KEYS[1]: the window (zset: request id -> admitted-at ms). ARGV: count, period ms, max wait ms, id, and
-- an optional 'peek' (decide, record nothing: would a request be admitted now?).
-- Returns {admitted 0|1, remaining, wait ms, reset ms}: `wait` is when the request may (or may next) go,
-- `reset` is when the whole window is free again.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local count, period, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local taken = redis.call('ZCARD', KEYS[1])
local at = now
if taken >= count then
  local blocker = redis.call('ZRANGE', KEYS[1], taken - count, taken - count, 'WITHSCORES')
  at = tonumber(blocker[2]) + period
end
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local last = newest[2] and tonumber(newest[2]) or now
if at - now > max_wait then
  return {0, 0, at - now, math.max(last + period - now, 0)}
end
if ARGV[5] == 'peek' then
  return {1, math.max(count - taken, 0), at - now, math.max(last + period - now, 0)}
end
redis.call('ZADD', KEYS[1], at, ARGV[4])
last = math.max(last, at)
redis.call('PEXPIRE', KEYS[1], last + period - now)
return {1, math.max(count - taken - 1, 0), at - now, last + period - now}
