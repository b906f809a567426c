/**
 * A way back from any screen. With history (the person came from another screen) the header's own back
 * button does it; opened from a link or after a reload there is nothing to go back to, so this gives the
 * header a control that goes to `fallback` (the echo's conversation, or the list of echos) instead.
 */
import { useRouter, type Href } from 'expo-router';

import { Button } from '@/components/ui/Button';

/** A headerLeft for Stack.Screen options: undefined when the stack can go back by itself. */
export function useBackControl(fallback: Href, label: string): (() => React.ReactNode) | undefined {
  const router = useRouter();
  if (router.canGoBack()) return undefined;
  return function BackHome() {
    return (
      <Button
        title={`‹ ${label}`}
        variant="plain"
        compact
        onPress={() => router.replace(fallback)}
        testID="header-home-button"
        accessibilityLabel={`Back to ${label.toLowerCase() === 'echos' ? 'your echos' : label}`}
      />
    );
  };
}

/** Leaves a screen: back when there is history, otherwise to `fallback`. */
export function useLeave(fallback: Href): () => void {
  const router = useRouter();
  return () => {
    if (router.canGoBack()) router.back();
    else router.replace(fallback);
  };
}
