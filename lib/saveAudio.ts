/** Keeps a copy of spoken audio: on iOS and Android, the share sheet (save to Files, send in a message…). */
import { Share } from 'react-native';

export const SAVE_AUDIO_LABEL = 'Share';

export async function saveAudio(url: string, fileName: string): Promise<void> {
  await Share.share({ url, message: url, title: fileName });
}
