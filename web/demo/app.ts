// The Switchboard demo: join a call, see who is in it, chat with everyone or chosen people
// (channel 10000, the same as `switchboard chat`), and share files (channel 10001, the
// file-transfer convention of docs/protocol.md). Plain DOM, no framework; every text from
// the network goes in through textContent.

import {
  CallClient,
  E2eeKeys,
  SwitchboardError,
  type Call,
  type ConnectionStateChangedEvent,
  type DataChannelReceiver,
  type DataChannelSender,
  type ParticipantInfo,
  type TransportInfo,
} from '../src/index.js';
import {
  CHAT_CHANNEL,
  FileTransfer,
  type IncomingFile,
  type OutgoingFile,
  type RecipientStatus,
} from '../src/files/fileTransfer.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
};

const joinForm = $<HTMLFormElement>('join');
let encrypted = false; // joined with a passphrase
const joinError = $('join-error');
const callSection = $('call');
const statusBadge = $('status');
const transportBadge = $('transport');
const leaveButton = $<HTMLButtonElement>('leave');
const peopleList = $('people');
const chatTo = $('chat-to');
const log = $('log');
const chatForm = $<HTMLFormElement>('chat');
const lineInput = $<HTMLInputElement>('line');
const shareForm = $<HTMLFormElement>('share');
const fileInput = $<HTMLInputElement>('file');
const transfersList = $('transfers');

const encoder = new TextEncoder();
const decoder = new TextDecoder();

