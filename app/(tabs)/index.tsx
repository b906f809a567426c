import { EchoListScreen } from '@/components/echos/EchoListScreen';

export default EchoListScreen;
