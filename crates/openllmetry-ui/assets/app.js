// openllmetry ui: plain DOM, no framework. All data is inserted with textContent, never as HTML.
'use strict';

const app = document.getElementById('app');
const PAGE = 50;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'onclick') e.addEventListener('click', v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

async function api(path) {
  const r = await fetch(path, { headers: authHeaders() });
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function authHeaders() {
  const t = sessionStorage.getItem('openllmetry-ui-token');
  return t ? { Authorization: 'Bearer ' + t } : {};
}

function fmtDur(ns) {
  if (ns === null || ns === undefined) return '';
  const ms = ns / 1e6;
  return ms < 1000 ? ms.toFixed(1) + ' ms' : (ms / 1000).toFixed(2) + ' s';
}
function fmtTime(ns) { return new Date(ns / 1e6).toISOString().replace('T', ' ').replace('Z', ''); }
function fmtCost(c) { return c === null || c === undefined ? 'unknown' : '$' + c.toFixed(6); }
function fmtNum(n) { return n === null || n === undefined ? '–' : String(n); }

async function refreshStatus() {
  try {
    const s = await api('/api/status');
    document.getElementById('status').textContent =
      'spans ' + s.store.spans + ' · queue ' + s.queue.queued + '/' + s.queue.capacity +
      ' · rejected (queue full) ' + s.ingest.rejected_queue_full;
  } catch (e) { document.getElementById('status').textContent = String(e.message); }
}

function params() {
  const h = location.hash.split('?')[1] || '';
  return new URLSearchParams(h);
}

async function tracesView() {
  const p = params();
  const form = el('form', { class: 'filters', id: 'filters' });
  const fields = [['q', 'search prompts and completions'], ['service', 'service'], ['provider', 'provider'],
    ['model', 'model'], ['entity', 'workflow / entity'], ['conversation', 'conversation id'],
    ['assoc_key', 'association property'], ['assoc_value', 'property value']];
  for (const [name, ph] of fields) {
    const i = el('input', { name, placeholder: ph, id: 'f-' + name });
    i.value = p.get(name) || '';
    form.appendChild(i);
  }
  const st = el('select', { name: 'status', id: 'f-status' },
    el('option', { value: '' }, 'any status'), el('option', { value: 'error' }, 'errors'), el('option', { value: 'ok' }, 'no errors'));
  st.value = p.get('status') || '';
  form.appendChild(st);
  form.appendChild(el('button', { type: 'submit', id: 'f-apply' }, 'Apply'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form).entries()) if (v) q.set(k, v);
    location.hash = '#/?' + q.toString();
  });
  const offset = parseInt(p.get('offset') || '0', 10);
  const q = new URLSearchParams(p);
  q.set('limit', PAGE);
  q.set('offset', offset);
  const data = await api('/api/traces?' + q.toString());
  const table = el('table', { id: 'traces' }, el('thead', {}, el('tr', {},
    ...['Time', 'Root', 'Service', 'Duration', 'LLM calls', 'Tokens in', 'Tokens out', 'Cost', 'Errors'].map(h => el('th', {}, h)))));
  const body = el('tbody');
  for (const t of data.traces) {
    const cost = t.cost === null ? 'unknown' : fmtCost(t.cost) + (t.unknown_cost_calls ? ' + unknown' : '');
    body.appendChild(el('tr', { class: 'clickable', 'data-trace': t.trace_id, onclick: () => { location.hash = '#/trace/' + t.trace_id; } },
      el('td', {}, fmtTime(t.start_ns)), el('td', { class: 'root' }, t.root_name), el('td', {}, t.service),
      el('td', {}, fmtDur(t.duration_ns)), el('td', {}, t.llm_calls), el('td', {}, t.input_tokens),
      el('td', {}, t.output_tokens), el('td', {}, t.llm_calls ? cost : ''),
      el('td', { class: t.errors ? 'err' : '' }, t.errors)));
  }
  table.appendChild(body);
  const pager = el('div', { class: 'pager' });
  const nav = (off) => () => { const n = new URLSearchParams(p); n.set('offset', off); location.hash = '#/?' + n.toString(); };
  if (offset > 0) pager.appendChild(el('button', { onclick: nav(Math.max(0, offset - PAGE)) }, 'Newer'));
  if (data.traces.length === PAGE) pager.appendChild(el('button', { onclick: nav(offset + PAGE) }, 'Older'));
  app.replaceChildren(el('h2', {}, 'Traces'), form, table,
    data.traces.length ? pager : el('p', { id: 'empty' }, 'No traces match.'));
}

