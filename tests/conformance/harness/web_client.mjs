// Drives the unmodified @inworld/web-core 2.10.0 from Node with browser stubs (spec §6.2).
//
// usage: node web_client.mjs <scenario>
//   scenarios: build  (construct the client with the stubs only, no network)
//              hello  (getCharacters, sendText, wait for INTERACTION_END, close)
//              state  (hello, then connection.stateSerialization.get())
// env: ANIMA_HTTP_HOST (default localhost:8000), ANIMA_SCENE (default workspaces/test-ws/characters/alice),
//      ANIMA_TEXT (default Hello), ANIMA_TIMEOUT_MS (default 20000), and the session token either as
//      ANIMA_TOKEN_JSON ({"token","type","expirationTime","sessionId"}) or fetched from the server's
//      POST /auth/v1/tokens/token:generate with ANIMA_KEY/ANIMA_SECRET (Basic auth), the way an app's
//      backend would.
// Output: one JSON object per line, {"event": ...}; the last one is "done" (exit 0) or "fatal" (exit 1).
import summarize from './summarize.cjs';

const scenario = process.argv[2] || 'hello';
const host = process.env.ANIMA_HTTP_HOST || 'localhost:8000';
const scene = process.env.ANIMA_SCENE || 'workspaces/test-ws/characters/alice';
const text = process.env.ANIMA_TEXT || 'Hello';
const timeoutMs = Number(process.env.ANIMA_TIMEOUT_MS || 20000);

function emit(event, data = {}) {
  process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
}
function fatal(error) {
  emit('fatal', { message: String(error?.message ?? error), code: error?.code, details: error?.details });
  process.exit(1);
}
setTimeout(() => fatal(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs).unref();

// -- browser stubs: what web-core touches when run outside a browser ---------------------------
if (typeof globalThis.WebSocket === 'undefined') globalThis.WebSocket = (await import('ws')).WebSocket;
const noop = () => {};
const storage = () => {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
};
const stubs = {
  window: { addEventListener: noop, removeEventListener: noop },
  document: { createElement: () => ({ play: noop }), body: { append: noop } },
  navigator: { userAgent: 'node-test (iPhone)' }, // "iPhone": web-core skips its RTCPeerConnection loopback
  localStorage: storage(),
  sessionStorage: storage(),
  MediaStream: class { getTracks() { return []; } },
  AudioContext: class {
    constructor() { this.sampleRate = 16000; this.destination = {}; }
    createMediaStreamDestination() { return { stream: {} }; }
    createGain() { return { gain: { value: 1 }, connect: noop }; }
    createBuffer(c, n, r) { return { duration: n / r }; }
    async decodeAudioData() { return { duration: 0.05 }; }
    async resume() {}
  },
  AudioBufferSourceNode: class { connect() {} disconnect() {} start() { setTimeout(() => this.onended?.(), 10); } },
};
for (const [k, v] of Object.entries(stubs)) {
  Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
}

const { InworldClient } = await import('@inworld/web-core');

async function sessionToken() {
  if (process.env.ANIMA_TOKEN_JSON) return JSON.parse(process.env.ANIMA_TOKEN_JSON);
  const basic = Buffer.from(`${process.env.ANIMA_KEY}:${process.env.ANIMA_SECRET}`).toString('base64');
  const workspace = scene.split('/')[1];
  const response = await fetch(`http://${host}/auth/v1/tokens/token:generate`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' },
    body: JSON.stringify({ key: process.env.ANIMA_KEY, resources: [`workspaces/${workspace}`] }),
  });
  const body = await response.json();
  emit('token', { status: response.status, body });
  if (!response.ok) throw new Error(`token request failed: ${response.status}`);
  return body;
}

let finish;
const ended = new Promise((resolve) => { finish = resolve; });
const connection = new InworldClient()
  .setConfiguration({
    connection: { gateway: { hostname: host, ssl: false } },
    capabilities: { audio: true, emotions: true },
  })
  .setUser({ fullName: 'Bob', id: 'user-1' })
  .setScene(scene)
  .setGenerateSessionToken(sessionToken)
  .setOnError((e) => emit('error', { message: e.message, code: e.code, details: e.details }))
  .setOnDisconnect(() => emit('disconnect'))
  .setOnHistoryChange((history, { diff } = {}) => emit('history', { added: diff?.added?.map((i) => i.text ?? null) ?? [] }))
  .setOnMessage((packet) => {
    emit('packet', { packet: summarize(packet) });
    if (packet.isInteractionEnd()) finish();
  })
  .build();

try {
  if (scenario === 'build') {
    emit('done');
    process.exit(0);
  }
  if (scenario !== 'hello' && scenario !== 'state') throw new Error(`unknown scenario '${scenario}'`);
  const characters = await connection.getCharacters();
  emit('characters', { characters: characters.map((c) => ({ id: c.id, resourceName: c.resourceName, displayName: c.displayName })) });
  const sent = await connection.sendText(text);
  emit('sent', { packet: summarize(sent) });
  await ended;
  if (scenario === 'state') {
    const state = await connection.stateSerialization.get();
    emit('state', { state: state ?? null });
  }
  // close a little later: sendText() resolves through a 10 ms poll and would stay pending otherwise
  await new Promise((r) => setTimeout(r, 100));
  connection.close();
  emit('done');
  process.exit(0);
} catch (error) {
  fatal(error);
}
