-- Removes every node whose lease ran out: its claims and its directory
-- entries (aliases, rooms, session rows, watching); appends `ng` (node gone) to the directory stream. Its inbox is
-- kept for a while (ARGV[3] ms): a node that was only cut off from Redis
-- finds there what was sent to it before the others learned it was gone
-- (registering again makes the inbox permanent). Every node runs it; a
-- node already reaped is no longer in `nodes`, so running it twice does
-- nothing more. ARGV: prefix, maxlen, inbox grace in ms.
-- Returns the ids of the nodes reaped.
local p, maxlen, grace = ARGV[1], ARGV[2], ARGV[3]
local gone = {}
for _, n in ipairs(redis.call('SMEMBERS', p .. 'nodes')) do
  if redis.call('EXISTS', p .. 'node:' .. n) == 0 then
    local flat = redis.call('HGETALL', p .. 'sessions:' .. n)
    for i = 1, #flat, 2 do
      local akey = p .. 'alias:' .. flat[i + 1]
      if redis.call('HGET', akey, flat[i]) == n then
        redis.call('HDEL', akey, flat[i])
      end
    end
    redis.call('DEL', p .. 'sessions:' .. n, p .. 'held:' .. n, p .. 'rooms:' .. n,
      p .. 'rows:' .. n)
    redis.call('SREM', p .. 'watching', n)
    redis.call('PEXPIRE', p .. 'inbox:' .. n, grace)
    redis.call('SREM', p .. 'nodes', n)
    redis.call('XADD', p .. 'directory', 'MAXLEN', '~', maxlen, '*',
      'v', '3', 'k', 'ng', 'n', n)
    gone[#gone + 1] = n
  end
end
return gone
