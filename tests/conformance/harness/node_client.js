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
//   listen     capability audio off: the player speaks with sendAudioSessionStart
//              (EXPECT_AUDIO_END, or OPEN_MIC with ANIMA_MIC_MODE; SPEECH_RECOGNITION_ONLY with
//              ANIMA_UNDERSTANDING), sendAudio with 200 ms base64 chunks of ANIMA_AUDIO_FILE (raw
//              16 kHz mono 16-bit PCM) at a microphone's pace, sendAudioSessionEnd; waits for the
//              final transcript and its INTERACTION_END
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

const { InworldClient, MicrophoneMode, UnderstandingMode } = require('@inworld/nodejs-sdk');
const {
  options, emit, onError, onMessage, exchange, hello, close, sharedScenarios, run, listen,
} = require('./common.cjs');

function makeClient({ capabilities = {}, continuation } = {}) {
  const client = new InworldClient()
    .setApiKey({ key: process.env.ANIMA_KEY || 'test-key', secret: process.env.ANIMA_SECRET || 'test-secret' })
    .setScene(options.scene)
    .setUser({ fullName: 'Bob' })
    .setConfiguration({ capabilities: { audio: true, emotions: true, phonemes: true, ...capabilities } })
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

run({
  ...sharedScenarios(makeClient),
  async token() {
    const token = await makeClient().generateSessionToken();
    emit('token', { token: token.token, type: token.type, sessionId: token.sessionId,
      expirationTime: token.expirationTime?.toISOString?.() ?? token.expirationTime });
  },
  async converse() {
    const connection = makeClient({ capabilities: { narratedActions: true } }).build();
    await hello(connection);
    await exchange(() => connection.sendTrigger(options.triggerName, { parameters: [{ name: 'k', value: 'v' }] }));
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
    await exchange(() => second.sendText(options.text2));
    await close(second);
  },
  async listen() {
    const connection = makeClient({ capabilities: { audio: false, phonemes: false } }).build();
    await listen(connection, { MicrophoneMode, UnderstandingMode });
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
});
