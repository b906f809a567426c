/**
 * Keeps a copy of spoken audio in the browser: a download of the file under its name (the address is signed,
 * no headers needed). A cross-origin link ignores `download`, so the file is fetched first; when the server
 * does not allow that (no CORS on audio), the sound opens in a new tab, where the browser can save it, and
 * the app stays where it is.
 */

export const SAVE_AUDIO_LABEL = 'Download';

export async function saveAudio(url: string, fileName: string): Promise<void> {
  let blob: Blob | null = null;
  try {
    // no-store: a copy cached from the audio player (fetched without CORS) would be refused here.
    const response = await fetch(url, { cache: 'no-store' });
    if (response.ok) blob = await response.blob();
  } catch {
    blob = null;
  }
  if (!blob) {
    window.open(url, '_blank', 'noopener');
    return;
  }
  const objectUrl = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = objectUrl;
  link.download = fileName;
  link.rel = 'noopener';
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(objectUrl), 60_000);
}
