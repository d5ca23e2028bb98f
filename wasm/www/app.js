// The page: controls, panels and the run loop around the WebAssembly
// simulator. It only asks the simulator to act and draws its trace and
// state; every routing decision is made inside tcphub-core.

import init, { Simulator } from './pkg/tcphub_wasm.js';
import { SequenceDiagram, deliveryLabel, eventLabel, frameKind, messageText, shorten } from './diagram.js';

const $ = (id) => document.getElementById(id);
const SPEEDS = { 1: [1, 160], 4: [1, 45], 40: [8, 16], 100000: [100000, 0] };
const MAX_LOG = 4000;
const ROOM = '#room:';    // a room among the targets of a select

let sim = null;
let scenario = null;      // the loaded scenario, as an object
let seen = 0;             // trace entries already drawn
let running = false;
let timer = null;
let started = false;      // anything has run since the last reset
const inbox = new Map();  // client -> frames it read, newest last
const diagram = new SequenceDiagram($('diagram-head'), $('diagram'));

// ----- loading and resetting -----

function loadScenario(object) {
  scenario = object;
  const faults = object.faults ?? {};
  $('seed').value = object.seed ?? 0;
  $('faults').checked = Boolean(faults.enabled);
  $('f-split').value = faults.split ?? 40;
  $('f-join').value = faults.join ?? 25;
  $('f-delay').value = faults.max_delay_ms ?? 30;
  $('f-drop').value = faults.drop ?? 0;
  $('f-stall').value = faults.stall ?? 0;
  $('scenario-description').textContent = object.description ?? '';
  reset();
}

/** The loaded scenario with the seed and faults as set on the page. */
function scenarioFromControls() {
  const s = structuredClone(scenario);
  s.trace = 'full'; // the page draws from the whole trace
  s.seed = Math.max(0, Math.floor(Number($('seed').value) || 0));
  s.faults = {
    ...(s.faults ?? {}),
    enabled: $('faults').checked,
    split: Number($('f-split').value),
    join: Number($('f-join').value),
    max_delay_ms: Number($('f-delay').value),
    drop: Number($('f-drop').value),
    stall: Number($('f-stall').value),
  };
  return s;
}

function reset() {
  pause();
  let next;
  try {
    next = new Simulator(JSON.stringify(scenarioFromControls()));
  } catch (error) {
    return showError(error);
  }
  sim?.free();
  sim = next;
  seen = 0;
  started = false;
  inbox.clear();
  const nodes = scenario.cluster?.nodes ?? [];
  const authentication = Boolean(scenario.hub?.authentication);
  diagram.reset(nodes, authentication);
  for (const el of document.querySelectorAll('.cluster-only')) el.hidden = !nodes.length;
  for (const el of document.querySelectorAll('.auth-only')) el.hidden = !authentication;
  fill($('new-client-node'), nodes.map((n) => [n, `→ ${n}`]));
  fill($('host-node'), nodes.map((n) => [n, `the host on ${n}`]));
  $('log').replaceChildren();
  showError(null);
  pump();
}

// ----- the run loop -----

function setStatus() {
  const state = !sim ? 'loading' : running ? 'running' : sim.done ? 'done' : started ? 'paused' : 'ready';
  $('status').dataset.state = state;
  $('status').textContent = state;
  $('run').disabled = running || sim?.done;
  $('step').disabled = running || sim?.done;
  $('pause').disabled = !running;
}

function run() {
  if (!sim || sim.done) return setStatus();
  running = true;
  started = true;
  setStatus();
  tick();
}

function pause() {
  running = false;
  clearTimeout(timer);
  setStatus();
}

function tick() {
  if (!running) return;
  const [steps, delay] = SPEEDS[$('speed').value] ?? SPEEDS[4];
  sim.run(steps);
  pump();
  if (sim.done) {
    running = false;
    setStatus();
    return;
  }
  timer = setTimeout(tick, delay);
}

function step() {
  if (!sim) return;
  started = true;
  sim.step();
  pump();
}

/** Queues actions, in order, and lets the run carry them out (all are
 * queued before it takes a step). */
function act(...actions) {
  if (!sim) return;
  try {
    for (const action of actions) sim.act(JSON.stringify(action));
  } catch (error) {
    return showError(error);
  }
  showError(null);
  if (!running) run();
}

// ----- drawing what happened -----

