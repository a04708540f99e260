// parcelwatch ops console: plain browser JavaScript, no build step. Every figure comes from the JSON API
// (read with the HttpOnly session cookie the login sets); labels come from /api/reports/vocabulary.
'use strict';

const main = document.getElementById('main');
let vocab = { timeZone: 'Asia/Shanghai', types: {}, severities: {}, statuses: {}, carriers: {} };

class Unauthorized extends Error {}

async function api(path) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) throw new Unauthorized('登录已失效');
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

// ---- small helpers -------------------------------------------------------------------------------------
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const typeName = (t) => vocab.types[t] || t;
const sevName = (s) => vocab.severities[s] || s;
const statusName = (s) => vocab.statuses[s] || s;
const carrierName = (c) => (c ? vocab.carriers[c] || c : '—');
const num = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('zh-CN'));
const pct = (r) => (r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)}%`);
const yuan = (n) => `¥${Number(n || 0).toFixed(2)}`;
function time(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString('zh-CN', { timeZone: vocab.timeZone, hour12: false, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}
const sev = (s) => `<span class="sev-${esc(s)}">${esc(sevName(s))}</span>`;
const parcelLink = (no) => (no ? `<a href="#parcel/${encodeURIComponent(no)}" data-testid="parcel-link">${esc(no)}</a>` : '—');
const options = (map, selected, empty = '全部') =>
  (empty === false ? '' : `<option value="">${empty}</option>`) + Object.entries(map).map(([k, v]) => `<option value="${esc(k)}"${k === selected ? ' selected' : ''}>${esc(v)}</option>`).join('');

/** CSV that opens in Chinese Excel: UTF-8 with a BOM, CRLF. */
function downloadCsv(name, header, rows) {
  const cell = (v) => {
    const s = String(v ?? '');
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const text = '\ufeff' + [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/**
 * A table whose headers sort the rows shown (click again to reverse). With `serverSort`, a column that has a
 * `server` sort asks for it instead (the whole list, not this page: `serverSort(column)` reloads), and the
 * active one is marked.
 */
function sortableTable(el, columns, rows, testid, serverSort = null, activeServer = null) {
  let key = null;
  let dir = 1;
  const draw = () => {
    const sorted = key === null ? rows : [...rows].sort((a, b) => {
      const x = columns[key].sort(a);
      const y = columns[key].sort(b);
      return (x > y ? 1 : x < y ? -1 : 0) * dir;
    });
    el.innerHTML = `<div class="scroll"><table data-testid="${testid}"><thead><tr>${columns
      .map((c, i) => `<th class="${c.sort || (serverSort && c.server) ? 'sortable' : ''} ${c.num ? 'num' : ''} ${activeServer && c.server && c.server[0] === activeServer ? 'sorted' : ''}" data-col="${i}">${esc(c.label)}</th>`)
      .join('')}</tr></thead><tbody>${
      sorted.length
        ? sorted.map((r) => `<tr>${columns.map((c) => `<td class="${c.num ? 'num' : ''} ${c.wrap ? 'wrap' : ''}">${c.html(r)}</td>`).join('')}</tr>`).join('')
        : `<tr><td colspan="${columns.length}" class="muted">没有数据</td></tr>`
    }</tbody></table></div>`;
    el.querySelectorAll('th.sortable').forEach((th) =>
      th.addEventListener('click', () => {
        const col = Number(th.dataset.col);
        if (serverSort && columns[col].server) return serverSort(columns[col]);
        dir = key === col ? -dir : 1;
        key = col;
        draw();
      }),
    );
  };
  draw();
}

// ---- pages ---------------------------------------------------------------------------------------------
async function pageToday() {
  const t = await api('/api/reports/today');
  const sevs = Object.keys(vocab.severities);
  const types = [...new Set(t.openExceptions.map((r) => r.type))];
  const cell = (type, s) => t.openExceptions.find((r) => r.type === type && r.severity === s)?.count ?? 0;
  main.innerHTML = `
    <h1>今日概览 <span class="muted" style="font-size:13px">${esc(time(t.at))}</span></h1>
    <div class="cards">
      <div class="card" data-testid="card-open"><div class="label">未处理异常</div><div class="value">${num(t.openExceptionsTotal)}</div><div class="sub"><a href="#exceptions">查看列表</a></div></div>
      <div class="card ${t.lateShipmentBreaches.count ? 'alert' : ''}" data-testid="card-breaches"><div class="label">延迟发货已违约</div><div class="value">${num(t.lateShipmentBreaches.count)}</div><div class="sub">预计赔付 <b data-testid="penalty">${yuan(t.lateShipmentBreaches.penaltyYuan)}</b></div></div>
      <div class="card ${t.outreach.overdue ? 'alert' : ''}" data-testid="card-overdue"><div class="label">超时未处理外呼任务</div><div class="value">${num(t.outreach.overdue)}</div><div class="sub">待处理 ${num(t.outreach.open)} · 处理中 ${num(t.outreach.claimed)}</div></div>
      <div class="card" data-testid="card-chasers"><div class="label">催件客户等待中</div><div class="value">${num(t.chasers.active)}</div><div class="sub">待发送通知 ${num(t.chasers.pendingMessages)}</div></div>
    </div>
    <h2>未处理异常（按类型与严重度）</h2>
    <div class="scroll"><table data-testid="open-matrix"><thead><tr><th>异常类型</th>${sevs.map((s) => `<th class="num">${esc(sevName(s))}</th>`).join('')}<th class="num">合计</th></tr></thead>
    <tbody>${types.length ? types.map((ty) => `<tr data-type="${esc(ty)}"><td><a href="#exceptions?status=open&type=${esc(ty)}">${esc(typeName(ty))}</a></td>${sevs.map((s) => `<td class="num">${num(cell(ty, s))}</td>`).join('')}<td class="num" data-testid="type-total">${num(sevs.reduce((a, s) => a + cell(ty, s), 0))}</td></tr>`).join('') : `<tr><td colspan="${sevs.length + 2}" class="muted">没有未处理的异常</td></tr>`}</tbody></table></div>`;
}

function hashParams() {
  const q = location.hash.split('?')[1] || '';
  return Object.fromEntries(new URLSearchParams(q));
}

/** The exceptions list's orders (GET /api/exceptions?sort=). */
const EXC_SORTS = { newest: '最新发生', oldest: '持续最久', severity: '最严重', penalty: '赔付最多', deadline: '截止最近' };

async function pageExceptions() {
  const p = { status: 'open', ...hashParams() };
  const cursors = [null];
  main.innerHTML = `
    <h1>异常列表</h1>
    <form class="filters" id="exc-filters">
      <label>状态<select name="status">${options({ open: '未处理', resolved: '已解决' }, p.status)}</select></label>
      <label>类型<select name="type">${options(vocab.types, p.type)}</select></label>
      <label>严重度<select name="severity">${options(vocab.severities, p.severity)}</select></label>
      <label>快递<select name="carrier">${options(vocab.carriers, p.carrier)}</select></label>
      <label>排序<select name="sort">${options(EXC_SORTS, p.sort || 'newest', false)}</select></label>
      <label>每页<select name="limit">${[25, 50, 100].map((n) => `<option${String(n) === (p.limit || '50') ? ' selected' : ''}>${n}</option>`).join('')}</select></label>
      <button type="submit" class="primary">筛选</button>
      <button type="button" id="exc-export">导出 CSV</button>
    </form>
    <div id="exc-table"></div>
    <div class="pager"><button type="button" id="exc-prev">上一页</button><span id="exc-page" class="muted"></span><button type="button" id="exc-next">下一页</button></div>`;
  const form = document.getElementById('exc-filters');
  const query = (cursor) => {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, String(v));
    if (cursor) q.set('cursor', cursor);
    return q;
  };
  // Ops sort the whole list, not the page in hand: the columns with a server order ask the API for it (the
  // first of `server` on a click, the second on a click while the first is active); the others are not sortable
  // here, since a page-only sort of a paged list misleads.
  const columns = [
    { label: '订单', html: (r) => esc(r.orderId) },
    { label: '类型', html: (r) => esc(typeName(r.type)) },
    { label: '严重度', html: (r) => sev(r.severity), server: ['severity'] },
    { label: '快递', html: (r) => esc(carrierName(r.carrier)) },
    { label: '运单号', html: (r) => parcelLink(r.trackingNo) },
    { label: '开始时间', html: (r) => esc(time(r.openedAt)), server: ['newest', 'oldest'] },
    { label: '已持续(小时)', num: true, html: (r) => num(r.ageHours), server: ['oldest', 'newest'] },
    { label: '截止时间', html: (r) => esc(time(r.deadlineAt)), server: ['deadline'] },
    { label: '预计赔付', num: true, html: (r) => (r.penaltyYuan === null ? '—' : yuan(r.penaltyYuan)), server: ['penalty'] },
    { label: '最新动态', wrap: true, html: (r) => esc(r.lastEvent || '—') },
  ];
  const sortBy = (col) => {
    const select = form.querySelector('select[name=sort]');
    select.value = col.server[0] === select.value && col.server[1] ? col.server[1] : col.server[0];
    page = 0;
    cursors.length = 1;
    load().catch(show);
  };
  let page = 0;
  let next = null;
  const load = async () => {
    const q = query(cursors[page]);
    history.replaceState(null, '', `#exceptions?${query(null)}`);
    const r = await api(`/api/exceptions?${q}`);
    next = r.nextCursor;
    sortableTable(document.getElementById('exc-table'), columns, r.items, 'exceptions-table', sortBy, form.querySelector('select[name=sort]').value);
    document.getElementById('exc-page').textContent = `第 ${page + 1} 页 · 本页 ${r.items.length} 条`;
    document.getElementById('exc-prev').disabled = page === 0;
    document.getElementById('exc-next').disabled = !next;
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    page = 0;
    cursors.length = 1;
    load().catch(show);
  });
  document.getElementById('exc-next').addEventListener('click', () => {
    cursors[page + 1] = next;
    page++;
    load().catch(show);
  });
  document.getElementById('exc-prev').addEventListener('click', () => {
    page = Math.max(0, page - 1);
    load().catch(show);
  });
  document.getElementById('exc-export').addEventListener('click', async () => {
    // every page of the current filter, 1,000 at a time, up to 20,000 rows
    const rows = [];
    let cursor = null;
    do {
      const q = query(cursor);
      q.set('limit', '1000');
      const r = await api(`/api/exceptions?${q}`);
      rows.push(...r.items);
      cursor = r.nextCursor;
    } while (cursor && rows.length < 20000);
    downloadCsv(
      `exceptions-${new Date().toISOString().slice(0, 10)}.csv`,
      ['订单', '平台', '类型', '严重度', '状态', '快递', '运单号', '开始时间', '截止时间', '预计赔付(元)', '客户', '电话', '网点/枢纽', '最新动态'],
      rows.map((r) => [r.orderId, r.platform, typeName(r.type), sevName(r.severity), r.status === 'open' ? '未处理' : '已解决', carrierName(r.carrier), r.trackingNo, time(r.openedAt), time(r.deadlineAt), r.penaltyYuan ?? '', r.customer?.name, r.customer?.phone, r.lastHub, r.lastEvent]),
    );
  });
  await load();
}

