/** Display helpers for times and durations. */

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return '';
  const total = Math.round(seconds);
  const m = Math.floor(total / 60);
  const s = total % 60;
  return m ? `${m}:${String(s).padStart(2, '0')} min` : `${s} s`;
}

/** When something happened, in words: "just now", "5 minutes ago", "3 hours ago", "yesterday", "4 days ago", "on Mar 4, 2026". */
export function formatAgo(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '';
  const time = new Date(iso).getTime();
  if (Number.isNaN(time)) return '';
  const minute = 60_000;
  const hour = 60 * minute;
  const day = 24 * hour;
  const ago = Math.max(0, now - time);
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (ago < minute) return 'just now';
  if (ago < hour) return `${plural(Math.floor(ago / minute), 'minute')} ago`;
  if (ago < day) return `${plural(Math.floor(ago / hour), 'hour')} ago`;
  if (ago < 2 * day) return 'yesterday';
  if (ago < 7 * day) return `${Math.floor(ago / day)} days ago`;
  return `on ${formatDate(iso)}`;
}

/** The engine a voice was cloned with, as a person reads it ("cloned with …"). */
export function engineName(provider: string | null | undefined): string {
  switch (provider) {
    case 'local':
      return 'the engine on this server';
    case 'fish':
      return 'Fish.Audio';
    case 'fish-speech':
      return 'fish-speech (self-hosted)';
    default:
      return provider || 'an unknown engine';
  }
}
