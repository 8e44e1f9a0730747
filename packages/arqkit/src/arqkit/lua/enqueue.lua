#!lua
-- KEYS: job, result, queue, wake list[, rate window]. ARGV: job id, payload, score (ms), job TTL (ms),
-- wake tokens max[, window count, window period (ms), window request id].
-- Without a window: 1 when written, 0 when the id exists already (nothing written), as arq's enqueue.
-- With one, the rate limit first, in the same call: {that, admitted, remaining, wait ms, reset ms}, and a
-- refused request writes nothing at all.
-- include: window.lua
local function enqueue()
  if redis.call('EXISTS', KEYS[1], KEYS[2]) ~= 0 then
    return 0
  end
  redis.call('PSETEX', KEYS[1], ARGV[4], ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  if redis.call('LLEN', KEYS[4]) < tonumber(ARGV[5]) then
    redis.call('RPUSH', KEYS[4], '1')
  end
  return 1
end

if KEYS[5] == nil then
  return enqueue()
end
local decision = decide(KEYS[5], tonumber(ARGV[6]), tonumber(ARGV[7]), 0, ARGV[8], false)
if decision[1] == 0 then
  return {0, unpack(decision)}
end
return {enqueue(), unpack(decision)}
