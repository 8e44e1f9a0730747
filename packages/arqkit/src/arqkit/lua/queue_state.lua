-- One queue as operators see it (overview.py): its due jobs split by their claims into waiting and
-- running (arq keeps a running job in its queue, with the score it had when it was claimed), the
-- deferred ones, and the due time of the oldest job that waits. Atomic: depth and running never disagree.
-- KEYS[1] queue. ARGV: now (ms), in-progress key prefix, how many due jobs to look at (from the head,
-- where workers claim: a running job further back counts as waiting). Single Redis, not Cluster.
-- Returns {waiting, running, deferred, score of the oldest waiting job or false}.
local due = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[1])
local deferred = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf')
local looked = math.min(due, tonumber(ARGV[3]))
local running, oldest = 0, false
if looked > 0 then
  local head = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, looked)
  for i = 1, #head, 2 do
    if redis.call('EXISTS', ARGV[2] .. head[i]) == 1 then
      running = running + 1
    elseif not oldest then
      oldest = head[i + 1]
    end
  end
end
if not oldest and due > looked then  -- every job looked at runs: the next one waits
  oldest = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', looked, 1)[2] or false
end
return {due - running, running, deferred, oldest}
