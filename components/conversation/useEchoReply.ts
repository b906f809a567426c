/**
 * The echo's reply to what the person writes: their message shows at once, the reply appears as it is
 * written (`api.replyToMessage`, streamed), and its audio plays as soon as the first sentence is spoken.
 *
 * After a stop or a failure the person's message stays. "Try again" asks for a reply without content when
 * the server kept the message (it always does once the stream has begun), or sends it again when it did not
 * (an answer refused up front: 429, 409, 400).
 */
import { useCallback, useEffect, useRef, useState } from 'react';

import { ApiError, errorMessage, type ApiClient } from '@/lib/api';
import type { Message } from '@/lib/types';

export type ReplyPhase = 'idle' | 'writing' | 'failed';

/** The speaker key the reply's audio plays under until the reply is stored. */
export const REPLY_AUDIO_KEY = 'reply-in-progress';

export interface EchoReplyOptions {
  api: ApiClient;
  echoId: string;
  /** Changes the conversation's messages. */
  update: (change: (messages: Message[]) => Message[]) => void;
  /** Plays the reply's audio; `rekey` moves it to the stored reply's id; `stopAudio` stops it. */
  play: (key: string, audioUrl: string) => void;
  rekey: (from: string, to: string) => void;
  stopAudio: () => void;
  /** Sees a failure first; true means it was shown elsewhere (the voice notice). */
  onVoiceProblem: (error: unknown) => boolean;
  /** Replies are off on this server: the message was kept without one; `message` says how to turn them on. */
  onRepliesOff: (message: string) => void;
}

export interface EchoReply {
  phase: ReplyPhase;
  /** The reply as written so far, while it is being written. */
  text: string;
  error: string | null;
  /** Ids of the person's messages the server did not keep (shown as not sent). */
  unsent: ReadonlySet<string>;
  canRetry: boolean;
  send: (content: string, speak: boolean) => Promise<void>;
  retry: (speak: boolean) => Promise<void>;
  stop: () => void;
}

/** Whether a message already says when to try again ("in 47 minutes", "in 30 seconds"). */
export function saysWhen(words: string): boolean {
  return /\d|\b(second|minute|hour|moment|tomorrow)s?\b/i.test(words);
}

/**
 * Plain words for a failed reply. The server's rate-limit messages already say how long to wait and are shown
 * as they are; only a message that does not say when gets the wait added.
 */
export function replyErrorMessage(error: unknown): string {
  const words = errorMessage(error);
  if (error instanceof ApiError && error.status === 429 && error.retryAfterSeconds !== null && !saysWhen(words)) {
    const seconds = error.retryAfterSeconds;
    return `${words} Please wait ${seconds} second${seconds === 1 ? '' : 's'} before trying again.`;
  }
  return words;
}

let localIds = 0;

export function useEchoReply(options: EchoReplyOptions): EchoReply {
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const generation = useRef(0);
  const controllerRef = useRef<AbortController | null>(null);
  const [phase, setPhase] = useState<ReplyPhase>('idle');
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [retryInput, setRetryInput] = useState<{ content?: string; localId?: string } | null>(null);
  const [unsent, setUnsent] = useState<ReadonlySet<string>>(new Set());

  const markUnsent = (id: string, on: boolean) =>
    setUnsent((current) => {
      const next = new Set(current);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  const run = useCallback(async (content: string | undefined, localId: string | undefined, speak: boolean) => {
    const { api, echoId } = optionsRef.current;
    const mine = ++generation.current;
    const current = () => mine === generation.current;
    const controller = new AbortController();
    controllerRef.current = controller;
    let pendingId = localId; // the person's message as shown until the server's copy replaces it
    // A retry without content replies to a message the server already keeps.
    let kept = content === undefined;
    const replace = (stored: Message) => {
      if (!pendingId) return;
      const id = pendingId;
      pendingId = undefined;
      kept = true;
      markUnsent(id, false);
      optionsRef.current.update((messages) => messages.map((m) => (m._id === id ? stored : m)));
    };
    setPhase('writing');
    setText('');
    setError(null);
    setRetryInput(null);
    if (localId) markUnsent(localId, false);
    try {
      const result = await api.replyToMessage(
        echoId,
        { content, speak, format: 'mp3' },
        {
          signal: controller.signal,
          onMessage: (message) => current() && replace(message),
          onDelta: (_piece, soFar) => current() && setText(soFar),
          onAudio: (url) => current() && optionsRef.current.play(REPLY_AUDIO_KEY, url),
        },
      );
      if (!current()) return;
      replace(result.message);
      optionsRef.current.update((messages) => (messages.some((m) => m._id === result.reply._id) ? messages : [...messages, result.reply]));
      optionsRef.current.rekey(REPLY_AUDIO_KEY, result.reply._id);
      setText('');
      setPhase('idle');
    } catch (thrown) {
      if (!current()) return;
      let e = thrown;
      const stopped = e instanceof ApiError && e.code === 'aborted';
      const refused = e instanceof ApiError && e.status >= 400 && e.status < 500;
      if (!kept && content !== undefined && pendingId && !refused) {
        // The stream never began (a dropped connection, a 5xx, a stop right away): ask whether it was kept.
        try {
          const latest = (await api.listMessages(echoId, 1)).messages;
          const last = latest[latest.length - 1];
          if (last && last.role === 'user' && last.content === content) replace(last);
        } catch {
          // Unknown: offer to send it again.
        }
        if (!current()) return;
      }
      if (!kept && content !== undefined && e instanceof ApiError && e.code === 'replies_off') {
        // No language model on this server: keep the person's message without a reply, as before replies.
        try {
          replace((await api.postMessage(echoId, 'user', content)).message);
          if (!current()) return;
          optionsRef.current.onRepliesOff(e.message);
          setText('');
          setPhase('idle');
          return;
        } catch (postError) {
          if (!current()) return;
          e = postError;
        }
      }
      setText('');
      setPhase('failed');
      if (pendingId) markUnsent(pendingId, true);
      setRetryInput(kept ? {} : { content, localId: pendingId });
      if (optionsRef.current.onVoiceProblem(e)) setError(null);
      else setError(stopped ? 'You stopped the reply.' : replyErrorMessage(e));
    } finally {
      if (controllerRef.current === controller) controllerRef.current = null;
    }
  }, []);

  const send = useCallback(
    async (content: string, speak: boolean) => {
      const { echoId, update } = optionsRef.current;
      const localId = `local-${++localIds}`;
      const dropped = retryInput?.localId; // a message that was never kept gives way to the new one
      const shown: Message = { _id: localId, echo_id: echoId, role: 'user', content, created_at: new Date().toISOString() };
      update((messages) => [...messages.filter((m) => m._id !== dropped), shown]);
      await run(content, localId, speak);
    },
    [retryInput, run],
  );

  const retry = useCallback(
    async (speak: boolean) => {
      if (!retryInput) return;
      await run(retryInput.content, retryInput.localId, speak);
    },
    [retryInput, run],
  );

  const stop = useCallback(() => {
    controllerRef.current?.abort();
    optionsRef.current.stopAudio();
  }, []);

  useEffect(
    () => () => {
      generation.current++;
      controllerRef.current?.abort();
    },
    [],
  );

  return { phase, text, error, unsent, canRetry: phase === 'failed' && retryInput !== null, send, retry, stop };
}
