/**
 * Whether an echo can speak, and what to tell the person when it cannot. The words for a deleted
 * voice are the API's own (409 `voice_deleted`), and the web page at / shows the same ones.
 */
import { ApiError } from './api';
import type { Echo, VoiceStatus } from './types';

export const VOICE_NOTICES: Record<Exclude<VoiceStatus, 'ready'>, string> = {
  deleted: "This echo's voice was deleted; choose another voice for it.",
  none: 'This echo has no voice yet; choose one for it.',
};

/** The echo's voice status; derived from voice_model_id when the server does not send it. */
export function voiceStatusOf(echo: Pick<Echo, 'voice_model_id' | 'voice_status'>): VoiceStatus {
  if (echo.voice_status === 'ready' || echo.voice_status === 'deleted' || echo.voice_status === 'none') return echo.voice_status;
  return echo.voice_model_id ? 'ready' : 'none';
}

/** For a 409 from speaking as an echo: the status it reveals ("deleted" or "none"); null for any other error. */
export function voiceProblemOf(error: unknown): Exclude<VoiceStatus, 'ready'> | null {
  if (!(error instanceof ApiError) || error.status !== 409) return null;
  if (error.code === 'voice_deleted') return 'deleted';
  if (error.code === 'no_voice') return 'none';
  return null;
}
