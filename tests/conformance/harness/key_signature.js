// The node SDK's own IW1-HMAC-SHA256 signer, for comparing with anima.domain.tokens.
// usage: node key_signature.js '<json>'
//   {"vectors": [{"secret", "dateTime", "host", "nonce"}], "header": {"host", "key", "secret"}}
// prints {"signatures": ["<hex>", ...], "header": "IW1-HMAC-SHA256 ApiKey=...,Signature=..."}
'use strict';

const { KeySignature } = require('@inworld/nodejs-sdk/build/src/auth/key_signature');
const { WorldEngineService } = require('@inworld/nodejs-sdk/proto/ai/inworld/engine/world-engine_grpc_pb');

const request = JSON.parse(process.argv[2] || '{}');
const method = WorldEngineService.generateToken.path.substring(1);
const out = {
  method,
  signatures: (request.vectors || []).map((v) =>
    KeySignature.getSignatureKey(v.secret, [v.dateTime, v.host.replace(':443', ''), method, v.nonce]),
  ),
};
if (request.header) {
  const { host, key, secret } = request.header;
  // Exactly what the SDK puts in the `authorization` metadata of GenerateToken.
  out.header = KeySignature.getAuthorization({ host, apiKey: { key, secret } });
}
process.stdout.write(JSON.stringify(out) + '\n');
