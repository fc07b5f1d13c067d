// Drives the unmodified @inworld/nodejs-sdk 1.17.0 against an Anima gRPC face (spec §6.1).
//
// usage: node node_client.js <scenario>
//   build      construct the client only, no network
//   token      GenerateToken: prints the session token
//   hello      getCharacters, sendText, wait for INTERACTION_END, close
//   converse   hello, then a trigger (ANIMA_TRIGGER, parameter k=v) and a narrated action
//   state      hello, getSessionState, close; a new client continues from that state
//              (setSessionContinuation({previousState})) and sends ANIMA_TEXT2
//   interrupt  capability interruptions: sendText(ANIMA_TEXT) and at once sendCancelResponse
//              for it; wait for its INTERACTION_END, then sendText(ANIMA_TEXT2)
//   reconnect  hello, print {"event":"waiting"}, wait for a line on stdin (the test restarts
//              the server meanwhile), then sendText(ANIMA_TEXT2) on the same client
//   feedback   hello, then feedback.like on the interaction and feedback.undo
//   error      getCharacters and wait for the first onError (wrong secret, unknown scene...)
// env: ANIMA_GRPC_HOST (default localhost:50051), ANIMA_GRPC_SSL (true: TLS; trust a
//      self-signed certificate with GRPC_DEFAULT_SSL_ROOTS_FILE_PATH), ANIMA_KEY, ANIMA_SECRET,
//      ANIMA_SCENE (default workspaces/test-ws/characters/alice), ANIMA_TEXT (default Hello),
//      ANIMA_TEXT2 (default "Do you remember me?"), ANIMA_TRIGGER (default greet),
//      ANIMA_TIMEOUT_MS (default 20000)
// Output: one JSON object per line, {"event": ...}; the last one is "done" (exit 0) or "fatal" (exit 1).
// Events: session {sessionId} (from the SDK's setOnSession storage hook), characters, sent {packet},
// packet {packet}, error {code, message, details}, disconnect, and per scenario token / state /
// feedback / waiting.
'use strict';

// Read once when the SDK is first required: set before requiring it.
process.env.NODE_SDK_INWORLD_ENGINE_HOST = process.env.ANIMA_GRPC_HOST || 'localhost:50051';
process.env.NODE_SDK_INWORLD_ENGINE_SSL = process.env.ANIMA_GRPC_SSL === 'true' ? 'true' : 'false';

const readline = require('readline');
const { InworldClient } = require('@inworld/nodejs-sdk');
const summarize = require('./summarize.cjs');

const scenario = process.argv[2] || 'hello';
const scene = process.env.ANIMA_SCENE || 'workspaces/test-ws/characters/alice';
const text = process.env.ANIMA_TEXT || 'Hello';
const text2 = process.env.ANIMA_TEXT2 || 'Do you remember me?';
const triggerName = process.env.ANIMA_TRIGGER || 'greet';
const timeoutMs = Number(process.env.ANIMA_TIMEOUT_MS || 20000);

