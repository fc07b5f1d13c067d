'use strict';
// A small client of the session stream (the web SDK's protocol): GET /v1/session/open as a
// WebSocket, the token offered as the subprotocols ["Bearer", token], bare packets out,
// {"result": packet} or {"error": status} frames in.
(function () {
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  const PLAYER = { type: 'PLAYER' };
  const WORLD = { type: 'WORLD' };

  class PlaySession {
    // token: {token, sessionId}; scene: a character or scene resource name;
    // onPacket(packet) for every result packet; onError(message) when the server ends it.
    constructor({ token, scene, user, onPacket, onError }) {
      this.token = token;
      this.scene = scene;
      this.user = user;
      this.onPacket = onPacket;
      this.onError = onError;
      this.agents = [];
      this.conversationId = null;
      this.waiting = [];
    }

    open() {
      const proto = location.protocol === 'https:' ? 'wss' : 'ws';
      const url = `${proto}://${location.host}/v1/session/open?session_id=${encodeURIComponent(this.token.sessionId)}`;
      this.socket = new WebSocket(url, ['Bearer', this.token.token]);
      this.socket.onmessage = (e) => this._frame(JSON.parse(e.data));
      this.socket.onclose = () => this._settle(null, new Error('the server closed the session stream'));
      return new Promise((resolve, reject) => {
        this.socket.onopen = () => {
          this.send({
            routing: { source: PLAYER, target: WORLD },
            control: {
              action: 'SESSION_CONFIGURATION',
              sessionConfiguration: {
                capabilitiesConfiguration: { audio: false, emotions: true, narratedActions: true, multiAgent: true },
                clientConfiguration: { id: 'anima-studio', version: '1' },
                userConfiguration: this.user,
              },
            },
          });
          this.send({ routing: { source: PLAYER, target: WORLD }, mutation: { loadScene: { name: this.scene } } },
            { interactionId: uuid() });
        };
        this._expect((p) => p.control && p.control.action === 'CURRENT_SCENE_STATUS', resolve, reject);
      }).then((status) => {
        this.agents = status.control.currentSceneStatus.agents || [];
        const cid = uuid();
        const participants = this.agents.map((a) => ({ name: a.agentId, type: 'AGENT' }));
        this.send({
          control: { action: 'CONVERSATION_UPDATE', conversationUpdate: { participants: [...participants, PLAYER] } },
        }, { conversationId: cid });
        this.conversationId = cid;
        return status;
      });
    }

    send(payload, ids = {}) {
      const packet = { packetId: { packetId: uuid(), ...ids }, timestamp: new Date().toISOString(), ...payload };
      this.socket.send(JSON.stringify(packet));
      return packet;
    }

    _turn(payload) {
      const interactionId = uuid();
      this.send(payload, { interactionId, utteranceId: uuid(), conversationId: this.conversationId });
      return interactionId;
    }

    say(text) {
      return this._turn({ routing: { source: PLAYER }, text: { sourceType: 'TYPED_IN', text, final: true } });
    }

    act(content) {
      return this._turn({ routing: { source: PLAYER }, action: { narratedAction: { content } } });
    }

    trigger(name, parameters, agentId) {
      return this._turn({
        routing: { source: PLAYER, target: { type: 'AGENT', name: agentId } },
        custom: { name, type: 'TRIGGER', parameters },
      });
    }

    cancel(interactionId) {
      this.send({ routing: { source: PLAYER, target: WORLD }, mutation: { cancelResponses: { interactionId } } });
    }

    close() {
      if (this.socket && this.socket.readyState <= 1) this.socket.close(1000);
    }

    _expect(test, resolve, reject) {
      this.waiting.push({ test, resolve, reject });
    }

    _settle(packet, error) {
      const waiting = this.waiting;
      this.waiting = [];
      for (const w of waiting) {
        if (error) w.reject(error);
        else if (w.test(packet)) w.resolve(packet);
        else this.waiting.push(w);
      }
    }

    _frame(frame) {
      if (frame.error) {
        const message = frame.error.message || 'the session stream failed';
        this._settle(null, new Error(message));
        this.onError(message);
        return;
      }
      const packet = frame.result;
      if (!packet) return;
      this._settle(packet, null);
      this.onPacket(packet);
    }
  }

  window.AnimaPlay = { PlaySession, uuid };
})();
