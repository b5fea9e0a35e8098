// warden supervise dashboard: plain JavaScript, no build step, no network
// but this server. State comes from /api/events (server-sent events: a
// snapshot, then updates); every DOM change is batched into one animation
// frame, so a burst of a thousand changes is one repaint, not a thousand.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const RUNNING_STATES = new Set(['STARTING', 'RUNNING', 'BACKOFF']);
  const STOPPED_STATES = new Set(['STOPPED', 'EXITED', 'FATAL', 'UNKNOWN']);
  const SIGNALLABLE = new Set(['STARTING', 'RUNNING', 'STOPPING']);

  const rows = new Map(); // spec -> row
  const groups = new Map(); // group name -> group
  const pending = new Map(); // spec -> process view, applied on the next frame
  let skew = 0; // server clock minus ours, seconds
  let supStarted = 0;
  let filterText = '';
  let frameWanted = false;
  // what the page did, for tests and the curious: wardenStats in the console
  const stats = { frames: 0, applied: 0, slowestFrameMs: 0, lastChange: null };
  window.wardenStats = stats;

  // ---- rendering ------------------------------------------------------

  const ACTIONS = [
    ['start', 'Start'], ['stop', 'Stop'], ['restart', 'Restart'],
    ['signal', 'Signal'], ['clearlog', 'Clear log'], ['tail', 'Tail'],
  ];

  const rowTemplate = (() => {
    const li = document.createElement('li');
    li.className = 'row';
    li.innerHTML =
      '<span class="name"></span>' +
      '<span class="st"><span class="lbl">state </span><span class="state"></span></span>' +
      '<span class="pid"><span class="lbl">pid </span><span class="v"></span></span>' +
      '<span class="uptime"><span class="lbl">up </span><span class="v"></span></span>' +
      '<span class="desc"></span>' +
      '<span class="acts"></span>';
    const acts = li.querySelector('.acts');
    for (const [act, text] of ACTIONS) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.act = act;
      b.textContent = text;
      if (act === 'stop') b.className = 'danger';
      acts.appendChild(b);
    }
    return li;
  })();

  function nowServer() { return Date.now() / 1000 + skew; }

  function fmtUptime(secs) {
    secs = Math.max(0, Math.floor(secs));
    const d = Math.floor(secs / 86400);
    const h = Math.floor((secs % 86400) / 3600);
    const m = Math.floor((secs % 3600) / 60);
    const s = secs % 60;
    const hms = `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
    return d ? `${d} day${d === 1 ? '' : 's'}, ${hms}` : hms;
  }

  function group(name) {
    let g = groups.get(name);
    if (g) return g;
    const sec = document.createElement('section');
    sec.className = 'group';
    const id = `g-${groups.size}`;
    sec.innerHTML =
      '<div class="ghead"><h2><button type="button" class="toggle" aria-expanded="true"></button></h2>' +
      '<span class="gsum"></span><span class="gact" role="group"></span></div>' +
      `<ul class="rows" id="${id}"></ul>`;
    const toggle = sec.querySelector('.toggle');
    toggle.textContent = name;
    toggle.setAttribute('aria-controls', id);
    toggle.setAttribute('aria-label', `Group ${name}`);
    const gact = sec.querySelector('.gact');
    gact.setAttribute('aria-label', `Group ${name} actions`);
    for (const [act, text] of [['start', 'Start'], ['stop', 'Stop'], ['restart', 'Restart']]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.gact = act;
      b.textContent = text;
      b.setAttribute('aria-label', `${text} group ${name}`);
      gact.appendChild(b);
    }
    g = { name, el: sec, list: sec.querySelector('.rows'), toggle, sum: sec.querySelector('.gsum'), specs: new Set() };
    sec.dataset.group = name;
    // keep groups sorted by name
    let before = null;
    for (const other of groups.values()) {
      if (other.name > name && (!before || other.name < before.name)) before = other;
    }
    $('groups').insertBefore(sec, before ? before.el : null);
    groups.set(name, g);
    return g;
  }

  function makeRow(p) {
    const el = rowTemplate.cloneNode(true);
    el.dataset.spec = p.spec;
    el.querySelector('.name').textContent = p.name;
    if (p.spec !== p.name) el.querySelector('.name').title = p.spec;
    const btns = {};
    for (const b of el.querySelectorAll('.acts button')) {
      const text = ACTIONS.find((a) => a[0] === b.dataset.act)[1];
      b.setAttribute('aria-label', `${text} ${p.name}`);
      btns[b.dataset.act] = b;
    }
    const row = {
      spec: p.spec, el, p: null, btns,
      state: el.querySelector('.state'),
      pid: el.querySelector('.pid .v'),
      up: el.querySelector('.uptime .v'),
      desc: el.querySelector('.desc'),
    };
    const g = group(p.group);
    // rows arrive sorted (group, name) in snapshots; insert in order otherwise
    let before = null;
    const last = g.list.lastElementChild && rows.get(g.list.lastElementChild.dataset.spec);
    if (last && last.p.name > p.name) {
      for (const spec of g.specs) {
        const r = rows.get(spec);
        if (r.p.name > p.name && (!before || r.p.name < before.p.name)) before = r;
      }
    }
    g.list.insertBefore(el, before ? before.el : null);
    g.specs.add(p.spec);
    rows.set(p.spec, row);
    return row;
  }

  function apply(p) {
    const row = rows.get(p.spec) || makeRow(p);
    const old = row.p;
    row.p = p;
    if (!old || old.state !== p.state) {
      row.state.textContent = p.state;
      row.state.className = `state s-${p.state}`;
      row.el.dataset.state = p.state;
      row.btns.start.disabled = !STOPPED_STATES.has(p.state);
      row.btns.stop.disabled = !RUNNING_STATES.has(p.state);
      row.btns.signal.disabled = !SIGNALLABLE.has(p.state);
      if (old) stats.lastChange = { spec: p.spec, state: p.state, at: performance.timeOrigin + performance.now() };
    }
    row.pid.textContent = p.pid ? String(p.pid) : '–';
    row.up.textContent = p.state === 'RUNNING' ? fmtUptime(nowServer() - p.start) : '–';
    // the description's uptime is shown in its own column
    row.desc.textContent = p.state === 'RUNNING' ? '' : p.description;
    if (filterText) filterRow(row);
  }

  function removeRow(spec) {
    const row = rows.get(spec);
    if (!row) return;
    row.el.remove();
    rows.delete(spec);
    const g = groups.get(row.p.group);
    if (g) {
      g.specs.delete(spec);
      if (!g.specs.size) { g.el.remove(); groups.delete(g.name); }
    }
  }

  function summarize() {
    let running = 0;
    let trouble = 0;
    for (const g of groups.values()) {
      let gr = 0;
      for (const spec of g.specs) {
        const s = rows.get(spec).p.state;
        if (s === 'RUNNING') gr++;
        if (s === 'FATAL' || s === 'BACKOFF') trouble++;
      }
      running += gr;
      g.sum.textContent = `${gr} of ${g.specs.size} running`;
    }
    $('counts').textContent = rows.size
      ? `${rows.size} processes, ${running} running` + (trouble ? `, ${trouble} failing` : '')
      : 'No programs to manage';
  }

  function frame() {
    frameWanted = false;
    if (pending.size) {
      const t0 = performance.now();
      const batch = Array.from(pending.values());
      pending.clear();
      for (const p of batch) apply(p);
      summarize();
      stats.frames++;
      stats.applied += batch.length;
      stats.slowestFrameMs = Math.max(stats.slowestFrameMs, performance.now() - t0);
    }
  }

  function later(p) {
    pending.set(p.spec, p);
    if (!frameWanted) { frameWanted = true; requestAnimationFrame(frame); }
  }

  function snapshot(s) {
    skew = s.supervisor.now - Date.now() / 1000;
    supervisor(s.supervisor);
    const seen = new Set();
    for (const p of s.processes) { seen.add(p.spec); }
    for (const spec of Array.from(rows.keys())) if (!seen.has(spec)) removeRow(spec);
    if (!rows.size) {
      // first paint: build everything now, in one go
      for (const p of s.processes) apply(p);
      summarize();
      if (!document.documentElement.dataset.ready) {
        document.documentElement.dataset.ready = String(Math.round(performance.now()));
      }
    } else {
      for (const p of s.processes) later(p);
    }
  }

  function supervisor(s) {
    if (s.state) $('sup-state').textContent = s.state;
    if (s.version) $('sup-version').textContent = s.version;
    if (s.pid) $('sup-pid').textContent = String(s.pid);
    if (s.started) supStarted = s.started;
    if (s.identification) document.title = `${s.identification} · warden supervise`;
    tickSupervisor();
  }

  function tickSupervisor() {
    if (supStarted) $('sup-uptime').textContent = fmtUptime(nowServer() - supStarted);
  }

  // uptimes tick once a second, for visible running rows only
  setInterval(() => {
    tickSupervisor();
    const now = nowServer();
    for (const g of groups.values()) {
      if (g.toggle.getAttribute('aria-expanded') === 'false') continue;
      for (const spec of g.specs) {
        const r = rows.get(spec);
        if (r.p.state === 'RUNNING' && !r.el.classList.contains('hidden')) r.up.textContent = fmtUptime(now - r.p.start);
      }
    }
  }, 1000);

  // ---- filter ---------------------------------------------------------

  function filterRow(row) {
    const p = row.p;
    const hay = `${p.spec} ${p.group} ${p.state} ${p.description}`.toLowerCase();
    row.el.classList.toggle('hidden', !!filterText && !hay.includes(filterText));
  }

  let filterFrame = 0;
  $('filter').addEventListener('input', () => {
    cancelAnimationFrame(filterFrame);
    filterFrame = requestAnimationFrame(() => {
      filterText = $('filter').value.trim().toLowerCase();
      for (const row of rows.values()) filterRow(row);
      for (const g of groups.values()) {
        let any = false;
        for (const spec of g.specs) if (!rows.get(spec).el.classList.contains('hidden')) { any = true; break; }
        g.el.classList.toggle('hidden', !any);
      }
    });
  });

  // ---- messages and actions ---------------------------------------------

  function say(text, error) {
    const m = $('message');
    m.hidden = false;
    m.textContent = text;
    m.classList.toggle('error', !!error);
  }

  async function act(body, what) {
    say(`${what}…`);
    try {
      const r = await fetch('api/action', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        credentials: 'same-origin',
      });
      const j = await r.json().catch(() => ({ ok: false, message: `${r.status} ${r.statusText}` }));
      say(j.message, !j.ok);
    } catch (e) {
      say(`${what}: ${e}`, true);
    }
  }

  function ask(dialog, text) {
    return new Promise((resolve) => {
      if (text) $('confirm-text').textContent = text;
      dialog.returnValue = '';
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.showModal();
    });
  }

  $('groups').addEventListener('click', async (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    if (b.classList.contains('toggle')) {
      const open = b.getAttribute('aria-expanded') !== 'true';
      b.setAttribute('aria-expanded', String(open));
      document.getElementById(b.getAttribute('aria-controls')).hidden = !open;
      return;
    }
    if (b.dataset.gact) {
      const name = b.closest('.group').dataset.group;
      act({ action: b.dataset.gact, group: name }, b.getAttribute('aria-label'));
      return;
    }
    const rowEl = b.closest('.row');
    if (!rowEl) return;
    const row = rows.get(rowEl.dataset.spec);
    const label = b.getAttribute('aria-label');
    switch (b.dataset.act) {
      case 'tail': openLog({ name: row.spec }, `Log of ${row.p.name}`); break;
      case 'signal': {
        $('signal-title').textContent = `Send a signal to ${row.p.name}`;
        if (await ask($('signal'))) {
          act({ action: 'signal', name: row.spec, signal: $('signal-name').value }, `Signal ${row.p.name}`);
        }
        break;
      }
      default: act({ action: b.dataset.act, name: row.spec }, label);
    }
  });

  for (const b of document.querySelectorAll('[data-all]')) {
    b.addEventListener('click', async () => {
      const what = b.textContent;
      if (b.dataset.all !== 'start' && !(await ask($('confirm'), `${what}: every process will be ${b.dataset.all === 'stop' ? 'stopped' : 'restarted'}. Continue?`))) {
        say(`${what}: cancelled`);
        return;
      }
      act({ action: b.dataset.all, all: true }, what);
    });
  }

  // ---- log view -------------------------------------------------------

  const log = { es: null, follow: true, held: [], queue: [], frame: false, size: 0 };
  const MAX_CHARS = 1000000; // the view keeps the last million characters

  function openLog(query, title) {
    closeLog();
    $('log-title').textContent = title;
    $('log').textContent = '';
    log.size = 0;
    $('logpanel').hidden = false;
    const qs = new URLSearchParams(query).toString();
    const es = new EventSource(`api/log?${qs}`);
    for (const kind of ['stdout', 'stderr', 'main', 'note']) {
      es.addEventListener(kind, (e) => logChunk(kind, JSON.parse(e.data)));
    }
    log.es = es;
    $('logpanel').scrollIntoView({ block: 'nearest' });
  }

  function closeLog() {
    if (log.es) log.es.close();
    log.es = null;
    log.held = [];
    log.queue = [];
  }

  function logChunk(kind, text) {
    if (kind === 'note') text = `[${text}]\n`;
    if (!log.follow) { log.held.push([kind, text]); return; }
    log.queue.push([kind, text]);
    if (!log.frame) { log.frame = true; requestAnimationFrame(flushLog); }
  }

  function flushLog() {
    log.frame = false;
    const pre = $('log');
    const frag = document.createDocumentFragment();
    for (const [kind, text] of log.queue) {
      log.size += text.length;
      const span = document.createElement('span');
      span.className = kind === 'stderr' ? 'stderr' : 'stdout';
      span.textContent = text;
      frag.appendChild(span);
    }
    log.queue = [];
    pre.appendChild(frag);
    while (log.size > MAX_CHARS && pre.firstChild) {
      log.size -= pre.firstChild.textContent.length;
      pre.removeChild(pre.firstChild);
    }
    if (log.follow) pre.scrollTop = pre.scrollHeight;
  }

  $('log-follow').addEventListener('click', () => {
    log.follow = !log.follow;
    const b = $('log-follow');
    b.setAttribute('aria-pressed', String(log.follow));
    b.textContent = log.follow ? 'Stop following' : 'Follow';
    if (log.follow) {
      for (const c of log.held) logChunk(c[0], c[1]);
      log.held = [];
    }
  });
  $('log-close').addEventListener('click', () => { closeLog(); $('logpanel').hidden = true; });
  $('log-clear-view').addEventListener('click', () => { $('log').textContent = ''; log.size = 0; });
  $('log-stdout').addEventListener('change', (e) => $('log').classList.toggle('hide-stdout', !e.target.checked));
  $('log-stderr').addEventListener('change', (e) => $('log').classList.toggle('hide-stderr', !e.target.checked));
  $('mainlog-btn').addEventListener('click', () => openLog({ main: '1' }, 'Main log'));

  // ---- the event stream -------------------------------------------------

  function connect() {
    const es = new EventSource('api/events');
    const conn = $('conn');
    es.addEventListener('open', () => { conn.textContent = 'live'; conn.className = 'conn live'; });
    es.addEventListener('error', () => { conn.textContent = 'reconnecting…'; conn.className = 'conn down'; });
    es.addEventListener('snapshot', (e) => snapshot(JSON.parse(e.data)));
    es.addEventListener('update', (e) => { for (const p of JSON.parse(e.data)) later(p); });
    es.addEventListener('supervisor', (e) => supervisor(JSON.parse(e.data)));
  }

  const msg = new URLSearchParams(location.search).get('message');
  if (msg) say(msg, msg.startsWith('ERROR') || msg.startsWith('unexpected'));
  connect();
})();
