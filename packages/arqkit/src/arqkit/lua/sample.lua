#!lua
-- One point of the dashboard's throughput history per interval, whichever API process samples first.
-- KEYS[1] the history zset; ARGV[1] the interval's start (ms), ARGV[2] the sample (JSON),
-- ARGV[3] the oldest start to keep (older points are dropped: the history stays bounded),
-- ARGV[4] the history's span (ms): with no API process left to sample, the key expires.
if redis.call('ZCOUNT', KEYS[1], ARGV[1], ARGV[1]) == 0 then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('ZCARD', KEYS[1])
