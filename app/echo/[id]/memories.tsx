import { useLocalSearchParams } from 'expo-router';

import { MemoriesScreen } from '@/components/memories/MemoriesScreen';

export default function MemoriesRoute() {
  const { id } = useLocalSearchParams<{ id: string }>();
  return <MemoriesScreen key={id} echoId={String(id)} />;
}