let call: Call | undefined;
let chatSender: DataChannelSender | undefined;
// Lives across re-joins, so unfinished files resume in the next call.
let files: FileTransfer | undefined;
// Identity → display name, of everyone seen in this page's calls.
const names = new Map<string, string>();
// The ticked people; none = everyone.
const selected = new Set<string>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function nameOf(identity: string): string {
  const name = names.get(identity);
  return name && name !== identity ? `${name} (${identity})` : identity;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function describe(e: unknown): string {
  if (e instanceof SwitchboardError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

// ---- The join form ----

function defaultServer(): string {
  if (location.protocol === 'http:' || location.protocol === 'https:') {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
  }
  return 'ws://127.0.0.1:8480';
}

function fillJoinForm(): void {
  const params = new URLSearchParams(location.search);
  const saved = (key: string) => params.get(key) ?? localStorage.getItem(`switchboard.${key}`) ?? '';
  const field = (name: string) => joinForm.elements.namedItem(name) as HTMLInputElement;
  field('call').value = saved('call') || 'demo';
  field('user').value = saved('user') || `guest-${Math.random().toString(36).slice(2, 6)}`;
  field('name').value = saved('name');
  field('server').value = params.get('server') ?? defaultServer();
}

// A development token from the server we join (only a server started with --dev mints them).
async function devToken(server: string, user: string, callId: string, name: string): Promise<string> {
  const base = new URL(server);
  base.protocol = base.protocol === 'wss:' ? 'https:' : 'http:';
  const query = new URLSearchParams({ user, call: callId });
  if (name) query.set('name', name);
  let response: Response;
  try {
    response = await fetch(new URL(`/v1/dev-token?${query}`, base));
  } catch (e) {
    throw new Error(`cannot reach ${base.origin} for a development token (${describe(e)}); paste a token instead`);
  }
  if (response.status === 404) {
    throw new Error('this server mints no development tokens (it was not started with --dev): paste an access token (`switchboard token …`)');
  }
  const body = (await response.json().catch(() => ({}))) as { token?: string; message?: string };
  if (!response.ok || typeof body.token !== 'string') {
    throw new Error(`no development token: ${body.message ?? `HTTP ${response.status}`}`);
  }
  return body.token;
}

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void join();
});

async function join(): Promise<void> {
  const data = new FormData(joinForm);
  const value = (key: string) => String(data.get(key) ?? '').trim();
  const [callId, user, name, server] = [value('call'), value('user'), value('name'), value('server')];
  const p2p = data.get('p2p') !== null;
  for (const key of ['call', 'user', 'name']) localStorage.setItem(`switchboard.${key}`, value(key));
  const button = joinForm.querySelector('button')!;
  button.disabled = true;
  joinError.textContent = '';
  statusBadge.textContent = 'joining…';
  try {
    const token = value('token') || (await devToken(server, user, callId, name));
    // The same key as a key file line `1:passphrase:…` for this call (switchboard agent
    // --e2ee-key-file): everyone typing the same passphrase reads each other.
    const passphrase = value('passphrase');
    if (passphrase) statusBadge.textContent = 'deriving the key…';
    const e2ee = passphrase ? await E2eeKeys.parse(`1:passphrase:${passphrase}`, callId) : undefined;
    const joined = await new CallClient().join({ server, callId, token, p2p, e2ee, ...(name ? { displayName: name } : {}) });
    encrypted = e2ee !== undefined;
    entered(joined);
  } catch (e) {
    joinError.textContent = describe(e);
    statusBadge.textContent = 'not in a call';
  } finally {
    button.disabled = false;
  }
}

// ---- In the call ----

function entered(joined: Call): void {
  call = joined;
  const self = joined.self;
  names.set(self.identity, self.displayName);
  for (const p of joined.participants) names.set(p.identity, p.displayName);
  joinForm.hidden = true;
  callSection.hidden = false;
  leaveButton.hidden = false;
  statusBadge.textContent = `${joined.id} · ${nameOf(self.identity)}${encrypted ? ' · end-to-end encrypted' : ''}`;
  statusBadge.className = 'badge';
  showTransport(joined.transport);
  system(`you joined ${joined.id} as ${nameOf(self.identity)}; here: ${joined.participants.map((p) => nameOf(p.identity)).join(', ') || 'nobody else yet'}`);

  chatSender = joined.dataChannel.createDataChannelSender({ channelId: CHAT_CHANNEL, reliability: 'Durable', priority: 'Normal' });
  chatSender.on('error', (e) => system(`a message was not delivered: ${describe(e)}`));
  joined.dataChannel.on('dataChannelReceiverCreated', (receiver) => {
    if (receiver.channelId !== CHAT_CHANNEL) return;
    receiver.on('messageReady', () => readChat(receiver));
    receiver.on('error', (e) => system(`a message from ${nameOf(receiver.senderIdentity)} could not be read: ${describe(e)}`));
    readChat(receiver);
  });
  joined.on('participantJoined', (p: ParticipantInfo) => {
    names.set(p.identity, p.displayName);
    system(`${nameOf(p.identity)} joined`);
    renderPeople();
  });
  joined.on('participantLeft', (p: ParticipantInfo) => {
    selected.delete(p.identity);
    system(`${nameOf(p.identity)} left`);
    renderPeople();
  });
  joined.on('transportChanged', (t: TransportInfo) => {
    showTransport(t);
    system(t.mode === 'p2p' ? `now peer-to-peer with ${nameOf(t.peer?.identity ?? '?')}` : 'now through the server');
  });
  joined.on('connectionStateChanged', (e: ConnectionStateChangedEvent) => {
    if (e.state === 'reconnecting') {
      system(`lost the connection to the server (${e.reason ? describe(e.reason) : 'no reason'}); reconnecting…`);
      statusBadge.className = 'badge bad';
    } else if (e.state === 'connected') {
      system(
        e.resumed
          ? 'reconnected; nothing was lost'
          : `reconnected as a new participant; ${e.unconfirmedMessageCount} message(s) you sent may not have arrived`,
      );
      statusBadge.className = 'badge';
      renderPeople();
    }
  });
  joined.on('disconnected', (e: SwitchboardError) => {
    system(`disconnected: ${describe(e)}`);
    left(`Disconnected (${describe(e)}). Join again to carry on: unfinished files resume.`);
  });

  if (files) {
    files.useCall(joined);
  } else {
    files = new FileTransfer(joined);
    files.on('offer', showIncoming);
  }
  renderPeople();
  lineInput.focus();
}

function left(message: string): void {
  call = undefined;
  chatSender = undefined;
  selected.clear();
  joinForm.hidden = false;
  callSection.hidden = false; // the log and the transfers stay readable
  leaveButton.hidden = true;
  transportBadge.hidden = true;
  statusBadge.textContent = 'not in a call';
  statusBadge.className = 'badge bad';
  joinError.textContent = message;
}

leaveButton.addEventListener('click', () => {
  const leaving = call;
  if (!leaving) return;
  left('');
  system('you left');
  void leaving.leave();
});

function showTransport(t: TransportInfo): void {
  transportBadge.hidden = false;
  if (t.mode === 'p2p') {
    transportBadge.textContent = `peer-to-peer${t.peer ? ` with ${nameOf(t.peer.identity)}` : ''}`;
    transportBadge.className = 'badge p2p';
  } else {
    transportBadge.textContent = 'through the server';
    transportBadge.className = 'badge server';
  }
}

function renderPeople(): void {
  if (!call) return;
  peopleList.replaceChildren();
  const me = el('li', 'me', `${nameOf(call.self.identity)} — you`);
  peopleList.append(me);
  for (const p of call.participants) {
    const item = el('li');
    const label = el('label');
    const box = el('input');
    box.type = 'checkbox';
    box.checked = selected.has(p.identity);
    box.addEventListener('change', () => {
      if (box.checked) selected.add(p.identity);
      else selected.delete(p.identity);
      showRecipients();
    });
    label.append(box, document.createTextNode(nameOf(p.identity)));
    item.append(label);
    peopleList.append(item);
  }
  showRecipients();
}

function recipients(): string[] {
  return [...selected];
}

function showRecipients(): void {
  const to = recipients();
  chatTo.textContent = to.length === 0 ? 'to everyone' : `to ${to.map(nameOf).join(', ')}`;
}

// ---- Chat ----

function system(text: string): void {
  addLine(el('li', 'system', text));
}

function addLine(item: HTMLLIElement): void {
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  log.append(item);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function chatLine(from: string, text: string, to?: string[]): void {
  const item = el('li', to ? 'mine' : undefined);
  item.append(el('span', 'who', to ? 'you' : nameOf(from)));
  if (to && to.length > 0) item.append(el('span', 'to', ` → ${to.map(nameOf).join(', ')}`));
  item.append(document.createTextNode(`: ${text}`));
  addLine(item);
}

function readChat(receiver: DataChannelReceiver): void {
  for (let m = receiver.readMessage(); m; m = receiver.readMessage()) {
    chatLine(receiver.senderIdentity, decoder.decode(m.data));
  }
}

chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = lineInput.value.trim();
  if (!text || !chatSender) return;
  const to = recipients();
  try {
    chatSender.setParticipants(to);
  } catch (e) {
    system(`not sent: ${describe(e)}`);
    return;
  }
  lineInput.value = '';
  chatLine(call?.self.identity ?? '', text, to);
  chatSender.sendMessage(encoder.encode(text)).catch((e) => system(`not sent: ${describe(e)}`));
});

