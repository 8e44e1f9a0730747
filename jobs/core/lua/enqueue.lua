-- KEYS: job, result, queue, wake list. ARGV: job id, payload, score (ms), job TTL (ms), wake tokens max
if redis.call('EXISTS', KEYS[1], KEYS[2]) ~= 0 then
  return 0
end
redis.call('PSETEX', KEYS[1], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
if redis.call('LLEN', KEYS[4]) < tonumber(ARGV[5]) then
  redis.call('RPUSH', KEYS[4], '1')
end
return 1
