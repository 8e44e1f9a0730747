-- Renews the claims of the jobs one worker runs (internals/claim_keeper.py), each only while it is still
-- that worker's: a claim that lapsed (Redis away longer than it) and that another worker made since is left
-- alone. Renewing for 1 ms lets the claims go.
-- KEYS: the jobs' in-progress keys. ARGV: how long each claim lives (ms), then per key the claim's value
-- as this worker wrote it (`<token>:<try>`, lua/claim.lua), or '' for a claim arq made (any value).
-- Returns how many claims were renewed.
local renewed = 0
for i, key in ipairs(KEYS) do
  local mine = ARGV[i + 1]
  if mine == '' or redis.call('GET', key) == mine then
    renewed = renewed + redis.call('PEXPIRE', key, ARGV[1])
  end
end
return renewed
