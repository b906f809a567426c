/**
 * Speaks text in a cloned voice: POST /api/synthesize, then plays the audio with expo-audio.
 * One thing plays at a time; `activeKey` and `phase` drive each row's play/stop button.
 *
 * There is always a voice: an echo speaks as itself (`{echoId}`: the server uses the echo's voice and
 * refuses with 409 when it has none), a voice model by its id (`{referenceId}`). Never the stock voice.
 */
import { createAudioPlayer, setAudioModeAsync, type AudioPlayer } from 'expo-audio';
import { useCallback, useEffect, useRef, useState } from 'react';

import { errorMessage } from './api';
import { quietAbortedPlayback } from './audioAbort';
import { useApi } from './session';

export type SpeakerPhase = 'idle' | 'loading' | 'playing';

/** Whose voice: an echo's own, or one voice model's. */
export type SpeakVoice = { echoId: string } | { referenceId: string };

export interface Speaker {
  activeKey: string | null;
  phase: SpeakerPhase;
  error: string | null;
  speak: (key: string, text: string, voice: SpeakVoice) => Promise<void>;
  stop: () => void;
  /** Stops `key` if it is the one playing or loading, otherwise speaks it. */
  toggle: (key: string, text: string, voice: SpeakVoice) => Promise<void>;
  /**
   * Plays audio the server already made (a backend path such as an echo reply's audio_url) under `key`;
   * `signed` for an address that carries its own signature (a recording_url, a history item's audio_url).
   */
  play: (key: string, audioUrl: string, options?: { signed?: boolean }) => void;
  /** Gives what plays under `from` the key `to` (a reply in progress that has been stored). */
  rekey: (from: string, to: string) => void;
}

export interface SpeakerOptions {
  /** Sees a failure first; returning true means it was handled (and `error` stays empty). */
  onError?: (error: unknown) => boolean;
}

let audioModeSet = false;
quietAbortedPlayback();

export function useSpeaker(options: SpeakerOptions = {}): Speaker {
  const api = useApi();
  const onErrorRef = useRef(options.onError);
  onErrorRef.current = options.onError;
  const playerRef = useRef<AudioPlayer | null>(null);
  const requestRef = useRef(0);
  const [activeKey, setActiveKey] = useState<string | null>(null);
  const [phase, setPhase] = useState<SpeakerPhase>('idle');
  const [error, setError] = useState<string | null>(null);

  const release = useCallback(() => {
    const player = playerRef.current;
    playerRef.current = null;
    if (player) {
      try {
        player.pause();
        player.remove();
      } catch {
        // Already released.
      }
    }
  }, []);

  // Play ``audioUrl`` (relative to the backend) for request ``mine``; back to idle when it ends, if still current.
  const startPlayer = useCallback(
    (audioUrl: string, mine: number, signed = false) => {
      const player = createAudioPlayer(api.audioSource(audioUrl, signed));
      playerRef.current = player;
      player.addListener('playbackStatusUpdate', (status) => {
        if (status.didJustFinish && playerRef.current === player && mine === requestRef.current) {
          release();
          setActiveKey(null);
          setPhase('idle');
        }
      });
      player.play();
      setPhase('playing');
    },
    [api, release],
  );

  const stop = useCallback(() => {
    requestRef.current++;
    release();
    setActiveKey(null);
    setPhase('idle');
  }, [release]);

  const speak = useCallback(
    async (key: string, text: string, voice: SpeakVoice) => {
      const mine = ++requestRef.current;
      release();
      setError(null);
      setActiveKey(key);
      setPhase('loading');
      try {
        if (!audioModeSet) {
          audioModeSet = true;
          await setAudioModeAsync({ playsInSilentMode: true }).catch(() => undefined);
        }
        // A voice's preview is a short fixed text: not progressive, so the server's cache answers repeats at once.
        const result = 'echoId' in voice ? await api.speakAsEcho(voice.echoId, text) : await api.previewVoice(voice.referenceId, text);
        if (mine !== requestRef.current) return;
        startPlayer(result.audio_url, mine);
      } catch (e) {
        if (mine !== requestRef.current) return;
        setError(onErrorRef.current?.(e) ? null : errorMessage(e));
        setActiveKey(null);
        setPhase('idle');
      }
    },
    [api, release, startPlayer],
  );

  const play = useCallback(
    (key: string, audioUrl: string, options?: { signed?: boolean }) => {
      const mine = ++requestRef.current;
      release();
      setError(null);
      if (!audioModeSet) {
        audioModeSet = true;
        void setAudioModeAsync({ playsInSilentMode: true }).catch(() => undefined);
      }
      startPlayer(audioUrl, mine, options?.signed ?? false);
      setActiveKey(key);
    },
    [release, startPlayer],
  );

  const rekey = useCallback((from: string, to: string) => setActiveKey((current) => (current === from ? to : current)), []);

  const toggle = useCallback(
    async (key: string, text: string, voice: SpeakVoice) => {
      if (activeKey === key && phase !== 'idle') stop();
      else await speak(key, text, voice);
    },
    [activeKey, phase, speak, stop],
  );

  useEffect(() => () => {
    requestRef.current++;
    release();
  }, [release]);

  return { activeKey, phase, error, speak, stop, toggle, play, rekey };
}