async function pageOutreach() {
  const p = hashParams();
  const today = await api('/api/reports/today');
  const agentRows = today.outreach.byAgent;
  main.innerHTML = `
    <h1>外呼任务</h1>
    <h2>按客服</h2>
    <div class="scroll"><table data-testid="agents-table"><thead><tr><th>客服</th><th class="num">待处理</th><th class="num">处理中</th><th class="num">已完成</th><th class="num">已取消</th><th class="num">超时</th></tr></thead>
    <tbody>${agentRows.length ? agentRows.map((a) => `<tr><td>${esc(a.agent || '公共池')}</td>${['open', 'claimed', 'done', 'cancelled'].map((s) => `<td class="num">${num(a.byStatus[s] || 0)}</td>`).join('')}<td class="num ${a.overdue ? 'sev-critical' : ''}">${num(a.overdue)}</td></tr>`).join('') : '<tr><td colspan="6" class="muted">还没有任务</td></tr>'}</tbody></table></div>
    <h2>任务列表</h2>
    <form class="filters" id="task-filters">
      <label>状态<select name="status">${options({ open: '待处理', claimed: '处理中', done: '已完成', cancelled: '已取消' }, p.status ?? 'open')}</select></label>
      <label>客服<input name="agent" value="${esc(p.agent || '')}" placeholder="全部"></label>
      <label>类型<select name="type">${options(vocab.types, p.type)}</select></label>
      <label class="inline"><input type="checkbox" name="overdue" value="1"${p.overdue ? ' checked' : ''}>只看超时</label>
      <button type="submit" class="primary">筛选</button>
    </form>
    <div id="task-table"></div>`;
  const form = document.getElementById('task-filters');
  const columns = [
    { label: '优先级', num: true, html: (r) => num(r.priority), sort: (r) => -r.priority },
    { label: '订单', html: (r) => esc(r.orderId), sort: (r) => r.orderId },
    { label: '类型', html: (r) => esc(typeName(r.type)), sort: (r) => r.type },
    { label: '严重度', html: (r) => sev(r.severity), sort: (r) => Object.keys(vocab.severities).indexOf(r.severity) },
    { label: '截止', html: (r) => `${esc(time(r.dueBy))}${r.overdue ? ' <span class="sev-critical">超时</span>' : ''}`, sort: (r) => r.dueBy },
    { label: '客服', html: (r) => esc(r.agent || '公共池'), sort: (r) => r.agent || '' },
    { label: '客户', html: (r) => esc(`${r.customer?.name || ''} ${r.customer?.phone || ''}`), sort: (r) => r.customer?.name || '' },
    { label: '运单号', html: (r) => parcelLink(r.trackingNo), sort: (r) => r.trackingNo || '' },
    { label: '原因', wrap: true, html: (r) => esc(r.reason) },
  ];
  const load = async () => {
    const fd = new FormData(form);
    const q = new URLSearchParams();
    for (const k of ['status', 'agent', 'type']) if (fd.get(k)) q.set(k, String(fd.get(k)));
    q.set('limit', '500');
    history.replaceState(null, '', `#outreach?${q}${fd.get('overdue') ? '&overdue=1' : ''}`);
    const r = await api(`/api/outreach?${q}`);
    const items = fd.get('overdue') ? r.items.filter((t) => t.overdue) : r.items;
    sortableTable(document.getElementById('task-table'), columns, items, 'tasks-table');
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load().catch(show);
  });
  await load();
}

