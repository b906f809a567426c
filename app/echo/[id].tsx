import { useLocalSearchParams } from 'expo-router';

import { ConversationScreen } from '@/components/conversation/ConversationScreen';

export default function ConversationRoute() {
  const { id } = useLocalSearchParams<{ id: string }>();
  return <ConversationScreen key={id} echoId={String(id)} />;
}