// ---- Files ----

shareForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!files || !call) return;
  const picked = [...(fileInput.files ?? [])];
  if (picked.length === 0) {
    system('pick a file first');
    return;
  }
  const to = recipients();
  if (to.length === 0 && call.participants.length === 0) {
    system('nobody else is in the call to share with');
    return;
  }
  for (const file of picked) {
    try {
      showOutgoing(files.sendFile(file, to));
    } catch (e) {
      system(`cannot share ${file.name}: ${describe(e)}`);
    }
  }
  fileInput.value = '';
});

function transferItem(title: string, meta: string): HTMLLIElement {
  const item = el('li');
  item.append(el('div', 'transfer-title', title), el('div', 'transfer-meta', meta));
  transfersList.prepend(item);
  return item;
}

function progressRow(who: string, max: number): { row: HTMLDivElement; bar: HTMLProgressElement; state: HTMLSpanElement } {
  const row = el('div', 'row');
  const bar = el('progress');
  bar.max = Math.max(max, 1);
  bar.value = 0;
  const state = el('span', 'state');
  row.append(el('span', 'who', who), bar, state);
  return { row, bar, state };
}

function outgoingText(s: RecipientStatus, size: number): [string, string] {
  switch (s.state) {
    case 'preparing':
      return ['computing the SHA-256…', ''];
    case 'offered':
      return ['waiting for them to accept', ''];
    case 'sending':
      return [`sent ${formatBytes(s.sent)} of ${formatBytes(size)} (${formatBytes(s.confirmed)} received)`, ''];
    case 'sent':
      return ['all sent, waiting for their check', ''];
    case 'delivered':
      return ['delivered, SHA-256 checked ✓', 'done'];
    case 'declined':
      return ['declined', 'failed'];
    case 'interrupted':
      return ['interrupted: resumes when both are back in the call', 'failed'];
    case 'failed':
      return [`failed: ${s.error ? `${s.error.code}: ${s.error.message}` : 'unknown'}`, 'failed'];
  }
}