function pump() {
  const entries = JSON.parse(sim.traceJson(seen));
  seen += entries.length;
  const log = $('log');
  const fragment = document.createDocumentFragment();
  for (const e of entries) {
    diagram.add(e);
    fragment.append(logLine(e));
    if (e.kind === 'deliver') {
      const frames = inbox.get(e.client) ?? [];
      frames.push(e);
      inbox.set(e.client, frames);
    }
  }
  diagram.resize();
  log.append(fragment);
  while (log.childElementCount > MAX_LOG) log.firstElementChild.remove();
  if (entries.length) {
    log.scrollTop = log.scrollHeight;
    const scroller = $('diagram-scroll');
    scroller.scrollTop = scroller.scrollHeight;
  }
  renderState();
  setStatus();
}

function logLine(e) {
  const li = document.createElement('li');
  const [tag, text, extra] = describe(e);
  li.className = `${e.kind}${extra ? ` ${extra}` : ''}`;
  const t = document.createElement('span');
  t.className = 't';
  t.textContent = `${e.t} ms`;
  const k = document.createElement('span');
  k.className = 'tag';
  k.textContent = tag;
  const m = document.createElement('span');
  m.className = 'msg';
  // Long messages are cut here; the title and the saved trace have them whole.
  m.textContent = shorten(text, 400);
  if (text.length > 400) li.title = text;
  li.append(t, k, m);
  return li;
}

/** A watch's scope in words. */
function scopeText(s) {
  if (s.room !== undefined) return `room ${s.room}`;
  if (s.aliases !== undefined) return s.aliases.join(', ') || 'no aliases';
  return 'every alias';
}

function describeStep(s) {
  const msg = 'message' in s ? ` ${JSON.stringify(s.message)}` : '';
  switch (s.action) {
    case 'connect': return `${s.client} connects${s.node ? ` to node ${s.node}` : ''}`;
    case 'sync': return `${s.client} syncs alias ${s.alias}${s.token !== undefined ? ` with token ${JSON.stringify(s.token)}` : ''}${s.last_will ? ` leaving a last will ${JSON.stringify(s.last_will)}` : ''}`;
    case 'send': return `${s.client} sends${msg} ${s.room !== undefined ? `to room ${s.room}` : s.to ? `to ${s.to}` : 'to the host'}`;
    case 'list': return s.room !== undefined ? `${s.client} lists room ${s.room}` : `${s.client} lists the sessions`;
    case 'join': return `${s.client} joins room ${s.room}`;
    case 'leave': return `${s.client} leaves room ${s.room}`;
    case 'watch': return `${s.client} watches ${scopeText(s)}`;
    case 'unwatch': return `${s.client} stops watching ${scopeText(s)}`;
    case 'bye': return `${s.client} says bye`;
    case 'drop': return `${s.client}'s connection drops`;
    case 'join_room': return `host puts ${s.session_id} in room ${s.room}`;
    case 'leave_room': return `host takes ${s.session_id} out of room ${s.room}`;
    case 'send_to_room': return `host sends${msg} to room ${s.room}`;
    case 'write': return `${s.client} writes ${shorten(s.data, 90)}`;
    case 'broadcast': return `host${s.node ? ` on ${s.node}` : ''} broadcasts${msg}`;
    case 'send_to_alias': return `host${s.node ? ` on ${s.node}` : ''} sends${msg} to ${s.alias}`;
    case 'close_session': return `host closes session ${s.session_id}`;
    case 'crash_node': return `node ${s.node} crashes`;
    case 'wait': return `time passes: ${s.ms} ms`;
    case 'faults': return `faults ${s.enabled ? 'on' : 'off'}`;
    case 'half_close': return `${s.client} shuts its write side`;
    case 'stop_reading': return `${s.client} stops reading`;
    case 'resume_reading': return `${s.client} reads again`;
    default: return s.client ? `${s.client}: ${s.action.replace('_', ' ')}` : s.action;
  }
}

/** A question to the authenticator, or its answer, in words. */
function authWords(e) {
  const hub = e.node ? `node ${e.node}` : 'hub';
  if (e.state === 'asked') {
    return `${hub} asks the authenticator whether ${e.client}'s token grants alias ${e.alias} (request #${e.request}); ${e.client} waits`;
  }
  const answer = e.state === 'granted'
    ? `grants alias ${e.alias} to ${e.client}${e.identity ? ` as identity ${e.identity}` : ''}`
    : `denies ${e.client}'s token for alias ${e.alias}`;
  const late = e.late ? `, too late: the ${hub} had stopped waiting` : '';
  return `authenticator ${answer} (asked at ${e.asked} ms, request #${e.request})${late}`;
}

