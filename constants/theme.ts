/** Theme tokens: light and dark palettes with the same keys, spacing, radii and type sizes. */
import { useColorScheme } from 'react-native';

export const palettes = {
  light: {
    text: '#11181C',
    textMuted: '#5B6670',
    background: '#F7F7FA',
    surface: '#FFFFFF',
    border: '#DADDE3',
    tint: '#4F46E5',
    onTint: '#FFFFFF',
    danger: '#C62828',
    onDanger: '#FFFFFF',
    success: '#2E7D32',
    warning: '#8A5A00',
    warningSurface: '#FBF1DC',
    bubbleUser: '#4F46E5',
    onBubbleUser: '#FFFFFF',
    bubbleEcho: '#E8E8F0',
    onBubbleEcho: '#11181C',
    tabIconDefault: '#8A94A0',
  },
  dark: {
    text: '#ECEDEE',
    textMuted: '#9BA1A6',
    background: '#101214',
    surface: '#1B1E22',
    border: '#2E3238',
    tint: '#8B85FF',
    onTint: '#0D0D1A',
    danger: '#EF5350',
    onDanger: '#1A0505',
    success: '#66BB6A',
    warning: '#E8B44C',
    warningSurface: '#3A2F17',
    bubbleUser: '#5B54E8',
    onBubbleUser: '#FFFFFF',
    bubbleEcho: '#2A2D33',
    onBubbleEcho: '#ECEDEE',
    tabIconDefault: '#6C737B',
  },
} as const;

export type Palette = { [K in keyof (typeof palettes)['light']]: string };

export const spacing = { xs: 4, sm: 8, md: 12, lg: 16, xl: 24, xxl: 32 } as const;
export const radius = { sm: 6, md: 10, lg: 16, pill: 999 } as const;
export const fontSize = { sm: 13, md: 15, lg: 18, xl: 24, xxl: 30 } as const;

/** The palette for the device's current colour scheme (light when unknown). */
export function useTheme(): Palette {
  const scheme = useColorScheme();
  return scheme === 'dark' ? palettes.dark : palettes.light;
}
