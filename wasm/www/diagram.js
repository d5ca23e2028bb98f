// The sequence diagram: one lifeline for the hub and one per client, virtual
// time flowing down. Arrows are the pieces of data the simulator carried,
// from when they left to when they arrived; a dot with a label is a whole
// frame a client read. A broadcast draws one arrow per recipient and a
// directed message only to the sessions the hub routed it to: the page
// draws what the trace says happened, it decides nothing. While the hub is
// not reading a client (flow control), a band runs down that client's
// lifeline from the pause to the resume. A room message is labelled with
// its room, a last will marked as one, and presence frames say who came
// or went. A cluster draws the backplane where the hub was and a lane per
// node beside it: each client's arrows go to its node, and a frame that
// crosses to another node is an arrow up to the backplane and one down to
// the other node, labelled with what it carries. With authentication on,
// the authenticator has a lane too: the hub's question is an arrow to it,
// its answer an arrow back from when it was asked to when it arrived, so
// the wait shows as the arrow's slant.

const SVG = 'http://www.w3.org/2000/svg';
const ROW = 22;          // height of one row
const GAP_ROW = 34;      // height of a row after a long quiet spell
const HUB_X = 260;       // the hub's lifeline; its notes sit to its left
const FIRST_LANE = 430;  // the first client's lifeline
const LANE = 200;        // distance between client lifelines
const HEAD = 46;         // height of the lane heads
const COLORS = {
  host: 'var(--host)', relay: 'var(--relay)', room: 'var(--room)', will: 'var(--will)',
  presence: 'var(--presence)', synced: 'var(--synced)', error: 'var(--error)',
  bye: 'var(--bye)', up: 'var(--up)', piece: 'var(--piece)', other: 'var(--piece)',
  paused: 'var(--paused)', backplane: 'var(--backplane)', auth: 'var(--auth)',
};
const BACKPLANE = 'backplane';
const AUTHENTICATOR = 'authenticator';

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function shorten(text, max = 26) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What kind of frame a line of hub output is, for its colour: a last
 * will, then a message to a room, from the host or relayed. */
export function frameKind(type, from, line = {}) {
  if (type === 'info') {
    if (line.lastWill === true) return 'will';
    if (line.room !== undefined) return 'room';
    return from === '#hub' ? 'host' : 'relay';
  }
  if (type === 'synced' || type === 'error' || type === 'bye' || type === 'presence') return type;
  return 'other';
}

/** The colour class of a piece of data from its text. */
function pieceKind(dir, text) {
  const whole = text.startsWith('{') && text.trimEnd().endsWith('}');
  if (!whole) return 'piece';
  if (dir === 'to_hub') return 'up';
  const type = /^\{"type":"([a-z_]+)"/.exec(text)?.[1];
  const from = /"from":"((?:[^"\\]|\\.)*)"/.exec(text)?.[1];
  // The hub writes `room` and `lastWill` before `message`, so a test of
  // the head of the line cannot be fooled by a message's text.
  const head = text.split('"message":')[0];
  return frameKind(type, from, {
    room: head.includes('"room":') ? '' : undefined,
    lastWill: head.includes('"lastWill":true'),
  });
}

