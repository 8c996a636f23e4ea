-- Extends a lock the caller still holds (the lock watchdog of
-- store/cluster_store.py): a holder that waits or is slowed down keeps its
-- locks, and a dead holder's locks still expire.
--
-- KEYS[1]  the lock
-- ARGV     the caller's token, new time to live in ms
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