function parseJsonish(v) {
  if (typeof v !== 'string') return v;
  try { return JSON.parse(v); } catch (e) { return v; }
}

// Messages of a span in every flavour: current (gen_ai.*.messages), legacy (gen_ai.prompt.N.*), events (logs).
function messages(span) {
  const a = span.attributes || {};
  const out = [];
  const partsOf = (m) => {
    const res = [];
    if (Array.isArray(m.parts)) {
      for (const p of m.parts) {
        if (p.type === 'text' || p.type === 'reasoning') res.push({ text: String(p.content ?? '') });
        else if (p.type === 'tool_call') res.push({ call: (p.name || '') + '(' + JSON.stringify(p.arguments ?? {}) + ')' });
        else if (p.type === 'tool_call_response') res.push({ text: typeof p.response === 'string' ? p.response : JSON.stringify(p.response) });
        else res.push({ text: JSON.stringify(p) });
      }
    } else if (m.content !== undefined) {
      res.push({ text: typeof m.content === 'string' ? m.content : JSON.stringify(m.content) });
    }
    return res;
  };
  const sys = parseJsonish(a['gen_ai.system_instructions']);
  if (Array.isArray(sys)) out.push({ role: 'system', parts: sys.map(p => ({ text: String(p.content ?? JSON.stringify(p)) })) });
  for (const key of ['gen_ai.input.messages', 'gen_ai.output.messages']) {
    const ms = parseJsonish(a[key]);
    if (Array.isArray(ms)) for (const m of ms) out.push({ role: m.role || '?', parts: partsOf(m), finish: m.finish_reason });
  }
  if (!out.length) {
    for (const prefix of ['gen_ai.prompt.', 'gen_ai.completion.']) {
      for (let i = 0; ; i++) {
        const role = a[prefix + i + '.role'];
        const content = a[prefix + i + '.content'];
        const call0 = a[prefix + i + '.tool_calls.0.name'];
        if (role === undefined && content === undefined && call0 === undefined) break;
        const parts = [];
        if (content !== undefined) parts.push({ text: String(content) });
        for (let j = 0; a[prefix + i + '.tool_calls.' + j + '.name'] !== undefined; j++) {
          parts.push({ call: a[prefix + i + '.tool_calls.' + j + '.name'] + '(' + (a[prefix + i + '.tool_calls.' + j + '.arguments'] ?? '') + ')' });
        }
        out.push({ role: role || (prefix === 'gen_ai.prompt.' ? 'user' : 'assistant'), parts, finish: a[prefix + i + '.finish_reason'] });
      }
    }
  }
  if (!out.length && Array.isArray(span.logs)) {
    for (const l of span.logs) {
      const b = l.body;
      if (b === null || b === undefined) continue;
      const role = (l.event_name || '').replace(/^gen_ai\./, '').replace(/\.message$/, '');
      if (b && typeof b === 'object' && (b.content !== undefined || b.message)) {
        const m = b.message || b;
        out.push({ role: m.role || role, parts: partsOf(m) });
      } else out.push({ role, parts: [{ text: typeof b === 'string' ? b : JSON.stringify(b) }] });
    }
  }
  return out;
}