async function pageCarriers() {
  const p = { since: '30d', by: 'carrier', ...hashParams() };
  main.innerHTML = `
    <h1>快递表现</h1>
    <form class="filters" id="car-filters">
      <label>时间范围<select name="since">${options({ '7d': '最近 7 天', '30d': '最近 30 天', '90d': '最近 90 天' }, p.since, '—')}</select></label>
      <label>维度<select name="by">${options({ carrier: '按快递', route: '按线路' }, p.by, '—')}</select></label>
      <button type="submit" class="primary">刷新</button>
    </form>
    <div id="car-table"></div>
    <h2>异常趋势（每日新增 / 解决）</h2>
    <div class="charts" id="car-charts"></div>`;
  const form = document.getElementById('car-filters');
  const load = async () => {
    const q = new URLSearchParams(new FormData(form));
    history.replaceState(null, '', `#carriers?${q}`);
    const [rep, trends] = await Promise.all([api(`/api/reports/carriers?${q}`), api(`/api/reports/exceptions?since=${encodeURIComponent(q.get('since'))}`)]);
    const route = q.get('by') === 'route';
    const excCols = Object.keys(vocab.types).map((t) => ({ label: `${typeName(t)}率`, num: true, html: (r) => pct(r.exceptions[t]?.rate ?? 0), sort: (r) => r.exceptions[t]?.rate ?? 0 }));
    sortableTable(
      document.getElementById('car-table'),
      [
        { label: '快递', html: (r) => esc(r.carrierName), sort: (r) => r.carrier },
        ...(route ? [{ label: '线路', html: (r) => esc(`${r.origin || '?'} → ${r.destination || '?'}`), sort: (r) => `${r.origin}${r.destination}` }] : []),
        { label: '包裹数', num: true, html: (r) => num(r.parcels), sort: (r) => r.parcels },
        { label: '已签收', num: true, html: (r) => num(r.delivered), sort: (r) => r.delivered },
        { label: '准时率', num: true, html: (r) => `<span data-testid="ontime">${pct(r.onTimeRate)}</span>`, sort: (r) => r.onTimeRate ?? -1 },
        { label: '时效中位数(时)', num: true, html: (r) => num(r.medianTransitHours), sort: (r) => r.medianTransitHours ?? -1 },
        { label: 'P90时效(时)', num: true, html: (r) => num(r.p90TransitHours), sort: (r) => r.p90TransitHours ?? -1 },
        { label: '发货→揽收(时)', num: true, html: (r) => num(r.medianCollectionDelayHours), sort: (r) => r.medianCollectionDelayHours ?? -1 },
        ...excCols,
        { label: '拒签率', num: true, html: (r) => pct(r.rejected.rate), sort: (r) => r.rejected.rate ?? 0 },
        { label: '退回率', num: true, html: (r) => pct(r.returned.rate), sort: (r) => r.returned.rate ?? 0 },
        { label: '外呼任务', num: true, html: (r) => num(r.outreach.tasks), sort: (r) => r.outreach.tasks },
        { label: '已赔付', num: true, html: (r) => yuan(r.outreach.compensationYuan), sort: (r) => r.outreach.compensationYuan },
      ],
      rep.items,
      'scorecards-table',
    );
    drawTrends(trends);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load().catch(show);
  });
  await load();
}

