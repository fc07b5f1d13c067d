"""Settings: one pydantic-settings class, built once at start-up and passed down.

Every field can be set from an ``ANIMA_<FIELD>`` environment variable (``ANIMA_PORT``,
``ANIMA_DATA_DIR``, ``ANIMA_DATABASE_URL``...) or, for the CLI, from a flag. Precedence:
flag, then environment variable, then ``.env`` file in the working directory, then default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANIMA_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # -- server ---------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Interface the HTTP/WebSocket server binds.")
    port: int = Field(8000, ge=0, le=65535, description="Port of the HTTP/WebSocket server.")
    grpc_port: int = Field(
        50051, ge=0, le=65535, description="Port of the gRPC face; 0 turns it off."
    )
    workers: int = Field(1, ge=1, le=64, description="Worker processes for `anima serve`.")
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate: serve TLS when set with the key."
    )
    tls_key_file: Path | None = Field(None, description="PEM private key for tls_cert_file.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    max_body_bytes: int = Field(
        1 << 20, ge=1024, description="Largest accepted request body (bytes)."
    )
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])

    # -- store ----------------------------------------------------------------
    data_dir: Path = Field(
        Path(".anima"), description="Where the SQLite file and derived data live."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite under data_dir. "
        "Use postgresql+asyncpg://user:pass@host/db for PostgreSQL.",
    )
    database_schema: str | None = Field(
        None, description="PostgreSQL only: the schema (search_path) holding Anima's tables."
    )
    database_pool_size: int = Field(10, ge=1, le=500)

    # -- sessions -------------------------------------------------------------
    session_ttl_seconds: int = Field(
        1800, ge=1, description="Idle time after which a session expires."
    )
    max_text_chars: int = Field(4000, ge=1)
    token_ttl_seconds: int = Field(3600, ge=1, description="Lifetime of streaming session tokens.")
    stream_ping_seconds: float = Field(
        30.0, ge=0, description="Interval of server PINGs on streaming sessions; 0 = none."
    )
    signature_max_skew_seconds: int = Field(
        300, ge=1, description="How far an IW1-HMAC-SHA256 request's DateTime may be from now."
    )
    signature_hosts: list[str] = Field(
        default_factory=list,
        description="Extra host[:port] strings clients may sign IW1-HMAC-SHA256 requests for "
        "(the request's Host and localhost/127.0.0.1 with the server's ports are always accepted).",
    )
    sealing_key_file: Path | None = Field(
        None,
        description="File with the 32-byte key sealing the HMAC copy of API secrets (default "
        "<data_dir>/sealing.key, created on first use); share it between hosts of one database.",
    )

    # -- language model -------------------------------------------------------
    llm_backend: str = Field(
        "embedded", description="embedded | openai | scripted, or a 'module:Class' import string."
    )
    llm_model: str = Field(
        "qwen2.5-0.5b-instruct",
        description="Bundled model of the embedded backend: qwen2.5-0.5b-instruct | "
        "smollm2-135m-instruct | gemma3-270m "
        "(ignored when llm_model_path is set).",
    )
    llm_model_path: Path | None = Field(None, description="GGUF file for the embedded backend.")
    llm_model_sha256: str | None = Field(None, description="Expected sha256 of llm_model_path.")
    llm_prompt_format: Literal["auto", "chat", "completion"] = "auto"
    llm_context_tokens: int = Field(4096, ge=256)
    llm_threads: int | None = Field(None, ge=1)
    llm_max_tokens: int = Field(160, ge=1)
    llm_temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="Sampling temperature; default: the model's tuned value."
    )
    llm_top_p: float | None = Field(None, gt=0.0, le=1.0, description="Nucleus sampling cut-off.")
    llm_min_p: float | None = Field(None, ge=0.0, lt=1.0, description="Min-p sampling cut-off.")
    llm_repeat_penalty: float | None = Field(
        None, ge=1.0, le=2.0, description="Penalty on repeated tokens (1 = none)."
    )
    llm_timeout_seconds: float = Field(60.0, gt=0)
    llm_seed: int | None = None
    llm_state_cache_bytes: int = Field(
        256 << 20,
        ge=0,
        description="Memory for saved states of the embedded model (each deployed character's "
        "persona, new sessions' openings, recent conversations); 0 turns the cache off.",
    )
    llm_state_cache_disk_bytes: int = Field(
        1 << 30,
        ge=0,
        description="Disk for saved persona states, under data_dir/model-states.",
    )
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_api_key: str = "not-needed"
    openai_model: str = "default"
    openai_api: Literal["chat", "completions"] = "chat"

    # -- embeddings -----------------------------------------------------------
    embed_backend: str = Field(
        "minilm", description="minilm | hashing, or a 'module:Class' string."
    )

    # -- knowledge and memory -------------------------------------------------
    knowledge_top_k: int = Field(5, ge=0, le=50, description="Facts put in a turn's prompt.")
    knowledge_min_score: float = Field(
        0.4, ge=-1, le=1, description="Cosine similarity a fact needs to be retrieved."
    )
    memory_enabled: bool = Field(
        True, description="Long-term memory of each player (endUserId), across sessions."
    )
    memory_top_k: int = Field(3, ge=0, le=50, description="Memories put in a turn's prompt.")
    memory_min_score: float = Field(
        0.4, ge=-1, le=1, description="Cosine similarity a memory needs to be recalled."
    )

    # -- REST proxy (the platform's Node.js RESTful proxy, served natively) ---------
    proxy_port: int = Field(
        0, ge=0, le=65535, description="Port of the REST proxy routes; 0 (default) = off."
    )
    proxy_host: str = Field(
        "127.0.0.1", description="Interface the REST proxy binds (it has no auth of its own)."
    )
    proxy_token: str | None = Field(
        None, description="When set, every REST proxy request needs 'Authorization: Bearer <it>'."
    )
    proxy_workspace: str | None = Field(
        None,
        description="Workspace of the proxy's sessions: a sceneId may then be a short scene or "
        "character id, and scenes of other workspaces are refused (default: any workspace).",
    )
    proxy_key: str | None = Field(
        None,
        description="API key the proxy opens sessions with (the proxy's INWORLD_KEY): its "
        "workspace only, refused once revoked. Default: no key needed.",
    )
    proxy_secret: str | None = Field(None, description="Secret of proxy_key (INWORLD_SECRET).")
    proxy_scene: str | None = Field(
        None, description="Default scene, checked once at start-up (the proxy's INWORLD_SCENE)."
    )
    proxy_emotions: bool = Field(False, description="Queue emotion events (the proxy's EMOTIONS).")
    proxy_queue_limit: int = Field(
        10000, ge=1, description="Most events the proxy keeps queued; the oldest are dropped."
    )

    # -- speech out (TTS) ------------------------------------------------------
    tts_backend: str = Field(
        "hibari",
        description="hibari | espeak | openai | piper | off, or a 'module:Class' string. "
        "Speech for the streaming faces and the :synthesize route.",
    )
    tts_threads: int = Field(1, ge=1, le=64, description="Threads of the embedded voice.")
    tts_timeout_seconds: float = Field(20.0, gt=0, description="Longest wait for speech.")
    tts_openai_base_url: str = Field(
        "http://127.0.0.1:8880/v1", description="OpenAI-compatible /v1/audio/speech server."
    )
    tts_openai_model: str = "tts-1"
    tts_openai_api_key: str = "not-needed"

    # -- speech recognition (players speaking over the streaming faces) --------------
    stt_backend: str = Field(
        "embedded",
        description="embedded (faster-whisper, Whisper base) | sphinx (pocketsphinx) | openai "
        "(an OpenAI-compatible /v1/audio/transcriptions server) | none, "
        "or a 'module:Class' import string.",
    )
    stt_model_path: Path | None = Field(
        None, description="A CTranslate2 Whisper model directory instead of Whisper base."
    )
    stt_language: str = Field("en", description="Spoken language; empty: Whisper detects it.")
    stt_threads: int | None = Field(None, ge=1)
    stt_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest wait for a transcript after the audio ended."
    )
    stt_openai_base_url: str = Field(
        "http://127.0.0.1:8001/v1",
        description="OpenAI-compatible /v1/audio/transcriptions server (stt_backend=openai).",
    )
    stt_openai_model: str = "whisper-1"
    stt_openai_api_key: str = ""
    stt_vad: Literal["silero", "webrtc"] = Field(
        "silero", description="Voice detector that finds where open-mic utterances end."
    )
    stt_vad_threshold: float = Field(0.5, gt=0.0, lt=1.0, description="Silero speech probability.")
    stt_vad_aggressiveness: int = Field(3, ge=0, le=3, description="WebRTC detector mode.")
    stt_silence_ms: int = Field(
        500, ge=100, le=5000, description="OPEN_MIC: silence that ends an utterance."
    )
    stt_min_speech_ms: int = Field(
        200, ge=0, description="Less voiced audio than this in an utterance is not speech."
    )
    stt_max_utterance_seconds: float = Field(30.0, gt=0, le=300)
    stt_idle_seconds: float = Field(
        60.0, gt=0, description="An audio session without audio for this long expires."
    )

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'anima.db'}"
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file must be given together")
        if (self.proxy_key is None) != (self.proxy_secret is None):
            raise ValueError("proxy_key and proxy_secret must be given together")
        return self

    @property
    def db_url(self) -> str:
        assert self.database_url is not None
        return self.database_url

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, for logs."""
        data = self.model_dump(mode="json")
        data["openai_api_key"] = "***" if self.openai_api_key else ""
        data["tts_openai_api_key"] = "***" if self.tts_openai_api_key else ""
        data["stt_openai_api_key"] = "***" if self.stt_openai_api_key else ""
        url = self.db_url
        if "@" in url and "://" in url:
            scheme, rest = url.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            user = creds.split(":", 1)[0]
            data["database_url"] = f"{scheme}://{user}:***@{host}"
        return data
