/** A stand-in for expo-router in screen tests: `jest.mock('expo-router', () => require('@/test-utils/router').routerModule())`. */
import { useEffect, type ReactNode } from 'react';

export const mockRouter = {
  push: jest.fn(),
  replace: jest.fn(),
  back: jest.fn(),
  dismissTo: jest.fn(),
  canGoBack: jest.fn(() => true),
};

/** Search params a test sets before rendering (cleared by the test). */
export const mockSearchParams: Record<string, string> = {};

export function routerModule(params: Record<string, string> = {}) {
  return {
    useRouter: () => mockRouter,
    useLocalSearchParams: () => ({ ...params, ...mockSearchParams }),
    useFocusEffect: (effect: () => void | (() => void)) => {
      useEffect(() => effect(), [effect]);
    },
    // Renders the header buttons a screen sets, so tests can press them.
    Stack: {
      Screen: ({ options }: { options?: { headerLeft?: () => ReactNode; headerRight?: () => ReactNode } }) => (
        <>
          {options?.headerLeft?.()}
          {options?.headerRight?.()}
        </>
      ),
    },
    Link: ({ children }: { children: unknown }) => children,
  };
}
