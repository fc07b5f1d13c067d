// Drives the unmodified @inworld/web-core 2.10.0 from Node with browser stubs (spec §6.2).
//
// usage: node web_client.mjs <scenario>
//   build      construct the client with the stubs only, no network
//   hello      getCharacters, sendText, wait for INTERACTION_END, close
//   converse   capability narratedActions: hello, then a trigger (ANIMA_TRIGGER, parameter k=v)
//              and a narrated action
//   state      hello, connection.stateSerialization.get(), close; a new client continues from
//              that state (setSessionContinuation({previousState}), history.previousState: the
//              session history request) and sends ANIMA_TEXT2
//   dialog     a new client continues from a dialog the app kept (previousDialog) and sends ANIMA_TEXT
//   interrupt  capability interruptions: sendText(ANIMA_TEXT) and at once sendCancelResponse for
//              it; wait for its INTERACTION_END, then sendText(ANIMA_TEXT2)
//   reconnect  hello, print {"event":"waiting"}, wait for a line on stdin (the test restarts the
//              server meanwhile, which drops the socket), then sendText(ANIMA_TEXT2) on the same client
//   feedback   hello, then feedback.like on the interaction, feedback.dislike, feedback.undo
//   scene      ANIMA_SCENE with several characters: for each, setCurrentCharacter and sendText
//   error      getCharacters and wait for the first onError (bad token, unknown scene...)
//   speak      capabilities audio, phonemes, silence: hello, then let the audio play; the audio
//              stub decodes each chunk as a browser would (a complete WAV file, else EncodingError)
//              and prints {"event":"played", duration, sampleRate, bytes} per chunk
//   rawpcm     the audio stub alone: raw PCM must be refused ({"event":"refused"})
//   listen     the player speaks: sendAudioSessionStart (EXPECT_AUDIO_END, or OPEN_MIC with
//              ANIMA_MIC_MODE; SPEECH_RECOGNITION_ONLY with ANIMA_UNDERSTANDING), sendAudio with 200 ms base64 chunks of ANIMA_AUDIO_FILE
//              (raw 16 kHz mono 16-bit PCM) at a microphone's pace, sendAudioSessionEnd; waits for
//              the final transcript and its INTERACTION_END ({"event":"spoke"} after the audio)
// env: ANIMA_HTTP_HOST (default localhost:8000), ANIMA_SCENE (default workspaces/test-ws/characters/alice),
//      ANIMA_TEXT (default Hello), ANIMA_TEXT2 (default "Do you remember me?"), ANIMA_TRIGGER
//      (default greet), ANIMA_TIMEOUT_MS (default 20000), and the session token either as
//      ANIMA_TOKEN_JSON ({"token","type","expirationTime","sessionId"}) or fetched from the server's
//      POST /auth/v1/tokens/token:generate with ANIMA_KEY/ANIMA_SECRET (Basic auth), the way an app's
//      backend would.
// Output: one JSON object per line, {"event": ...}; the last one is "done" (exit 0) or "fatal" (exit 1).
// Events: token {status, sessionId}, characters, sent {packet}, packet {packet}, error {code, message,
// details}, warning {message}, disconnect, history {added}, and per scenario state / feedback / waiting.
import common from './common.cjs';

const {
  options, emit, onError, onMessage, exchange, characters, hello, close, sharedScenarios, run, listen,
} = common;
const host = process.env.ANIMA_HTTP_HOST || 'localhost:8000';
const { scene, text2, triggerName } = options;

// -- browser stubs: what web-core touches when run outside a browser ---------------------------
if (typeof globalThis.WebSocket === 'undefined') globalThis.WebSocket = (await import('ws')).WebSocket;
const noop = () => {};
const storage = () => {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
};
// What decodeAudioData needs from a WAV file: RIFF/WAVE, a fmt chunk, a data chunk that is all
// there. Anything else is rejected the way browsers reject it (EncodingError).
function decodeWav(buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const tag = (at) => String.fromCharCode(...bytes.subarray(at, at + 4));
  const fail = (why) => { throw new DOMException(`Unable to decode audio data: ${why}`, 'EncodingError'); };
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') fail('not a RIFF/WAVE file');
  if (view.getUint32(4, true) !== bytes.length - 8) fail('RIFF size does not match the file');
  let format = null;
  for (let at = 12; at + 8 <= bytes.length;) {
    const size = view.getUint32(at + 4, true);
    if (at + 8 + size > bytes.length) fail(`chunk ${tag(at)} runs past the end`);
    if (tag(at) === 'fmt ') {
      format = { code: view.getUint16(at + 8, true), channels: view.getUint16(at + 10, true),
        sampleRate: view.getUint32(at + 12, true), bits: view.getUint16(at + 22, true) };
    } else if (tag(at) === 'data') {
      if (!format || format.code !== 1) fail('no PCM format before the data');
      const frames = size / (format.channels * format.bits / 8);
      if (!frames) fail('no samples');
      return { duration: frames / format.sampleRate, sampleRate: format.sampleRate,
        numberOfChannels: format.channels, length: frames, bytes: bytes.length };
    }
    at += 8 + size + (size % 2);
  }
  return fail('no data chunk');
}
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
    // A browser decodes each chunk on its own: only a complete audio file plays (raw PCM fails).
    async decodeAudioData(data) { const decoded = decodeWav(data); emit('played', decoded); return decoded; }
    async resume() {}
  },
  AudioBufferSourceNode: class { connect() {} disconnect() {} start() { setTimeout(() => this.onended?.(), 10); } },
};
for (const [k, v] of Object.entries(stubs)) {
  Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
}

