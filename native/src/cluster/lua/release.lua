-- A session gave an alias up: forget it, if it is still the holder.
-- ARGV: prefix, alias hex, session id, node. Idempotent.
local p, hex, sid, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local akey = p .. 'alias:' .. hex
if redis.call('HGET', akey, sid) == node then
  redis.call('HDEL', akey, sid)
end
if redis.call('HGET', p .. 'sessions:' .. node, sid) == hex then
  redis.call('HDEL', p .. 'sessions:' .. node, sid)
end
return 1
