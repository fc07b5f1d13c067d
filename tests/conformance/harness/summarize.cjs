// Turns an SDK packet (either SDK) into plain JSON for pytest: no proto objects, audio as a length.
'use strict';

const KEYS = [
  'text', 'control', 'emotion', 'emotions', 'trigger', 'task', 'silence',
  'narratedAction', 'cancelResponses', 'log', 'sceneMutation', 'custom',
];

function plain(value) {
  return JSON.parse(JSON.stringify(value ?? null, (key, v) => (key === 'proto' ? undefined : v)));
}

module.exports = function summarize(packet) {
  const out = {
    type: packet.type,
    packetId: plain(packet.packetId),
    routing: plain(packet.routing),
    date: packet.date,
    isInteractionEnd: typeof packet.isInteractionEnd === 'function' ? packet.isInteractionEnd() : false,
  };
  for (const key of KEYS) {
    if (packet[key] !== undefined) out[key] = plain(packet[key]);
  }
  if (packet.audio !== undefined) {
    const { chunk, ...rest } = packet.audio;
    out.audio = {
      ...plain(rest),
      chunkLength: typeof chunk === 'string' ? chunk.length : (chunk?.length ?? 0),
      chunkHead: typeof chunk === 'string' ? chunk.slice(0, 16) : null, // base64: "UklGR" is RIFF
    };
  }
  return out;
};
