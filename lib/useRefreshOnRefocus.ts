/** Reloads a list when its screen comes back into view (not on the first focus, when it just loaded). */
import { useFocusEffect } from 'expo-router';
import { useCallback, useRef } from 'react';

export function useRefreshOnRefocus(reload: (mode: 'refresh') => Promise<void>, onBlur?: () => void): void {
  const firstFocus = useRef(true);
  useFocusEffect(
    useCallback(() => {
      if (firstFocus.current) firstFocus.current = false;
      else void reload('refresh');
      return onBlur;
    }, [reload, onBlur]),
  );
}
