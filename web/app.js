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

  function header() {
    const signedIn = !!state.principal;
    $('who').hidden = !signedIn;
    $('signout').hidden = !signedIn;
    $('nav').hidden = !signedIn;
    $('who').textContent = signedIn ? `${state.principal} (${state.role})` : '';
    const nav = $('nav');
    nav.replaceChildren();
    if (!signedIn) return;
    if (mayRead()) nav.append(navButton('search', 'Search', searchView));
  }

  function navButton(name, text, fn) {
    return el('button', {
      type: 'button', 'data-view': name,
      'aria-current': state.view === name ? 'page' : false,
      on: { click: () => fn() },
    }, text);
  }

  function setView(name) {
    state.view = name;
    for (const b of $('nav').querySelectorAll('button')) {
      if (b.dataset.view === name) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
  }

  function home() {
    if (mayRead()) {
      searchView();
      return;
    }
    setView(null);
    show(el('h1', { text: `Signed in as ${state.principal}` }),
      el('p', { text: `Your role, ${state.role}, reads no records in this console.` }));
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
