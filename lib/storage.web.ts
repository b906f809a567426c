/** Small key-value storage for the signed-in session: the browser's localStorage on the web. */

function store(): Storage | null {
  try {
    return typeof window !== 'undefined' && window.localStorage ? window.localStorage : null;
  } catch {
    return null; // localStorage can throw when storage is disabled.
  }
}

export async function getItem(key: string): Promise<string | null> {
  return store()?.getItem(key) ?? null;
}

export async function setItem(key: string, value: string): Promise<void> {
  store()?.setItem(key, value);
}

export async function removeItem(key: string): Promise<void> {
  store()?.removeItem(key);
}
