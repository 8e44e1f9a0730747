#!lua
-- KEYS[1]: the window. ARGV: count, period ms, max wait ms, request id, and an optional 'peek' (decide,
-- record nothing: would a request be admitted now?). Returns `decide`'s {admitted, remaining, wait, reset}.
-- include: window.lua
return decide(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5] == 'peek')
