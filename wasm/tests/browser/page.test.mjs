// The page in a real headless Chromium: run the tutorial preset, send a
// directed message by clicking, and check it was delivered to that alias
// alone; run the golden scenarios to the native golden traces. Saves a
// screenshot to tests/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './static-server.mjs';
import { launch } from './chromium.mjs';

const wasmDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.resolve(wasmDir, '..', 'tests', 'artifacts');
const goldenDir = path.join(wasmDir, 'tests', 'golden');
let server;
let context;
let page;
const problems = [];

before(async () => {
  assert.ok(existsSync(path.join(wasmDir, 'www/pkg/tcphub_wasm_bg.wasm')), 'run wasm/build.sh first');
  server = await serve(path.join(wasmDir, 'www'));
  context = await launch();
  page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  // Nothing but the local server: the page must work offline.
  await page.route('**/*', (route) => (route.request().url().startsWith(server.url) ? route.continue() : route.abort()));
  await page.goto(server.url);
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 20_000 });
});

after(async () => {
  await context?.close();
  await server?.close();
});

/** What the page shows each client read: its inbox and the diagram's dots. */
async function shownDeliveries(message) {
  return page.evaluate((text) => {
    const inboxes = [...document.querySelectorAll('[data-inbox]')]
      .filter((box) => [...box.children].some((li) => li.dataset.message === text))
      .map((box) => box.dataset.inbox);
    const dots = [...document.querySelectorAll('#diagram g.delivery')]
      .filter((g) => g.dataset.message === text)
      .map((g) => `${g.dataset.client} from ${g.dataset.from}`);
    return { inboxes, dots };
  }, message);
}

test('the tutorial preset runs to the tutorial\'s deliveries', async () => {
  assert.equal(await page.inputValue('#preset'), 'tutorial');
  await page.selectOption('#speed', '40');
  await page.click('#run');
  await page.waitForSelector('#status[data-state="done"]', { timeout: 30_000 });
  assert.deepEqual(await shownDeliveries('大家来领物资了'), {
    inboxes: ['Client-1', 'Client-2'], dots: ['Client-1 from #hub', 'Client-2 from #hub'],
  });
  assert.deepEqual(await shownDeliveries('赶紧来做核酸了'), { inboxes: ['Client-1'], dots: ['Client-1 from #hub'] });
  assert.deepEqual(await shownDeliveries('一会儿上门做核酸'), { inboxes: ['Client-2'], dots: ['Client-2 from #hub'] });
  const table = await page.$$eval('#sessions tr', (rows) => rows.map((r) => [...r.cells].slice(1, 3).map((c) => c.textContent)));
  assert.deepEqual(table, [['10.0.0.1:40001', 'Client-1'], ['10.0.0.2:40001', 'Client-2']]);
  assert.equal(await page.textContent('#now'), '10,001');
});

