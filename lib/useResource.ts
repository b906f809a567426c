/** Loads data for a screen and tracks its loading, error and refreshing states. */
import { useCallback, useEffect, useRef, useState } from 'react';

import { errorMessage } from './api';

export interface Resource<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  refreshing: boolean;
  /** Loads again; `refreshing` (pull to refresh) keeps the current data on screen. */
  reload: (mode?: 'refresh' | 'initial') => Promise<void>;
  setData: (update: (current: T | null) => T | null) => void;
}

export function useResource<T>(load: () => Promise<T>, deps: readonly unknown[]): Resource<T> {
  const [data, setDataState] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [refreshing, setRefreshing] = useState(false);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(async (mode: 'refresh' | 'initial' = 'refresh') => {
    const mine = ++generation.current;
    if (mode === 'refresh') setRefreshing(true);
    else setLoading(true);
    try {
      const result = await loadRef.current();
      if (mine !== generation.current) return;
      setDataState(result);
      setError(null);
    } catch (e) {
      if (mine !== generation.current) return;
      setError(errorMessage(e));
    } finally {
      if (mine === generation.current) {
        setLoading(false);
        setRefreshing(false);
      }
    }
  }, []);

  useEffect(() => {
    void reload('initial');
    const counter = generation;
    return () => {
      // Answers that arrive after unmount (or a change of deps) are dropped.
      counter.current++;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  const setData = useCallback((update: (current: T | null) => T | null) => setDataState(update), []);

  return { data, error, loading, refreshing, reload, setData };
}
