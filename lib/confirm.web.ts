/** A yes/no question before a destructive action: the browser's confirm dialog (react-native-web's Alert shows nothing). */

export function confirmAsync(title: string, message: string, _confirmLabel = 'Delete'): Promise<boolean> {
  if (typeof window === 'undefined' || typeof window.confirm !== 'function') return Promise.resolve(false);
  return Promise.resolve(window.confirm(`${title}\n\n${message}`));
}
