-- KEYS[1] queue; ARGV: now ms, in-progress key prefix, cap ms, how many due jobs to look at.
-- The in-progress keys are derived from the queue's ids, so this script is for a single Redis, not Cluster.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local capped = 0
for _, id in ipairs(ids) do
  local mark = ARGV[2] .. id
  if redis.call('PTTL', mark) > tonumber(ARGV[3]) then
    redis.call('PEXPIRE', mark, ARGV[3])
    capped = capped + 1
  end
end
return capped