function chat(span) {
  const ms = messages(span);
  if (!ms.length) {
    return el('p', { class: 'notice', id: 'content-off' },
      'Content capture was off for this span: no prompts or completions were recorded.');
  }
  const box = el('div', { id: 'chat' });
  for (const m of ms) {
    const d = el('div', { class: 'msg ' + m.role }, el('span', { class: 'role' }, m.role));
    for (const p of m.parts) {
      if (p.call !== undefined) d.appendChild(el('div', { class: 'tool-call' }, 'tool call: ' + p.call));
      else d.appendChild(el('div', { class: 'text' }, p.text));
    }
    if (m.finish) d.appendChild(el('small', {}, 'finish: ' + m.finish));
    box.appendChild(d);
  }
  return box;
}

function kv(pairs) {
  const dl = el('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    dl.appendChild(el('dt', {}, k));
    dl.appendChild(el('dd', {}, typeof v === 'string' ? v : JSON.stringify(v)));
  }
  return dl;
}

async function spanDetail(traceId, spanId, panel) {
  const s = await api('/api/traces/' + encodeURIComponent(traceId) + '/spans/' + encodeURIComponent(spanId));
  const nodes = [el('h3', { id: 'span-name' }, s.name)];
  nodes.push(kv([['service', s.service], ['duration', fmtDur(s.end_ns - s.start_ns)],
    ['status', s.status_code === 2 ? 'error ' + s.status_message : (s.status_code === 1 ? 'ok' : 'unset')]]));
  if (s.is_llm) {
    const a = s.attributes || {};
    nodes.push(el('h4', {}, 'Usage'));
    nodes.push(kv([['provider', s.provider || ''], ['model', s.model || ''], ['operation', s.operation || ''],
      ['input tokens', fmtNum(s.input_tokens)], ['output tokens', fmtNum(s.output_tokens)],
      ['cache read tokens', fmtNum(s.cache_read_tokens)], ['cache write tokens', fmtNum(s.cache_write_tokens)],
      ['reasoning tokens', fmtNum(s.reasoning_tokens)], ['cost', fmtCost(s.cost)],
      ['finish reasons', a['gen_ai.response.finish_reasons'] ?? ''],
      ['time to first chunk', a['gen_ai.response.time_to_first_chunk'] !== undefined ? a['gen_ai.response.time_to_first_chunk'] + ' s' : '']]));
    nodes.push(el('h4', {}, 'Conversation'));
    nodes.push(chat(s));
  }
  nodes.push(el('h4', {}, 'Attributes'));
  nodes.push(kv(Object.entries(s.attributes || {}).sort()));
  panel.replaceChildren(...nodes);
}

async function traceView(traceId) {
  const t = await api('/api/traces/' + encodeURIComponent(traceId));
  const start = Math.min(...t.spans.map(s => s.start_ns));
  const end = Math.max(...t.spans.map(s => s.end_ns));
  const total = Math.max(1, end - start);
  // Tree order: children right after their parent.
  const byParent = new Map();
  const ids = new Set(t.spans.map(s => s.span_id));
  for (const s of t.spans) {
    const p = s.parent_span_id && ids.has(s.parent_span_id) ? s.parent_span_id : '';
    if (!byParent.has(p)) byParent.set(p, []);
    byParent.get(p).push(s);
  }
  const ordered = [];
  const walk = (p, depth) => { for (const s of byParent.get(p) || []) { ordered.push([s, depth]); walk(s.span_id, depth + 1); } };
  walk('', 0);
  const panel = el('div', { class: 'panel', id: 'detail' }, el('p', {}, 'Select a span.'));
  const wf = el('div', { class: 'panel', id: 'waterfall' });
  for (const [s, depth] of ordered) {
    const left = ((s.start_ns - start) / total) * 100;
    const width = Math.max(0.5, ((s.end_ns - s.start_ns) / total) * 100);
    const bar = el('div', { class: 'wf-bar' + (s.is_llm ? ' llm' : '') + (s.status_code === 2 ? ' error' : '') });
    bar.style.left = left + '%';
    bar.style.width = width + '%';
    const name = el('div', { class: 'wf-name' }, s.name);
    name.style.paddingLeft = (depth * 14) + 'px';
    const row = el('div', { class: 'wf-row', 'data-span': s.span_id }, name, el('div', { class: 'wf-track' }, bar),
      el('div', {}, fmtDur(s.end_ns - s.start_ns)));
    row.addEventListener('click', () => {
      for (const r of wf.querySelectorAll('.wf-row.sel')) r.classList.remove('sel');
      row.classList.add('sel');
      location.hash = '#/trace/' + traceId + '?span=' + s.span_id;
    });
    wf.appendChild(row);
  }
  app.replaceChildren(el('h2', {}, 'Trace ' + traceId), el('div', { class: 'trace' }, wf, panel));
  let sel = params().get('span');
  if (!sel) { const firstLlm = ordered.find(([s]) => s.is_llm); if (firstLlm) sel = firstLlm[0].span_id; }
  if (sel) {
    const row = [...wf.querySelectorAll('.wf-row')].find(r => r.getAttribute('data-span') === sel);
    if (row) row.classList.add('sel');
    await spanDetail(traceId, sel, panel);
  }
}