function showOutgoing(out: OutgoingFile): void {
  const item = transferItem(`↑ ${out.name}`, `${formatBytes(out.size)} to ${out.statuses.map((s) => nameOf(s.identity)).join(', ')}`);
  const rows = new Map<string, ReturnType<typeof progressRow>>();
  for (const s of out.statuses) {
    const row = progressRow(nameOf(s.identity), out.size);
    rows.set(s.identity, row);
    item.append(row.row);
  }
  const actions = el('div', 'actions');
  const cancel = el('button', 'secondary', 'Cancel');
  cancel.type = 'button';
  cancel.addEventListener('click', () => out.cancel());
  actions.append(cancel);
  item.append(actions);

  const show = (s: RecipientStatus) => {
    const row = rows.get(s.identity);
    if (!row) return;
    // The bar shows what the recipient confirmed once it reports, else what went out.
    row.bar.value = s.state === 'delivered' ? out.size : Math.max(s.confirmed, s.sent);
    const [text, kind] = outgoingText(s, out.size);
    row.state.textContent = text;
    row.state.className = `state ${kind}`;
    const finished = out.statuses.every((x) => ['delivered', 'declined', 'failed'].includes(x.state));
    cancel.disabled = finished;
  };
  out.on('preparing', (hashed) => {
    for (const row of rows.values()) {
      row.state.textContent = `computing the SHA-256… ${Math.floor((100 * hashed) / Math.max(out.size, 1))}%`;
    }
  });
  out.on('progress', show);
  out.on('delivered', (identity) => system(`${out.name} delivered to ${nameOf(identity)}`));
  for (const s of out.statuses) show(s);
}

function showIncoming(file: IncomingFile): void {
  const item = transferItem(`↓ ${file.name}`, `${formatBytes(file.size)} from ${nameOf(file.from)}${file.mime ? ` · ${file.mime}` : ''}`);
  const { row, bar, state } = progressRow('', file.size);
  row.querySelector('.who')?.remove();
  const actions = el('div', 'actions');
  const accept = el('button', undefined, 'Accept');
  const decline = el('button', 'secondary', 'Decline');
  accept.type = decline.type = 'button';
  accept.addEventListener('click', () => file.accept());
  decline.addEventListener('click', () => file.decline());
  actions.append(accept, decline);
  item.append(row, actions);
  state.textContent = 'offered to you';
  system(`${nameOf(file.from)} offers ${file.name} (${formatBytes(file.size)})`);

  file.on('progress', (received) => {
    bar.value = received;
    state.textContent = `${formatBytes(received)} of ${formatBytes(file.size)}`;
  });
  file.on('state', (s) => {
    if (s === 'receiving') {
      actions.replaceChildren();
      const cancel = el('button', 'secondary', 'Cancel');
      cancel.type = 'button';
      cancel.addEventListener('click', () => file.cancel());
      actions.append(cancel);
      state.textContent = `${formatBytes(file.received)} of ${formatBytes(file.size)}`;
      state.className = 'state';
    } else if (s === 'interrupted') {
      state.textContent = `interrupted at ${formatBytes(file.received)}: resumes when ${nameOf(file.from)} is back`;
      state.className = 'state failed';
    } else if (s === 'declined') {
      actions.replaceChildren();
      state.textContent = 'declined';
    }
  });
  file.on('done', (blob) => {
    bar.value = file.size;
    state.textContent = 'SHA-256 checked ✓';
    state.className = 'state done';
    const link = el('a', 'download', `Save ${file.name}`);
    link.href = URL.createObjectURL(blob);
    link.download = file.name;
    actions.replaceChildren(link);
    system(`received ${file.name} from ${nameOf(file.from)}`);
  });
  file.on('error', (e) => {
    actions.replaceChildren();
    state.textContent = `failed: ${e.code}: ${e.message}`;
    state.className = 'state failed';
  });
}

fillJoinForm();
