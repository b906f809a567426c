/**
 * In a browser, stopping a sound before it has started (the person taps Stop, or deletes what is playing)
 * makes the media element's play() promise reject with an AbortError that expo-audio does not catch. That is
 * the stop the person asked for, not a failure: it is not reported as an unhandled error.
 */
let installed = false;

export function quietAbortedPlayback(): void {
  if (installed || typeof window === 'undefined') return;
  installed = true;
  window.addEventListener('unhandledrejection', (event) => {
    const reason = event.reason as { name?: string; message?: string } | null;
    if (reason?.name === 'AbortError' && /interrupted by a call to pause|removed from the document/i.test(reason.message ?? '')) {
      event.preventDefault();
    }
  });
}
