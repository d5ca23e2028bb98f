-- A node's first holder of an alias (or member of a room) appeared, or
-- its last one went: record it in the node's set and, when that changed
-- anything, append the change to the directory stream. Re-asserting what
-- is already recorded appends nothing.
-- ARGV: prefix, kind (ah, ar, rj, rl), node, name hex, name, maxlen.
local p, kind, node, hex, name, maxlen =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local changed
if kind == 'ah' then
  changed = redis.call('SADD', p .. 'held:' .. node, hex)
elseif kind == 'ar' then
  changed = redis.call('SREM', p .. 'held:' .. node, hex)
elseif kind == 'rj' then
  changed = redis.call('SADD', p .. 'rooms:' .. node, hex)
elseif kind == 'rl' then
  changed = redis.call('SREM', p .. 'rooms:' .. node, hex)
else
  return redis.error_reply('unknown directory change ' .. kind)
end
if changed == 1 then
  redis.call('XADD', p .. 'directory', 'MAXLEN', '~', maxlen, '*',
    'v', '1', 'k', kind, 'n', node, 't', name)
end
return changed
