-- KEYS: queue, its wake-up list. ARGV: now (ms). Every queued job due now at once, and a wake-up token
-- as an enqueue would push (bench/queue_bench.py's throughput run).
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do redis.call('ZADD', KEYS[1], ARGV[1], id) end
redis.call('RPUSH', KEYS[2], '1')
