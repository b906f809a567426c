/**
 * Speaks text in a cloned voice: POST /api/synthesize, then plays the audio with expo-audio.
 * One thing plays at a time; `activeKey` and `phase` drive each row's play/stop button.
 */
import { createAudioPlayer, setAudioModeAsync, type AudioPlayer } from 'expo-audio';
import { useCallback, useEffect, useRef, useState } from 'react';

import { errorMessage } from './api';
import { useApi } from './session';

export type SpeakerPhase = 'idle' | 'loading' | 'playing';

export interface Speaker {
  activeKey: string | null;
  phase: SpeakerPhase;
  error: string | null;
  speak: (key: string, text: string, referenceId?: string | null) => Promise<void>;
  stop: () => void;
  /** Stops `key` if it is the one playing or loading, otherwise speaks it. */
  toggle: (key: string, text: string, referenceId?: string | null) => Promise<void>;
}

let audioModeSet = false;

export function useSpeaker(): Speaker {
  const api = useApi();
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

  const stop = useCallback(() => {
    requestRef.current++;
    release();
    setActiveKey(null);
    setPhase('idle');
  }, [release]);

  const speak = useCallback(
    async (key: string, text: string, referenceId?: string | null) => {
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
        const result = await api.synthesize(text, referenceId);
        if (mine !== requestRef.current) return;
        const player = createAudioPlayer(api.audioSource(result.audio_url));
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
      } catch (e) {
        if (mine !== requestRef.current) return;
        setError(errorMessage(e));
        setActiveKey(null);
        setPhase('idle');
      }
    },
    [api, release],
  );

  const toggle = useCallback(
    async (key: string, text: string, referenceId?: string | null) => {
      if (activeKey === key && phase !== 'idle') stop();
      else await speak(key, text, referenceId);
    },
    [activeKey, phase, speak, stop],
  );

  useEffect(() => () => {
    requestRef.current++;
    release();
  }, [release]);

  return { activeKey, phase, error, speak, stop, toggle };
}