/** One uPlot chart per carrier: exceptions opened and resolved per business day. */
function drawTrends(trends) {
  const box = document.getElementById('car-charts');
  box.innerHTML = '';
  // every business day of the period, so quiet days show as 0 and one busy day is not a lone dot
  const dayOf = (iso) => new Date(iso).toLocaleDateString('sv-SE', { timeZone: vocab.timeZone });
  const days = [];
  for (let t = Date.parse(`${dayOf(trends.since)}T00:00:00Z`), end = Date.parse(`${dayOf(trends.until)}T00:00:00Z`); t <= end; t += 86400000) days.push(new Date(t).toISOString().slice(0, 10));
  const carriers = [...new Set(trends.items.map((i) => i.carrier || ''))].sort();
  if (!trends.items.length) {
    box.innerHTML = '<p class="muted">这段时间没有异常</p>';
    return;
  }
  const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
  for (const c of carriers) {
    const sum = (field) => days.map((d) => trends.items.filter((i) => i.day === d && (i.carrier || '') === c).reduce((a, i) => a + i[field], 0));
    const div = document.createElement('div');
    div.className = 'chart';
    div.dataset.testid = 'trend-chart';
    div.dataset.carrier = c;
    div.innerHTML = `<div><b>${esc(c ? carrierName(c) : '未发货订单')}</b></div>`;
    box.appendChild(div);
    const width = Math.max(280, Math.min(660, div.clientWidth - 16));
    new uPlot(
      {
        width,
        height: 200,
        scales: { x: { time: true } },
        axes: [{ values: (u, ticks) => ticks.map((t) => new Date(t * 1000).toISOString().slice(5, 10)) }, { label: '个数' }],
        series: [{ label: '日期', value: (u, t) => (t === null ? '--' : new Date(t * 1000).toISOString().slice(0, 10)) }, { label: '新增', stroke: '#b91c1c', width: 2 }, { label: '解决', stroke: '#047857', width: 2 }],
      },
      [xs, sum('opened'), sum('resolved')],
      div,
    );
  }
}