function emit(event, data = {}) {
  process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
}
function fatal(error) {
  emit('fatal', { message: String(error?.message ?? error), code: error?.code, details: error?.details });
  process.exit(1);
}
setTimeout(() => fatal(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs).unref();

// INTERACTION_END per interaction id, and the first onError, as promises.
const ends = new Map();
function end(interactionId) {
  if (!ends.has(interactionId)) {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    ends.set(interactionId, { promise, resolve });
  }
  return ends.get(interactionId);
}
const ended = (interactionId) => end(interactionId).promise;
let firstError;
const errored = new Promise((resolve) => { firstError = resolve; });

function makeClient({ capabilities = {}, continuation, onMessage } = {}) {
  const client = new InworldClient()
    .setApiKey({ key: process.env.ANIMA_KEY || 'test-key', secret: process.env.ANIMA_SECRET || 'test-secret' })
    .setScene(scene)
    .setUser({ fullName: 'Bob' })
    .setConfiguration({ capabilities: { audio: true, emotions: true, phonemes: true, ...capabilities } })
    .setOnSession({
      get: () => undefined,
      set: ({ sessionToken }) => emit('session', { sessionId: sessionToken.sessionId }),
    })
    .setOnError((e) => {
      emit('error', { code: e.code, message: e.message, details: e.details });
      firstError(e);
    })
    .setOnDisconnect(() => emit('disconnect'))
    .setOnMessage((packet) => {
      emit('packet', { packet: summarize(packet) });
      if (onMessage) onMessage(packet);
      if (packet.isInteractionEnd()) end(packet.packetId.interactionId).resolve(packet);
    });
  if (continuation) client.setSessionContinuation(continuation);
  return client;
}

// Send with `send()`, report the sent packet, wait for its INTERACTION_END.
async function exchange(send) {
  const sent = await send();
  emit('sent', { packet: summarize(sent) });
  await ended(sent.packetId.interactionId);
  return sent;
}

async function characters(connection) {
  const found = await connection.getCharacters();
  emit('characters', { characters: found.map((c) => ({ id: c.id, resourceName: c.resourceName, displayName: c.displayName })) });
}

async function hello(connection) {
  await characters(connection);
  return exchange(() => connection.sendText(text));
}

async function close(connection) {
  // sendText() resolves through a 10 ms poll; closing at once would leave it pending (spec §6.1).
  await new Promise((r) => setTimeout(r, 100));
  connection.close();
}

function waitForLine() {
  return new Promise((resolve) => {
    const lines = readline.createInterface({ input: process.stdin });
    lines.once('line', (line) => { lines.close(); resolve(line); });
  });
}

const scenarios = {
  async build() {
    makeClient().build();
  },
  async token() {
    const token = await makeClient().generateSessionToken();
    emit('token', { token: token.token, type: token.type, sessionId: token.sessionId,
      expirationTime: token.expirationTime?.toISOString?.() ?? token.expirationTime });
  },
  async hello() {
    const connection = makeClient().build();
    await hello(connection);
    await close(connection);
  },
  async converse() {
    const connection = makeClient({ capabilities: { narratedActions: true } }).build();
    await hello(connection);
    await exchange(() => connection.sendTrigger(triggerName, { parameters: [{ name: 'k', value: 'v' }] }));
    await exchange(() => connection.sendNarratedAction('waves and smiles'));
    await close(connection);
  },
  async state() {
    const first = makeClient().build();
    await hello(first);
    const state = await first.getSessionState();
    emit('state', { state: state?.state, creationTime: state?.creationTime, version: state?.version });
    await close(first);
    const second = makeClient({ continuation: { previousState: state.state } }).build();
    await exchange(() => second.sendText(text2));
    await close(second);
  },
  async interrupt() {
    const connection = makeClient({ capabilities: { interruptions: true } }).build();
    await characters(connection);
    const sent = await connection.sendText(text);
    emit('sent', { packet: summarize(sent) });
    // node leaves barge-in to the app: it cancels what the character is still generating.
    const { interactionId, utteranceId } = sent.packetId;
    const cancel = await connection.sendCancelResponse({ interactionId, utteranceId: [utteranceId] });
    emit('cancelled', { packet: summarize(cancel), interactionId });
    await ended(interactionId);
    await exchange(() => connection.sendText(text2));
    await close(connection);
  },
  async reconnect() {
    const connection = makeClient().build();
    await hello(connection);
    emit('waiting');
    await waitForLine();
    await exchange(() => connection.sendText(text2));
    await close(connection);
  },
  async feedback() {
    const connection = makeClient().build();
    const sent = await hello(connection);
    const { interactionId, correlationId } = sent.packetId;
    const liked = await connection.feedback.like({ interactionId, correlationId });
    emit('feedback', { feedback: liked });
    await connection.feedback.undo(liked.name);
    emit('undone', { name: liked.name });
    await close(connection);
  },
  async error() {
    const connection = makeClient().build();
    connection.getCharacters().catch(() => {});
    await errored;
    connection.close();
  },
};

(async () => {
  const run = scenarios[scenario];
  if (!run) throw new Error(`unknown scenario '${scenario}'`);
  await run();
  emit('done');
})().then(() => process.exit(0), fatal);
