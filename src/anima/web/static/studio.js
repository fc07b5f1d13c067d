'use strict';
// The web Studio: sign in with a key (kept in sessionStorage, this tab only), author
// characters, scenes and common knowledge through /studio/v1, deploy them, play over the
// session stream (play.js) and inspect what the brain did on each turn.
(function () {
  const $ = (sel) => document.querySelector(sel);
  const KEY_STORE = 'anima.studio.key';

  // -- the API ------------------------------------------------------------------------------

  let auth = null; // {workspace, basic}

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && (body.error || body)) || {};
      super(error.message || `HTTP ${status}`);
      this.status = status;
      this.violations = [];
      for (const d of error.details || []) {
        for (const v of d.fieldViolations || []) this.violations.push({ field: v.field, description: v.description });
        for (const v of d.violations || []) this.violations.push({ field: v.subject || '', description: v.description });
      }
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Basic ${auth.basic}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new ApiError(r.status, data);
    return data;
  }

  const studio = (path) => `/studio/v1/workspaces/${encodeURIComponent(auth.workspace)}${path}`;

  // -- sign in ------------------------------------------------------------------------------

  function basicOf(text) {
    let value = text.trim().replace(/^Authorization:\s*/i, '').replace(/^Basic\s+/i, '');
    if (value.includes(':')) value = btoa(value);
    return value;
  }

  async function signIn(workspace, basic) {
    auth = { workspace, basic };
    try {
      await api('GET', studio(''));
    } catch (e) {
      auth = null;
      throw e;
    }
    sessionStorage.setItem(KEY_STORE, JSON.stringify({ workspace, basic }));
    $('#login').hidden = true;
    $('#studio').hidden = false;
    $('#sign-out').hidden = false;
    $('#who').textContent = `workspace ${workspace}`;
    await showList('characters');
  }

  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('#login-error').textContent = '';
    try {
      await signIn($('#login-workspace').value.trim(), basicOf($('#login-key').value));
    } catch (err) {
      $('#login-error').textContent = err.message;
    }
  });

  $('#sign-out').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORE);
    location.reload();
  });

  // -- the form -----------------------------------------------------------------------------

  const enumOf = (...names) => names;
  const SPEAK = 'defaultCharacterDescription';
  const SLIDER = { kind: 'slider', min: -100, max: 100, step: 1 };
  const CHARACTER_FIELDS = [
    { group: 'Who' },
    { path: `${SPEAK}.givenName`, label: 'Name', kind: 'text' },
    { path: `${SPEAK}.description`, label: 'Description', kind: 'textarea' },
    { path: `${SPEAK}.pronoun`, label: 'Pronoun', kind: 'enum', options: enumOf('PRONOUN_UNSPECIFIED', 'PRONOUN_FEMALE', 'PRONOUN_MALE', 'PRONOUN_OTHER') },
    { path: `${SPEAK}.nicknames`, label: 'Nicknames (comma separated)', kind: 'list' },
    { path: `${SPEAK}.characterRole`, label: 'Role', kind: 'text' },
    { path: `${SPEAK}.lifeStage`, label: 'Life stage', kind: 'enum', options: enumOf('LIFE_STAGE_UNSPECIFIED', 'LIFE_STAGE_CHILDHOOD', 'LIFE_STAGE_ADOLESCENCE', 'LIFE_STAGE_YOUNG_ADULTHOOD', 'LIFE_STAGE_MIDDLE_ADULTHOOD', 'LIFE_STAGE_LATE_ADULTHOOD') },
    { path: `${SPEAK}.motivation`, label: 'Motivation', kind: 'textarea' },
    { path: `${SPEAK}.flaws`, label: 'Flaws', kind: 'textarea' },
    { path: `${SPEAK}.personalityAdjectives`, label: 'Personality adjectives (comma separated)', kind: 'list' },
    { path: `${SPEAK}.hobbyOrInterests`, label: 'Hobbies and interests (comma separated)', kind: 'list' },
    { path: `${SPEAK}.wikipediaUri`, label: 'Wikipedia URI', kind: 'text' },
    { group: 'Dialog' },
    { path: `${SPEAK}.exampleDialog`, label: 'Example dialog ({player}: ... / {character}: ...)', kind: 'textarea' },
    { path: `${SPEAK}.exampleDialogStyle`, label: 'Dialog style', kind: 'enum', options: enumOf('EXAMPLE_DIALOG_STYLE_UNSPECIFIED', 'EXAMPLE_DIALOG_STYLE_DEFAULT', 'EXAMPLE_DIALOG_STYLE_BUBBLY', 'EXAMPLE_DIALOG_STYLE_FORMAL', 'EXAMPLE_DIALOG_STYLE_BLUNT', 'EXAMPLE_DIALOG_STYLE_INQUISITIVE', 'EXAMPLE_DIALOG_STYLE_COMMANDING', 'EXAMPLE_DIALOG_STYLE_EMPATHETIC', 'EXAMPLE_DIALOG_STYLE_ENTERTAINING', 'EXAMPLE_DIALOG_STYLE_HYPOCHONDRIAC', 'EXAMPLE_DIALOG_STYLE_LAIDBACK', 'EXAMPLE_DIALOG_STYLE_LONG_WINDED', 'EXAMPLE_DIALOG_STYLE_MORAL', 'EXAMPLE_DIALOG_STYLE_MYSTERIOUS', 'EXAMPLE_DIALOG_STYLE_RACONTEUR', 'EXAMPLE_DIALOG_STYLE_SARCASTIC', 'EXAMPLE_DIALOG_STYLE_TENACIOUS', 'EXAMPLE_DIALOG_STYLE_VILLAINOUS', 'EXAMPLE_DIALOG_STYLE_CUSTOM') },
    { path: `${SPEAK}.customDialogStyles`, label: 'Custom dialog styles (JSON list of {displayName, isActive, adjectives, colloquialism})', kind: 'json' },
    { path: `${SPEAK}.dialogResponseLength`, label: 'Response length', kind: 'enum', options: enumOf('DIALOG_RESPONSE_LENGTH_UNSPECIFIED', 'DIALOG_RESPONSE_LENGTH_VERY_SHORT', 'DIALOG_RESPONSE_LENGTH_SHORT', 'DIALOG_RESPONSE_LENGTH_MEDIUM', 'DIALOG_RESPONSE_LENGTH_LONG', 'DIALOG_RESPONSE_LENGTH_VERY_LONG') },
    { path: `${SPEAK}.narrativeActionsEnabled`, label: 'Narrated actions (*waves*)', kind: 'bool' },
    { group: 'Personality and mood (-100..100)' },
    { path: 'personality.positive', label: 'Negative - positive', ...SLIDER },
    { path: 'personality.peaceful', label: 'Aggressive - peaceful', ...SLIDER },
    { path: 'personality.open', label: 'Cautious - open', ...SLIDER },
    { path: 'personality.extravert', label: 'Introvert - extravert', ...SLIDER },
    { path: 'initialMood.joy', label: 'Sadness - joy', ...SLIDER },
    { path: 'initialMood.fear', label: 'Anger - fear', ...SLIDER },
    { path: 'initialMood.trust', label: 'Disgust - trust', ...SLIDER },
    { path: 'initialMood.surprise', label: 'Anticipation - surprise', ...SLIDER },
    { path: 'emotionalFluidity', label: 'Emotional fluidity (0..1)', kind: 'number', min: 0, max: 1, step: 0.05 },
    { group: 'Relationship' },
    { path: 'relationship.enabled', label: 'Relationships with players', kind: 'bool' },
    { path: 'relationship.fluidity', label: 'Relationship fluidity (-1..1)', kind: 'number', min: -1, max: 1, step: 0.05 },
    { group: 'Knowledge' },
    { path: 'personalKnowledge.facts', label: 'Facts (one per line)', kind: 'facts' },
    { path: 'commonKnowledge', label: 'Common knowledge (resource names, comma separated)', kind: 'list' },
    { group: 'Safety' },
    { path: 'safetyConfig', label: 'Safety levels per topic', kind: 'safety' },
    { path: 'fourthWall', label: 'Fourth wall', kind: 'enum', options: enumOf('FOURTH_WALL_UNSPECIFIED', 'FOURTH_WALL_CONTAINMENT_ENABLED', 'FOURTH_WALL_CONTAINMENT_DISABLED') },
    { path: 'cognitiveControl', label: 'Cognitive control', kind: 'enum', options: enumOf('COGNITIVE_CONTROL_UNSPECIFIED', 'COGNITIVE_CONTROL_NONE', 'COGNITIVE_CONTROL_MILD', 'COGNITIVE_CONTROL_STRICT') },
    { group: 'Voice' },
    { path: 'defaultCharacterAssets.voice.baseName', label: 'Voice', kind: 'text' },
    { path: 'defaultCharacterAssets.voice.gender', label: 'Voice gender', kind: 'text' },
    { path: 'defaultCharacterAssets.voice.pitch', label: 'Pitch', kind: 'number', step: 0.1 },
    { path: 'defaultCharacterAssets.voice.speakingRate', label: 'Speaking rate', kind: 'number', step: 0.1 },
    { group: 'Goals' },
    { path: 'yamlConfig', label: 'Goals (YAML)', kind: 'yaml' },
  ];
  const SCENE_FIELDS = [
    { path: 'displayName', label: 'Name', kind: 'text' },
    { path: 'description', label: 'Description (the setting)', kind: 'textarea' },
    { path: 'characters', label: 'Characters (resource names, comma separated)', kind: 'refs' },
    { path: 'commonKnowledge', label: 'Common knowledge (resource names, comma separated)', kind: 'list' },
  ];
  const KNOWLEDGE_FIELDS = [
    { path: 'displayName', label: 'Name', kind: 'text' },
    { path: 'description', label: 'Description', kind: 'textarea' },
    { path: 'knowledgeRecords', label: 'Records (one per line)', kind: 'facts' },
  ];
  const KINDS = {
    characters: { noun: 'character', listKey: 'characters', fields: CHARACTER_FIELDS, title: (r) => r.defaultCharacterDescription.givenName },
    scenes: { noun: 'scene', listKey: 'scenes', fields: SCENE_FIELDS, title: (r) => r.displayName },
    'common-knowledge': { noun: 'common knowledge', listKey: 'commonKnowledge', fields: KNOWLEDGE_FIELDS, title: (r) => r.displayName },
  };
  const SAFETY_LEVELS = ['SAFETY_LEVEL_UNSPECIFIED', 'SAFETY_LEVEL_NO_CONTROL', 'SAFETY_LEVEL_MILD_CONTROL', 'SAFETY_LEVEL_STRICT_CONTROL'];

  const get = (obj, path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
  function set(obj, path, value) {
    const keys = path.split('.');
    let o = obj;
    for (const k of keys.slice(0, -1)) o = o[k] = o[k] || {};
    o[keys[keys.length - 1]] = value;
  }
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  };
  const idOf = (path) => `f-${path.replace(/\./g, '-')}`;

  function safetyRow(topic = '', level = 'SAFETY_LEVEL_MILD_CONTROL') {
    const select = el('select', { class: 'safety-level' }, ...SAFETY_LEVELS.map((l) => el('option', { value: l, text: l })));
    select.value = level;
    const row = el('div', { class: 'safety-row' }, el('input', { class: 'safety-topic', value: topic, placeholder: 'topic, e.g. violence' }), select);
    row.append(el('button', { type: 'button', text: 'remove', onclick: () => row.remove() }));
    return row;
  }

  function input(field, value) {
    const id = idOf(field.path);
    switch (field.kind) {
      case 'textarea':
        return el('textarea', { id, rows: 3 }, value || '');
      case 'yaml': {
        const area = el('textarea', { id, rows: 10, spellcheck: 'false', class: 'code' }, value || '');
        const gutter = el('ol', { id: `${id}-lines`, class: 'yaml-errors' });
        return el('div', { class: 'yaml' }, area, gutter);
      }
      case 'enum': {
        const prefix = field.options[0].replace(/UNSPECIFIED$/, '');
        const s = el('select', { id }, ...field.options.map((o) => el('option', { value: o, text: o.replace(prefix, '').toLowerCase().replace(/_/g, ' ') })));
        s.value = value || field.options[0];
        return s;
      }
      case 'bool': {
        const c = el('input', { id, type: 'checkbox' });
        c.checked = !!value;
        return c;
      }
      case 'slider': {
        const r = el('input', { id, type: 'range', min: field.min, max: field.max, step: field.step, value: value || 0 });
        const out = el('output', { for: id, text: String(value || 0) });
        r.addEventListener('input', () => { out.textContent = r.value; });
        return el('span', { class: 'slider' }, r, out);
      }
      case 'number':
        return el('input', { id, type: 'number', step: field.step || 'any', value: value == null ? 0 : value, ...(field.min != null ? { min: field.min, max: field.max } : {}) });
      case 'list':
        return el('input', { id, value: (value || []).join(', ') });
      case 'refs':
        return el('input', { id, value: (value || []).map((c) => c.character).join(', ') });
      case 'facts':
        return el('textarea', { id, rows: 4 }, (value || []).map((f) => f.text).join('\n'));
      case 'json':
        return el('textarea', { id, rows: 2, class: 'code' }, JSON.stringify(value || []));
      case 'safety': {
        const rows = el('div', { id, class: 'safety' }, ...Object.entries(value || {}).map(([t, l]) => safetyRow(t, l)));
        return el('div', {}, rows, el('button', { type: 'button', text: 'add topic', onclick: () => rows.append(safetyRow()) }));
      }
      default:
        return el('input', { id, value: value || '' });
    }
  }

  function read(field) {
    const e = document.getElementById(idOf(field.path));
    const list = () => e.value.split(',').map((s) => s.trim()).filter(Boolean);
    switch (field.kind) {
      case 'bool': return e.checked;
      case 'slider': return parseInt(e.value, 10);
      case 'number': return e.value === '' ? 0 : Number(e.value);
      case 'list': return list();
      case 'refs': return list().map((character) => ({ character }));
      case 'facts': return e.value.split('\n').map((s) => s.trim()).filter(Boolean).map((text) => ({ text }));
      case 'json':
        try { return JSON.parse(e.value || '[]'); } catch (err) { throw new FieldError(field.path, `not JSON: ${err.message}`); }
      case 'safety': {
        const out = {};
        for (const row of e.querySelectorAll('.safety-row')) {
          const topic = row.querySelector('.safety-topic').value.trim();
          if (topic) out[topic] = row.querySelector('.safety-level').value;
        }
        return out;
      }
      default: return e.value;
    }
  }

  class FieldError extends Error {
    constructor(field, message) { super(message); this.field = field; }
  }

  // -- the editor ---------------------------------------------------------------------------

  let kind = 'characters';
  let current = null; // the resource being edited (as last read from the server), or {} for new

  async function showList(k) {
    kind = k;
    for (const b of document.querySelectorAll('.tabs button')) b.classList.toggle('active', b.dataset.kind === k);
    const data = await api('GET', studio(`/${k}?pageSize=1000`));
    const list = $('#list');
    list.replaceChildren();
    for (const item of data[KINDS[k].listKey] || []) {
      list.append(el('li', {}, el('a', { href: '#', 'data-name': item.name, text: KINDS[k].title(item) || item.name, onclick: (e) => { e.preventDefault(); edit(item.name); } })));
    }
  }

  for (const b of document.querySelectorAll('.tabs button')) {
    b.addEventListener('click', () => { showList(b.dataset.kind); newItem(); });
  }
  $('#new').addEventListener('click', () => newItem());

  function newItem() {
    render({});
  }

  async function edit(name) {
    const query = kind === 'characters' ? '?view=CHARACTER_ITEM_VIEW_WITH_META' : '';
    render(await api('GET', `/studio/v1/${name}${query}`));
  }

  function render(resource) {
    current = resource;
    const spec = KINDS[kind];
    const form = el('form', { id: 'edit-form', novalidate: '' });
    form.append(el('h2', { text: resource.name ? `${spec.title(resource) || spec.noun} (${resource.name})` : `New ${spec.noun}` }));
    let fieldset = form;
    for (const field of spec.fields) {
      if (field.group) {
        fieldset = el('fieldset', {}, el('legend', { text: field.group }));
        form.append(fieldset);
        continue;
      }
      fieldset.append(el('div', { class: 'field', 'data-path': field.path },
        el('label', { for: idOf(field.path), text: field.label }),
        input(field, get(resource, field.path)),
        el('span', { class: 'field-error', id: `${idOf(field.path)}-error`, role: 'alert' })));
    }
    const buttons = el('div', { class: 'buttons' }, el('button', { id: 'save', type: 'submit', text: 'Save draft' }));
    if (resource.name) {
      buttons.append(el('button', { id: 'deploy', type: 'button', text: 'Deploy', onclick: deploy }));
      if (kind !== 'common-knowledge') buttons.append(el('button', { id: 'play-button', type: 'button', text: 'Play', onclick: () => play(resource.name) }));
      if (kind === 'characters') {
        buttons.append(el('button', { id: 'export-json', type: 'button', text: 'Export Studio JSON', onclick: () => exportAs('studio') }));
        buttons.append(el('button', { id: 'export-card', type: 'button', text: 'Export Card (JSON)', onclick: () => exportAs('card') }));
        buttons.append(el('button', { id: 'export-png', type: 'button', text: 'Export Card (PNG)', onclick: () => exportAs('png') }));
      }
      buttons.append(el('button', { id: 'delete', type: 'button', text: 'Delete', onclick: remove }));
    }
    form.append(buttons, el('p', { id: 'form-status', role: 'status' }), el('p', { id: 'deploy-status', role: 'status' }));
    if (resource.meta) form.append(el('p', { id: 'live-version', text: liveText(resource.meta.deployedVersion) }));
    form.addEventListener('submit', (e) => { e.preventDefault(); save(); });
    $('#editor').replaceChildren(form);
  }

  const liveText = (v) => (v ? `Live: version ${v}` : 'Not deployed yet');

  function clearErrors() {
    for (const e of document.querySelectorAll('.field-error')) e.textContent = '';
    for (const e of document.querySelectorAll('.field.invalid')) e.classList.remove('invalid');
    for (const e of document.querySelectorAll('.yaml-errors')) e.replaceChildren();
    $('#form-status').textContent = '';
  }

  // Puts each violation beside the field it names (the longest field path that is a prefix of
  // it, "personalKnowledge.facts.3.text" -> the facts box); returns those that fit nowhere.
  function showViolations(violations) {
    const rest = [];
    const fields = KINDS[kind].fields.filter((f) => f.path);
    for (const v of violations) {
      const name = v.field.replace(/\[(\d+)\]/g, '.$1');
      const field = fields.filter((f) => name === f.path || name.startsWith(`${f.path}.`)).sort((a, b) => b.path.length - a.path.length)[0];
      if (!field) { rest.push(v); continue; }
      if (field.kind === 'yaml') {
        showYamlError(field, v.description);
        continue;
      }
      const out = document.getElementById(`${idOf(field.path)}-error`);
      out.textContent = out.textContent ? `${out.textContent}; ${v.description}` : v.description;
      out.closest('.field').classList.add('invalid');
    }
    return rest;
  }

  function showYamlError(field, description) {
    const m = /line (\d+): (.*)$/.exec(description);
    const gutter = document.getElementById(`${idOf(field.path)}-lines`);
    gutter.append(el('li', { 'data-line': m ? m[1] : '', text: m ? `line ${m[1]}: ${m[2]}` : description }));
    gutter.closest('.field').classList.add('invalid');
    if (m) {
      const area = document.getElementById(idOf(field.path));
      const lines = area.value.split('\n');
      const start = lines.slice(0, Number(m[1]) - 1).join('\n').length + (Number(m[1]) > 1 ? 1 : 0);
      area.dataset.errorLine = m[1];
      area.setSelectionRange(start, start + (lines[Number(m[1]) - 1] || '').length);
    }
  }

  function formBody() {
    const body = {};
    for (const field of KINDS[kind].fields) if (field.path) set(body, field.path, read(field));
    return body;
  }

  async function save() {
    clearErrors();
    let body;
    try {
      body = formBody();
    } catch (e) {
      if (e instanceof FieldError) { showViolations([{ field: e.field, description: e.message }]); return null; }
      throw e;
    }
    try {
      const saved = current.name ? await api('PATCH', `/studio/v1/${current.name}`, body) : await api('POST', studio(`/${kind}`), body);
      await showList(kind);
      if (current.name) {
        current = { ...saved, meta: current.meta };
        $('#form-status').textContent = 'Saved.';
      } else {
        await edit(saved.name);
        $('#form-status').textContent = 'Created.';
      }
      return saved;
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const rest = showViolations(e.violations);
      $('#form-status').textContent = rest.length || !e.violations.length ? e.message : 'Fix the fields marked in red.';
      return null;
    }
  }

  async function remove() {
    if (!confirm(`Delete ${current.name}?`)) return;
    await api('DELETE', `/studio/v1/${current.name}`);
    await showList(kind);
    $('#editor').replaceChildren(el('p', { class: 'hint', text: `Deleted ${current.name}.` }));
  }

  async function deploy() {
    if (!(await save())) return;
    const status = $('#deploy-status');
    status.textContent = 'Deploying...';
    let op = await api('POST', `/studio/v1/${current.name}:deploy`);
    const started = Date.now();
    while (!op.done) {
      const state = (op.metadata && op.metadata.state) || 'PENDING';
      status.textContent = `Deploying version ${op.metadata.version}: ${state.toLowerCase()} (${((Date.now() - started) / 1000).toFixed(1)} s)`;
      await new Promise((r) => setTimeout(r, 250));
      op = await api('GET', `/studio/v1/${op.name}`);
    }
    if (op.error) {
      status.textContent = `Deploy of version ${op.metadata.version} failed: ${op.error.message}`;
      status.className = 'error';
      showViolations(new ApiError(400, { error: op.error }).violations.map((v) => ({ field: v.field, description: v.description.replace(/^yamlConfig /, '') })));
      return;
    }
    status.className = '';
    status.textContent = `Deployed version ${op.metadata.version}.`;
    if (kind === 'characters') {
      const fresh = await api('GET', `/studio/v1/${current.name}?view=CHARACTER_ITEM_VIEW_WITH_META`);
      current.meta = fresh.meta;
      $('#live-version').textContent = liveText(fresh.meta.deployedVersion);
    }
  }

  // -- import and export --------------------------------------------------------------------

  const download = (blob, filename) => {
    const a = el('a', { href: URL.createObjectURL(blob), download: filename });
    document.body.append(a);
    a.click();
    a.remove();
  };

  async function exportAs(format) {
    const id = current.name.split('/').pop();
    if (format === 'studio') {
      const body = await api('GET', `/studio/v1/${current.name}`);
      download(new Blob([JSON.stringify(body, null, 2)], { type: 'application/json' }), `${id}.json`);
      return;
    }
    const r = await fetch(`/studio/v1/${current.name}:exportCard?format=${format === 'png' ? 'png' : 'json'}`, { headers: { Authorization: `Basic ${auth.basic}` } });
    if (!r.ok) { $('#form-status').textContent = new ApiError(r.status, await r.json()).message; return; }
    download(await r.blob(), `${id}.card.${format === 'png' ? 'png' : 'json'}`);
  }

  $('#import-file').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    const status = $('#import-status');
    status.textContent = `Importing ${file.name}...`;
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    try {
      const imported = await api('POST', studio('/characters:import'), { file: btoa(binary), filename: file.name });
      await showList('characters');
      await edit(imported.character.name);
      status.textContent = `Imported ${imported.character.name} from ${imported.source}.` +
        (imported.lost.length ? ` Not kept: ${imported.lost.join('; ')}.` : '');
    } catch (err) {
      status.textContent = `Import failed: ${err.message}`;
    }
    e.target.value = '';
  });

  // -- play and inspect ---------------------------------------------------------------------

  let session = null;
  let pending = null; // {interactionId, sentAt, firstText}

  async function play(name) {
    if (session) session.close();
    $('#play').hidden = false;
    $('#play-target').textContent = name;
    $('#chat').replaceChildren();
    $('#triggers').replaceChildren();
    for (const turn of document.querySelectorAll('#inspect .turn')) turn.remove();
    $('#play-status').textContent = 'Connecting...';
    try {
      const token = await api('POST', '/auth/v1/tokens/token:generate', { resources: [`workspaces/${auth.workspace}`] });
      session = new window.AnimaPlay.PlaySession({
        token, scene: name, user: { id: 'studio-player', name: 'Player' },
        onPacket, onError: (m) => { $('#play-status').textContent = `Session ended: ${m}`; },
      });
      await session.open();
    } catch (err) {
      $('#play-status').textContent = `Cannot play: ${err.message}`;
      return;
    }
    $('#play-status').textContent = `Talking to ${session.agents.map((a) => a.givenName).join(', ')} (session ${session.token.sessionId}).`;
    await showTriggers();
  }

  async function showTriggers() {
    const box = $('#triggers');
    for (const agent of session.agents) {
      const character = await api('GET', `/studio/v1/${agent.brainName}?view=CHARACTER_ITEM_VIEW_WITH_META`).catch(() => null);
      for (const t of (character && character.meta.triggers) || []) {
        const params = t.parameters.map((p) => el('input', { class: 'trigger-param', 'data-param': p, placeholder: p }));
        box.append(el('div', { class: 'trigger' },
          el('button', { type: 'button', class: 'trigger-button', 'data-trigger': t.name, text: `${t.name}${session.agents.length > 1 ? ` (${agent.givenName})` : ''}`,
            onclick: () => startTurn(() => session.trigger(t.name, params.map((i) => ({ name: i.dataset.param, value: i.value })), agent.agentId), `[${t.name}]`) }),
          ...params));
      }
    }
  }

  function chatLine(cls, text, attrs = {}) {
    const li = el('li', { class: cls, ...attrs }, el('span', { class: 'text', text }));
    $('#chat').append(li);
    li.scrollIntoView({ block: 'end' });
    return li;
  }

  function startTurn(send, shown) {
    if (!session) return;
    chatLine('player', shown);
    pending = { interactionId: send(), sentAt: performance.now(), firstText: null };
  }

  $('#say-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('#say').value.trim();
    if (!text || !session) return;
    $('#say').value = '';
    const action = /^\*([^*]+)\*$/.exec(text);
    startTurn(action ? () => session.act(action[1]) : () => session.say(text), text);
  });

  $('#cancel').addEventListener('click', () => {
    if (session && pending) session.cancel(pending.interactionId);
  });

  const agentName = (id) => (session.agents.find((a) => a.agentId === id) || {}).givenName || 'Character';

  function onPacket(p) {
    const ids = p.packetId || {};
    const from = p.routing && p.routing.source && p.routing.source.name;
    if (p.text && p.routing.source.type === 'AGENT') {
      if (pending && pending.interactionId === ids.interactionId && pending.firstText == null) {
        pending.firstText = performance.now() - pending.sentAt;
      }
      const line = document.querySelector(`#chat li[data-utterance="${ids.utteranceId}"] .text`);
      if (line) line.textContent += p.text.text;
      else chatLine('agent', p.text.text, { 'data-utterance': ids.utteranceId, 'data-interaction': ids.interactionId, 'data-speaker': agentName(from) });
    } else if (p.emotion) {
      const line = document.querySelector(`#chat li[data-utterance="${ids.utteranceId}"]`);
      const badge = el('span', { class: 'emotion', text: `${p.emotion.behavior}${p.emotion.strength && p.emotion.strength !== 'NORMAL' ? ` (${p.emotion.strength.toLowerCase()})` : ''}` });
      if (line) line.append(badge);
      else chatLine('emotion', badge.textContent, { 'data-utterance': ids.utteranceId });
    } else if (p.action && p.action.narratedAction && p.routing.source.type === 'AGENT') {
      chatLine('action', `*${p.action.narratedAction.content}*`, { 'data-utterance': ids.utteranceId, 'data-interaction': ids.interactionId });
    } else if (p.custom && p.routing.source.type === 'AGENT') {
      const params = (p.custom.parameters || []).map((x) => `${x.name}=${x.value}`).join(', ');
      chatLine('trigger-out', `trigger ${p.custom.name}${params ? ` (${params})` : ''}`);
    } else if (p.control && p.control.action === 'INTERACTION_END') {
      const turn = pending && pending.interactionId === ids.interactionId ? pending : null;
      if (turn) pending = null;
      inspect(ids.interactionId, turn, from).catch((err) => { $('#inspect').append(el('p', { class: 'error', text: err.message })); });
    } else if (p.control && p.control.action === 'WARNING') {
      chatLine('warning', (p.control.description || 'warning'));
    }
  }

  async function inspect(interactionId, turn, agentId) {
    const base = `/v1/workspaces/${encodeURIComponent(auth.workspace)}/sessions/${encodeURIComponent(session.token.sessionId)}`;
    const { interactions } = await api('GET', `${base}/interactions?pageSize=1000`);
    const item = interactions.find((i) => i.name.endsWith(`/${interactionId}`)) || interactions[interactions.length - 1];
    const agent = (item && item.agent) || agentId || session.agents[0].agentId;
    const mind = await api('GET', `${base}/sessionCharacters/${encodeURIComponent(agent)}/state`);
    const box = el('section', { class: 'turn', 'data-interaction': interactionId },
      el('h4', { text: `${agentName(agent)}, turn ${interactions.length}${item && item.cancelled ? ' (cancelled)' : ''}` }));
    const rows = [
      ['Time to first text', turn && turn.firstText != null ? `${Math.round(turn.firstText)} ms` : 'n/a'],
      ['Emotion', `${mind.emotion.behavior} (${mind.emotion.strength.toLowerCase()})`],
      ['Mood', Object.entries(mind.mood).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')],
      ['Relationship', mind.relationship.enabled ? `${mind.relationship.label}: ${['trust', 'respect', 'familiar', 'flirtatious', 'attraction'].map((k) => `${k} ${mind.relationship[k]}`).join(', ')}` : 'off'],
      ['Goals completed', mind.goals.completed.join(', ') || 'none'],
      ['Triggers sent', item && item.activeTriggers && item.activeTriggers.length ? item.activeTriggers.map((t) => t.trigger.split('/').pop()).join(', ') : 'none'],
    ];
    box.append(el('dl', {}, ...rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })])));
    for (const [key, value] of Object.entries((item && item.trace) || {})) box.append(traceEntry(key, value));
    const panel = $('#inspect');
    const hint = panel.querySelector('.hint');
    if (hint) hint.remove();
    panel.insertBefore(box, panel.children[1] || null);
  }

  // A trace entry, whatever its stage put there: a list of items, an object, or a value.
  function traceEntry(key, value) {
    const d = el('details', { class: `trace trace-${key}` }, el('summary', { text: key }));
    if (key === 'prompt' && value && (value.messages || value.text)) {
      const text = value.messages ? value.messages.map((m) => `[${m.role}]\n${m.content}`).join('\n\n') : value.text;
      d.append(el('pre', { class: 'prompt', text }));
      return d;
    }
    const show = (v) => (v && typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k}: ${typeof x === 'object' ? JSON.stringify(x) : x}`).join(' | ') : String(v));
    const items = Array.isArray(value) ? value : [value];
    d.append(el('ul', {}, ...(items.length ? items.map((v) => el('li', { text: show(v) })) : [el('li', { text: 'none' })])));
    return d;
  }

  // -- start --------------------------------------------------------------------------------

  const saved = sessionStorage.getItem(KEY_STORE);
  if (saved) {
    const { workspace, basic } = JSON.parse(saved);
    signIn(workspace, basic).catch((err) => {
      sessionStorage.removeItem(KEY_STORE);
      $('#login-error').textContent = err.message;
    });
  }
})();