async function pageParcel(trackingNo) {
  main.innerHTML = `
    <h1>包裹轨迹</h1>
    <form class="filters" id="parcel-form"><label>运单号<input name="no" value="${esc(trackingNo || '')}" required></label><button class="primary" type="submit">查询</button></form>
    <div id="parcel"></div>`;
  document.getElementById('parcel-form').addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#parcel/${encodeURIComponent(new FormData(e.target).get('no').trim())}`;
  });
  if (!trackingNo) return;
  const out = document.getElementById('parcel');
  let r;
  try {
    r = await api(`/api/shipments/${encodeURIComponent(trackingNo)}`);
  } catch (err) {
    if (err instanceof Unauthorized) throw err;
    out.innerHTML = `<p class="error">${esc(err.message)}</p>`;
    return;
  }
  const parts = [];
  for (const s of r.items) {
    const tasks = (await Promise.all(s.orderIds.map((o) => api(`/api/outreach?orderId=${encodeURIComponent(o)}&limit=50`)))).flatMap((x) => x.items);
    const events = [...s.events].sort((a, b) => (a.occurredAt < b.occurredAt ? 1 : -1));
    parts.push(`
      <section data-testid="parcel-view">
      <div class="cards">
        <div class="card"><div class="label">${esc(carrierName(s.carrier))} · ${esc(s.trackingNo)}</div><div class="value" data-testid="parcel-status">${esc(statusName(s.status))}</div><div class="sub">订单 ${s.orderIds.map(esc).join('、')}</div></div>
        <div class="card"><div class="label">揽收 / 签收</div><div class="sub">${esc(time(s.collectedAt))}<br>${esc(time(s.deliveredAt))}</div></div>
        <div class="card"><div class="label">最新网点</div><div class="sub">${esc(s.lastHub || '—')}</div><div class="sub">下次查询 ${esc(time(s.nextPollAt))}</div></div>
        ${s.pollFailures > 0 ? `<div class="card alert" data-testid="parcel-poll-failures"><div class="label">查询连续失败</div><div class="value">${num(s.pollFailures)} 次</div><div class="sub">下次查询 ${esc(time(s.nextPollAt))}</div><div class="sub">该包裹的查询任务已连续失败，现单独查询，不再连累同批包裹；单独仍失败则查询间隔逐次加倍，最长 24 小时。任何一次查询有结果即清零。</div></div>` : ''}
      </div>
      <h2>物流轨迹（${events.length} 条）</h2>
      <ul class="timeline" data-testid="timeline">${events.map((e) => `<li class="${esc(e.status)}"><div class="when">${esc(time(e.occurredAt))} <span class="tag">${esc(statusName(e.status))}</span>${e.hub ? `<span class="tag">${esc(e.hub)}</span>` : ''}</div><div>${esc(e.text)}</div>${e.rule || e.providerCode ? `<div class="muted" style="font-size:12px">${esc(e.rule || '')} ${e.providerCode ? `代码 ${esc(e.providerCode)}` : ''}</div>` : ''}</li>`).join('') || '<li class="muted">还没有轨迹</li>'}</ul>
      <h2>异常</h2>
      <div class="scroll"><table data-testid="parcel-exceptions"><thead><tr><th>类型</th><th>严重度</th><th>状态</th><th>开始</th><th>解决</th><th>说明</th></tr></thead><tbody>
      ${s.exceptions.map((e) => `<tr><td>${esc(typeName(e.type))}</td><td>${sev(e.severity)}</td><td>${e.status === 'open' ? '未处理' : '已解决'}</td><td>${esc(time(e.openedAt))}</td><td>${esc(time(e.resolvedAt))}</td><td class="wrap">${esc(e.resolution || '')}</td></tr>`).join('') || '<tr><td colspan="6" class="muted">没有异常</td></tr>'}
      </tbody></table></div>
      <h2>外呼任务</h2>
      <div class="scroll"><table data-testid="parcel-tasks"><thead><tr><th>状态</th><th>类型</th><th>截止</th><th>客服</th><th>结果</th><th>话术</th></tr></thead><tbody>
      ${tasks.map((t) => `<tr><td>${esc({ open: '待处理', claimed: '处理中', done: '已完成', cancelled: '已取消' }[t.status] || t.status)}</td><td>${esc(typeName(t.type))}</td><td>${esc(time(t.dueBy))}</td><td>${esc(t.agent || '公共池')}</td><td>${esc(t.outcome || '—')}</td><td class="wrap">${esc(t.script)}</td></tr>`).join('') || '<tr><td colspan="6" class="muted">没有任务</td></tr>'}
      </tbody></table></div>
      </section>`);
  }
  out.innerHTML = parts.join('');
}

