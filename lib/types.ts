/** Shapes of the Echo backend's JSON, as the app uses them. Ids are strings, times ISO 8601 UTC. */

export interface UserRecord {
  _id: string;
  auth0_user_id: string;
  email?: string | null;
  created_at: string;
}

export type VoiceProvider = 'fish' | 'local' | (string & {});

export interface VoiceModel {
  _id: string;
  model_id: string;
  user_id: string;
  name: string;
  provider: VoiceProvider;
  echo_id?: string | null;
  file_type?: string | null;
  duration_seconds?: number | null;
  state?: string | null;
  created_at: string;
}

/**
 * Whether an echo can speak: "ready" (it has a voice), "deleted" (its voice was deleted and it needs
 * another), "none" (it was never given one). See lib/voiceStatus.ts.
 */
export type VoiceStatus = 'ready' | 'deleted' | 'none';

export interface Echo {
  _id: string;
  user_id: string;
  name: string;
  persona_prompt: string;
  /**
   * Who talks with the echo: their name (e.g. "Anna") and what they are to it (e.g. "granddaughter"), so it
   * never calls them by another name or relation. At most 80 characters each; "" when not said (absent only
   * from servers older than the fields).
   */
  talking_with?: string;
  relation?: string;
  /** The voice it speaks in; null when it has none (never given, or deleted). */
  voice_model_id: string | null;
  /** Sent by the server on every echo; absent only from servers older than the field. */
  voice_status?: VoiceStatus;
  created_at: string;
  updated_at: string;
}

/** What PATCH /api/echo/<id> may change: only what is sent changes ("" clears talking_with or relation). */
export type EchoChanges = Partial<Pick<Echo, 'name' | 'persona_prompt' | 'voice_model_id' | 'talking_with' | 'relation'>>;

export type MessageRole = 'user' | 'assistant';

/**
 * Who wrote an echo's reply: "local" the small offline model bundled with the server (e.g.
 * "SmolLM2-135M-Instruct"), "openai" the OpenAI-compatible model the server's operator set up (e.g.
 * "llama3.2"), "echo" Echo's own fixed, honest answer when someone sincerely asks whether the echo is the real
 * person (name "honest answer").
 */
export interface ReplyModel {
  provider: 'local' | 'openai' | 'echo' | (string & {});
  name: string;
}

export interface Message {
  _id: string;
  echo_id: string;
  role: MessageRole;
  content: string;
  /** On replies written by the echo; absent on older replies and on messages added by hand. */
  model?: ReplyModel | null;
  created_at: string;
}

export type AudioFormat = 'mp3' | 'wav' | 'opus' | 'pcm';

export interface UserResponse {
  success: true;
  user: string;
  user_record: UserRecord;
  created: boolean;
}

export interface UploadResponse {
  success: true;
  model_id: string;
  reference_id: string;
  name: string;
  provider: VoiceProvider;
  database_record: VoiceModel | null;
  warnings: string[];
}

export interface SynthesizeResponse {
  success: true;
  audio_url: string;
  audio_path: string;
  format: AudioFormat;
  media_type: string;
  provider: VoiceProvider;
  reference_id: string | null;
  /** Present on a complete answer; a progressive one (complete=false) learns its length as it plays. */
  duration_seconds?: number | null;
  complete?: boolean;
}

/** Where a voice's original recording can be played (a signed path: no headers needed). */
export interface VoiceRecordingResponse {
  success: true;
  recording_url: string;
  media_type?: string;
  expires_in?: number;
}

/** One thing Echo spoke (POST /api/synthesize), as GET /api/speech-history lists it. */
export interface SpeechHistoryItem {
  _id: string;
  text: string;
  /** null: the stock voice. */
  voice_model_id: string | null;
  /** null when the voice is gone (or there was none). */
  voice_name: string | null;
  echo_id: string | null;
  format: AudioFormat | (string & {});
  created_at: string;
  size_bytes?: number | null;
  duration_seconds?: number | null;
  sample_rate?: number | null;
  /** Signed, playable and downloadable; null when the audio is no longer kept. */
  audio_url: string | null;
}

export interface SpeechHistoryPage {
  success: true;
  items: SpeechHistoryItem[];
  count: number;
  total: number;
  limit: number;
  offset: number;
}

export interface HealthComponent {
  status: string;
  [key: string]: unknown;
}

export interface HealthResponse {
  status: 'healthy' | 'degraded' | (string & {});
  components: {
    database?: HealthComponent;
    voice_provider?: HealthComponent & { provider?: string; description?: string };
    /** The model that writes echos' replies: provider "local" (the small bundled one), "openai" or "none" (off). */
    language_model?: HealthComponent & { provider?: string; model?: string; description?: string };
    [key: string]: HealthComponent | undefined;
  };
}

/** A file to upload: a native file URI, or on the web a Blob/File. */
export interface UploadFile {
  uri: string;
  name: string;
  mimeType?: string | null;
  /** The web's File or Blob, when the picker or recorder gives one. */
  file?: Blob | null;
}

export interface UploadReferenceInput {
  file: UploadFile;
  name: string;
  consent: boolean;
  echoId?: string;
  transcript?: string;
}

/** What the echo's spoken reply is: audio_url plays while it grows, until `complete`. */
export interface ReplyAudio {
  complete?: boolean;
  format?: AudioFormat;
  [key: string]: unknown;
}

/** The echo's reply: the person's stored message, the stored reply (role "assistant") and its speech, if any. */
export interface ReplyResponse {
  success: true;
  message: Message;
  reply: Message;
  audio_url: string | null;
  audio: ReplyAudio | null;
}

/** A memory the echo draws on when it replies (at most 1,000 characters, 200 per echo). */
export interface Memory {
  _id: string;
  echo_id: string;
  user_id?: string | null;
  text: string;
  created_at: string;
  updated_at?: string;
}

/** A personal API key as its owner sees it (GET /api/api-keys): never the key itself, only its first characters. */
export interface ApiKey {
  _id: string;
  name: string;
  /** The key's first 12 characters ("echo_AbCdEfG"), to recognise it by. */
  prefix: string;
  created_at: string;
  /** Null until an app first uses it; updated at most once a minute. */
  last_used_at: string | null;
}

export interface ApiKeyPage {
  success: true;
  api_keys: ApiKey[];
  count: number;
  total: number;
  limit: number;
  offset: number;
}

/** POST /api/api-keys: the key itself, in this answer only. */
export interface CreatedApiKey {
  success: true;
  key: string;
  api_key: ApiKey;
}