test('a directed message sent by clicking reaches that alias alone', async () => {
  const message = '明天早上八点集合';
  await page.selectOption('#actor', 'Client-2');
  await page.selectOption('#send-to', 'Client-1');
  await page.fill('#send-message', message);
  await page.click('#send-button');
  await page.waitForFunction((text) =>
    document.querySelector('#status').dataset.state === 'done' &&
    [...document.querySelectorAll('#diagram g.delivery')].some((g) => g.dataset.message === text), message, { timeout: 20_000 });
  assert.deepEqual(await shownDeliveries(message), { inboxes: ['Client-1'], dots: ['Client-1 from Client-2'] });
  const log = await page.textContent('#log');
  assert.match(log, /Client-1 read \{"type":"info","from":"Client-2","message":"明天早上八点集合"\}/);
  assert.doesNotMatch(log, /Client-2 read \{"type":"info","from":"Client-2"/);

  // A broadcast by clicking reaches both, for contrast.
  await page.selectOption('#host-to', '*');
  await page.fill('#host-message', '大家好');
  await page.click('#host-form button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#diagram g.delivery')].filter((g) => g.dataset.message === '大家好').length === 2);
  assert.deepEqual((await shownDeliveries('大家好')).inboxes, ['Client-1', 'Client-2']);

  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'wasm-page.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('adding a client and taking over an alias by clicking', async () => {
  await page.fill('#new-client', 'Client-3');
  await page.click('#add-client button[type=submit]');
  await page.waitForSelector('#sessions tr[data-session-id="10.0.0.3:40001"]');
  await page.selectOption('#actor', 'Client-3');
  await page.selectOption('#takeover-alias', 'Client-1');
  await page.click('#takeover-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'done' &&
    !document.querySelector('#sessions tr[data-session-id="10.0.0.1:40001"]'));
  const table = await page.$$eval('#sessions tr', (rows) => rows.map((r) => [...r.cells].slice(1, 3).map((c) => c.textContent)));
  assert.deepEqual(table, [['10.0.0.2:40001', 'Client-2'], ['10.0.0.3:40001', 'Client-1']]);
  const client1 = await page.$eval('[data-inbox="Client-1"]', (box) => box.lastElementChild.textContent);
  assert.match(client1, /bye: taken_over/);
  assert.match(await page.textContent('li[data-client="Client-1"] .addr'), /offline/);

  // The host closes a session from the table, by its session id.
  await page.click('#sessions tr[data-session-id="10.0.0.2:40001"] button');
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'done' &&
    !document.querySelector('#sessions tr[data-session-id="10.0.0.2:40001"]'));
  const log = await page.textContent('#log');
  assert.match(log, /host closes session 10\.0\.0\.2:40001/);
  assert.match(log, /Client-3 connected from 10\.0\.0\.3:40001 \(handle #3\)/);
  assert.match(await page.textContent('[data-inbox="Client-2"]'), /bye: closed_by_host/);
  assert.deepEqual(problems, []);
});

test('Chromium runs the golden scenarios to the native golden traces, byte for byte', async () => {
  const files = readdirSync(goldenDir).filter((f) => f.endsWith('.scenario.json'));
  assert.equal(files.length, 7);
  for (const file of files) {
    const scenario = readFileSync(path.join(goldenDir, file), 'utf8');
    const golden = readFileSync(path.join(goldenDir, file.replace('.scenario.json', '.json')), 'utf8');
    const trace = await page.evaluate((json) => {
      const sim = new window.tcphub.Simulator(json);
      sim.runToEnd();
      const lines = sim.traceJsonLines();
      sim.free();
      return lines;
    }, scenario);
    assert.ok(trace === golden, `${file}: Chromium's trace differs from the native one`);
  }
});

