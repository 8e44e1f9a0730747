-- KEYS[1] queue; ARGV: now ms, in-progress key prefix, cap ms, how many due jobs to look at.
-- Only our own claims are capped: lua/claim.lua's value is `<token>:<try>` (a hex token). A claim with
-- any other value (arq's own is '1') is another worker's, e.g. a stock arq worker's in a mixed fleet,
-- which renews nothing: cut short, its live job would start again here.
-- The in-progress keys are derived from the queue's ids, so this script is for a single Redis, not Cluster.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local capped = 0
for _, id in ipairs(ids) do
  local mark = ARGV[2] .. id
  local claim = redis.call('GET', mark)
  if claim and string.match(claim, '^%x+:%d+$') and redis.call('PTTL', mark) > tonumber(ARGV[3]) then
    redis.call('PEXPIRE', mark, ARGV[3])
    capped = capped + 1
  end
end
return capped
