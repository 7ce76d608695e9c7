// SPDX-License-Identifier: Apache-2.0
// The web console (docs/console.md): one page, no framework, no build
// step. It calls the same /v1 API as any client; its session is an
// HttpOnly cookie the script never sees, and every request that changes
// something carries the session's CSRF token. Record data is only ever put
// into the page as text (textContent), never as markup; nothing is kept
// in storage, in the address or in the title.
'use strict';

(() => {
  const CLASSES = [
    ['identity', 'Identity', ['ssn', 'birth', 'sex', 'citizenship']],
    ['name', 'Name', ['name', 'former_names']],
    ['contact', 'Contact', ['addresses', 'phones', 'emails']],
    ['employment', 'Employment', ['employment']],
    ['investigation', 'Investigations', ['investigations']],
    ['biometric', 'Biometrics', ['fingerprints']],
  ];
  const READ_ROLES_ACTION = 'get';

  const state = {
    csrf: null,
    principal: null,
    role: null,
    idle: 900,
    policy: null,
    idleTimer: null,
    poll: null,
    view: null,
  };

  const $ = (id) => document.getElementById(id);

  // ---- small DOM helpers: text only, never markup ------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v === null || v === undefined) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  let uid = 0;
  const nextId = (p) => `${p}-${++uid}`;

  function field(label, input, hint) {
    const id = input.id || nextId('f');
    input.id = id;
    const parts = [el('label', { for: id, text: label })];
    if (hint) {
      const hid = nextId('h');
      input.setAttribute('aria-describedby', hid);
      parts.push(el('p', { class: 'hint', id: hid, text: hint }));
    }
    parts.push(input);
    return el('div', { class: 'field' }, ...parts);
  }

  function say(text) {
    $('status').textContent = text;
  }

  function show(...nodes) {
    const main = $('main');
    main.replaceChildren(...nodes);
    main.focus();
  }

  function alertBox(kind, text) {
    return el('div', { class: `alert ${kind}`, role: 'alert', text });
  }

  function receipt(entry, what) {
    if (entry === null || entry === undefined) return null;
    return el('p', { class: 'receipt', 'data-entry': entry },
      `This ${what} was recorded in the audit log as entry ${entry}.`);
  }

  // ---- the API --------------------------------------------------------------

  class Problem extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.title)) || `HTTP ${status}`);
      this.status = status;
      this.type = body && body.type;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    const r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
    const text = await r.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (!r.ok) {
      const p = new Problem(r.status, data);
      if (r.status === 401 && state.principal) {
        ended('Your session has ended. Sign in again.');
      }
      throw p;
    }
    return data;
  }

  // ---- the session ------------------------------------------------------

  function touch() {
    if (!state.principal) return;
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(() => {
      ended('You were signed out after a while without activity.');
    }, state.idle * 1000);
  }

  function ended(message) {
    clearTimeout(state.idleTimer);
    Object.assign(state, { csrf: null, principal: null, role: null, policy: null });
    header();
    signIn(message);
  }

  async function started(s) {
    Object.assign(state, {
      csrf: s.csrf, principal: s.principal, role: s.role, idle: s.idle_timeout || 900,
    });
    try {
      state.policy = (await api('GET', '/v1/policy')).policy;
    } catch (_) {
      state.policy = null;
    }
    header();
    touch();
    home();
  }

  function roleDef() {
    return (state.policy && state.policy.roles && state.policy.roles[state.role]) || null;
  }

  function mayRead() {
    const r = roleDef();
    return !!r && (r.actions || []).includes(READ_ROLES_ACTION);
  }

  function may(action) {
    const r = roleDef();
    return !!r && (r.actions || []).includes(action);
  }

  // The views a role has, in the order of the navigation.
  function views() {
    const r = roleDef();
    const out = [];
    if (mayRead()) out.push(['search', 'Search', searchView]);
    if (mayRead() && r && r.caseload) out.push(['caseload', 'My caseload', caseloadView]);
    if (may('freeze') || may('approve')) out.push(['security', 'Security', securityView]);
    if (may('audit')) {
      out.push(['audit', 'Audit log', auditView]);
      out.push(['breach', 'Breach report', breachView]);
    }
    return out;
  }

  function header() {
    const signedIn = !!state.principal;
    $('who').hidden = !signedIn;
    $('signout').hidden = !signedIn;
    $('nav').hidden = !signedIn;
    $('who').textContent = signedIn ? `${state.principal} (${state.role})` : '';
    const nav = $('nav');
    nav.replaceChildren();
    if (!signedIn) return;
    for (const [name, text, fn] of views()) nav.append(navButton(name, text, fn));
  }

  function navButton(name, text, fn) {
    return el('button', {
      type: 'button', 'data-view': name,
      'aria-current': state.view === name ? 'page' : false,
      on: { click: () => fn() },
    }, text);
  }

  function setView(name) {
    clearInterval(state.poll);
    state.poll = null;
    state.view = name;
    for (const b of $('nav').querySelectorAll('button')) {
      if (b.dataset.view === name) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
  }

  function home() {
    const v = views();
    if (v.length) {
      v[0][2]();
      return;
    }
    setView(null);
    show(el('h1', { text: `Signed in as ${state.principal}` }),
      el('p', { text: `Your role, ${state.role}, has no page in this console; `
        + 'the strongroom command and the HTTP API have everything it may do.' }));
  }

  function signIn(message) {
    setView('signin');
    const name = el('input', { type: 'text', name: 'name', autocomplete: 'username', required: true });
    const pass = el('input', { type: 'password', name: 'passphrase', autocomplete: 'current-password', required: true });
    const token = el('input', { type: 'password', name: 'token', autocomplete: 'off' });
    const usePass = el('input', { type: 'radio', name: 'how', value: 'passphrase', checked: true });
    const useToken = el('input', { type: 'radio', name: 'how', value: 'token' });
    const passFields = el('div', {}, field('Name', name), field('Passphrase', pass));
    const tokenFields = el('div', { hidden: true },
      field('API token', token, 'An sr1_ token from `strongroom token create`.'));
    const errors = el('div', {});
    const choose = () => {
      const t = useToken.checked;
      passFields.hidden = t;
      tokenFields.hidden = !t;
      name.required = !t;
      pass.required = !t;
      token.required = t;
    };
    usePass.addEventListener('change', choose);
    useToken.addEventListener('change', choose);
    const form = el('form', { 'aria-labelledby': 'signin-title', novalidate: false },
      el('fieldset', {},
        el('legend', { text: 'Sign in with' }),
        el('div', { class: 'choice' },
          el('label', {}, usePass, 'Name and passphrase'),
          el('label', {}, useToken, 'API token'))),
      passFields, tokenFields, errors,
      el('button', { type: 'submit' }, 'Sign in'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      errors.replaceChildren();
      const body = useToken.checked ? { token: token.value.trim() }
        : { name: name.value.trim(), passphrase: pass.value };
      pass.value = '';
      token.value = '';
      try {
        await started(await api('POST', '/v1/session', body));
      } catch (e) {
        errors.append(alertBox('denied', e.status === 401
          ? 'Sign-in failed: the name and passphrase, or the token, are not valid.'
          : `Sign-in failed: ${e.message}`));
      }
    });
    show(el('h1', { id: 'signin-title', text: 'Sign in' }),
      message ? alertBox('warn', message) : null, form);
  }

  // ---- search -------------------------------------------------------------

  // The purposes this role may state, with whether each needs a case.
  function purposes() {
    const r = roleDef();
    const all = (state.policy && state.policy.purposes) || {};
    return ((r && r.purposes) || []).map((p) => ({
      name: p, needsCase: !!(all[p] && all[p].requires_case),
    }));
  }

  // The "why" of every read: purpose and case, kept for the person view.
  let why = { purpose: '', case: '' };

  function whyFields() {
    const list = purposes();
    const purpose = el('select', { required: true, name: 'purpose' },
      el('option', { value: '', text: 'Choose a purpose' }),
      ...list.map((p) => el('option', { value: p.name, selected: p.name === why.purpose, text: p.name })));
    const kase = el('input', { type: 'text', name: 'case', autocomplete: 'off', value: why.case });
    const sync = () => {
      const p = list.find((x) => x.name === purpose.value);
      kase.required = !!(p && p.needsCase);
    };
    purpose.addEventListener('change', sync);
    sync();
    return {
      node: el('fieldset', {},
        el('legend', { text: 'Why (required before anything is shown)' }),
        field('Purpose', purpose, 'Every read is logged with its purpose.'),
        field('Case', kase, 'The case the purpose is for, where it needs one.')),
      read: () => ({ purpose: purpose.value, case: kase.value.trim() }),
    };
  }

  function access(w) {
    const a = { purpose: w.purpose };
    if (w.case) a.case = w.case;
    return a;
  }

  function fullName(n) {
    if (!n) return '';
    return [n.given, n.middle, n.family, n.suffix].filter(Boolean).join(' ');
  }

  function searchView() {
    setView('search');
    const w = whyFields();
    const bySsn = el('input', { type: 'radio', name: 'by', value: 'ssn', checked: true });
    const byName = el('input', { type: 'radio', name: 'by', value: 'name' });
    // Identifiers are typed, sent in a POST body and forgotten: the
    // browser keeps no form history of them.
    const ssn = el('input', { type: 'text', name: 'ssn', autocomplete: 'off', inputmode: 'numeric', spellcheck: 'false' });
    const family = el('input', { type: 'text', name: 'family', autocomplete: 'off', spellcheck: 'false' });
    const dob = el('input', { type: 'date', name: 'dob', autocomplete: 'off' });
    const ssnFields = el('div', {}, field('Social Security number', ssn, 'Nine digits, with or without dashes.'));
    const nameFields = el('div', { hidden: true }, field('Family name', family), field('Date of birth', dob));
    const choose = () => {
      ssnFields.hidden = !bySsn.checked;
      nameFields.hidden = bySsn.checked;
      ssn.required = bySsn.checked;
      family.required = !bySsn.checked;
      dob.required = !bySsn.checked;
    };
    bySsn.addEventListener('change', choose);
    byName.addEventListener('change', choose);
    choose();
    const out = el('div', { id: 'results' });
    const form = el('form', { 'aria-labelledby': 'search-title' },
      w.node,
      el('fieldset', {},
        el('legend', { text: 'Who' }),
        el('div', { class: 'choice' },
          el('label', {}, bySsn, 'By SSN'),
          el('label', {}, byName, 'By family name and date of birth')),
        ssnFields, nameFields),
      el('button', { type: 'submit' }, 'Search'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      out.replaceChildren();
      why = w.read();
      const body = access(why);
      if (bySsn.checked) body.ssn = ssn.value.trim();
      else Object.assign(body, { family_name: family.value.trim(), dob: dob.value });
      ssn.value = '';
      touch();
      try {
        const r = await api('POST', '/v1/persons/search', body);
        results(out, r);
      } catch (e) {
        out.append(alertBox('denied', e.message));
      }
    });
    show(el('h1', { id: 'search-title', text: 'Search' }), form, out);
  }

  function results(out, r) {
    const rows = (r.matches || []).map((m) => el('tr', {},
      el('td', { text: fullName(m.name) || '(name not shown to this role)' }),
      el('td', {}, el('button', {
        type: 'button', class: 'secondary',
        on: { click: () => personView(m.id, fullName(m.name)) },
      }, 'Open'))));
    out.append(
      el('h2', { text: r.count === 1 ? '1 match' : `${r.count} matches` }),
      receipt(r.entry, 'search'),
      rows.length ? el('table', {},
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Name' }), el('th', { scope: 'col', text: 'Record' }))),
        el('tbody', {}, ...rows)) : el('p', { text: 'No one matches.' }));
    say(`${r.count} matches`);
  }

  // ---- one person: each class revealed on demand -------------------------

  function maskSsn(ssn) {
    const d = String(ssn).replace(/\D/g, '');
    return `***-**-${d.slice(-4)}`;
  }

  function value(v) {
    if (Array.isArray(v)) {
      if (!v.length) return el('span', { class: 'muted', text: 'none' });
      return el('ul', { class: 'values' }, ...v.map((x) => el('li', {}, value(x))));
    }
    if (v && typeof v === 'object') {
      return el('dl', { class: 'fields' }, ...Object.entries(v).flatMap(([k, x]) => [
        el('dt', { text: k.replace(/_/g, ' ') }),
        el('dd', {}, k === 'template' ? `(${String(x).length} characters of template)` : value(x)),
      ]));
    }
    return document.createTextNode(String(v));
  }

  function ssnValue(ssn) {
    const text = el('span', { class: 'masked', text: maskSsn(ssn) });
    const toggle = el('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Show SSN');
    toggle.addEventListener('click', () => {
      const on = toggle.getAttribute('aria-pressed') !== 'true';
      toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
      toggle.textContent = on ? 'Hide SSN' : 'Show SSN';
      text.textContent = on ? ssn : maskSsn(ssn);
    });
    return el('span', {}, text, ' ', toggle);
  }

  function classSection(id, cls, label, members) {
    const body = el('div', {});
    const btn = el('button', { type: 'button' }, `Reveal ${label.toLowerCase()}`);
    const head = el('div', { class: 'class-head' }, el('h2', { text: label }), btn);
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      body.replaceChildren();
      touch();
      try {
        const r = await api('POST', '/v1/persons/read', { id, ...access(why), classes: [cls] });
        const p = r.person || {};
        const dl = el('dl', { class: 'fields' });
        for (const m of members) {
          if (!(m in p)) continue;
          dl.append(el('dt', { text: m.replace(/_/g, ' ') }),
            el('dd', {}, m === 'ssn' ? ssnValue(p.ssn) : value(p[m])));
        }
        body.append(receipt(r.entry, 'access'),
          dl.childNodes.length ? dl : el('p', { class: 'muted', text: 'Nothing recorded in this class.' }));
        btn.remove();
        say(`${label} revealed; recorded as entry ${r.entry}`);
      } catch (e) {
        btn.disabled = false;
        body.append(alertBox('denied', e.message));
      }
    });
    return el('section', { class: 'card', 'aria-label': label }, head, body);
  }

  function personView(id, name) {
    setView('person');
    const back = el('button', { type: 'button', class: 'secondary', on: { click: () => searchView() } }, 'Back to search');
    show(el('h1', { text: name ? `Person: ${name}` : 'Person' }),
      el('p', {},
        `Purpose: ${why.purpose}`, why.case ? `, case ${why.case}` : '',
        '. Each class is shown only when you reveal it, and each reveal is logged.'),
      back,
      ...CLASSES.map(([cls, label, members]) => classSection(id, cls, label, members)));
  }

  // ---- tables --------------------------------------------------------------

  function table(caption, heads, rows, empty) {
    if (!rows.length) return el('p', { class: 'muted', text: empty });
    return el('table', {},
      el('caption', { class: 'visually-hidden', text: caption }),
      el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, ...rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, c === undefined || c === null ? '' : c))))));
  }

  function when(ms) {
    if (!ms) return '';
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  // ---- my caseload ------------------------------------------------------

  async function caseloadView() {
    setView('caseload');
    const out = el('div', {});
    show(el('h1', { text: 'My caseload' }), out);
    try {
      const r = await api('GET', '/v1/caseload');
      out.append(table('My cases', ['Case', 'People on it', 'Opened', 'Action'],
        r.cases.map((c) => [c.case, String(c.people || 0), c.created ? when(c.created * 1000) : '',
          el('button', {
            type: 'button', class: 'secondary',
            on: { click: () => { why = { purpose: why.purpose, case: c.case }; searchView(); } },
          }, `Search in ${c.case}`)]),
        'No case is assigned to you.'));
    } catch (e) {
      out.append(alertBox('denied', e.message));
    }
  }

  // ---- security officer -----------------------------------------------------

  const REASON = /^[a-z][a-z0-9._-]{0,63}$/;

  function unfreezeForm(p, refresh) {
    const reason = el('input', {
      type: 'text', name: 'reason', required: true, autocomplete: 'off',
      pattern: '[a-z][a-z0-9._\\-]{0,63}',
    });
    const msg = el('div', {});
    const form = el('form', { class: 'inline', 'aria-label': `Unfreeze ${p.name}` },
      field(`Reason to unfreeze ${p.name}`, reason, 'A word or a ticket reference (a-z, 0-9, . _ -); it is logged.'),
      el('button', { type: 'submit' }, `Unfreeze ${p.name}`), msg);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      msg.replaceChildren();
      if (!REASON.test(reason.value)) {
        msg.append(alertBox('denied', 'The reason is 1 to 64 of a-z, 0-9, . _ -, starting with a letter.'));
        return;
      }
      try {
        await api('POST', `/v1/principals/${encodeURIComponent(p.name)}/unfreeze`, { reason: reason.value });
        say(`${p.name} unfrozen`);
        refresh();
      } catch (e) {
        msg.append(alertBox('denied', e.message));
      }
    });
    return form;
  }

  function budgetCell(n, limit) {
    return limit ? `${n} of ${limit}` : String(n);
  }

  async function securityView() {
    setView('security');
    const alerts = el('div', { id: 'alerts' });
    const decoys = el('div', { id: 'decoy-hits' });
    const frozen = el('div', { id: 'frozen' });
    const budgets = el('div', { id: 'budgets' });
    const approvals = el('div', { id: 'approvals' });
    const stamp = el('p', { class: 'muted', 'aria-live': 'off' });
    const refresh = async () => {
      const jobs = [];
      if (may('freeze')) {
        jobs.push(api('GET', '/v1/alerts?limit=50').then((r) => {
          const list = r.alerts.slice().reverse();
          alerts.replaceChildren(table('Alerts, newest first', ['Time', 'Alert', 'Principal', 'By', 'Reason', 'Entry'],
            list.map((a) => [a.time, a.kind, a.principal, a.by || 'the vault', a.reason, a.entry === undefined || a.entry === null ? '' : String(a.entry)]),
            'No alert yet.'));
          const hits = list.filter((a) => a.reason === 'decoy.read');
          decoys.replaceChildren(table('Decoy hits', ['Time', 'Principal', 'Entry'],
            hits.map((a) => [a.time, a.principal, String(a.entry)]), 'No decoy has been touched.'));
        }).catch((e) => alerts.replaceChildren(alertBox('denied', e.message))));
        jobs.push(api('GET', '/v1/principals').then((r) => {
          const fz = r.principals.filter((p) => p.frozen);
          frozen.replaceChildren(fz.length ? el('ul', { class: 'plain' }, ...fz.map((p) => el('li', {},
            el('p', {}, el('strong', { text: p.name }), ` (${p.role}), frozen ${when(p.frozen_at_ms)} by rule or reason ${p.frozen_reason}`),
            unfreezeForm(p, refresh)))) : el('p', { class: 'muted', text: 'No principal is frozen.' }));
          budgets.replaceChildren(table('Read budgets', ['Principal', 'Role', 'People, last hour', 'People, last day', 'Searches, last hour', 'State'],
            r.principals.filter((p) => p.budget).map((p) => [p.name, p.role,
              budgetCell(p.people_hour, p.budget.people_per_hour),
              budgetCell(p.people_day, p.budget.people_per_day),
              budgetCell(p.searches_hour, p.budget.searches_per_hour),
              p.frozen ? 'frozen' : (p.disabled ? 'disabled' : 'active')]),
            'No role has a read budget.'));
        }).catch((e) => frozen.replaceChildren(alertBox('denied', e.message))));
      }
      if (may('approve')) {
        jobs.push(api('GET', '/v1/approvals').then((r) => {
          const now = Date.now() / 1000;
          const pending = r.approvals.filter((a) => !a.approved_by && a.expires > now);
          approvals.replaceChildren(table('Approvals waiting', ['Asked by', 'For', 'Purpose', 'Case', 'People', 'Fields', 'Expires', 'Decision'],
            pending.map((a) => [a.requester, a.action, a.purpose, a.case || '', a.people ? String(a.people) : '',
              a.fields || '', when(a.expires * 1000),
              a.requester === state.principal ? el('span', { class: 'muted', text: 'yours: another approves it' })
                : el('button', {
                  type: 'button',
                  on: {
                    click: async (ev) => {
                      ev.target.disabled = true;
                      try {
                        await api('POST', `/v1/approvals/${encodeURIComponent(a.id)}/approve`);
                        say(`approved ${a.id}`);
                      } catch (e) {
                        approvals.prepend(alertBox('denied', e.message));
                      }
                      refresh();
                    },
                  },
                }, `Approve ${a.id}`)]),
            'Nothing waits for an approval.'));
        }).catch((e) => approvals.replaceChildren(alertBox('denied', e.message))));
      }
      await Promise.all(jobs);
      stamp.textContent = `Updated ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC; every 15 seconds while this page is open.`;
    };
    const sections = [el('h1', { text: 'Security' }), stamp,
      el('button', { type: 'button', class: 'secondary', on: { click: () => refresh() } }, 'Refresh now')];
    if (may('freeze')) {
      sections.push(el('h2', { text: 'Live alerts' }), alerts,
        el('h2', { text: 'Decoy hits' }), decoys,
        el('h2', { text: 'Frozen principals' }), frozen,
        el('h2', { text: 'Read budgets' }), budgets);
    }
    if (may('approve')) sections.push(el('h2', { text: 'Approval queue' }), approvals);
    show(...sections);
    await refresh();
    state.poll = setInterval(() => { if (state.view === 'security') refresh(); }, 15000);
  }

  // ---- the audit log, and checking an entry in this browser --------------

  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const hex = (a) => Array.from(a, (x) => x.toString(16).padStart(2, '0')).join('');
  const enc = new TextEncoder();

  async function sha256(...parts) {
    const n = parts.reduce((k, p) => k + p.length, 0);
    const buf = new Uint8Array(n);
    let at = 0;
    for (const p of parts) { buf.set(p, at); at += p.length; }
    return new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  }

  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  // A signed note's verifier key: "name+hash+base64(0x01 || Ed25519 key)".
  function parseVkey(text) {
    const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(text.trim());
    if (!m) throw new Error('the log key is not a signed-note verifier key');
    const raw = b64(m[3]);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error('the log key is not an Ed25519 key');
    return { name: m[1], hash: m[2], key: raw.slice(1) };
  }

  // C2SP signed note: the text, a blank line, then "— name base64(hash4
  // || signature)" lines. The checkpoint is origin, size, base64 root.
  async function verifyCheckpoint(note, vkey) {
    const split = note.indexOf('\n\n');
    if (split < 0) throw new Error('the checkpoint is not a signed note');
    const text = note.slice(0, split + 1);
    const lines = text.split('\n');
    const size = Number(lines[1]);
    const root = b64(lines[2]);
    const keyHash = (await sha256(enc.encode(`${vkey.name}\n`), Uint8Array.of(1), vkey.key)).slice(0, 4);
    if (hex(keyHash) !== vkey.hash) throw new Error("the log key's hash does not match its name and key");
    const key = await crypto.subtle.importKey('raw', vkey.key, { name: 'Ed25519' }, false, ['verify']);
    for (const line of note.slice(split + 2).split('\n')) {
      const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
      if (!m || m[1] !== vkey.name) continue;
      const sig = b64(m[2]);
      if (sig.length !== 68 || !same(sig.slice(0, 4), keyHash)) continue;
      if (await crypto.subtle.verify({ name: 'Ed25519' }, key, sig.slice(4), enc.encode(text))) {
        return { origin: lines[0], size, root };
      }
      throw new Error("the checkpoint's signature does not verify");
    }
    throw new Error('the checkpoint carries no signature by the log key');
  }

  // RFC 9162 2.1.3.2: the root from a leaf hash and its inclusion path.
  async function rootFrom(index, size, leaf, path) {
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    for (const p of path) {
      if (sn === 0) throw new Error('the inclusion path is too long');
      if ((fn & 1) === 1 || fn === sn) {
        r = await sha256(Uint8Array.of(1), p, r);
        if ((fn & 1) === 0) {
          while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
        }
      } else {
        r = await sha256(Uint8Array.of(1), r, p);
      }
      fn >>= 1;
      sn >>= 1;
    }
    if (sn !== 0) throw new Error('the inclusion path is too short');
    return r;
  }

  function tilePath(n) {
    let s = String(n % 1000).padStart(3, '0');
    n = Math.floor(n / 1000);
    while (n > 0) {
      s = `x${String(n % 1000).padStart(3, '0')}/${s}`;
      n = Math.floor(n / 1000);
    }
    return s;
  }

  async function fetchBytes(path) {
    const r = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  }

  // The entry encoding (src/audit/entry.c; docs/audit.md).
  function decodeEntry(b) {
    let i = 1;
    if (b[0] !== 1) throw new Error(`entry version ${b[0]}`);
    const varint = () => {
      let v = 0n;
      let shift = 0n;
      for (;;) {
        const c = b[i++];
        v |= BigInt(c & 0x7f) << shift;
        shift += 7n;
        if (!(c & 0x80)) return v;
      }
    };
    const str = () => {
      const n = Number(varint());
      const s = new TextDecoder().decode(b.slice(i, i + n));
      i += n;
      return s;
    };
    const e = { time_ns: varint() };
    e.principal = str(); e.token = str(); e.action = str();
    e.outcome = b[i]; e.status = b[i + 1]; i += 2;
    e.purpose = str(); e.case = str();
    e.classes = b[i]; i += 1;
    e.rule = str(); e.detail = str();
    e.count = varint();
    const refs = Number(varint());
    e.people = refs;
    if (i + 16 * refs !== b.length) throw new Error('trailing bytes in the entry');
    return e;
  }

  // Check entry `index` here, trusting only the log's key: the signed
  // checkpoint, the entry's bytes from the public tiles, and the path.
  async function verifyEntry(entry) {
    const vkey = parseVkey((await api('GET', '/v1/audit/key')).vkey);
    const note = new TextDecoder().decode(await fetchBytes('/log/checkpoint'));
    const cp = await verifyCheckpoint(note, vkey);
    if (entry.index >= cp.size) throw new Error(`entry ${entry.index} is after the latest checkpoint (size ${cp.size}); try again in a second`);
    const proof = await api('GET', `/v1/audit/proof/inclusion?index=${entry.index}&size=${cp.size}`);
    const tile = Math.floor(entry.index / 256);
    const width = Math.min(256, cp.size - tile * 256);
    const bundle = await fetchBytes(`/log/tile/entries/${tilePath(tile)}${width < 256 ? `.p/${width}` : ''}`);
    let at = 0;
    let bytes = null;
    for (let k = 0; at < bundle.length; k++) {
      const n = (bundle[at] << 8) | bundle[at + 1];
      if (k === entry.index % 256) bytes = bundle.slice(at + 2, at + 2 + n);
      at += 2 + n;
    }
    if (!bytes) throw new Error('the entry is not in its bundle');
    const leaf = await sha256(Uint8Array.of(0), bytes);
    const root = await rootFrom(entry.index, cp.size, leaf, proof.inclusion_path.map(b64));
    if (!same(root, cp.root)) throw new Error('the entry does not hash to the signed root: it is not the one in the log');
    const d = decodeEntry(bytes);
    for (const k of ['principal', 'action', 'purpose', 'case', 'rule', 'detail']) {
      if ((d[k] || '') !== (entry[k] || '')) throw new Error(`the server's ${k} differs from the logged entry's`);
    }
    return { cp, vkey, leaf, d };
  }

  function auditRow(e, out) {
    const btn = el('button', { type: 'button', class: 'secondary' }, `Verify entry ${e.index}`);
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      const res = el('div', { role: 'status' });
      out.replaceChildren(res);
      try {
        const v = await verifyEntry(e);
        res.append(el('div', { class: 'receipt verified', 'data-index': e.index },
          `Entry ${e.index} verified in this browser: its bytes hash to leaf ${hex(v.leaf).slice(0, 16)}…, which the inclusion path `
          + `leads to the root of the log of ${v.cp.size} entries (origin ${v.cp.origin}), whose checkpoint is signed by `
          + `${v.vkey.name} (key hash ${v.vkey.hash}). The logged entry says ${v.d.principal}: ${v.d.action}`
          + `${v.d.purpose ? `, purpose ${v.d.purpose}` : ''}${v.d.case ? `, case ${v.d.case}` : ''}${v.d.rule ? `, rule ${v.d.rule}` : ''}.`));
      } catch (err) {
        res.append(alertBox('denied', `Entry ${e.index} does not verify: ${err.message}`));
      }
      btn.disabled = false;
    });
    return [String(e.index), e.time.replace('T', ' ').replace(/\.\d+Z$/, ''), e.principal, e.action, e.outcome,
      e.purpose, e.case, (e.classes || []).join(', '), String((e.people || []).length), e.rule, btn];
  }

  function auditView() {
    setView('audit');
    const principal = el('input', { type: 'text', name: 'principal', autocomplete: 'off' });
    const person = el('input', { type: 'text', name: 'person', autocomplete: 'off', spellcheck: 'false' });
    const purpose = el('input', { type: 'text', name: 'purpose', autocomplete: 'off' });
    const since = el('input', { type: 'datetime-local', name: 'since' });
    const until = el('input', { type: 'datetime-local', name: 'until' });
    const denied = el('input', { type: 'checkbox', name: 'denied' });
    const out = el('div', { id: 'entries' });
    const check = el('div', { id: 'verification' });
    const cpBox = el('div', { id: 'checkpoint' });
    const form = el('form', { 'aria-labelledby': 'audit-title' },
      el('fieldset', {}, el('legend', { text: 'Show entries' }),
        field('Principal', principal), field('Person id', person, 'A person id (32 hexadecimal digits): entries that name them.'),
        field('Purpose', purpose), field('From (UTC)', since), field('Until (UTC)', until),
        el('label', { class: 'check' }, denied, ' Only denied requests')),
      el('button', { type: 'submit' }, 'Show'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      out.replaceChildren();
      check.replaceChildren();
      touch();
      const q = { limit: 200 };
      if (principal.value.trim()) q.principal = principal.value.trim();
      if (person.value.trim()) q.person = person.value.trim();
      if (purpose.value.trim()) q.purpose = purpose.value.trim();
      if (since.value) q.since = `${since.value}:00Z`;
      if (until.value) q.until = `${until.value}:00Z`;
      if (denied.checked) q.denied = true;
      try {
        const r = await api('POST', '/v1/audit/entries', q);
        out.append(el('h2', { text: `${r.entries.length} entries${r.entries.length === 200 ? ' (the first 200)' : ''}` }),
          table('Audit entries', ['Entry', 'Time (UTC)', 'Principal', 'Action', 'Outcome', 'Purpose', 'Case', 'Classes', 'People', 'Rule', 'Check'],
            r.entries.map((e) => auditRow(e, check)), 'No entry matches.'));
      } catch (e) {
        out.append(alertBox('denied', e.message));
      }
    });
    show(el('h1', { id: 'audit-title', text: 'Audit log' }), cpBox, form, check, out);
    (async () => {
      try {
        const vkey = parseVkey((await api('GET', '/v1/audit/key')).vkey);
        const cp = await verifyCheckpoint(new TextDecoder().decode(await fetchBytes('/log/checkpoint')), vkey);
        cpBox.replaceChildren(el('p', { class: 'receipt', id: 'checkpoint-ok' },
          `Latest checkpoint: ${cp.size} entries, root ${hex(cp.root).slice(0, 16)}…, signature by ${vkey.name} verified in this browser (key hash ${vkey.hash}; compare it with the one you were given).`));
      } catch (e) {
        cpBox.replaceChildren(alertBox('denied', `The latest checkpoint does not verify: ${e.message}`));
      }
    })();
  }

  // ---- breach report --------------------------------------------------------

  const SVG = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    for (const c of children) e.append(c);
    return e;
  }

  // Reads over time as bars, with the busiest bucket's count on the axis.
  function chart(t) {
    const reads = t.reads || [];
    const w = 720;
    const h = 180;
    const max = Math.max(1, ...reads);
    const bw = reads.length ? w / reads.length : w;
    const bars = reads.map((n, i) => svg('rect', {
      x: (i * bw).toFixed(2), y: (h - (n / max) * h).toFixed(2), width: Math.max(1, bw - 1).toFixed(2),
      height: ((n / max) * h).toFixed(2), fill: '#0b4f9c',
    }, svg('title', {}, `${n} reads`)));
    return el('figure', {},
      svg('svg', { viewBox: `0 0 ${w} ${h + 20}`, width: '100%', role: 'img', 'aria-label': `Reads over time: ${reads.length} buckets of ${t.bucket_seconds} s from ${t.start}, at most ${max} in one` },
        ...bars,
        svg('line', { x1: 0, y1: h, x2: w, y2: h, stroke: '#111' }),
        svg('text', { x: 0, y: h + 16, 'font-size': 12, fill: '#111' }, t.start || ''),
        svg('text', { x: w, y: 12, 'font-size': 12, fill: '#111', 'text-anchor': 'end' }, `${max} reads`)),
      el('figcaption', { text: `Reads over time, in buckets of ${t.bucket_seconds} seconds.` }));
  }

  function breachView() {
    setView('breach');
    const principal = el('input', { type: 'text', name: 'principal', autocomplete: 'off' });
    const token = el('input', { type: 'text', name: 'token', autocomplete: 'off', spellcheck: 'false' });
    const since = el('input', { type: 'datetime-local', name: 'since' });
    const until = el('input', { type: 'datetime-local', name: 'until' });
    const out = el('div', { id: 'report' });
    const form = el('form', { 'aria-labelledby': 'breach-title' },
      el('fieldset', {}, el('legend', { text: 'Whose reads' }),
        field('Principal', principal), field('Token id', token, '16 hexadecimal digits'),
        field('From (UTC)', since), field('Until (UTC)', until)),
      el('button', { type: 'submit' }, 'Make the report'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      out.replaceChildren(el('p', { class: 'muted', text: 'Verifying the log and reading it…' }));
      touch();
      const q = {};
      if (principal.value.trim()) q.principal = principal.value.trim();
      if (token.value.trim()) q.token_id = token.value.trim();
      if (since.value) q.since = Math.floor(Date.parse(`${since.value}:00Z`) / 1000);
      if (until.value) q.until = Math.floor(Date.parse(`${until.value}:00Z`) / 1000);
      try {
        const r = await api('POST', '/v1/breach/report', q);
        const sum = r.report.find((x) => x.kind === 'summary') || {};
        const people = r.report.filter((x) => x.kind === 'person' || x.kind === 'decoy');
        const denials = r.report.filter((x) => x.kind === 'denial');
        const byClass = Object.entries(sum.people_by_class || {});
        out.replaceChildren(
          el('p', { class: sum.log && sum.log.verified ? 'receipt' : 'alert denied' },
            `The audit log (${sum.log ? sum.log.size : '?'} entries) was verified before the report was made: ${sum.log ? sum.log.message : ''}.`),
          el('h2', { text: `${sum.people === 1 ? '1 person' : `${sum.people || 0} people`} revealed in ${sum.reads || 0} reads` }),
          table('People by field class', ['Field class', 'People'], byClass.map(([c, n]) => [c, String(n)]), ''),
          sum.timeline ? chart(sum.timeline) : null,
          el('h2', { text: 'People' }),
          table('People revealed', ['Person', 'Classes', 'First read', 'Last read', 'Reads', 'By'],
            people.map((p) => [p.kind === 'decoy' ? `decoy ${p.id || p.ref}` : (p.id || `reference ${p.ref}`),
              (p.classes || []).join(', '), p.first, p.last, String(p.reads), (p.principals || []).join(', ')]),
            'No one.'),
          el('h2', { text: `${denials.length} denied attempts` }),
          table('Denied attempts', ['Entry', 'Time', 'Principal', 'Action', 'Rule', 'People'],
            denials.map((d) => [String(d.index), d.time, d.principal, d.action, d.rule, String(d.people)]), 'None.'));
      } catch (e) {
        out.replaceChildren(alertBox('denied', e.message));
      }
    });
    show(el('h1', { id: 'breach-title', text: 'Breach report' }),
      el('p', { text: 'Made from the audit log alone, after it is verified: who read which people and classes, and what was refused.' }),
      form, out);
  }

  // ---- start ----------------------------------------------------------------

  async function boot() {
    $('signout').addEventListener('click', async () => {
      try { await api('POST', '/v1/session/end'); } catch (_) { /* ended anyway */ }
      ended('You have signed out.');
    });
    for (const ev of ['keydown', 'pointerdown']) document.addEventListener(ev, touch, { passive: true });
    try {
      // A page loaded again within its session picks it up.
      await started(await api('GET', '/v1/session'));
    } catch (_) {
      signIn(null);
    }
  }

  document.addEventListener('DOMContentLoaded', boot);
})();
