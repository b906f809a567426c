import { useLocalSearchParams } from 'expo-router';

import { EditEchoScreen } from '@/components/echos/EditEchoScreen';

export default function EditEchoRoute() {
  const { id } = useLocalSearchParams<{ id: string }>();
  return <EditEchoScreen key={id} echoId={String(id)} />;
}
