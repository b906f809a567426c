import { VoicesScreen } from '@/components/voices/VoicesScreen';

export default VoicesScreen;
