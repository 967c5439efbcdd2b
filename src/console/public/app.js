/* global document, window, location, sessionStorage, confirm, FormData, TextDecoderStream */
// Herald console: a single page, no build step, no CDN. Routes live in the URL hash;
// live figures arrive as server-sent events read with fetch (so a bearer token can be sent).
const view = document.getElementById('view');
const message = document.getElementById('message');
let token = sessionStorage.getItem('herald-token') || '';
let cleanup = [];

const esc = (v) =>
  String(v ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
const enc = encodeURIComponent;
const num = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en'));
const rate = (n) =>
  n === null || n === undefined ? '–' : `${n < 10 ? n.toFixed(1) : Math.round(n)}/s`;
const bytes = (b) => {
  if (b === null || b === undefined) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) {
    b /= 1024;
    i++;
  }
  return i === 0 ? `${b} B` : `${b.toFixed(1)} ${u[i]}`;
};
const age = (s) => {
  if (s === null || s === undefined) return '–';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.floor(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
};

function say(text, error = false) {
  message.textContent = text;
  message.className = error ? 'error' : '';
}

function headers(extra = {}) {
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: headers(options.body ? { 'content-type': 'application/json' } : {}),
  });
  if (res.status === 401) {
    document.getElementById('login').hidden = false;
    throw new Error('a token is needed');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok)
    throw new Error(
      body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${res.status}`,
    );
  return body;
}

/** Reads a server-sent event stream with fetch; returns an AbortController. */
function stream(path, onEvent, options = {}) {
  const controller = new AbortController();
  (async () => {
    const res = await fetch(path, {
      method: options.method || 'GET',
      body: options.body,
      headers: headers({
        accept: 'text/event-stream',
        ...(options.body ? { 'content-type': 'application/json' } : {}),
      }),
      signal: controller.signal,
    });
    if (res.status === 401) {
      document.getElementById('login').hidden = false;
      throw new Error('a token is needed');
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (data) onEvent(event, JSON.parse(data));
      }
    }
    options.onEnd?.();
  })().catch((e) => {
    if (e.name !== 'AbortError') options.onError?.(e);
  });
  return controller;
}

function setLive(on) {
  document.getElementById('live').classList.toggle('on', on);
}

function table(rows, columns, attrs = '') {
  if (rows.length === 0) return '<p class="muted">none</p>';
  const head = columns
    .map(
      (c) => `<th class="${c.num ? 'num' : ''} ${c.narrow ? 'hide-narrow' : ''}">${c.title}</th>`,
    )
    .join('');
  const body = rows
    .map(
      (r) =>
        `<tr ${typeof attrs === 'function' ? attrs(r) : attrs}>${columns.map((c) => `<td class="${c.num ? 'num' : ''} ${c.narrow ? 'hide-narrow' : ''}">${c.cell(r)}</td>`).join('')}</tr>`,
    )
    .join('');
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

function groupStatus(g) {
  if (g.stalled)
    return `<span class="badge bad" data-status="stalled" title="unread or held events and no progress">STALLED ${age(g.stuckSeconds)}</span>`;
  const work = (g.lag ?? 0) > 0 || g.pending > 0;
  // Redis 7.0 registers a consumer on its first delivery: a caught-up group may be read by consumers Redis has not listed yet.
  if (g.noConsumer && work)
    return '<span class="badge bad" data-status="no-consumer" title="events are waiting and no consumer reads them">NO CONSUMER</span>';
  if (g.noConsumer)
    return '<span class="badge warn" data-status="no-consumer" title="caught up; Redis lists a consumer once it has been delivered an event">no consumer seen</span>';
  return '<span class="badge good" data-status="ok">ok</span>';
}

// ---- pages -----------------------------------------------------------------

function renderOverview(o) {
  const r = o.redis;
  const pct = r.maxBytes > 0 ? Math.min(100, (100 * r.usedBytes) / r.maxBytes) : 0;
  const cap = r.capacity;
  const verdict = !r.up
    ? `<span class="badge bad">Redis unreachable: ${esc(r.error)}</span>`
    : cap && !cap.ok
      ? '<span class="badge bad" data-capacity="refusing">refusing publishes</span>'
      : '<span class="badge good" data-capacity="ok">accepting publishes</span>';
  const checks = r.checks
    .map(
      (c) =>
        `<li><span class="badge ${c.verdict === 'PASS' ? 'good' : c.verdict === 'WARN' ? 'warn' : 'bad'}">${c.verdict}</span> ${esc(c.title)}: ${esc(c.detail)}</li>`,
    )
    .join('');
  view.innerHTML = `
    <h1>Overview</h1>
    <div class="grid">
      <div class="card" id="redis-card"><b>Redis memory</b>
        <p><span id="memory-used">${bytes(r.usedBytes)}</span> of ${r.maxBytes > 0 ? bytes(r.maxBytes) : 'no maxmemory'} (${esc(r.policy)})</p>
        <div class="bar"><div style="width:${pct}%"></div></div>
        <p>Capacity guard: ${verdict}</p></div>
      <div class="card"><b>Health (as herald doctor sees it)</b><ul id="checks">${checks}</ul></div>
    </div>
    <h2>Topics</h2>
    <div class="card" id="topics">${table(
      o.topics,
      [
        { title: 'Topic', cell: (t) => `<a href="#/topic/${enc(t.name)}">${esc(t.name)}</a>` },
        { title: 'In', num: true, cell: (t) => `<span data-rate-in>${rate(t.inPerSecond)}</span>` },
        { title: 'Out', num: true, cell: (t) => rate(t.outPerSecond) },
        { title: 'Length', num: true, cell: (t) => `<span data-length>${num(t.length)}</span>` },
        { title: 'Memory', num: true, narrow: true, cell: (t) => bytes(t.memoryBytes) },
        {
          title: 'Dead letters',
          num: true,
          cell: (t) =>
            `<a data-dead href="#/dead-letters/${enc(t.name)}">${num(t.deadLetters)}</a>`,
        },
        { title: 'Parts', num: true, narrow: true, cell: (t) => t.partitions },
      ],
      (t) => `data-topic="${esc(t.name)}"`,
    )}</div>
    <h2>Consumer groups</h2>
    <div class="card" id="groups">${table(
      o.groups,
      [
        { title: 'Topic', cell: (g) => esc(g.topic) },
        {
          title: 'Group',
          cell: (g) =>
            `<a href="#/topic/${enc(g.topic)}/group/${enc(g.group)}">${esc(g.group)}</a>`,
        },
        { title: 'Status', cell: groupStatus },
        { title: 'Lag', num: true, cell: (g) => `<span data-lag>${num(g.lag)}</span>` },
        { title: 'Pending', num: true, cell: (g) => num(g.pending) },
        {
          title: 'Oldest pending',
          num: true,
          narrow: true,
          cell: (g) => age(g.oldestPendingAgeSeconds),
        },
        { title: 'Rate', num: true, narrow: true, cell: (g) => rate(g.outPerSecond) },
        { title: 'Consumers', num: true, cell: (g) => g.consumers.length },
      ],
      (g) => `data-group="${esc(g.topic)}/${esc(g.group)}"`,
    )}</div>
    <h2>Work queues</h2>
    <div class="card">${table(o.queues, [
      { title: 'Queue', cell: (q) => `<a href="#/queues">${esc(q.name)}</a>` },
      { title: 'Pending', num: true, cell: (q) => num(q.pending) },
      { title: 'Processing', num: true, cell: (q) => num(q.processing) },
      { title: 'Dead', num: true, cell: (q) => num(q.dead) },
    ])}</div>
    <p class="muted">Sampled at ${new Date(o.time).toLocaleTimeString()}</p>`;
}

function overviewPage() {
  const c = stream(
    'v1/live',
    (event, data) => {
      if (event === 'overview') {
        setLive(true);
        renderOverview(data);
      }
    },
    { onError: (e) => say(e.message, true), onEnd: () => setLive(false) },
  );
  cleanup.push(() => {
    c.abort();
    setLive(false);
  });
}

function eventRow(e) {
  const ev = e.event;
  const summary = ev
    ? `${esc(ev.type)} <span class="muted">${esc(ev.time)}</span> ${esc(JSON.stringify(ev.data)).slice(0, 120)}`
    : `<span class="badge bad">undecodable</span> ${esc(e.error)}`;
  const body = ev
    ? `<b>Envelope</b><pre>${esc(JSON.stringify({ ...ev, data: undefined, headers: undefined }, null, 2))}</pre><b>Headers</b><pre>${esc(JSON.stringify(ev.headers, null, 2))}</pre><b>Data</b><pre>${esc(JSON.stringify(ev.data, null, 2))}</pre>`
    : '';
  return `<details class="event" data-position="${esc(e.position)}"><summary><code>${e.partition}/${esc(e.position)}</code> ${summary}</summary>${body}<b>Raw fields</b><pre>${esc(JSON.stringify(e.fields, null, 2))}</pre></details>`;
}

async function topicPage(name) {
  const d = await api(`v1/topics/${enc(name)}`);
  const t = d.topic;
  view.innerHTML = `
    <h1>Topic ${esc(name)}</h1>
    <div class="card">${table(t.partitionInfo, [
      { title: 'Partition', cell: (p) => p.partition },
      { title: 'Length', num: true, cell: (p) => num(p.length) },
      { title: 'Memory', num: true, cell: (p) => bytes(p.memoryBytes) },
      { title: 'Dead letters', num: true, cell: (p) => num(p.deadLetters) },
      { title: 'Stream key', narrow: true, cell: (p) => `<code>${esc(p.stream)}</code>` },
    ])}</div>
    <h2>Groups</h2>
    <div class="card">${table(d.groups, [
      {
        title: 'Group',
        cell: (g) => `<a href="#/topic/${enc(name)}/group/${enc(g.group)}">${esc(g.group)}</a>`,
      },
      { title: 'Lag', num: true, cell: (g) => num(g.lag) },
      { title: 'Pending', num: true, cell: (g) => num(g.pending) },
      { title: 'Consumers', num: true, cell: (g) => g.consumers.length },
    ])}</div>
    <h2>Events</h2>
    <form class="inline" id="browse">
      <label>Partition <select name="partition">${t.partitionInfo.map((p) => `<option>${p.partition}</option>`).join('')}</select></label>
      <label>From <input name="from" value="end" size="26" title="beginning, end, a position or a time (2026-12-06T04:00:00Z)" /></label>
      <label>Limit <input name="limit" value="50" size="4" /></label>
      <button class="primary">Browse</button>
      <button type="button" id="tail">Live tail</button>
    </form>
    <div id="events"></div>`;
  const form = document.getElementById('browse');
  const show = async () => {
    const f = new FormData(form);
    const r = await api(
      `v1/topics/${enc(name)}/browse?partition=${f.get('partition')}&from=${enc(f.get('from'))}&limit=${enc(f.get('limit'))}`,
    );
    document.getElementById('events').innerHTML = r.events.length
      ? r.events.map(eventRow).join('')
      : '<p class="muted">no events there</p>';
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    show().catch((e) => say(e.message, true));
  });
  let tail;
  document.getElementById('tail').addEventListener('click', (ev) => {
    if (tail) {
      tail.abort();
      tail = undefined;
      ev.target.textContent = 'Live tail';
      setLive(false);
      return;
    }
    ev.target.textContent = 'Stop tail';
    const list = document.getElementById('events');
    list.innerHTML = '<p class="muted" id="tail-note">tailing: new events appear here</p>';
    tail = stream(
      `v1/topics/${enc(name)}/tail`,
      (event, data) => {
        if (event === 'ready') setLive(true);
        if (event === 'event') list.insertAdjacentHTML('afterbegin', eventRow(data));
      },
      { onError: (e) => say(e.message, true) },
    );
  });
  cleanup.push(() => tail?.abort());
  await show();
}

function lagChart(history) {
  const pts = history.filter((h) => h.lag !== null);
  if (pts.length < 2) return '<p class="muted">lag history builds up while the console runs</p>';
  const t0 = pts[0].t;
  const t1 = pts[pts.length - 1].t;
  const max = Math.max(1, ...pts.map((p) => p.lag));
  const xy = pts
    .map((p) => `${((p.t - t0) / Math.max(1, t1 - t0)) * 600},${110 - (p.lag / max) * 100}`)
    .join(' ');
  return `<svg class="chart" viewBox="0 0 600 120" preserveAspectRatio="none"><polyline fill="none" stroke="#2f5bd3" stroke-width="2" points="${xy}"/></svg>
    <p class="muted">lag over the last ${age((t1 - t0) / 1000)}: now ${num(pts[pts.length - 1].lag)}, peak ${num(max)}</p>`;
}

async function groupPage(topic, name) {
  const d = await api(`v1/topics/${enc(topic)}/groups/${enc(name)}`);
  const g = d.group;
  view.innerHTML = `
    <h1>Group ${esc(name)} <span class="muted">on ${esc(topic)}</span> ${groupStatus({ ...d, noConsumer: g.consumers.length === 0 })}</h1>
    <div class="grid">
      <div class="card"><b>Lag</b><p id="group-lag">${num(g.lag)}</p></div>
      <div class="card"><b>Pending</b><p>${num(g.pending)}</p></div>
      <div class="card"><b>Oldest pending</b><p>${age(g.oldestPendingAgeSeconds)}</p></div>
      <div class="card"><b>Rate</b><p>${rate(d.outPerSecond)}</p></div>
    </div>
    <h2>Lag</h2><div class="card" id="lag-chart">${lagChart(d.lagHistory)}</div>
    <h2>Consumers</h2>
    <div class="card">${table(g.consumers, [
      { title: 'Consumer', cell: (c) => esc(c.name) },
      { title: 'Held events', num: true, cell: (c) => num(c.pending) },
      { title: 'Idle', num: true, cell: (c) => age(c.idleSeconds) },
    ])}</div>
    <h2>Pending events</h2>
    <div class="card">${table(d.pending, [
      { title: 'Position', cell: (p) => `<code>${p.partition}/${esc(p.position)}</code>` },
      { title: 'Consumer', cell: (p) => esc(p.consumer) },
      { title: 'Idle', num: true, cell: (p) => age(p.idleSeconds) },
      { title: 'Deliveries', num: true, cell: (p) => p.deliveries },
    ])}</div>
    <h2>Reset</h2>
    <div class="card">
      <form class="inline" id="reset">
        <label>To <input name="to" id="reset-to" size="28" placeholder="beginning, end, position or time" required /></label>
        <button class="primary" id="preview">Preview</button>
      </form>
      <div id="reset-plan"></div>
      <div class="actions"><button class="danger" id="delete-group">Delete group</button></div>
    </div>`;
  const tick = setInterval(() => {
    api(`v1/topics/${enc(topic)}/groups/${enc(name)}`)
      .then((x) => {
        document.getElementById('group-lag').textContent = num(x.group.lag);
        document.getElementById('lag-chart').innerHTML = lagChart(x.lagHistory);
      })
      .catch(() => undefined);
  }, 2000);
  cleanup.push(() => clearInterval(tick));
  document.getElementById('reset').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const to = document.getElementById('reset-to').value;
    try {
      const { plan } = await api(`v1/topics/${enc(topic)}/groups/${enc(name)}/reset`, {
        method: 'POST',
        body: JSON.stringify({ to, dryRun: true }),
      });
      const what =
        [
          plan.replays ? `replays ${plan.exact ? '' : 'at least '}${plan.replays} event(s)` : '',
          plan.skips ? `skips ${plan.exact ? '' : 'at least '}${plan.skips} event(s)` : '',
        ]
          .filter(Boolean)
          .join(' and ') || 'changes nothing';
      document.getElementById('reset-plan').innerHTML =
        `<p id="reset-preview" data-replays="${plan.replays}" data-skips="${plan.skips}">Resetting to <code>${esc(to)}</code> ${what}. Held events stay pending.</p><button class="danger" id="reset-confirm">Reset now</button>`;
      document.getElementById('reset-confirm').addEventListener('click', async () => {
        if (!confirm(`Reset ${name} to ${to}? It ${what}.`)) return;
        const r = await api(`v1/topics/${enc(topic)}/groups/${enc(name)}/reset`, {
          method: 'POST',
          body: JSON.stringify({ to }),
        });
        say(`Reset ${name}: replays ${r.plan.replays}, skips ${r.plan.skips}`);
        await groupPage(topic, name);
      });
    } catch (e) {
      say(e.message, true);
    }
  });
  document.getElementById('delete-group').addEventListener('click', async () => {
    if (!confirm(`Delete group ${name} of ${topic}? It forgets ${g.pending} pending event(s).`))
      return;
    try {
      await api(`v1/topics/${enc(topic)}/groups/${enc(name)}`, { method: 'DELETE' });
      say(`Deleted group ${name}`);
      location.hash = `#/topic/${enc(topic)}`;
    } catch (e) {
      say(e.message, true);
    }
  });
}

