#!lua
-- KEYS: queue. ARGV: offset, count, job / retry / in-progress / meta key prefixes.
-- Removes the waiting jobs (not running) among `count` queue entries from `offset`: the queue entry,
-- the job key, its try counter and its meta. Returns {removed, next offset or -1 when done}.
local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1)
local removed, kept = 0, 0
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[5] .. id) == 1 then
    kept = kept + 1  -- running: its worker finishes it and removes the entry
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('DEL', ARGV[3] .. id, ARGV[4] .. id, ARGV[6] .. id)
    removed = removed + 1
  end
end
if #ids < tonumber(ARGV[2]) then
  return {removed, -1}
end
return {removed, tonumber(ARGV[1]) + kept}
