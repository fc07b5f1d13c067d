// What node_client.js and web_client.mjs share: the options read from the environment, the
// JSON-lines output, INTERACTION_END tracking, the steps every scenario is made of, and the
// scenarios whose steps are the same for both SDKs. Each harness brings its own makeClient.
'use strict';

const fs = require('fs');
const readline = require('readline');
const summarize = require('./summarize.cjs');

const options = {
  scenario: process.argv[2] || 'hello',
  scene: process.env.ANIMA_SCENE || 'workspaces/test-ws/characters/alice',
  text: process.env.ANIMA_TEXT || 'Hello',
  text2: process.env.ANIMA_TEXT2 || 'Do you remember me?',
  triggerName: process.env.ANIMA_TRIGGER || 'greet',
  timeoutMs: Number(process.env.ANIMA_TIMEOUT_MS || 20000),
};

function emit(event, data = {}) {
  process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
}
function fatal(error) {
  emit('fatal', { message: String(error?.message ?? error), code: error?.code, details: error?.details });
  process.exit(1);
}
setTimeout(() => fatal(new Error(`timed out after ${options.timeoutMs} ms`)), options.timeoutMs).unref();

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
// The first final transcript of the player's speech (a PLAYER text packet, SPEECH_TO_TEXT).
let firstHeard;
const heard = new Promise((resolve) => { firstHeard = resolve; });

// The SDK callbacks every client gets.
function onError(e) {
  emit('error', { code: e.code, message: e.message, details: e.details });
  firstError(e);
}
function onMessage(packet) {
  emit('packet', { packet: summarize(packet) });
  if (packet.isInteractionEnd()) end(packet.packetId.interactionId).resolve(packet);
  if (packet.isSpeechRecognitionResult?.() && packet.text.final) firstHeard(packet);
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
  return found;
}

async function hello(connection) {
  await characters(connection);
  return exchange(() => connection.sendText(options.text));
}

async function close(connection) {
  // sendText() resolves through a 10 ms poll; closing at once would leave it pending (spec §6).
  await new Promise((r) => setTimeout(r, 100));
  connection.close();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The player speaks through the SDK's own audio calls: sendAudioSessionStart (push-to-talk, or
// OPEN_MIC when ANIMA_MIC_MODE says so; SPEECH_RECOGNITION_ONLY when ANIMA_UNDERSTANDING says
// so), the microphone's audio from ANIMA_AUDIO_FILE (raw 16-bit little-endian mono PCM at
// 16 kHz) as base64 chunks of 200 ms with sendAudio, at the pace a microphone makes them, and
// sendAudioSessionEnd: at once with push-to-talk, after the transcript with an open mic (the
// server finds the end of the utterance). Waits for the final transcript and the
// INTERACTION_END of its interaction. `modes` are the SDK's own MicrophoneMode and
// UnderstandingMode enums.
async function listen(connection, { MicrophoneMode, UnderstandingMode }) {
  const pcm = fs.readFileSync(process.env.ANIMA_AUDIO_FILE);
  const chunkBytes = 16000 * 2 / 5;
  await characters(connection);
  const openMic = process.env.ANIMA_MIC_MODE === 'OPEN_MIC';
  const mode = openMic ? MicrophoneMode.OPEN_MIC : MicrophoneMode.EXPECT_AUDIO_END;
  const understandingMode = process.env.ANIMA_UNDERSTANDING === 'SPEECH_RECOGNITION_ONLY'
    ? UnderstandingMode.SPEECH_RECOGNITION_ONLY : UnderstandingMode.FULL;
  const start = await connection.sendAudioSessionStart({ mode, understandingMode });
  emit('sent', { packet: summarize(start) });
  let chunks = 0;
  for (let at = 0; at < pcm.length; at += chunkBytes) {
    await connection.sendAudio(pcm.subarray(at, at + chunkBytes).toString('base64'));
    chunks += 1;
    await sleep(200);
  }
  emit('spoke', { chunks, bytes: pcm.length });
  const stop = async () => emit('sent', { packet: summarize(await connection.sendAudioSessionEnd()) });
  if (!openMic) await stop();
  const transcript = await heard;
  if (openMic) await stop();
  await ended(transcript.packetId.interactionId);
  await close(connection);
}

function waitForLine() {
  return new Promise((resolve) => {
    const lines = readline.createInterface({ input: process.stdin });
    lines.once('line', (line) => { lines.close(); resolve(line); });
  });
}

// Scenarios whose steps are the same with both SDKs (see each harness's header).
function sharedScenarios(makeClient) {
  return {
    async build() {
      makeClient().build();
    },
    async hello() {
      const connection = makeClient().build();
      await hello(connection);
      await close(connection);
    },
    async interrupt() {
      const connection = makeClient({ capabilities: { interruptions: true } }).build();
      await characters(connection);
      const sent = await connection.sendText(options.text);
      emit('sent', { packet: summarize(sent) });
      // The app cancels what the character is still generating for that interaction.
      const { interactionId, utteranceId } = sent.packetId;
      const cancel = await connection.sendCancelResponse({ interactionId, utteranceId: [utteranceId] });
      emit('cancelled', { packet: summarize(cancel), interactionId });
      await ended(interactionId);
      await exchange(() => connection.sendText(options.text2));
      await close(connection);
    },
    async reconnect() {
      const connection = makeClient().build();
      await hello(connection);
      emit('waiting');
      await waitForLine();
      await exchange(() => connection.sendText(options.text2));
      await close(connection);
    },
    async error() {
      const connection = makeClient().build();
      connection.getCharacters().catch(() => {});
      await errored;
      connection.close();
    },
  };
}

// Run the scenario named on the command line; "done" last, or "fatal".
function run(scenarios) {
  (async () => {
    const scenario = scenarios[options.scenario];
    if (!scenario) throw new Error(`unknown scenario '${options.scenario}'`);
    await scenario();
    emit('done');
  })().then(() => process.exit(0), fatal);
}

module.exports = {
  options, emit, summarize, onError, onMessage, exchange, characters, hello, close, sharedScenarios, run,
  waitForLine, listen,
};
