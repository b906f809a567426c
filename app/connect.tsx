import { ConnectAppsScreen } from '@/components/settings/ConnectAppsScreen';

export default ConnectAppsScreen;
