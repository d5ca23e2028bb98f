-- A change to what a node holds, from its core: the first holder of an
-- alias or member of a room appeared or the last one went, a session's
-- row (for `list`) appeared, changed or went, the node began or stopped
-- having presence watchers. Records it in the node's keys and, when that
-- changed anything, appends it to the directory stream, so re-asserting
-- what is already recorded appends nothing.
-- ARGV: prefix, maxlen, kind, node, then by kind:
--   ah, ar, rj, rl: name hex, name
--   ss: session id, alias ('' for none)
--   sc: session id
--   wt: '1' or '0'
local p, maxlen, kind, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local changed
local fields
if kind == 'ah' or kind == 'ar' or kind == 'rj' or kind == 'rl' then
  local set = p .. ((kind == 'ah' or kind == 'ar') and 'held:' or 'rooms:') .. node
  if kind == 'ah' or kind == 'rj' then
    changed = redis.call('SADD', set, ARGV[5])
  else
    changed = redis.call('SREM', set, ARGV[5])
  end
  fields = { 't', ARGV[6] }
elseif kind == 'ss' then
  local rows = p .. 'rows:' .. node
  changed = 0
  if redis.call('HGET', rows, ARGV[5]) ~= ARGV[6] then
    redis.call('HSET', rows, ARGV[5], ARGV[6])
    changed = 1
  end
  fields = { 'i', ARGV[5] }
  if ARGV[6] ~= '' then
    fields[3] = 't'
    fields[4] = ARGV[6]
  end
elseif kind == 'sc' then
  changed = redis.call('HDEL', p .. 'rows:' .. node, ARGV[5])
  fields = { 'i', ARGV[5] }
elseif kind == 'wt' then
  if ARGV[5] == '1' then
    changed = redis.call('SADD', p .. 'watching', node)
  else
    changed = redis.call('SREM', p .. 'watching', node)
  end
  fields = { 'w', ARGV[5] }
else
  return redis.error_reply('unknown directory change ' .. kind)
end
if changed == 1 then
  redis.call('XADD', p .. 'directory', 'MAXLEN', '~', maxlen, '*',
    'v', '3', 'k', kind, 'n', node, unpack(fields))
end
return changed
