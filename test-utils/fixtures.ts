/** Sample records shaped like the backend's answers. */
import type { Echo, Message, ReplyModel, VoiceModel } from '@/lib/types';

export const ECHO: Echo = {
  _id: 'e1',
  user_id: 'u1',
  name: 'Grandma Rose',
  persona_prompt: 'Warm, funny, loves gardening.',
  talking_with: '',
  relation: '',
  voice_model_id: 'm1',
  created_at: '2026-11-20T10:00:00Z',
  updated_at: '2026-11-20T10:00:00Z',
};

export const VOICE: VoiceModel = {
  _id: 'v1',
  model_id: 'm1',
  user_id: 'u1',
  name: 'Grandma Rose',
  provider: 'local',
  echo_id: null,
  file_type: 'wav',
  duration_seconds: 12.4,
  state: 'trained',
  created_at: '2026-11-20T10:00:00Z',
};

/** A message; an echo's reply may say which model wrote it (`model`), as the server's replies do. */
export function message(id: string, role: Message['role'], content: string, model?: ReplyModel): Message {
  const shaped: Message = { _id: id, echo_id: 'e1', role, content, created_at: '2026-11-20T10:05:00Z' };
  return model ? { ...shaped, model } : shaped;
}

/** Who writes replies, as the server names them. */
export const MODELS = {
  local: { provider: 'local', name: 'SmolLM2-135M-Instruct' },
  openai: { provider: 'openai', name: 'llama3.2' },
  echo: { provider: 'echo', name: 'honest answer' },
} as const satisfies Record<string, ReplyModel>;
