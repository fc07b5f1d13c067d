// Drives the unmodified @inworld/nodejs-sdk 1.17.0 against an Anima gRPC face (spec §6.1).
//
// usage: node node_client.js <scenario>
//   scenarios: build  (construct the client only, no network)
//              token  (GenerateToken: prints the session token)
//              hello  (getCharacters, sendText, wait for INTERACTION_END, close)
// env: ANIMA_GRPC_HOST (default localhost:50051), ANIMA_KEY, ANIMA_SECRET,
//      ANIMA_SCENE (default workspaces/test-ws/characters/alice), ANIMA_TEXT (default Hello),
//      ANIMA_TIMEOUT_MS (default 20000)
// Output: one JSON object per line, {"event": ...}; the last one is "done" (exit 0) or "fatal" (exit 1).
'use strict';

// Read once when the SDK is first required: set before requiring it.
process.env.NODE_SDK_INWORLD_ENGINE_HOST = process.env.ANIMA_GRPC_HOST || 'localhost:50051';
process.env.NODE_SDK_INWORLD_ENGINE_SSL = 'false';

const { InworldClient } = require('@inworld/nodejs-sdk');
const summarize = require('./summarize.cjs');

const scenario = process.argv[2] || 'hello';
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

let connection;
let finish;
const ended = new Promise((resolve) => { finish = resolve; });

const client = new InworldClient()
  .setApiKey({ key: process.env.ANIMA_KEY || 'test-key', secret: process.env.ANIMA_SECRET || 'test-secret' })
  .setScene(scene)
  .setUser({ fullName: 'Bob' })
  .setConfiguration({ capabilities: { audio: true, emotions: true, phonemes: true } })
  .setOnError((e) => emit('error', { code: e.code, message: e.message, details: e.details }))
  .setOnDisconnect(() => emit('disconnect'))
  .setOnMessage((packet) => {
    emit('packet', { packet: summarize(packet) });
    if (packet.isInteractionEnd()) finish();
  });

(async () => {
  if (scenario === 'build') {
    client.build();
    emit('done');
    return;
  }
  if (scenario === 'token') {
    const token = await client.generateSessionToken();
    emit('token', { token: token.token, type: token.type, sessionId: token.sessionId,
      expirationTime: token.expirationTime?.toISOString?.() ?? token.expirationTime });
    emit('done');
    return;
  }
  if (scenario === 'hello') {
    connection = client.build();
    const characters = await connection.getCharacters();
    emit('characters', { characters: characters.map((c) => ({ id: c.id, resourceName: c.resourceName, displayName: c.displayName })) });
    const sent = await connection.sendText(text);
    emit('sent', { packet: summarize(sent) });
    await ended;
    await new Promise((r) => setTimeout(r, 100));
    connection.close();
    emit('done');
    return;
  }
  throw new Error(`unknown scenario '${scenario}'`);
})().then(() => process.exit(0), fatal);
