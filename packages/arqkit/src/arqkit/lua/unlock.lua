-- KEYS: a unique job's lock (unique.py), its holder's job key. ARGV: the holder's job id.
-- Deletes the lock once its job has ended (its job key gone: arq's finish deleted it) and only while it is
-- still that job's. A job that goes on (a retry, a deferral) keeps it. Returns 1 if deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.call('DEL', KEYS[1])
end
return 0
