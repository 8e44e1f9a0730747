#!lua
-- A per-key cap's slot (per_key.py): lease_acquire.lua's lease, and the key's waiting line, in one call.
-- KEYS: leases (zset: holder -> expiry ms), waiting (zset: job id -> when it first found the cap, ms).
-- ARGV: limit, holder, lease ms, job id, waiting line TTL ms.
-- Returns {1, 0} when held (the job leaves the line), else {0, how many wait ahead of it}: the job joins
-- the line, or keeps its place in it.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZSCORE', KEYS[1], ARGV[2])
if held or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  redis.call('ZREM', KEYS[2], ARGV[4])
  return {1, 0}
end
redis.call('ZADD', KEYS[2], 'NX', now, ARGV[4])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]))
return {0, redis.call('ZRANK', KEYS[2], ARGV[4])}
