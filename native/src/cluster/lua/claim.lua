-- Settles one claim of an alias, atomically (docs/design/cluster.md).
-- ARGV: prefix, alias hex, alias, session id, node, policy, inbox maxlen.
-- Returns 1 when the alias is the claimant's now, 0 when refused.
--
-- Holders whose node's lease is gone are dropped first, so a dead node
-- never blocks a claim. A claimant already holding the alias is granted
-- again (the script runs again after a dropped connection, and when a
-- node re-asserts its aliases). Under `takeover`, displaced holders on
-- other nodes get a `taken_over` note in their node's inbox; one on the
-- claimant's own node is displaced there by the core itself.
local p, hex, alias, sid, node, policy, maxlen =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local akey = p .. 'alias:' .. hex
local flat = redis.call('HGETALL', akey)
local others = {}
for i = 1, #flat, 2 do
  local s, n = flat[i], flat[i + 1]
  if redis.call('EXISTS', p .. 'node:' .. n) == 0 then
    redis.call('HDEL', akey, s)
  elseif s ~= sid then
    others[#others + 1] = { s, n }
  end
end
if policy == 'reject' and #others > 0 then
  return 0
end
if policy == 'takeover' then
  for _, holder in ipairs(others) do
    local s, n = holder[1], holder[2]
    redis.call('HDEL', akey, s)
    if redis.call('HGET', p .. 'sessions:' .. n, s) == hex then
      redis.call('HDEL', p .. 'sessions:' .. n, s)
    end
    if n ~= node then
      redis.call('XADD', p .. 'inbox:' .. n, 'MAXLEN', '~', maxlen, '*',
        'v', '3', 'k', 'x', 't', alias, 'i', s)
    end
  end
end
redis.call('HSET', akey, sid, node)
redis.call('HSET', p .. 'sessions:' .. node, sid, hex)
return 1