async function sessionsView() {
  const p = params();
  const by = p.get('by') || 'conversation';
  const form = el('form', { class: 'filters', id: 'sessions-by' });
  const input = el('input', { name: 'by', id: 's-by', placeholder: 'conversation or a property (e.g. user_id)' });
  input.value = by;
  form.appendChild(el('label', {}, 'Group by '));
  form.appendChild(input);
  form.appendChild(el('button', { type: 'submit' }, 'Group'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = '#/sessions?by=' + encodeURIComponent(input.value || 'conversation');
  });
  const data = await api('/api/sessions?by=' + encodeURIComponent(by));
  const table = el('table', { id: 'sessions' }, el('thead', {}, el('tr', {},
    ...['Session', 'Traces', 'First', 'Last', 'LLM calls', 'Tokens in', 'Tokens out', 'Cost', 'Errors'].map(h => el('th', {}, h)))));
  const body = el('tbody');
  for (const s of data.sessions) {
    const target = by === 'conversation'
      ? '#/?conversation=' + encodeURIComponent(s.key)
      : '#/?assoc_key=' + encodeURIComponent(by) + '&assoc_value=' + encodeURIComponent(s.key);
    const cost = s.cost === null ? 'unknown' : fmtCost(s.cost) + (s.unknown_cost_calls ? ' + unknown' : '');
    body.appendChild(el('tr', { class: 'clickable', 'data-session': s.key, onclick: () => { location.hash = target; } },
      el('td', {}, s.key), el('td', {}, s.traces), el('td', {}, fmtTime(s.first_ns)), el('td', {}, fmtTime(s.last_ns)),
      el('td', {}, s.llm_calls), el('td', {}, s.input_tokens), el('td', {}, s.output_tokens),
      el('td', {}, s.llm_calls ? cost : ''), el('td', { class: s.errors ? 'err' : '' }, s.errors)));
  }
  table.appendChild(body);
  app.replaceChildren(el('h2', {}, 'Sessions'), form, table,
    data.sessions.length ? null : el('p', { id: 'empty' }, 'No sessions: no trace has this key.'));
}

async function route() {
  const h = location.hash.split('?')[0];
  try {
    if (h === '#/sessions') await sessionsView();
    else if (h.startsWith('#/trace/')) await traceView(decodeURIComponent(h.slice('#/trace/'.length)));
    else await tracesView();
    document.body.setAttribute('data-ready', '1');
  } catch (e) {
    app.replaceChildren(el('p', { class: 'err' }, String(e.message)));
  }
  refreshStatus();
}

window.addEventListener('hashchange', route);
route();
