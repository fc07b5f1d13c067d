// Drives the unmodified @inworld/nodejs-sdk 1.11.0 (npm alias inworld-sdk-1-11) against Anima:
// the older protocol as SDKs 1.5 to 1.11 speak it, GenerateToken, then LoadScene and Session.
//
// usage: node node_1_11_client.js <scenario>
//   build      construct the client only, no network
//   token      GenerateToken: prints the session token
//   hello      getCharacters, sendText, wait for INTERACTION_END, close
//   converse   hello, then a trigger (ANIMA_TRIGGER, parameter k=v) and a narrated action
//   state      hello, getSessionState, close; a new client continues from that state
//              (setSessionContinuation({previousState}), sent in LoadScene) and sends ANIMA_TEXT2
//   reconnect  hello, print {"event":"waiting"}, wait for a line on stdin (the test restarts
//              the server meanwhile), then sendText(ANIMA_TEXT2) on the same client
//   error      getCharacters and wait for the first onError (wrong secret, unknown scene...)
// env and events: as node_client.js.
'use strict';

// Read once when the SDK is first required: set before requiring it.
process.env.NODE_SDK_INWORLD_ENGINE_HOST = process.env.ANIMA_GRPC_HOST || 'localhost:50051';
process.env.NODE_SDK_INWORLD_ENGINE_SSL = 'false';

const { InworldClient } = require('inworld-sdk-1-11');
const {
  options, emit, onError, onMessage, exchange, hello, close, sharedScenarios, run,
} = require('./common.cjs');

function makeClient({ capabilities = {}, continuation } = {}) {
  const client = new InworldClient()
    .setApiKey({ key: process.env.ANIMA_KEY || 'test-key', secret: process.env.ANIMA_SECRET || 'test-secret' })
    .setScene(options.scene)
    .setUser({ fullName: 'Bob' })
    .setConfiguration({ capabilities: { audio: false, emotions: true, ...capabilities } })
    .setOnSession({
      get: () => undefined,
      set: ({ sessionToken }) => emit('session', { sessionId: sessionToken.sessionId }),
    })
    .setOnError(onError)
    .setOnDisconnect(() => emit('disconnect'))
    .setOnMessage(onMessage);
  if (continuation) client.setSessionContinuation(continuation);
  return client;
}

const shared = sharedScenarios(makeClient);

run({
  build: shared.build,
  hello: shared.hello,
  reconnect: shared.reconnect,
  error: shared.error,
  async token() {
    const token = await makeClient().generateSessionToken();
    emit('token', { token: token.token, type: token.type, sessionId: token.sessionId,
      expirationTime: token.expirationTime?.toISOString?.() ?? token.expirationTime });
  },
  async converse() {
    const connection = makeClient({ capabilities: { narratedActions: true } }).build();
    await hello(connection);
    await exchange(() => connection.sendTrigger(options.triggerName, [{ name: 'k', value: 'v' }]));
    await exchange(() => connection.sendNarratedAction('waves and smiles'));
    await close(connection);
  },
  async state() {
    const first = makeClient().build();
    await hello(first);
    const state = await first.getSessionState();
    emit('state', { state: state?.state, creationTime: state?.creationTime });
    await close(first);
    const second = makeClient({ continuation: { previousState: state.state } }).build();
    await exchange(() => second.sendText(options.text2));
    await close(second);
  },
});
