-- Keeps Redis busy for ARGV[1] ms, past `busy-reply-threshold`: every other client gets BUSY meanwhile.
local t = redis.call('TIME')
local started = t[1] * 1000000 + t[2]
repeat
  local now = redis.call('TIME')
until now[1] * 1000000 + now[2] - started > tonumber(ARGV[1]) * 1000
return 1