const {
  InworldClient, DialogParticipant, MicrophoneMode, UnderstandingMode,
} = await import('@inworld/web-core');

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
  emit('token', { status: response.status, sessionId: body.sessionId });
  if (!response.ok) throw new Error(`token request failed: ${response.status}`);
  return body;
}

function makeClient({ capabilities = {}, continuation, history } = {}) {
  const client = new InworldClient()
    .setConfiguration({
      connection: { gateway: { hostname: host, ssl: false } },
      capabilities: { audio: false, emotions: true, ...capabilities },
      ...(history ? { history } : {}),
    })
    .setUser({ fullName: 'Bob', id: 'user-1' })
    .setScene(scene)
    .setGenerateSessionToken(sessionToken)
    .setOnError(onError)
    .setOnWarning((p) => emit('warning', { message: p.control?.description ?? null }))
    .setOnDisconnect(() => emit('disconnect'))
    .setOnHistoryChange((_history, { diff } = {}) => emit('history', { added: diff?.added?.map((i) => i.text ?? null) ?? [] }))
    .setOnMessage(onMessage);
  if (continuation) client.setSessionContinuation(continuation);
  return client;
}

run({
  ...sharedScenarios(makeClient),
  async converse() {
    const connection = makeClient({ capabilities: { narratedActions: true } }).build();
    await hello(connection);
    await exchange(() => connection.sendTrigger(triggerName, [{ name: 'k', value: 'v' }]));
    await exchange(() => connection.sendNarratedAction('waves and smiles'));
    await close(connection);
  },
  async state() {
    const first = makeClient().build();
    await hello(first);
    const state = await first.stateSerialization.get();
    emit('state', { state: state?.state, creationTime: state?.creationTime, version: state?.version });
    await close(first);
    const second = makeClient({ continuation: { previousState: state.state }, history: { previousState: true } }).build();
    await characters(second);
    await exchange(() => second.sendText(text2));
    await close(second);
  },
  async dialog() {
    const previousDialog = [
      { talker: DialogParticipant.PLAYER, phrase: 'My name is Zed and I sail a red boat.' },
      { talker: DialogParticipant.CHARACTER, phrase: 'Nice to meet you, Zed.' },
    ];
    const connection = makeClient({ continuation: { previousDialog } }).build();
    await hello(connection);
    await close(connection);
  },
  async feedback() {
    const connection = makeClient().build();
    const sent = await hello(connection);
    const { interactionId, correlationId } = sent.packetId;
    const liked = await connection.feedback.like({ interactionId, correlationId });
    emit('feedback', { feedback: { ...liked } });
    const disliked = await connection.feedback.dislike({ interactionId, correlationId, types: ['REPETITION'], comment: 'again?' });
    emit('feedback', { feedback: { ...disliked } });
    await connection.feedback.undo(liked.name);
    emit('undone', { name: liked.name });
    await close(connection);
  },
  async speak() {
    const connection = makeClient({ capabilities: { audio: true, phonemes: true, silence: true } }).build();
    await hello(connection);
    await new Promise((r) => setTimeout(r, 1500)); // the queued chunks play (10 ms each here)
    await close(connection);
  },
  async listen() {
    await listen(makeClient().build(), { MicrophoneMode, UnderstandingMode });
  },
  async rawpcm() {
    // the audio stub itself: raw PCM, as a server without WAV headers would send, must not play
    try {
      await new AudioContext().decodeAudioData(new Uint8Array(3200).buffer);
      emit('played-raw');
    } catch (e) {
      emit('refused', { name: e.name, message: e.message });
    }
  },
  async scene() {
    const connection = makeClient().build();
    const found = await characters(connection);
    for (const character of found) {
      await connection.setCurrentCharacter(character);
      await exchange(() => connection.sendText(`Hello ${character.displayName}, who are you?`));
    }
    await close(connection);
  },
});