test('faults, takeover and reset with a seed work from the controls', async () => {
  await page.selectOption('#preset', 'takeover');
  await page.click('#load-preset');
  await page.click('label.switch'); // as a person would: the switch, not the hidden box
  assert.ok(await page.isChecked('#faults'));
  await page.fill('#seed', '99');
  await page.click('#reset');
  await page.selectOption('#speed', '100000');
  await page.click('#run');
  await page.waitForSelector('#status[data-state="done"]');
  const log = await page.textContent('#log');
  assert.match(log, /hub closed phone's session: taken_over/);
  const cut = await page.$$eval('#diagram line.arrow.piece[data-dir]', (lines) => lines.length);
  assert.ok(cut > 0, 'with faults on, some writes arrive in pieces');
  const trace = await page.evaluate(() => window.tcphub.sim.traceJsonLines());
  const again = await page.evaluate(() => {
    const { Simulator } = window.tcphub;
    const s = new Simulator(window.tcphub.sim.scenarioJson());
    s.runToEnd();
    return s.traceJsonLines();
  });
  assert.equal(again, trace, 'the page\'s run is the scenario\'s deterministic trace');
  await page.screenshot({ path: path.join(artifacts, 'wasm-page-faults.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('the flow_control preset shows the publisher paused, then the stuck reader cut', async () => {
  await page.selectOption('#preset', 'flow_control');
  await page.click('#load-preset');
  await page.selectOption('#speed', '1');
  // Step until the hub pauses the publisher: its panel shows the badge.
  let paused = false;
  for (let i = 0; i < 400 && !paused; i++) {
    await page.click('#step');
    paused = await page.$('li[data-client="publisher"] .badge.paused') !== null;
  }
  assert.ok(paused, 'the publisher was never shown paused');
  assert.ok(await page.$('li[data-client="napper"] .badge.paused'), 'the napping reader is paused too');
  assert.ok(await page.$('#diagram text[data-flow="paused"][data-client="publisher"]'));
  assert.ok(await page.$('#diagram rect.paused-band[data-client="publisher"]'));
  await page.selectOption('#speed', '100000');
  await page.click('#run');
  await page.waitForSelector('#status[data-state="done"]', { timeout: 30_000 });
  assert.equal(await page.$('li[data-client] .badge.paused'), null, 'nobody is left paused');
  const resumed = await page.$$eval('#diagram text[data-flow="resumed"][data-client="publisher"]', (t) => t.length);
  assert.equal(resumed, 2);
  const log = await page.textContent('#log');
  assert.match(log, /hub stops reading publisher/);
  assert.match(log, /hub closed stuck's session: slow_consumer \(\d+ unsent bytes dropped\)/);
  assert.doesNotMatch(log, /hub closed (reader|napper|publisher)'s session/);
  assert.match(await page.textContent('li[data-client="stuck"] .addr'), /offline/);
  const trace = await page.evaluate(() => window.tcphub.sim.traceJsonLines());
  const again = await page.evaluate(() => {
    const s = new window.tcphub.Simulator(window.tcphub.sim.scenarioJson());
    s.runToEnd();
    return s.traceJsonLines();
  });
  assert.equal(again, trace);
  await page.screenshot({ path: path.join(artifacts, 'wasm-page-flow-control.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('the chat_room preset shows rooms, last wills, presence and relays; a room message by clicking', async () => {
  await page.selectOption('#preset', 'chat_room');
  await page.click('#load-preset');
  await page.selectOption('#speed', '100000');
  await page.click('#run');
  await page.waitForSelector('#status[data-state="done"]', { timeout: 30_000 });
  // Membership in the client panel and the session table.
  assert.equal(await page.getAttribute('li[data-client="time-bot"]', 'data-rooms'), 'lobby');
  assert.match(await page.textContent('li[data-client="time-bot"] .badge.room'), /lobby/);
  assert.equal(await page.getAttribute('li[data-client="carol"]', 'data-rooms'), '');
  // bob's last will, marked, read by those left in the room.
  const wills = await page.$$eval('#diagram g.delivery[data-last-will="true"]',
    (gs) => gs.map((g) => `${g.dataset.client} ${g.dataset.room} ${g.dataset.from}`));
  assert.deepEqual(wills, ['alice lobby bob', 'carol lobby bob', 'time-bot lobby bob']);
  const roomDots = await page.$$eval('#diagram g.delivery.room', (gs) => gs.length);
  assert.ok(roomDots >= 12, `room messages are drawn as such (${roomDots})`);
  assert.ok(await page.$('#diagram g.delivery.presence[data-client="carol"]'));
  const log = await page.textContent('#log');
  assert.match(log, /bob → last will \[lobby\] ×3: bob's connection dropped/);
  assert.match(log, /carol → \[lobby\] ×3: !time/);
  assert.match(log, /bob's connection drops/);
  assert.match(log, /alice says bye/);

  // A new client joins the room by clicking; the bot's room message reaches it.
  await page.fill('#new-client', 'dave');
  await page.click('#add-client button[type=submit]');
  await page.waitForSelector('li[data-client="dave"].connected');
  await page.selectOption('#actor', 'dave');
  await page.fill('#join-room', 'lobby');
  await page.click('#join-room-button');
  await page.waitForSelector('li[data-client="dave"][data-rooms="lobby"]');
  await page.selectOption('#actor', 'time-bot');
  await page.selectOption('#send-to', '#room:lobby');
  await page.fill('#send-message', '欢迎 dave');
  await page.click('#send-button');
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'done' &&
    [...document.querySelectorAll('#diagram g.delivery')].some((g) => g.dataset.message === '欢迎 dave'));
  assert.deepEqual(await shownDeliveries('欢迎 dave'), { inboxes: ['dave'], dots: ['dave from time-bot'] });
  assert.equal(await page.getAttribute('[data-inbox="dave"] li:last-child', 'data-kind'), 'room');
  // The host sends to the room from its own form.
  await page.selectOption('#host-to', '#room:lobby');
  await page.fill('#host-message', 'closing soon');
  await page.click('#host-form button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#diagram g.delivery')].filter((g) => g.dataset.message === 'closing soon').length === 2);
  assert.deepEqual((await shownDeliveries('closing soon')).inboxes, ['time-bot', 'dave']);
  await page.screenshot({ path: path.join(artifacts, 'wasm-page-chat-room.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('the cluster preset draws the nodes and the backplane, and a frame crossing it', async () => {
  await page.selectOption('#preset', 'cluster');
  await page.click('#load-preset');
  assert.equal(await page.isVisible('#nodes-panel'), true, 'the nodes panel shows for a cluster');
  await page.selectOption('#speed', '100000');
  await page.click('#run');
  await page.waitForSelector('#status[data-state="done"]', { timeout: 30_000 });
  // The backplane where the hub was, and a lane per node.
  const lanes = await page.$$eval('#diagram-head g.lane-head', (gs) => gs.map((g) => g.dataset.lane));
  assert.deepEqual(lanes.slice(0, 4), ['backplane', 'n1', 'n2', 'n3']);
  // Client-1's message to Client-2 crosses: n1 up to the backplane, down to n2.
  const crossing = await page.$$eval('#diagram line.arrow.backplane[data-message="hi from n1"]',
    (ls) => ls.map((l) => `${l.dataset.from}>${l.dataset.to} ${l.dataset.kind}`));
  assert.deepEqual(crossing, ['n1>backplane forward', 'backplane>n2 deliver']);
  const lost = await page.$$eval('#diagram line.arrow.backplane.lost', (ls) => ls.map((l) => l.dataset.message));
  assert.deepEqual(lost, ['are you there?']);
  assert.deepEqual(await shownDeliveries('hi from n1'), { inboxes: ['Client-2'], dots: ['Client-2 from Client-1'] });
  // The takeover from n3: the old holder on n1 was told bye taken_over.
  const client1 = await page.$eval('[data-inbox="Client-1"]', (box) => box.lastElementChild.textContent);
  assert.match(client1, /bye: taken_over/);
  assert.match(await page.textContent('li[data-client="phone"] .badge.node'), /n3/);
  // n2 crashed; its lease ran out and Client-2 came back on n1.
  assert.equal(await page.getAttribute('#nodes li[data-node="n2"]', 'class'), 'crashed');
  assert.ok(await page.$('#diagram-head g.lane-head.node.gone[data-lane="n2"]'));
  assert.ok(await page.$('#diagram text[data-node-state="lease_expired"]'));
  const log = await page.textContent('#log');
  assert.match(log, /node n2 crashed/);
  assert.match(log, /lease of n2 expired: the directory freed Client-2/);
  assert.match(log, /backplane → n1 taken_over: Client-1/);
  assert.match(await page.textContent('li[data-client="Client-2"] .badge.node'), /n1/);
  await page.screenshot({ path: path.join(artifacts, 'wasm-page-cluster.png'), fullPage: true });
  const trace = await page.evaluate(() => window.tcphub.sim.traceJsonLines());
  const golden = readFileSync(path.join(goldenDir, 'cluster-seed12.json'), 'utf8');
  assert.ok(trace === golden, 'the page runs the cluster preset to its golden trace');

  // By clicking: a client joins n3, the host on n1 reaches it, then n3 crashes.
  await page.fill('#new-client', 'Client-4');
  await page.selectOption('#new-client-node', 'n3');
  await page.click('#add-client button[type=submit]');
  await page.waitForSelector('li[data-client="Client-4"].connected');
  await page.selectOption('#actor', 'Client-4');
  await page.fill('#sync-alias', 'Client-4');
  await page.click('#sync-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'done' &&
    document.querySelector('li[data-client="Client-4"] .alias')?.textContent === 'Client-4');
  await page.selectOption('#host-node', 'n1');
  await page.selectOption('#host-to', 'Client-4');
  await page.fill('#host-message', 'hello from n1');
  await page.click('#host-form button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#diagram line.arrow.backplane')]
    .filter((l) => l.dataset.message === 'hello from n1').length === 2);
  assert.deepEqual((await shownDeliveries('hello from n1')).inboxes, ['Client-4']);
  await page.click('#nodes li[data-node="n3"] button');
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'done' &&
    document.querySelector('#nodes li[data-node="n3"]')?.className === 'crashed');
  assert.match(await page.textContent('li[data-client="Client-4"] .addr'), /offline/);
  assert.deepEqual(problems, []);
});

test('the authentication preset draws the authenticator, the waits, the refusals and the spacing', async () => {
  await page.selectOption('#preset', 'authentication');
  await page.click('#load-preset');
  assert.equal(await page.isVisible('#sync-token'), true, 'a token field for a hub with authentication');
  await page.selectOption('#speed', '100000');
  await page.click('#run');
  await page.waitForSelector('#status[data-state="done"]', { timeout: 30_000 });
  const lanes = await page.$$eval('#diagram-head g.lane-head', (gs) => gs.map((g) => g.dataset.lane));
  assert.deepEqual(lanes.slice(0, 2), ['hub', 'authenticator']);
  // Each question is an arrow to the authenticator; each answer one back,
  // slanted by the time the session waited.
  const arrows = await page.$$eval('#diagram line.arrow.auth[data-client="Client-1"]',
    (ls) => ls.map((l) => [l.dataset.state, Number(l.getAttribute('y2')) - Number(l.getAttribute('y1'))]));
  assert.equal(arrows.length, 2);
  assert.equal(arrows[0][0], 'asked');
  assert.equal(arrows[0][1], 0, 'the question is asked at once');
  assert.equal(arrows[1][0], 'granted');
  assert.ok(arrows[1][1] > 0, 'the answer comes later');
  const labels = await page.$$eval('#diagram text.note.auth', (ts) => ts.map((t) => t.textContent));
  assert.ok(labels.includes('✓ Client-1 as alice'), labels.join(' | '));
  assert.equal(labels.filter((l) => l === '✗ Client-1 denied').length, 6);
  // The page shows who is who and what was refused.
  assert.match(await page.textContent('li[data-client="Client-1"] .badge.identity'), /alice/);
  const codes = async (client) => page.$$eval(`[data-inbox="${client}"] li[data-frame="error"]`, (lis) => lis.map((li) => li.textContent));
  assert.match((await codes('ops')).join(), /error: alias_taken/);
  assert.match((await codes('Client-2')).join(), /error: forbidden/);
  assert.match((await codes('intruder')).join(), /error: unauthorized/);
  const log = await page.textContent('#log');
  assert.match(log, /hub asks the authenticator whether Client-1's token grants alias Client-1/);
  assert.match(log, /authenticator grants alias Client-1 to Client-1 as identity alice \(asked at 1 ms/);
  assert.match(log, /authenticator denies intruder's token for alias Client-1/);
  const table = await page.$$eval('#sessions tr', (rows) => rows.map((r) => r.cells[2].textContent));
  // The intruder never signed in and was closed at its auth_timeout.
  assert.deepEqual(table, ['Client-1 (alice)', 'Client-2', 'ops']);
  await page.screenshot({ path: path.join(artifacts, 'wasm-page-authentication.png'), fullPage: true });
  const trace = await page.evaluate(() => window.tcphub.sim.traceJsonLines());
  const golden = readFileSync(path.join(goldenDir, 'authentication-seed13.json'), 'utf8');
  assert.ok(trace === golden, 'the page runs the authentication preset to its golden trace');

  // By clicking: a laptop signs in as Client-1 with alice's token and
  // takes the alias over, as the same identity may. It is added with the
  // sign-in form filled, so it connects and signs in at once (the hub
  // would close it at its auth_timeout, and the run does not wait).
  await page.fill('#sync-alias', 'Client-1');
  await page.fill('#sync-token', 'c1-secret');
  await page.fill('#new-client', 'laptop');
  await page.click('#add-client button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'done' &&
    document.querySelector('li[data-client="laptop"] .alias')?.textContent === 'Client-1');
  assert.match(await page.textContent('li[data-client="laptop"] .badge.identity'), /alice/);
  const client1 = await page.$eval('[data-inbox="Client-1"]', (box) => box.lastElementChild.textContent);
  assert.match(client1, /bye: taken_over/);
  assert.deepEqual(problems, []);
});
