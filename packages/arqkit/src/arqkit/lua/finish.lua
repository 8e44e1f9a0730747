#!lua
-- arq's finish of one run (finish_job, finish_failed_job), run only while the job's claim is still this
-- run's (internals/batch_claim.py): a run whose claim lapsed (a Redis outage longer than the claim) and
-- that another worker claimed since leaves the job to that worker, which finishes it (at least once).
-- With no claim at all the job is either still waiting (nobody claimed it since: the finish counts) or
-- gone (another run finished it: a late retry's ZINCRBY would put it back, its payload gone: dropped).
-- KEYS: the job's in-progress key (its claim), its job key. ARGV: this run's claim token, then per
-- command of the transaction: its argument count, then its arguments. The keys the commands name are the
-- job's own (single Redis, not Cluster). Returns 1 if the commands ran, 0 if they were dropped.
-- A flow step's EVAL of flow_step.lua among them (internals/result_tap.py) runs here as flow_advance.
-- include: flow_advance.lua
local claim = redis.call('GET', KEYS[1])
if claim ~= ARGV[1] and (claim or redis.call('EXISTS', KEYS[2]) == 0) then
  return 0
end
local i = 2
while i <= #ARGV do
  local count = tonumber(ARGV[i])
  if ARGV[i + 1] == 'EVAL' then
    flow_advance(ARGV[i + 4], {unpack(ARGV, i + 5, i + count)})
  else
    redis.call(unpack(ARGV, i + 1, i + count))
  end
  i = i + count + 1
end
return 1