async function deadLettersPage(topic) {
  const o = await api('v1/overview');
  const names = o.topics.map((t) => t.name);
  topic =
    topic || names.find((n) => o.topics.find((t) => t.name === n).deadLetters > 0) || names[0];
  if (!topic) {
    view.innerHTML = '<h1>Dead letters</h1><p class="muted">no topics</p>';
    return;
  }
  const d = await api(`v1/topics/${enc(topic)}/dead-letters?limit=500`);
  view.innerHTML = `
    <h1>Dead letters</h1>
    <form class="inline"><label>Topic <select id="dlq-topic">${names.map((n) => `<option ${n === topic ? 'selected' : ''}>${esc(n)}</option>`).join('')}</select></label>
      <span class="muted" id="dlq-count">${d.deadLetters.length} dead letter(s)</span></form>
    <div class="actions">
      <button class="primary" id="replay-selected">Replay selected</button>
      <button id="replay-all">Replay all</button>
      <button class="danger" id="purge-selected">Purge selected</button>
      <button class="danger" id="purge-all">Purge all</button>
      <span id="progress-box" hidden><progress id="progress" value="0" max="1"></progress> <span id="progress-text"></span> <button id="stop">Stop</button></span>
    </div>
    <div class="card">${table(
      d.deadLetters,
      [
        {
          title: '<input type="checkbox" id="select-all" aria-label="select all" />',
          cell: (x) =>
            `<input type="checkbox" class="pick" data-partition="${x.partition}" data-position="${esc(x.position)}" aria-label="select" />`,
        },
        { title: 'Group', cell: (x) => esc(x.group) },
        { title: 'Reason', cell: (x) => esc(x.reason) },
        { title: 'Attempts', num: true, cell: (x) => x.attempts },
        { title: 'Error', cell: (x) => esc(String(x.error).slice(0, 80)) },
        {
          title: 'Original position',
          narrow: true,
          cell: (x) => `<code>${x.partition}/${esc(x.originalPosition)}</code>`,
        },
        {
          title: '',
          cell: (x) =>
            `<details><summary>show</summary><pre>${esc(JSON.stringify(x, null, 2))}</pre></details>`,
        },
      ],
      'class="dead-letter"',
    )}</div>`;
  document.getElementById('dlq-topic').addEventListener('change', (ev) => {
    location.hash = `#/dead-letters/${enc(ev.target.value)}`;
  });
  document
    .getElementById('select-all')
    ?.addEventListener('change', (ev) =>
      document.querySelectorAll('.pick').forEach((c) => (c.checked = ev.target.checked)),
    );
  const picked = () =>
    [...document.querySelectorAll('.pick:checked')].map((c) => ({
      partition: Number(c.dataset.partition),
      position: c.dataset.position,
    }));
  const replay = (body) => {
    const box = document.getElementById('progress-box');
    box.hidden = false;
    const c = stream(
      `v1/topics/${enc(topic)}/dead-letters/replay`,
      (event, data) => {
        if (event === 'progress') {
          document.getElementById('progress').max = data.total;
          document.getElementById('progress').value = data.done;
          document.getElementById('progress-text').textContent = `${data.done}/${data.total}`;
        }
        if (event === 'done') {
          say(
            `${data.interrupted ? 'Stopped: ' : ''}replayed ${data.replayed} dead letter(s) of ${topic}`,
          );
          deadLettersPage(topic).catch((e) => say(e.message, true));
        }
        if (event === 'error') say(data.message, true);
      },
      { method: 'POST', body: JSON.stringify(body), onError: (e) => say(e.message, true) },
    );
    document.getElementById('stop').onclick = () => {
      c.abort();
      say('Replay stopped: what was replayed stays replayed');
    };
  };
  document.getElementById('replay-selected').addEventListener('click', () => {
    const refs = picked();
    if (refs.length === 0) return say('select dead letters first', true);
    replay({ refs });
  });
  document.getElementById('replay-all').addEventListener('click', () => {
    if (confirm(`Replay every dead letter of ${topic}?`)) replay({ all: true });
  });
  const purge = async (body, what) => {
    if (!confirm(`Delete ${what} of ${topic} for good?`)) return;
    const r = await api(`v1/topics/${enc(topic)}/dead-letters/purge`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    say(`Purged ${r.purged} dead letter(s)`);
    await deadLettersPage(topic);
  };
  document.getElementById('purge-selected').addEventListener('click', () => {
    const refs = picked();
    if (refs.length === 0) return say('select dead letters first', true);
    purge({ refs }, `${refs.length} dead letter(s)`).catch((e) => say(e.message, true));
  });
  document
    .getElementById('purge-all')
    .addEventListener('click', () =>
      purge({ all: true }, 'every dead letter').catch((e) => say(e.message, true)),
    );
}

async function queuesPage() {
  const { queues } = await api('v1/queues');
  const dead = await Promise.all(
    queues
      .filter((q) => q.dead > 0)
      .map(async (q) => [q.name, (await api(`v1/queues/${enc(q.name)}/dead?limit=100`)).items]),
  );
  view.innerHTML = `
    <h1>Work queues</h1>
    <div class="card">${table(
      queues,
      [
        { title: 'Queue', cell: (q) => esc(q.name) },
        { title: 'Pending', num: true, cell: (q) => `<span data-pending>${num(q.pending)}</span>` },
        { title: 'Processing', num: true, cell: (q) => num(q.processing) },
        { title: 'Dead', num: true, cell: (q) => `<span data-dead>${num(q.dead)}</span>` },
        {
          title: '',
          cell: (q) =>
            q.dead > 0
              ? `<button class="retry" data-queue="${esc(q.name)}">Retry dead</button> <button class="danger purge" data-queue="${esc(q.name)}">Purge dead</button>`
              : '',
        },
      ],
      (q) => `data-queue-row="${esc(q.name)}"`,
    )}</div>
    ${dead
      .map(
        ([name, items]) =>
          `<h2>Dead items of ${esc(name)}</h2><div class="card">${table(items, [
            { title: 'Id', cell: (d) => `<code>${esc(d.id)}</code>` },
            { title: 'Attempts', num: true, cell: (d) => d.attempts },
            { title: 'Reason', cell: (d) => esc(d.reason) },
            { title: 'Error', cell: (d) => esc(String(d.error).slice(0, 80)) },
            {
              title: 'Data',
              narrow: true,
              cell: (d) => `<code>${esc(JSON.stringify(d.data)).slice(0, 80)}</code>`,
            },
          ])}</div>`,
      )
      .join('')}`;
  view.querySelectorAll('button.retry').forEach((b) =>
    b.addEventListener('click', async () => {
      try {
        const r = await api(`v1/queues/${enc(b.dataset.queue)}/dead/retry`, {
          method: 'POST',
          body: JSON.stringify({ all: true }),
        });
        say(`Retried ${r.retried} dead item(s) of ${b.dataset.queue}`);
        await queuesPage();
      } catch (e) {
        say(e.message, true);
      }
    }),
  );
  view.querySelectorAll('button.purge').forEach((b) =>
    b.addEventListener('click', async () => {
      if (!confirm(`Delete every dead item of ${b.dataset.queue} for good?`)) return;
      try {
        const r = await api(`v1/queues/${enc(b.dataset.queue)}/dead/purge`, {
          method: 'POST',
          body: JSON.stringify({ all: true }),
        });
        say(`Purged ${r.purged} dead item(s) of ${b.dataset.queue}`);
        await queuesPage();
      } catch (e) {
        say(e.message, true);
      }
    }),
  );
}

// ---- routing ---------------------------------------------------------------

async function route() {
  for (const f of cleanup) f();
  cleanup = [];
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  document
    .querySelectorAll('[data-nav]')
    .forEach((a) =>
      a.classList.toggle(
        'active',
        a.dataset.nav === (parts[0] || 'overview') ||
          (parts[0] === 'topic' && a.dataset.nav === 'overview'),
      ),
    );
  try {
    if (parts[0] === 'topic' && parts[2] === 'group') await groupPage(parts[1], parts[3]);
    else if (parts[0] === 'topic') await topicPage(parts[1]);
    else if (parts[0] === 'dead-letters') await deadLettersPage(parts[1]);
    else if (parts[0] === 'queues') await queuesPage();
    else overviewPage();
  } catch (e) {
    view.innerHTML = `<p class="muted">${esc(e.message)}</p>`;
  }
}

document.getElementById('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = document.getElementById('token').value.trim();
  sessionStorage.setItem('herald-token', token);
  document.getElementById('login').hidden = true;
  route();
});
window.addEventListener('hashchange', () => {
  say('');
  route();
});
route();
