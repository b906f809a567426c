import { CloneVoiceScreen } from '@/components/voices/CloneVoiceScreen';

export default CloneVoiceScreen;