/** The details of a backplane hop, in words. */
function hopWords(e) {
  const parts = [];
  if (e.change) parts.push(e.change.replace('_', ' '));
  if (e.alias !== undefined) parts.push(e.alias);
  if (e.room !== undefined) parts.push(`[${e.room}]`);
  if (e.everyone) parts.push('everyone');
  if (e.message === 'forward' || e.change) parts.push(`node ${e.node}`);
  if (e.message === 'node_gone') parts.push(e.node);
  if (e.session_id && !e.change) parts.push(e.session_id);
  if (e.policy) parts.push(`(${e.policy})`);
  if (e.granted !== undefined) parts.push(e.granted ? 'granted' : 'refused: alias_taken');
  if (e.frame) parts.push(JSON.stringify(e.frame));
  return parts.length ? `: ${parts.join(' ')}` : '';
}

function describe(e) {
  switch (e.kind) {
    case 'step': return ['step', `#${e.index} ${describeStep(e.step)}`];
    case 'connect': return ['connect', `${e.client} connected from ${e.addr}${e.node ? ` to node ${e.node}` : ''} (handle #${e.handle})`];
    case 'write': return ['write', `${e.dir === 'to_hub' ? `${e.client} →` : `→ ${e.client}`} ${e.len} B${e.pieces > 1 ? ` cut in ${e.pieces}` : ''}${e.joined ? ' joined to the previous write' : ''}: ${e.text}`, 'wire'];
    case 'arrive': return ['arrive', `${e.dir === 'to_hub' ? `hub ⇐ ${e.client}` : `${e.client} ⇐ hub`} ${e.len} B (sent at ${e.sent} ms): ${e.text}${e.hex ? ` [hex ${e.hex}]` : ''}`, 'wire'];
    case 'deliver': return ['read', `${e.client} read ${JSON.stringify(e.line)}`];
    case 'event': return ['hub event', `${eventLabel(e)}${e.event === 'message' || e.event === 'relayed' ? '' : ` [${e.session_id}]`}`, e.event === 'relayed' ? 'relayed' : ''];
    case 'host': return ['host', `${e.node ? `(on ${e.node}) ` : ''}${e.error ? `${e.command} failed: ${e.error}` : `${e.command} reached ${e.reached} session${e.reached === 1 ? '' : 's'}${e.node ? ' here' : ''}`}`, e.error ? 'err' : ''];
    case 'close': return ['close', e.at === 'hub'
      ? `hub closed ${e.client}'s session: ${e.reason}${e.dropped ? ` (${e.dropped} unsent bytes dropped)` : ''}`
      : `${e.client}'s connection closed: ${e.reason}`];
    case 'flow': return ['flow', e.state === 'paused'
      ? `hub stops reading ${e.client} (flow control, or its credential being checked): what it sends waits`
      : `hub reads ${e.client} again`];
    case 'eof': return ['eof', e.at === 'client' ? `${e.client} shuts its write side` : `hub read the end of ${e.client}'s requests`];
    case 'fault': return ['fault', e.fault === 'drop' ? `${e.client} drops its connection` : `${e.client} stops reading`];
    case 'discard': return ['discard', `${e.len} bytes for ${e.dir === 'to_hub' ? 'the hub' : e.client} arrived at a closed end`];
    case 'backplane': return ['backplane', `${e.from} → ${e.to} ${e.message}${hopWords(e)}${e.lost ? ' — lost: the node has crashed' : ''}`,
      `${e.message === 'directory' ? 'directory' : ''}${e.lost ? ' lost' : ''}`];
    case 'node': return ['node', e.state === 'crashed'
      ? `node ${e.node} crashed: its clients are reset, what reaches it is lost`
      : `lease of ${e.node} expired: the directory freed ${e.freed?.join(', ') || 'nothing'}; the other nodes are told it is gone`];
    case 'auth': return ['auth', authWords(e), e.state === 'denied' ? 'denied' : ''];
    case 'skip': return ['skipped', e.reason];
    default: return [e.kind, JSON.stringify(e)];
  }
}

function option(value, label, selected) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = label;
  if (selected) o.selected = true;
  return o;
}

