-- KEYS[1] queue, KEYS[2] its sweep mark; ARGV: now ms, in-progress key prefix, cap ms, how many due jobs
-- to look at, then for how long (ms) one sweep serves every worker of the queue (0: sweep regardless).
-- One sweep per interval for the whole fleet, not one per worker: with a backlog each sweep reads up to
-- that many keys, and every worker's heartbeat sweeping made Redis's work per job grow with the number
-- of workers (issue 24). Out of memory the mark cannot be written: then it sweeps, as before.
-- Only our own claims are capped: lua/claim.lua's value is `<token>:<try>` (a hex token). A claim with
-- any other value (arq's own is '1') is another worker's, e.g. a stock arq worker's in a mixed fleet,
-- which renews nothing: cut short, its live job would start again here.
-- The in-progress keys are derived from the queue's ids, so this script is for a single Redis, not Cluster.
if tonumber(ARGV[5]) > 0 and redis.pcall('SET', KEYS[2], '1', 'NX', 'PX', ARGV[5]) == false then
  return 0  -- another worker of this queue swept within the interval
end
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
