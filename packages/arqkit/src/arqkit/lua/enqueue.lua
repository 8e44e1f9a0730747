#!lua
-- KEYS: job, result, queue, wake list[, rate window][, unique lock]. ARGV: job id, payload, score (ms),
-- job TTL (ms), wake tokens max, then the optional parts, in the order of their keys, each named:
--   'window', count, period (ms), request id: a rate limit, decided first; a refused request writes nothing;
--   'unique', lock TTL (ms), while active (1: the lock holds while its holder's job key exists; 0: for its TTL).
-- Reply: 1 when written, 0 when the id exists already (nothing written), as arq's enqueue; the holder's job
-- id when the unique lock is held (nothing written). With a window: {that, admitted, remaining, wait ms,
-- reset ms}.
-- include: window.lua
local window, lock, lock_ms, while_active
local k, i = 5, 6
while ARGV[i] do
  if ARGV[i] == 'window' then
    window = {KEYS[k], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3]}
    i = i + 4
  else  -- 'unique'
    lock, lock_ms, while_active = KEYS[k], ARGV[i + 1], ARGV[i + 2] == '1'
    i = i + 3
  end
  k = k + 1
end

-- The unique lock's holder, or false. While active, only as long as its job key exists: arq deletes it in
-- the transaction that ends the job (as do an abort and a purge of a queued job), so the lock ends with it.
local function holder()
  local id = redis.call('GET', lock)
  if id and while_active then
    local job_prefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
    if redis.call('EXISTS', job_prefix .. id) == 0 then
      return false
    end
  end
  return id
end

local function enqueue()
  if redis.call('EXISTS', KEYS[1], KEYS[2]) ~= 0 then
    return 0
  end
  if lock then
    local held = holder()
    if held then
      return held
    end
    redis.call('SET', lock, ARGV[1], 'PX', lock_ms)
  end
  redis.call('PSETEX', KEYS[1], ARGV[4], ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  if redis.call('LLEN', KEYS[4]) < tonumber(ARGV[5]) then
    redis.call('RPUSH', KEYS[4], '1')
  end
  return 1
end

if window == nil then
  return enqueue()
end
local decision = decide(window[1], window[2], window[3], 0, window[4], false)
if decision[1] == 0 then
  return {0, unpack(decision)}
end
return {enqueue(), unpack(decision)}