/** A readable label for a message value. */
export function messageText(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export class SequenceDiagram {
  constructor(head, body) {
    this.head = head;
    this.body = body;
    this.reset();
  }

  /** Starts over; `nodes` are a cluster's node ids (none for one hub),
   * `authenticator` whether the hub asks one about credentials. */
  reset(nodes = [], authenticator = false) {
    this.head.replaceChildren();
    this.body.replaceChildren();
    const defs = el('defs');
    for (const [kind, color] of Object.entries(COLORS)) {
      const marker = el('marker', {
        id: `arrow-${kind}`, viewBox: '0 0 10 10', refX: 9, refY: 5,
        markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse',
      });
      marker.append(el('path', { d: 'M0,0 L10,5 L0,10 z', style: `fill:${color}` }));
      defs.append(marker);
    }
    this.body.append(defs);
    this.layers = {};
    for (const name of ['gaps', 'lifelines', 'arrows', 'marks', 'labels']) {
      this.layers[name] = el('g', { class: name });
      this.body.append(this.layers[name]);
    }
    this.lanes = new Map();       // name -> { x, line, head }
    this.y = 14;
    this.lastT = null;
    this.times = [];              // every time a row started at, increasing
    this.timeYs = [];             // the y of that row
    this.busy = new Map();        // lane -> last y a label took
    this.paused = new Map();      // lane -> { band, y } while the hub is not reading it
    this.cluster = nodes.length > 0;
    this.nodeOf = new Map();      // client -> the node its connection is to
    // In a cluster the backplane takes the hub's place, the nodes follow.
    this.addLane('hub', this.cluster ? BACKPLANE : 'hub');
    for (const node of nodes) this.addLane(node, node, 'node');
    if (authenticator) this.addLane(AUTHENTICATOR, AUTHENTICATOR, AUTHENTICATOR);
    this.hint = el('text', { x: HUB_X + 30, y: 44, class: 'note' },
      'Press Run to play the scenario, Step to go one event at a time, or add a client.');
    this.layers.labels.append(this.hint);
    this.resize();
  }

  laneX(name) {
    return (this.lanes.get(name) ?? this.addLane(name)).x;
  }

  addLane(name, title = name, kind = name === 'hub' ? 'hub' : 'client') {
    const x = name === 'hub' ? HUB_X : FIRST_LANE + (this.lanes.size - 1) * LANE;
    const shown = name === 'hub' && this.cluster ? BACKPLANE : name;
    const head = el('g', { class: `lane-head${kind === 'client' ? '' : ` ${kind}`}`, 'data-lane': shown });
    const w = kind === 'client' ? 150 : name === 'hub' ? (this.cluster ? 90 : 70) : 110;
    head.append(el('rect', { x: x - w / 2, y: 8, width: w, height: 30, rx: 7 }));
    head.append(el('text', { x, y: 23, 'text-anchor': 'middle' }, shorten(title, 20)));
    const subText = { hub: this.cluster ? 'directory' : 'tcphub-core', node: 'tcphub-core', client: '', authenticator: 'credentials' }[kind];
    const sub = el('text', { x, y: 34, 'text-anchor': 'middle', class: 'sub' }, subText);
    head.append(sub);
    this.head.append(head);
    const line = el('line', { x1: x, x2: x, y1: 0, y2: this.y, class: `lifeline${kind === 'client' ? '' : ' hub-lane'}` });
    this.layers.lifelines.append(line);
    const lane = { x, line, head, sub };
    this.lanes.set(name, lane);
    this.resize();
    return lane;
  }

  /** Shows a client's address (or that it is gone) under its name. */
  setLaneInfo(name, info, gone) {
    const lane = this.lanes.get(name);
    if (!lane) return;
    lane.sub.textContent = info ?? '';
    lane.head.classList.toggle('gone', Boolean(gone));
  }

  /** Moves down for an entry at time `t`, and again if `lane` is taken. */
  row(t, lane) {
    if (this.lastT === null || t !== this.lastT) {
      const quiet = this.lastT !== null && t - this.lastT > 200;
      this.y += quiet ? GAP_ROW : ROW;
      if (quiet) {
        this.layers.gaps.append(el('line', { x1: 0, x2: 4000, y1: this.y - GAP_ROW / 2, y2: this.y - GAP_ROW / 2, class: 'gap' }));
      }
      this.layers.gaps.append(el('text', { x: 8, y: this.y + 4, class: 'tick' }, `${t} ms`));
      this.lastT = t;
      this.times.push(t);
      this.timeYs.push(this.y);
    }
    if (lane !== undefined && (this.busy.get(lane) ?? -1) >= this.y) {
      this.y += ROW;
    }
    if (lane !== undefined) this.busy.set(lane, this.y);
    return this.y;
  }

  /** The y of the last row at or before time `t` (a piece held back by
   * flow control left long before it was read). */
  yAt(t) {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? this.timeYs[lo - 1] : undefined;
  }

  /** The lane of the hub a client's connection is to: its node's, in a
   * cluster. */
  hubOf(client) {
    return this.nodeOf.get(client) ?? 'hub';
  }

  /** A note for the hub: beside its node's lane in a cluster (`node` a
   * node id), left of the hub's lane otherwise. */
  nodeNote(t, node, text, extra = {}) {
    if (!node || node === 'hub') return this.hubNote(t, text, extra);
    return this.clientNote(t, node, text, undefined, { ...extra, class: 'note node-note' });
  }

  hubNote(t, text, extra = {}) {
    const y = this.row(t, 'hub');
    this.layers.labels.append(el('text', { x: HUB_X - 10, y: y + 4, class: 'note hub', ...extra }, shorten(text, 30)));
  }

  clientNote(t, client, text, color, extra = {}) {
    const y = this.row(t, client);
    const x = this.laneX(client);
    this.layers.labels.append(el('text', { x: x + 10, y: y + 4, class: 'note', style: color ? `fill:${color}` : '', ...extra }, shorten(text, 28)));
    return y;
  }

  /** One hop of the backplane: an arrow between a node's lane and the
   * backplane's, from when it left to when it arrived, labelled with what
   * it carries. Directory updates are drawn faint and unlabelled. */
  backplaneHop(e) {
    const lane = (name) => (name === BACKPLANE ? 'hub' : name);
    const y = this.row(e.t, lane(e.to));
    const y0 = this.yAt(e.sent) ?? y;
    const label = hopLabel(e);
    const message = e.frame && 'message' in e.frame ? messageText(e.frame.message) : '';
    this.layers.arrows.append(el('line', {
      x1: this.laneX(lane(e.from)), y1: y0, x2: this.laneX(lane(e.to)), y2: y,
      class: `arrow backplane${e.message === 'directory' ? ' directory' : ''}${e.lost ? ' lost' : ''}`,
      style: `stroke:${COLORS.backplane}`, 'marker-end': 'url(#arrow-backplane)',
      'data-from': e.from, 'data-to': e.to, 'data-kind': e.message, 'data-message': message,
    }));
    if (!label) return;
    const x = (this.laneX(lane(e.from)) + this.laneX(lane(e.to))) / 2;
    this.layers.labels.append(el('text', {
      x, y: y - 3, 'text-anchor': 'middle', class: `note hop${e.lost ? ' lost' : ''}`, 'data-kind': e.message,
    }, shorten(label, 26)));
  }

  /** The hub asks the authenticator about a client's credential (an
   * arrow to its lane), or the answer arrives (an arrow back, from when
   * the hub asked): granted, denied, or late (dashed). */
  authHop(e) {
    const hub = e.node ?? 'hub';
    const asked = e.state === 'asked';
    const y = this.row(e.t, AUTHENTICATOR);
    const y0 = asked ? y : this.yAt(e.asked) ?? y;
    const [from, to] = asked ? [hub, AUTHENTICATOR] : [AUTHENTICATOR, hub];
    this.layers.arrows.append(el('line', {
      x1: this.laneX(from), y1: y0, x2: this.laneX(to), y2: y,
      class: `arrow auth${e.late ? ' late' : ''}`, style: `stroke:${COLORS.auth}`, 'marker-end': 'url(#arrow-auth)',
      'data-state': e.state, 'data-client': e.client, 'data-alias': e.alias,
    }));
    const x = (this.laneX(hub) + this.laneX(AUTHENTICATOR)) / 2;
    this.layers.labels.append(el('text', {
      x, y: y - 3, 'text-anchor': 'middle', class: 'note auth', 'data-state': e.state, 'data-client': e.client,
    }, shorten(authLabel(e), 28)));
  }

  /** Closes the band of a client the hub was not reading. */
  endPause(client, y) {
    const open = this.paused.get(client);
    if (!open) return;
    open.band.setAttribute('height', Math.max(2, y - open.y));
    this.paused.delete(client);
  }

  add(e) {
    this.hint?.remove();
    this.hint = null;
    switch (e.kind) {
      case 'connect': {
        this.laneX(e.client);
        if (e.node) this.nodeOf.set(e.client, e.node);
        this.setLaneInfo(e.client, e.node ? `${e.addr} → ${e.node}` : e.addr, false);
        const y = this.row(e.t, e.client);
        const x = this.laneX(e.client);
        this.layers.arrows.append(el('line', {
          x1: x, y1: y, x2: this.laneX(this.hubOf(e.client)), y2: y, class: 'arrow piece', style: 'stroke:var(--up)', 'marker-end': 'url(#arrow-up)',
        }));
        this.layers.labels.append(el('text', { x: x + 10, y: y + 4, class: 'note' }, `connect ${e.addr}`));
        break;
      }
      case 'arrive': {
        const hub = this.hubOf(e.client);
        const from = e.dir === 'to_hub' ? e.client : hub;
        const to = e.dir === 'to_hub' ? hub : e.client;
        const y = this.row(e.t);
        const y0 = this.yAt(e.sent) ?? y;
        const kind = pieceKind(e.dir, e.text);
        this.layers.arrows.append(el('line', {
          x1: this.laneX(from), y1: y0, x2: this.laneX(to), y2: y,
          class: `arrow${kind === 'piece' ? ' piece' : ''}`, style: `stroke:${COLORS[kind]}`,
          'marker-end': `url(#arrow-${kind})`, 'data-dir': e.dir, 'data-client': e.client,
        }));
        break;
      }
      case 'deliver': {
        const y = this.row(e.t, e.client);
        const x = this.laneX(e.client);
        const kind = frameKind(e.frame, e.from, e.line);
        const g = el('g', {
          class: `delivery ${kind}`, 'data-client': e.client, 'data-frame': e.frame,
          'data-from': e.from ?? '', 'data-message': e.line && 'message' in e.line ? messageText(e.line.message) : '',
          'data-room': e.line?.room ?? '', 'data-last-will': e.line?.lastWill === true ? 'true' : '',
        });
        g.append(el('circle', { cx: x, cy: y, r: 4.5, style: `fill:${COLORS[kind]}` }));
        g.append(el('text', { x: x + 10, y: y + 4, class: 'label', style: `fill:${COLORS[kind]}` }, shorten(deliveryLabel(e), 30)));
        const title = el('title', {}, `${e.client} read at ${e.t} ms:\n${JSON.stringify(e.line)}`);
        g.append(title);
        this.layers.labels.append(g);
        break;
      }
      case 'event':
        // A node-scoped session id names its node: `n1/10.0.0.1:40001`.
        this.nodeNote(e.t, this.cluster ? e.session_id.split('/')[0] : null, eventLabel(e), { 'data-event': e.event });
        break;
      case 'host':
        this.nodeNote(e.t, e.node, e.error ? `host ${e.command}: ${e.error}` : `host ${e.command} → ${e.reached}`, {
          style: `fill:${e.error ? 'var(--error)' : 'var(--ink)'}`,
        });
        break;
      case 'backplane':
        this.backplaneHop(e);
        break;
      case 'auth':
        this.authHop(e);
        break;
      case 'node':
        if (e.state === 'crashed') {
          this.clientNote(e.t, e.node, '💥 node crashed', 'var(--error)', { 'data-node-state': e.state });
          this.setLaneInfo(e.node, 'crashed', true);
        } else {
          this.hubNote(e.t, `lease of ${e.node} expired${e.freed ? `: freed ${e.freed.join(', ')}` : ''}`, {
            style: 'fill:var(--error)', 'data-node-state': e.state,
          });
        }
        break;
      case 'close': {
        if (e.at === 'hub') {
          const dropped = e.dropped ? ` (${e.dropped} B dropped)` : '';
          this.nodeNote(e.t, this.nodeOf.get(e.client), `closes ${e.client}: ${e.reason}${dropped}`, { style: 'fill:var(--bye)' });
          this.endPause(e.client, this.y);
        } else {
          const y = this.clientNote(e.t, e.client, `✕ closed: ${e.reason}`, 'var(--bye)');
          const x = this.laneX(e.client);
          this.layers.marks.append(el('path', { d: `M${x - 5},${y - 5} L${x + 5},${y + 5} M${x + 5},${y - 5} L${x - 5},${y + 5}`, class: 'close-mark', style: 'stroke:var(--bye)' }));
          this.setLaneInfo(e.client, 'disconnected', true);
        }
        break;
      }
      case 'flow': {
        const paused = e.state === 'paused';
        const y = this.clientNote(e.t, e.client, paused ? '■ hub stops reading it' : '▶ hub reads it again', 'var(--paused)', {
          'data-flow': e.state, 'data-client': e.client,
        });
        if (paused) {
          const x = this.laneX(e.client);
          const band = el('rect', { x: x - 3, y, width: 6, height: 2, rx: 2, class: 'paused-band', 'data-client': e.client });
          this.layers.marks.append(band);
          this.paused.set(e.client, { band, y });
        } else {
          this.endPause(e.client, y);
        }
        break;
      }
      case 'eof':
        if (e.at === 'client') this.clientNote(e.t, e.client, '⇥ shuts its write side', 'var(--up)');
        else this.nodeNote(e.t, this.nodeOf.get(e.client), `end of ${e.client}'s requests`);
        break;
      case 'step': {
        const s = e.step;
        if (s.action === 'stop_reading') this.clientNote(e.t, s.client, 'stops reading', 'var(--muted)');
        else if (s.action === 'resume_reading') this.clientNote(e.t, s.client, 'reads again', 'var(--muted)');
        else if (s.action === 'drop') this.clientNote(e.t, s.client, '⚡ its connection drops', 'var(--bye)');
        break;
      }
      case 'fault':
        this.clientNote(e.t, e.client, e.fault === 'drop' ? '⚡ drops its connection' : '■ stops reading', 'var(--bye)');
        break;
      case 'discard':
        this.clientNote(e.t, e.dir === 'to_hub' ? this.hubOf(e.client) : e.client, `${e.len} bytes to a closed end`, 'var(--muted)');
        break;
      default:
        break; // writes, other steps and skips are in the log
    }
  }

  /** Stretches lifelines and the canvas to what has been drawn. */
  resize() {
    const bottom = this.y + ROW * 2;
    for (const lane of this.lanes.values()) lane.line.setAttribute('y2', bottom);
    for (const { band, y } of this.paused.values()) band.setAttribute('height', Math.max(2, this.y - y));
    const width = FIRST_LANE + Math.max(1, this.lanes.size - 1) * LANE;
    this.body.setAttribute('width', width);
    this.body.setAttribute('height', bottom);
    this.head.setAttribute('width', width);
    this.head.setAttribute('height', HEAD);
  }
}

export function deliveryLabel(e) {
  const line = e.line ?? {};
  switch (e.frame) {
    case 'info': {
      const room = line.room !== undefined ? `[${line.room}] ` : '';
      const will = line.lastWill === true ? '✝ last will: ' : '';
      return `${room}${will}${messageText(line.message)}  ← ${line.from}`;
    }
    case 'joined': return `joined ${line.room} (${line.members})`;
    case 'left': return `left ${line.room}`;
    case 'watching': return 'watching';
    case 'unwatched': return 'unwatched';
    case 'presence': {
      const who = line.alias ?? line.sessionId;
      const where = line.room !== undefined ? ` ${line.room}` : '';
      const why = line.reason ? ` (${line.reason})` : '';
      return `◉ ${who} ${line.event}${where}${why}`;
    }
    case 'synced': return `synced as ${line.clientName}`;
    case 'error': return `error: ${line.code}`;
    case 'bye': return `bye: ${line.reason}`;
    case 'pong': return 'pong';
    case 'sessions': return `sessions${line.room !== undefined ? ` in ${line.room}` : ''}: ${line.sessions?.length ?? 0}`;
    default: return e.frame;
  }
}

export function eventLabel(e) {
  const who = e.alias ?? e.session_id;
  switch (e.event) {
    case 'opened': return `opened ${e.session_id}`;
    case 'synced': return e.detail?.took_over_from ? `${e.alias} taken over` : `synced ${e.alias}`;
    case 'released': return `released ${e.alias}`;
    case 'message': return `${who}: ${messageText(e.detail)}`;
    case 'protocol_error': return `${who}: ${e.detail?.code}`;
    case 'closed': return `closed ${who} (${e.detail})`;
    case 'joined': return `${who} joined ${e.detail?.room}`;
    case 'left': return `${who} left ${e.detail?.room}`;
    case 'relayed': {
      const d = e.detail ?? {};
      const to = d.room !== undefined ? `[${d.room}]` : d.to === '*' ? 'everyone' : d.to;
      const will = d.last_will ? ' last will' : '';
      return `${who} →${will} ${to} ×${d.recipients}: ${messageText(d.message)}`;
    }
    default: return e.event;
  }
}

/** What a question to the authenticator or its answer says, in a few
 * words. */
export function authLabel(e) {
  if (e.state === 'asked') return `${e.client}: ${e.alias}?`;
  const late = e.late ? ' (late)' : '';
  if (e.state === 'granted') return `✓ ${e.alias}${e.identity ? ` as ${e.identity}` : ''}${late}`;
  return `✗ ${e.alias} denied${late}`;
}

/** What a backplane hop says, in a few words; nothing for the directory
 * updates that keep replicas in step (they are drawn, faintly). */
export function hopLabel(e) {
  const frame = e.frame && 'message' in e.frame ? messageText(e.frame.message) : '';
  const lost = e.lost ? '✕ lost: ' : '';
  switch (e.message) {
    case 'claim': return `claim ${e.alias}`;
    case 'claim_settled': return e.granted ? 'claim granted' : 'claim refused';
    case 'taken_over': return `${e.alias} taken over`;
    case 'release': return `release ${e.alias}`;
    case 'forward': return `${frame} → ${e.node}`;
    case 'publish': return `${frame} → every node`;
    case 'resolve': return `who holds ${e.alias}?`;
    case 'resolved': return `${e.alias} found`;
    case 'unresolved': return `nobody holds ${e.alias}`;
    case 'deliver': return `${lost}${frame || (e.frame?.type ?? 'frame')}`;
    case 'node_gone': return `${e.node} is gone`;
    default: return '';
  }
}