/** Refills a select, keeping the choice when it is still offered. */
function fill(select, options) {
  const keep = select.value;
  select.replaceChildren(...options.map(([v, l]) => option(v, l, v === keep)));
  if (!options.some(([v]) => v === keep) && options.length) select.value = options[0][0];
}

function button(label, onClick, title) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (title) b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

function renderState() {
  const state = JSON.parse(sim.stateJson());
  $('now').textContent = state.now.toLocaleString('en-US');
  for (const c of state.clients) diagram.setLaneInfo(c.name, c.connected ? c.addr : 'disconnected', !c.connected);

  const list = $('clients');
  list.replaceChildren();
  if (!state.clients.length) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'No clients yet: run the scenario or add one.';
    list.append(li);
  }
  for (const c of state.clients) {
    const li = document.createElement('li');
    li.className = `client${c.connected ? ' connected' : ''}${c.connected && !c.reading ? ' stalled' : ''}${c.paused ? ' paused' : ''}`;
    li.dataset.client = c.name;
    li.dataset.rooms = c.rooms.join(' ');
    const head = document.createElement('div');
    head.className = 'client-head';
    const dot = document.createElement('span');
    dot.className = 'dot';
    const name = document.createElement('span');
    name.className = 'client-name';
    name.textContent = c.name;
    head.append(dot, name);
    if (c.alias) {
      const alias = document.createElement('span');
      alias.className = 'alias';
      alias.textContent = c.alias;
      head.append(alias);
    }
    const badge = (kind, text, title) => {
      const b = document.createElement('span');
      b.className = `badge ${kind}`;
      b.textContent = text;
      b.title = title;
      head.append(b);
    };
    if (c.node) badge('node', `@ ${c.node}`, `Connected to node ${c.node}`);
    if (c.identity) badge('identity', `as ${c.identity}`, `Authenticated as identity ${c.identity}`);
    for (const room of c.rooms) badge('room', `# ${room}`, `A member of room ${room}`);
    if (c.paused) badge('paused', 'paused', 'The hub is not reading this client (flow control, or its credential being checked); what it sends waits, in order');
    if (c.connected && !c.writing) badge('shut', 'write shut', 'Half-closed: it sends nothing more and still reads');
    const addr = document.createElement('span');
    addr.className = 'addr';
    addr.textContent = c.connected ? c.addr : 'offline';
    head.append(addr);
    const actions = document.createElement('div');
    actions.className = 'client-actions';
    if (c.connected) {
      actions.append(button('Disconnect', () => act({ action: 'disconnect', client: c.name })));
      if (c.writing) {
        actions.append(button('Bye', () => act({ action: 'bye', client: c.name }),
          'Say bye: a clean close; the hub answers what it sent and does not send its last will'));
      }
      actions.append(button('Drop', () => act({ action: 'drop', client: c.name }),
        'Its connection drops abruptly, with no bye: the hub sends its last will, if it left one'));
      actions.append(c.reading
        ? button('Stop reading', () => act({ action: 'stop_reading', client: c.name }),
          'Its socket fills, then the hub queues for it and pauses whoever sends to it; after the write deadline with nothing written it closes it as a slow consumer')
        : button('Resume reading', () => act({ action: 'resume_reading', client: c.name })));
      if (c.writing) {
        actions.append(button('Half-close', () => act({ action: 'half_close', client: c.name }),
          'Shut its write side: the hub answers everything it sent, then says bye'));
      }
      if (c.in_socket || c.queued) {
        const meta = document.createElement('span');
        meta.className = 'client-meta';
        meta.textContent = `${c.in_socket} B in socket · ${c.queued} B queued at hub`;
        meta.title = 'In socket: written by the hub, not yet read. Queued at hub: what the socket could not take yet, which the hub counts for flow control';
        actions.append(meta);
      }
    } else {
      actions.append(button('Connect', () => act(onNode({ action: 'connect', client: c.name }, $('new-client-node').value))));
    }
    const box = document.createElement('ul');
    box.className = 'inbox';
    box.dataset.inbox = c.name;
    for (const e of (inbox.get(c.name) ?? []).slice(-4)) {
      const item = document.createElement('li');
      item.dataset.kind = frameKind(e.frame, e.from, e.line);
      item.dataset.frame = e.frame;
      item.dataset.from = e.from ?? '';
      item.dataset.message = e.line && 'message' in e.line ? messageText(e.line.message) : '';
      item.title = JSON.stringify(e.line);
      item.textContent = `${e.t} ms  ${deliveryLabel(e)}`;
      box.append(item);
    }
    li.append(head, actions, box);
    list.append(li);
  }

  const nodeList = $('nodes');
  nodeList.replaceChildren();
  for (const n of state.nodes ?? []) {
    const li = document.createElement('li');
    li.dataset.node = n.id;
    li.className = n.crashed ? 'crashed' : '';
    const name = document.createElement('span');
    name.className = 'node-name';
    name.textContent = n.id;
    const meta = document.createElement('span');
    meta.className = 'node-meta';
    meta.textContent = n.crashed ? 'crashed' : `${n.sessions} session${n.sessions === 1 ? '' : 's'}`;
    li.append(name, meta);
    if (!n.crashed) {
      li.append(button('Crash', () => act({ action: 'crash_node', node: n.id }),
        'Kill this node: its clients are reset; after the lease the backplane frees its aliases'));
    }
    nodeList.append(li);
  }

  const tbody = $('sessions');
  tbody.replaceChildren();
  for (const s of state.sessions) {
    const tr = document.createElement('tr');
    tr.dataset.sessionId = s.session_id;
    // An identity other than the alias says who holds it.
    const holder = s.identity && s.identity !== s.alias ? ` (${s.identity})` : '';
    const cells = [`#${s.handle}`, s.session_id, s.alias ? `${s.alias}${holder}` : '—'];
    if (s.identity) tr.dataset.identity = s.identity;
    if (s.rooms.length) tr.title = `rooms: ${s.rooms.join(', ')}`;
    tr.dataset.rooms = s.rooms.join(' ');
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 1) td.className = 'mono';
      if (i === 2 && !s.alias) td.className = 'none';
      tr.append(td);
    });
    const td = document.createElement('td');
    td.append(button('Close', () => act({ action: 'close_session', session_id: s.session_id }), 'The host closes this session'));
    tr.append(td);
    tbody.append(tr);
  }
  if (!state.sessions.length) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = 4;
    td.className = 'none';
    td.textContent = 'no open sessions';
    tr.append(td);
    tbody.append(tr);
  }
  const st = state.stats;
  $('counters').textContent = `${st.deliveries} frames read by clients · ${st.host_messages} messages to the host · ` +
    `${st.pieces} pieces carried · ${state.in_flight} in flight · ${state.queued_steps} steps queued`;

  $('new-client').placeholder = `Client-${state.clients.length + 1}`;
  const connected = state.clients.filter((c) => c.connected).map((c) => c.name);
  fill($('actor'), connected.map((n) => [n, n]));
  const aliases = [...new Set(state.sessions.map((s) => s.alias).filter(Boolean))];
  const rooms = [...new Set(state.sessions.flatMap((s) => s.rooms))].sort();
  // No alias or room starts with '#', so these values cannot clash.
  const roomOptions = rooms.map((r) => [`${ROOM}${r}`, `room ${r}`]);
  const actor = $('actor').value;
  fill($('send-to'), [['', 'the host'], ...aliases.map((a) => [a, a]), ['*', '* everyone else'], ...roomOptions]);
  const actorRooms = state.clients.find((c) => c.name === actor)?.rooms ?? [];
  fill($('leave-room'), actorRooms.length ? actorRooms.map((r) => [r, r]) : [['', 'in no room']]);
  $('leave-room-button').disabled = !actorRooms.length;
  const others = state.sessions.filter((s) => s.alias && s.client !== actor).map((s) => s.alias);
  fill($('takeover-alias'), [...new Set(others)].map((a) => [a, a]));
  fill($('host-to'), [['*', 'everyone (broadcast)'], ...aliases.map((a) => [a, a]), ...roomOptions]);
  for (const id of ['sync-form', 'takeover-form', 'send-form', 'room-form']) {
    for (const control of $(id).elements) control.disabled = !connected.length;
  }
  $('takeover-form').querySelector('button').disabled = !connected.length || !others.length;
  $('leave-room-button').disabled = !connected.length || !actorRooms.length;
}

