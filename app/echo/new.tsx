import { CreateEchoScreen } from '@/components/echos/CreateEchoScreen';

export default CreateEchoScreen;
