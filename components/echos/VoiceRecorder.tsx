/** Records a voice sample with the microphone (expo-audio) and hands back the file. */
import {
  RecordingPresets,
  requestRecordingPermissionsAsync,
  setAudioModeAsync,
  useAudioRecorder,
  useAudioRecorderState,
} from 'expo-audio';
import { useEffect, useState } from 'react';
import { Platform, StyleSheet, Text, View } from 'react-native';

import { Button } from '@/components/ui/Button';
import { ErrorBanner } from '@/components/ui/StateViews';
import { VOICE_LIMITS } from '@/constants/config';
import { fontSize, spacing, useTheme } from '@/constants/theme';
import { errorMessage } from '@/lib/api';
import type { UploadFile } from '@/lib/types';

export function VoiceRecorder({ onRecorded, disabled }: { onRecorded: (file: UploadFile, seconds: number) => void; disabled?: boolean }) {
  const theme = useTheme();
  const recorder = useAudioRecorder(RecordingPresets.HIGH_QUALITY);
  const recorderState = useAudioRecorderState(recorder, 250);
  const [error, setError] = useState<string | null>(null);
  const seconds = Math.floor((recorderState.durationMillis ?? 0) / 1000);
  const recording = recorderState.isRecording;

  async function start() {
    setError(null);
    try {
      const permission = await requestRecordingPermissionsAsync();
      if (!permission.granted) {
        setError('Echo needs microphone access to record. Allow it in your settings, or choose an audio file instead.');
        return;
      }
      await setAudioModeAsync({ allowsRecording: true, playsInSilentMode: true });
      await recorder.prepareToRecordAsync();
      recorder.record();
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  async function stop() {
    try {
      const duration = (recorderState.durationMillis ?? 0) / 1000;
      await recorder.stop();
      await setAudioModeAsync({ allowsRecording: false }).catch(() => undefined);
      const uri = recorder.uri;
      if (!uri) {
        setError('The recording could not be saved. Please try again.');
        return;
      }
      if (duration < VOICE_LIMITS.minSeconds) {
        setError(`That recording is too short. Record at least ${VOICE_LIMITS.minSeconds} seconds; ${VOICE_LIMITS.recommendedMin}–${VOICE_LIMITS.recommendedMax} seconds works best.`);
        return;
      }
      const ext = Platform.OS === 'web' ? 'webm' : 'm4a';
      onRecorded({ uri, name: `recording-${Date.now()}.${ext}`, mimeType: ext === 'webm' ? 'audio/webm' : 'audio/mp4' }, duration);
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  // The backend refuses recordings over the limit: stop there.
  useEffect(() => {
    if (recording && seconds >= VOICE_LIMITS.maxSeconds) void stop();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [recording, seconds]);

  return (
    <View style={styles.wrap}>
      {recording ? (
        <View style={styles.row}>
          <Text testID="recording-timer" style={[styles.timer, { color: theme.danger }]}>
            ● Recording {seconds} s
          </Text>
          <Button title="Stop" variant="danger" compact onPress={() => void stop()} testID="stop-recording-button" />
        </View>
      ) : (
        <Button title="Record a voice" variant="secondary" onPress={() => void start()} disabled={disabled} testID="record-button" />
      )}
      <ErrorBanner message={error} testID="recorder-error" />
    </View>
  );
}

const styles = StyleSheet.create({
  wrap: { gap: spacing.sm, flex: 1 },
  row: { flexDirection: 'row', alignItems: 'center', justifyContent: 'space-between', gap: spacing.md },
  timer: { fontSize: fontSize.md, fontWeight: '600' },
});