// ----- controls -----

/** The action on a cluster's node (nothing changes for one hub). */
function onNode(action, node) {
  return scenario.cluster && node ? { ...action, node } : action;
}

/** A sync with the token typed on the page, on a hub with authentication. */
function withToken(action) {
  const token = $('sync-token').value;
  return !$('sync-token').hidden && token ? { ...action, token } : action;
}

/** Text that parses as JSON is sent as that JSON; anything else as a string. */
function parseMessage(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function showError(error) {
  const box = $('error');
  box.hidden = !error;
  box.textContent = error ? String(error.message ?? error) : '';
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function onSubmit(id, handler) {
  $(id).addEventListener('submit', (event) => {
    event.preventDefault();
    handler();
  });
}

function wire() {
  $('load-preset').addEventListener('click', () => loadScenario(JSON.parse(Simulator.presetJson($('preset').value))));
  $('reset').addEventListener('click', reset);
  $('run').addEventListener('click', run);
  $('pause').addEventListener('click', pause);
  $('step').addEventListener('click', step);
  $('faults').addEventListener('change', () => {
    // Recorded as a step, so a saved run replays with the same switch.
    if (started) act({ action: 'faults', enabled: $('faults').checked });
    else reset();
  });
  $('show-wire').addEventListener('change', () => $('log').classList.toggle('show-wire', $('show-wire').checked));
  $('save-json').addEventListener('click', () => download(`${scenario.name || 'scenario'}-seed${$('seed').value}.json`, sim.recordedScenarioJson()));
  $('save-trace').addEventListener('click', () => download(`${scenario.name || 'scenario'}-seed${$('seed').value}.trace.json`, sim.traceJsonLines()));
  $('load-json').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    event.target.value = '';
    if (!file) return;
    try {
      const text = await file.text();
      new Simulator(text).free(); // checks it, with the simulator's own error messages
      loadScenario(JSON.parse(text));
    } catch (error) {
      showError(error);
    }
  });
  onSubmit('add-client', () => {
    const name = $('new-client').value.trim() || `Client-${JSON.parse(sim.stateJson()).clients.length + 1}`;
    $('new-client').value = '';
    const connect = onNode({ action: 'connect', client: name }, $('new-client-node').value);
    // With authentication on, a hub closes a connection that has not
    // signed in within its auth_timeout, and the run does not wait for
    // typing: a client added while the sign-in form holds an alias and a
    // token signs in at once.
    const alias = $('sync-alias').value.trim();
    const signIn = withToken({ action: 'sync', client: name, alias });
    if (alias && signIn.token) act(connect, signIn);
    else act(connect);
  });
  onSubmit('sync-form', () => {
    const alias = $('sync-alias').value.trim();
    if (!alias) return showError('Type an alias to sync.');
    act(withToken({ action: 'sync', client: $('actor').value, alias }));
  });
  onSubmit('takeover-form', () => act(withToken({ action: 'sync', client: $('actor').value, alias: $('takeover-alias').value })));
  onSubmit('send-form', () => {
    const to = $('send-to').value;
    const action = { action: 'send', client: $('actor').value, message: parseMessage($('send-message').value) };
    if (to.startsWith(ROOM)) action.room = to.slice(ROOM.length);
    else if (to) action.to = to;
    act(action);
  });
  onSubmit('room-form', () => {
    const room = $('join-room').value.trim();
    if (!room) return showError('Type a room to join.');
    act({ action: 'join', client: $('actor').value, room });
  });
  $('leave-room-button').addEventListener('click', () => {
    if ($('leave-room').value) act({ action: 'leave', client: $('actor').value, room: $('leave-room').value });
  });
  onSubmit('host-form', () => {
    const message = parseMessage($('host-message').value);
    const to = $('host-to').value;
    const node = $('host-node').value;
    if (to.startsWith(ROOM)) act(onNode({ action: 'send_to_room', room: to.slice(ROOM.length), message }, node));
    else act(onNode(to === '*' ? { action: 'broadcast', message } : { action: 'send_to_alias', alias: to, message }, node));
  });
  onSubmit('wait-form', () => act({ action: 'wait', ms: Math.max(1, Number($('wait-ms').value) || 1) }));
  $('actor').addEventListener('change', () => renderState());
}

async function main() {
  await init();
  // The simulator's list, in its order; the first one opens.
  const presets = Simulator.presetNames();
  for (const name of presets) $('preset').append(option(name, name, name === presets[0]));
  wire();
  loadScenario(JSON.parse(Simulator.presetJson(presets[0])));
  // For the browser test and benchmark, and for poking from the console.
  window.tcphub = { Simulator, get sim() { return sim; } };
}

main().catch((error) => {
  showError(error);
  $('status').textContent = 'failed';
  $('status').dataset.state = 'failed';
});
