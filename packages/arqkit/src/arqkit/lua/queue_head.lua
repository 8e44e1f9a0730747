-- The start of a worker's queue read, included by ready.lua and claim.lua (KEYS[1] queue, KEYS[2] paused).
-- A paused queue has nothing ready and no next due time: its workers wait for a wake-up (the resume).
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {{}, false}
end
-- Due by Redis's clock, not the caller's: a worker whose clock is behind still sees what is due.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
-- A score of -inf (never arq's: written by hand) would crash the worker on arq's int(score): due now.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '-inf')) do
  redis.call('ZADD', KEYS[1], 'XX', 1, id)
end
