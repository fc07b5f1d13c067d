// Drives the unmodified @inworld/nodejs-sdk 0.9.4 (npm alias inworld-sdk-0-9) against Anima:
// the older protocol, GenerateSessionToken at the studio host, then LoadScene and Session at
// the engine host. It is the SDK the platform's REST proxy pins (0.9.2 is no longer on npm).
//
// usage: node node_0_9_client.js <scenario>
//   build      construct the client only, no network
//   token      GenerateSessionToken: prints the session token
//   hello      getCharacters, sendText, wait for INTERACTION_END, close
//   converse   hello, then sendCustom(ANIMA_TRIGGER) (a trigger by name)
//   reconnect  hello, print {"event":"waiting"}, wait for a line on stdin (the test restarts
//              the server meanwhile), then sendText(ANIMA_TEXT2) on the same client
//   error      getCharacters and wait for the first onError (wrong secret, unknown scene...)
// env: as node_client.js (ANIMA_GRPC_HOST is both NODE_SDK_INWORLD_STUDIO_HOST and
//      NODE_SDK_INWORLD_ENGINE_HOST, plaintext).
// Events: as node_client.js; "session" {sessionId} is read from the connection after the
// first exchange (0.9.x has no session storage hook).
'use strict';

// Read once when the SDK is first required: set before requiring it.
const host = process.env.ANIMA_GRPC_HOST || 'localhost:50051';
process.env.NODE_SDK_INWORLD_STUDIO_HOST = host;
process.env.NODE_SDK_INWORLD_ENGINE_HOST = host;
process.env.NODE_SDK_INWORLD_STUDIO_SSL = 'false';
process.env.NODE_SDK_INWORLD_ENGINE_SSL = 'false';

const { InworldClient } = require('inworld-sdk-0-9');
const {
  options, emit, onError, onMessage, exchange, hello, close, sharedScenarios, run, waitForLine,
} = require('./common.cjs');

function makeClient({ emotions = true } = {}) {
  return new InworldClient()
    .setApiKey({ key: process.env.ANIMA_KEY || 'test-key', secret: process.env.ANIMA_SECRET || 'test-secret' })
    .setScene(options.scene)
    .setUser({ fullName: 'Bob' })
    .setConfiguration({ capabilities: { audio: false, emotions } })
    .setOnError(onError)
    .setOnDisconnect(() => emit('disconnect'))
    .setOnMessage(onMessage);
}

function reportSession(connection) {
  // Test observation only: the token the SDK keeps on its (internal) connection.
  emit('session', { sessionId: connection.connection.session.getSessionId() });
}

const shared = sharedScenarios(makeClient);

run({
  build: shared.build,
  error: shared.error,
  async token() {
    const token = await makeClient().generateSessionToken();
    emit('token', { token: token.getToken(), type: token.getType(), sessionId: token.getSessionId(),
      expirationTime: token.getExpirationTime().toDate().toISOString() });
  },
  async hello() {
    const connection = makeClient().build();
    await hello(connection);
    reportSession(connection);
    await close(connection);
  },
  async converse() {
    const connection = makeClient().build();
    await hello(connection);
    reportSession(connection);
    await exchange(() => connection.sendCustom(options.triggerName));
    await close(connection);
  },
  async reconnect() {
    const connection = makeClient().build();
    await hello(connection);
    reportSession(connection);
    emit('waiting');
    await waitForLine();
    await exchange(() => connection.sendText(options.text2));
    await close(connection);
  },
});
