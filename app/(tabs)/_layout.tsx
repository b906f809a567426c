/** The signed-in tabs: Echos (where a person lands), Voices, History and Settings. */
import Ionicons from '@expo/vector-icons/Ionicons';
import { Tabs } from 'expo-router';

import { useTheme } from '@/constants/theme';

type IconName = keyof typeof Ionicons.glyphMap;

function icon(name: IconName) {
  return function TabIcon({ color, size }: { color: string; size: number }) {
    return <Ionicons name={name} color={color} size={size} />;
  };
}

export default function TabsLayout() {
  const theme = useTheme();
  return (
    <Tabs
      screenOptions={{
        tabBarActiveTintColor: theme.tint,
        tabBarInactiveTintColor: theme.tabIconDefault,
        tabBarStyle: { backgroundColor: theme.surface, borderTopColor: theme.border },
        headerStyle: { backgroundColor: theme.surface },
        headerTintColor: theme.text,
      }}>
      <Tabs.Screen name="index" options={{ title: 'Echos', tabBarIcon: icon('chatbubbles-outline'), tabBarButtonTestID: 'tab-echos' }} />
      <Tabs.Screen name="voices" options={{ title: 'Voices', tabBarIcon: icon('mic-outline'), tabBarButtonTestID: 'tab-voices' }} />
      <Tabs.Screen name="history" options={{ title: 'History', tabBarIcon: icon('time-outline'), tabBarButtonTestID: 'tab-history' }} />
      <Tabs.Screen name="settings" options={{ title: 'Settings', tabBarIcon: icon('settings-outline'), tabBarButtonTestID: 'tab-settings' }} />
    </Tabs>
  );
}