function pageLogin(message) {
  document.getElementById('logout').hidden = true;
  main.innerHTML = `
    <div class="login">
      <h1>登录运营台</h1>
      <p class="muted">请输入 API 令牌（PARCELWATCH_API_TOKEN）。</p>
      <form id="login-form"><input type="password" name="token" placeholder="API 令牌" autocomplete="current-password" required>
      <button class="primary" type="submit">登录</button><p class="error" id="login-error">${esc(message || '')}</p></form>
    </div>`;
  document.getElementById('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const res = await fetch('/console/session', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: new FormData(e.target).get('token') }) });
    if (res.status === 204) {
      location.hash = '#today';
      route();
    } else document.getElementById('login-error').textContent = '令牌不正确';
  });
}

function show(err) {
  if (err instanceof Unauthorized) return pageLogin();
  main.innerHTML = `<p class="error" data-testid="error">出错了：${esc(err.message)}</p>`;
}

const PAGES = { today: pageToday, exceptions: pageExceptions, outreach: pageOutreach, carriers: pageCarriers, parcel: pageParcel };

async function route() {
  const [name, arg] = location.hash.slice(1).split('?')[0].split('/');
  if (name === 'login') return pageLogin();
  const page = PAGES[name] || pageToday;
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === (PAGES[name] ? name : 'today')));
  try {
    if (!vocab.loaded) vocab = { ...(await api('/api/reports/vocabulary')), loaded: true };
    document.getElementById('logout').hidden = false;
    main.dataset.page = name || 'today';
    main.dataset.ready = '';
    await page(arg ? decodeURIComponent(arg) : undefined);
    main.dataset.ready = '1';
  } catch (err) {
    show(err);
  }
}

document.getElementById('logout').addEventListener('click', async () => {
  await fetch('/console/session', { method: 'DELETE', credentials: 'same-origin' });
  vocab.loaded = false;
  pageLogin();
});
window.addEventListener('hashchange', route);
route();
